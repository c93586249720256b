//! `cargo run -p dev`: the whole system on this machine. Starts every service (each in
//! its own process, `--instances N` of each) and the gateway, on local ports, prints the
//! URLs and a development token, and stops them all on Ctrl-C. A process that dies
//! (or is killed) is reported and left dead, so failover can be watched.
//!
//! `dev service <key> --port P` and `dev gateway` are the child modes it runs itself in.

mod services;

use std::process::ExitCode;
use std::time::Duration;

use contracts::topology;
use std::process::{Child, Command};

const USAGE: &str = "usage: dev [--instances N] [--base-port PORT]
       dev service <key> [--port PORT]
       dev gateway";

fn random_secret() -> Result<String, String> {
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut buf))
        .map_err(|e| format!("cannot read /dev/urandom ({e}); set JWT_SECRET"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

struct Options {
    instances: u16,
    base_port: u16,
}

fn options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        instances: 1,
        base_port: topology::GATEWAY_PORT,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it
            .next()
            .ok_or_else(|| format!("{a} needs a value\n{USAGE}"))?;
        let n: u16 = v
            .parse()
            .map_err(|_| format!("{a} {v:?} is not a number\n{USAGE}"))?;
        match a.as_str() {
            "--instances" if (1..=9).contains(&n) => o.instances = n,
            "--instances" => return Err("--instances takes 1 to 9".into()),
            "--base-port" if n <= 64000 => o.base_port = n,
            _ => return Err(format!("unknown option {a:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

/// The port of instance `k` of service `i`: base + 1 + i, plus 100 per further instance.
fn port(o: &Options, i: usize, k: u16) -> u16 {
    o.base_port + 1 + i as u16 + 100 * k
}

async fn run_all(o: Options) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let secret = match std::env::var("JWT_SECRET") {
        Ok(s) if s.len() >= 16 => s,
        _ => random_secret()?,
    };
    let gateway_url = format!("http://127.0.0.1:{}", o.base_port);
    let mut procs = Procs(Vec::new());
    let children = &mut procs.0;
    let gw = Command::new(&exe)
        .arg("gateway")
        .env("PORT", o.base_port.to_string())
        .env("JWT_SECRET", &secret)
        .spawn()
        .map_err(|e| format!("starting the gateway: {e}"))?;
    children.push(("gateway".into(), o.base_port, gw));
    for (i, s) in topology::SERVICES.iter().enumerate() {
        for k in 0..o.instances {
            let p = port(&o, i, k);
            let c = Command::new(&exe)
                .args(["service", s.key, "--port", &p.to_string()])
                .env("REGISTRY_URL", &gateway_url)
                .spawn()
                .map_err(|e| format!("starting {}: {e}", s.key))?;
            children.push((format!("{} #{}", s.key, k + 1), p, c));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!("\n{} is running:", topology::SYSTEM);
    for (name, p, c) in children.iter() {
        println!("  {name:<24} http://127.0.0.1:{p:<6} pid {}", c.id());
    }
    for s in topology::SERVICES {
        println!("  route {:<18} {gateway_url}{}", s.prefix, s.prefix);
    }
    if let Some(a) = topology::AGGREGATE {
        println!("  aggregate {:<14} {gateway_url}{}", a.path, a.path);
    }
    println!("  metrics                  {gateway_url}/metrics");
    println!("  registry                 {gateway_url}/_registry");
    if topology::AUTHENTICATE {
        let token = gateway::auth::mint(
            &gateway::auth::SigningKey::Hs256(secret.clone().into_bytes()),
            "alice",
            topology::SYSTEM,
            topology::SYSTEM,
            3600,
        )
        .map_err(|e| e.to_string())?;
        println!("\na token for `alice`, valid one hour:\n  export TOKEN={token}");
        if let Some(s) = topology::SERVICES.first() {
            println!(
                "  curl -H \"Authorization: Bearer $TOKEN\" {gateway_url}{}",
                s.prefix
            );
        }
        println!("more: JWT_SECRET={secret} cargo run -p gateway -- mint-token --sub bob");
    }
    println!("\nCtrl-C (or SIGTERM) stops everything.");
    let stop = stopped();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        procs.0.retain_mut(|(name, _, c)| match c.try_wait() {
            Ok(Some(status)) => {
                eprintln!("dev: {name} (pid {}) exited: {status}", c.id());
                false
            }
            _ => true,
        });
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// The children; all are stopped when this is dropped (also on an error while starting).
struct Procs(Vec<(String, u16, Child)>);

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, _, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn child_service(args: &[String]) -> Result<(), String> {
    let key = args.first().ok_or(USAGE)?;
    let mut port = None;
    if let [flag, p] = &args[1..] {
        if flag == "--port" {
            port = Some(p.parse::<u16>().map_err(|_| format!("--port {p:?}"))?);
        }
    }
    let info = contracts::service(key).ok_or_else(|| format!("unknown service {key:?}"))?;
    let port = port.unwrap_or(info.default_port);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("127.0.0.1:{port}: {e}"))?;
    let registry = contracts::RegistryConfig {
        url: std::env::var("REGISTRY_URL").ok(),
        token: std::env::var("REGISTRY_TOKEN").ok(),
        ttl: Duration::from_millis(5000),
    };
    services::serve(key, listener, format!("http://127.0.0.1:{port}"), registry)
        .await
        .ok_or_else(|| format!("unknown service {key:?}"))?
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("service") => child_service(&args[1..]).await,
        Some("gateway") => gateway::run_from_env().await.map_err(|e| e.to_string()),
        _ => match options(&args) {
            Ok(o) => run_all(o).await,
            Err(e) => Err(e),
        },
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
