//! Runs one service of the workspace by key (generated: one arm per service).

use contracts::RegistryConfig;

/// Serves the service `key` until Ctrl-C; `None` if there is no such service.
pub async fn serve(
    key: &str,
    listener: tokio::net::TcpListener,
    advertise: String,
    registry: RegistryConfig,
) -> Option<std::io::Result<()>> {
    let (l, a, r) = (listener, advertise, registry);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    match key {
{%- for s in plan.services %}
        "{{ s.key }}" => Some({{ s.module }}::serve(l, a, r, stop).await),
{%- endfor %}
        _ => None,
    }
}
