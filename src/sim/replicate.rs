//! Replications on tokio's multi-thread runtime: one task per replication, results gathered in
//! replication order, so the merged output does not depend on the number of worker threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::engine::{replication_seed, Engine, RepResult, RunConfig};
use super::network::Network;

/// Steps of progress per replication.
pub const PROGRESS_STEPS: u64 = 100;

/// Run `replications` replications of `net` on `threads` worker threads (default: one per
/// core). `progress` counts finished steps (`PROGRESS_STEPS` per replication).
pub fn run_replications(
    net: Arc<Network>,
    cfg: &RunConfig,
    seed: u64,
    replications: usize,
    threads: Option<usize>,
    progress: Option<Arc<AtomicU64>>,
) -> std::io::Result<Vec<RepResult>> {
    let workers = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, replications.max(1));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_time()
        .build()?;
    rt.block_on(async move {
        let mut handles = Vec::with_capacity(replications);
        for rep in 0..replications {
            let net = Arc::clone(&net);
            let mut cfg = cfg.clone();
            if rep > 0 {
                cfg.series_points = 0;
            }
            let progress = progress.clone();
            handles.push(tokio::spawn(async move {
                let mut eng = Engine::new(&net, &cfg, replication_seed(seed, rep as u64));
                let d = eng.duration();
                for step in 1..=PROGRESS_STEPS {
                    eng.run_until(
                        d / PROGRESS_STEPS * step + if step == PROGRESS_STEPS { d } else { 0 },
                    );
                    if let Some(p) = &progress {
                        p.fetch_add(1, Ordering::Relaxed);
                    }
                    // Let other replications (and the progress ticker) share the workers.
                    tokio::task::yield_now().await;
                }
                eng.finish()
            }));
        }
        let mut out = Vec::with_capacity(replications);
        for h in handles {
            out.push(h.await.map_err(std::io::Error::other)?);
        }
        Ok(out)
    })
}
