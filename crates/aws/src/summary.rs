//! The [`SummaryStore`] effect on S3: an hour's summary file, one
//! `PutObject` into the curated bucket (fn-alerts may write only under
//! `summary/`).

use aws_sdk_s3::primitives::ByteStream;
use loglake_handlers::alerts::AlertError;
use loglake_handlers::effects::{BoxFuture, SummaryStore};

/// The bucket the summary files go to (keys are the lake's, from its root).
#[derive(Debug, Clone)]
pub struct S3Summary {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
}

impl SummaryStore for S3Summary {
    fn put<'a>(&'a self, key: &'a str, body: Vec<u8>) -> BoxFuture<'a, Result<(), AlertError>> {
        Box::pin(self.put_object(key, body))
    }
}

impl S3Summary {
    /// The whole body in one `PutObject`: an hour's file is a few KB (one
    /// row per minute and service), built in memory by core, so neither a
    /// multipart upload nor streaming would buy anything.
    async fn put_object(&self, key: &str, body: Vec<u8>) -> Result<(), AlertError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/vnd.apache.parquet")
            .body(ByteStream::from(body))
            .send()
            .await
            .map(drop)
            .map_err(|e| AlertError::Summary {
                key: format!("s3://{}/{key}", self.bucket),
                message: crate::call_error(
                    "s3:PutObject",
                    &format!("arn:aws:s3:::{}/{key}", self.bucket),
                    &e,
                ),
            })
    }
}
