//! Run fn-ingest's handler once on an event file, without the Lambda
//! runtime: the same configuration, clients and code path, for benchmarks
//! and debugging. `cargo run --release -p fn-ingest --example handle_once -- EVENT.json`
#![recursion_limit = "256"]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    loglake_aws::init_tracing();
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: handle_once EVENT.json");
        return ExitCode::FAILURE;
    };
    let event = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config = match fn_ingest::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let aws = loglake_aws::load_config().await;
    let app = match fn_ingest::app(&aws, config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    match app.handle(event).await {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
