//! Notifications on SNS: the [`Publisher`] effect.

use aws_sdk_sns::types::MessageAttributeValue;
use loglake_core::sinks::alerts::Notification;
use loglake_handlers::alerts::AlertError;
use loglake_handlers::effects::{BoxFuture, Publisher};

/// An SNS topic.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    pub client: aws_sdk_sns::Client,
    pub topic_arn: String,
}

impl Publisher for SnsPublisher {
    fn publish<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.send(n))
    }
}

impl SnsPublisher {
    async fn send(&self, n: &Notification) -> Result<(), AlertError> {
        let err = |message: String| AlertError::Publish {
            topic: self.topic_arn.clone(),
            message,
        };
        let mut req = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message(n.body.to_string());
        for (k, v) in &n.attributes {
            let a = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
                .map_err(|e| err(e.to_string()))?;
            req = req.message_attributes(k, a);
        }
        req.send()
            .await
            .map_err(|e| err(crate::call_error("sns:Publish", &self.topic_arn, &e)))?;
        Ok(())
    }
}
