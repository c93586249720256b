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
        "{{ s.key }}" => {{ s.module }}::serve(l, a, r, stop).await,
{%- endfor %}
        _ => Ok(()),
    }
}
