//! fn-alerts's Lambda entry point: configuration and clients once, then
//! every scheduled invocation (EventBridge, each minute) to
//! [`loglake_handlers::alerts::summary::Scheduled::run`]: the evaluation,
//! then the hourly summary.
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
        // Alerts first, then the summary; a failure of either (a failed
        // notification, the summary) fails the invocation after both ran,
        // so the errors alarm sees it.
        let function =
            std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "fn-alerts".into());
        let outcome = match app.run(now).await {
            Ok(o) => o,
            Err(failed) => {
                // What it did all the same, as metrics, before failing.
                println!(
                    "{}",
                    failed.outcome.emf(&function, loglake_handlers::now_ms())
                );
                return Err(failed.into());
            }
        };
        println!("{}", outcome.emf(&function, loglake_handlers::now_ms()));
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(outcome)?)
    }))
    .await
}
