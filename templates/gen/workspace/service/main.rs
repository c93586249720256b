//! `{{ s.crate_name }}`: serves {{ s.node }} "{{ s.label }}" (see `run_from_env` for its variables).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match {{ s.module }}::run_from_env().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
