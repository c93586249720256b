//! Entry point. This file is yours: `fz gen` writes it once and never overwrites it,
//! so put start-up hooks here.
//!
//! `cargo run` serves HTTP on `PORT` (default 8080) with data in `DATA_DIR`
//! (default `./data`); `cargo run -- rebuild <view>` rebuilds one view from the store.

use std::process::ExitCode;

use {{ plan.crate_name }}::{app, config::Config};

// mimalloc rather than glibc's malloc: malloc and free were about a tenth of the
// service's CPU (`perf record`), in the HTTP workers and the projectors alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The HTTP runtime, its workers' busy spells timed for `fz calibrate` (`/metrics`).
    match {{ plan.crate_name }}::metrics::runtime() {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [] => app::serve(config).await,
        [cmd, view] if cmd == "rebuild" => match app::rebuild(&config, view) {
            Ok(n) => {
                println!("rebuilt {view} from {n} events");
                Ok(())
            }
            Err(e) => Err(e),
        },
{%- if plan.uses("authorize") %}
        [cmd, rest @ ..] if cmd == "mint-token" && rest.len() <= 1 => {
            let sub = rest.first().map(String::as_str).unwrap_or("dev");
            return match {{ plan.crate_name }}::auth::Auth::from_env() {
                Ok(auth) => match auth.mint(sub, 3600) {
                    Some(Ok(token)) => {
                        println!("{token}");
                        ExitCode::SUCCESS
                    }
                    Some(Err(e)) => {
                        eprintln!("error: cannot sign the token: {e}");
                        ExitCode::FAILURE
                    }
                    None => {
                        eprintln!("error: JWT_SECRET is not set (dev mode needs no token)");
                        ExitCode::FAILURE
                    }
                },
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
{%- endif %}
        _ => {
{%- if plan.uses("authorize") %}
            eprintln!("usage: {{ plan.crate_name }} [rebuild <view> | mint-token [subject]]");
{%- else %}
            eprintln!("usage: {{ plan.crate_name }} [rebuild <view>]");
{%- endif %}
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
