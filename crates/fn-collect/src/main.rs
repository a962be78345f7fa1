//! fn-collect's Lambda entry point: configuration and the Kinesis client
//! once, then every API Gateway HTTP API (payload format 2.0) or function
//! URL request to [`loglake_handlers::collect::Collector::handle`].
// The SDK and runtime futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    loglake_aws::init_tracing();
    let config = fn_collect::Config::from_env()?;
    let aws = loglake_aws::load_config().await;
    let app = fn_collect::app(&aws, config);
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<fn_collect::HttpEvent>| async move {
            Ok::<_, lambda_runtime::Error>(fn_collect::handle(app, event.payload).await)
        },
    ))
    .await
}
