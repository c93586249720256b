//! `--realtime [factor]`: the same engine, paced against tokio's real timers.
//!
//! Every 100 ms of wall time the engine is advanced to `elapsed * factor` of virtual time
//! (`sleep_until` on an absolute deadline, so pacing does not drift), and once a second the live
//! figures are printed on stderr. The virtual clock stays in nanoseconds; tokio's millisecond
//! timer only decides when to look.

use std::io::Write;
use std::time::Duration;

use super::engine::{replication_seed, Engine, RepResult, RunConfig};
use super::network::Network;
use super::time::{format_ns, secs};

const TICK: Duration = Duration::from_millis(100);

pub fn run(net: &Network, cfg: &RunConfig, seed: u64, factor: f64) -> std::io::Result<RepResult> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    rt.block_on(async {
        let mut eng = Engine::new(net, cfg, replication_seed(seed, 0));
        let start = tokio::time::Instant::now();
        let mut err = std::io::stderr();
        let mut k: u32 = 1;
        let mut last_events = 0;
        loop {
            let real = TICK * k;
            tokio::time::sleep_until(start + real).await;
            let virt = (real.as_secs_f64() * factor * 1e9).min(eng.duration() as f64) as u64;
            eng.run_until(virt);
            if k % 10 == 0 || virt >= eng.duration() {
                let (count, mean) = eng.end_to_end();
                let (busiest, n_in) = eng
                    .station_states()
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, s)| s.n_in)
                    .map(|(i, s)| (net.stations[i].id.as_str(), s.n_in))
                    .unwrap_or(("-", 0));
                let mean = mean.map_or("-".to_string(), |m| format_ns(m * 1e9));
                let _ = writeln!(
                    err,
                    "[realtime x{factor}] t={:.1}s  events {} (+{}/s)  end-to-end mean {} over {}  fullest {} ({} in system)",
                    secs(eng.now()),
                    eng.events(),
                    eng.events() - last_events,
                    mean,
                    count,
                    busiest,
                    n_in
                );
                last_events = eng.events();
            }
            if virt >= eng.duration() {
                break;
            }
            k += 1;
        }
        Ok(eng.finish())
    })
}
