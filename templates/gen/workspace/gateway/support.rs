//! Runs a service of the workspace by key (generated: one arm per service).

use contracts::RegistryConfig;
use tokio::sync::oneshot;

pub async fn serve_service(
    key: &str,
    listener: tokio::net::TcpListener,
    advertise: String,
    stop: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let (l, a, r) = (listener, advertise, RegistryConfig::default());
    let stop = async {
        let _ = stop.await;
    };
    match key {
{%- for s in plan.services %}
{%- if s.db.is_some() %}
        "{{ s.key }}" => {{ s.module }}::serve_in(&data_dir(), l, a, r, stop).await,
{%- else %}
        "{{ s.key }}" => {{ s.module }}::serve(l, a, r, stop).await,
{%- endif %}
{%- endfor %}
        _ => Ok(()),
    }
}
{%- if plan.eventing %}

/// A fresh SQLite directory per started service, under the system's temp dir.
fn data_dir() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir()
        .join(format!("gateway-tests-{}-{n}", std::process::id()))
        .display()
        .to_string()
}
{%- endif %}
