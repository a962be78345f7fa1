//! fn-canary's Lambda entry point: configuration and clients once, then
//! each CodeDeploy lifecycle hook event to
//! [`loglake_handlers::canary::Canary::handle`].
// The SDK and runtime futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    loglake_aws::init_tracing();
    let config = fn_canary::Config::from_env()?;
    let aws = loglake_aws::load_config().await;
    let app = fn_canary::app(&aws, config);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        app.handle(event.payload, loglake_handlers::now_ms())
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
