//! `gateway` serves the API gateway on `PORT`; `gateway mint-token --sub alice` prints a
//! development token signed with `JWT_SECRET` (or `--rs256-key key.pem --kid K`).

use std::process::ExitCode;

use contracts::topology;
use gateway::auth::{mint, SigningKey};

const USAGE: &str = "usage: gateway                         serve (PORT, JWT_SECRET or JWT_JWKS_FILE, see README.md)
       gateway mint-token --sub SUBJECT [--ttl SECONDS] [--aud AUDIENCE] [--iss ISSUER]
                          [--rs256-key PRIVATE.pem --kid KID]   (HS256 with JWT_SECRET otherwise)";

fn mint_token(args: &[String]) -> Result<String, String> {
    let mut sub = None;
    let mut ttl: i64 = 3600;
    let mut aud = std::env::var("JWT_AUDIENCE").unwrap_or_else(|_| topology::SYSTEM.to_string());
    let mut iss = std::env::var("JWT_ISSUER").unwrap_or_else(|_| topology::SYSTEM.to_string());
    let mut rs_key = None;
    let mut kid = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--sub" => sub = Some(value()?),
            "--ttl" => {
                let v = value()?;
                ttl = v
                    .parse()
                    .map_err(|_| format!("--ttl {v:?} is not a number of seconds"))?;
            }
            "--aud" => aud = value()?,
            "--iss" => iss = value()?,
            "--rs256-key" => rs_key = Some(value()?),
            "--kid" => kid = Some(value()?),
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    let sub = sub.ok_or_else(|| format!("--sub is required\n{USAGE}"))?;
    let key = match rs_key {
        Some(path) => SigningKey::Rs256 {
            pem: std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?,
            kid: kid.ok_or("--rs256-key needs --kid (the key's id in the JWKS)")?,
        },
        None => SigningKey::Hs256(
            std::env::var("JWT_SECRET")
                .ok()
                .filter(|s| !s.is_empty())
                .ok_or("set JWT_SECRET (the gateway's HS256 secret) or pass --rs256-key")?
                .into_bytes(),
        ),
    };
    mint(&key, &sub, &aud, &iss, ttl).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("mint-token") => match mint_token(&args[1..]) {
            Ok(t) => {
                println!("{t}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        None | Some("serve") => match gateway::run_from_env().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some(_) => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
