//! Continuations on SQS: the [`Requeue`] effect.

use loglake_handlers::effects::{BoxFuture, Requeue};

/// The queue a function reads.
#[derive(Debug, Clone)]
pub struct SqsRequeue {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl SqsRequeue {
    pub fn new(aws: &aws_config::SdkConfig, queue_url: String) -> Self {
        SqsRequeue {
            client: aws_sdk_sqs::Client::new(aws),
            queue_url,
        }
    }
}

impl Requeue for SqsRequeue {
    fn send<'a>(&'a self, body: &'a str) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            self.client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await
                .map(drop)
                .map_err(|e| crate::call_error("sqs:SendMessage", &self.queue_url, &e))
        })
    }
}
