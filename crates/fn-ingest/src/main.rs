//! fn-ingest's Lambda entry point: configuration and clients once, then
//! every invocation to [`loglake_handlers::ingest::Ingest::handle_until`].
// The SDK and runtime futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    loglake_aws::init_tracing();
    let config = fn_ingest::Config::from_env()?;
    let aws = loglake_aws::load_config().await;
    let app = fn_ingest::app(&aws, config)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = loglake_handlers::deadline_from_epoch_ms(event.context.deadline);
        Ok::<_, lambda_runtime::Error>(app.handle_until(event.payload, deadline).await?)
    }))
    .await
}
