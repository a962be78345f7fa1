//! fn-alerts's Lambda entry point: configuration and clients once, then
//! every scheduled invocation (EventBridge, each minute) to
//! [`loglake_handlers::alerts::evaluate::Evaluator::evaluate`].
// The SDK and runtime futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    loglake_aws::init_tracing();
    let config = fn_alerts::Config::from_env()?;
    let aws = loglake_aws::load_config().await;
    let app = fn_alerts::app(&aws, config)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now = loglake_handlers::alerts::evaluate::scheduled_ms(
            &event.payload,
            loglake_handlers::now_ms(),
        );
        let report = app.evaluate(now).await?;
        // The rest went out; a failed notification fails the invocation so
        // the errors alarm sees it (its change was undone, and the retry or
        // the next run makes and announces it again).
        if !report.failed.is_empty() {
            return Err(format!("notifications not sent: {}", report.failed.join(", ")).into());
        }
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
}
