//! Entry point. This file is yours: `fz gen` writes it once and never overwrites it,
//! so put start-up hooks here.
//!
//! `cargo run` serves HTTP on `PORT` (default 8080) with data in `DATA_DIR`
//! (default `./data`); `cargo run -- rebuild <view>` rebuilds one view from the store.

use std::process::ExitCode;

use {{ plan.crate_name }}::{app, config::Config};

#[tokio::main]
async fn main() -> ExitCode {
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
        _ => {
            eprintln!("usage: {{ plan.crate_name }} [rebuild <view>]");
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
