//! fn-stream's Lambda entry point: configuration and clients once, then
//! every Kinesis batch to [`loglake_handlers::stream::Stream::handle`].
// The SDK and runtime futures nest deeper than the default limit allows.
#![recursion_limit = "256"]

use aws_lambda_events::event::kinesis::KinesisEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    loglake_aws::init_tracing();
    let config = fn_stream::Config::from_env()?;
    let aws = loglake_aws::load_config().await;
    let app = fn_stream::app(&aws, config)?;
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<KinesisEvent>| async move {
            let deadline = loglake_handlers::deadline_from_epoch_ms(event.context.deadline);
            // One span per batch: a subsegment in X-Ray when sampled.
            let span = tracing::info_span!("batch", records = event.payload.records.len());
            let (response, _) = app.handle(event.payload, deadline).instrument(span).await?;
            Ok::<_, lambda_runtime::Error>(response)
        },
    ))
    .await
}
