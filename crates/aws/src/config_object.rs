//! The [`ConfigReader`] effect on S3: a settings object (the alert rules,
//! the user-defined formats), read again only when its ETag changed
//! (`If-None-Match`: an unchanged object is a 304 with no body).

use aws_sdk_s3::Client;
use loglake_handlers::effects::{BoxFuture, ConfigFetched, ConfigObject, ConfigReader};

/// A settings file larger than this is refused: `alerts.toml` is a few KB.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Settings objects in S3.
#[derive(Debug, Clone)]
pub struct S3ConfigObjects {
    pub client: Client,
}

impl ConfigReader for S3ConfigObjects {
    fn read<'a>(
        &'a self,
        object: &'a ConfigObject,
        etag: Option<&'a str>,
    ) -> BoxFuture<'a, Result<ConfigFetched, String>> {
        Box::pin(async move {
            let resource = format!("arn:aws:s3:::{}/{}", object.bucket, object.key);
            let mut req = self
                .client
                .get_object()
                .bucket(&object.bucket)
                .key(&object.key);
            if let Some(etag) = etag {
                req = req.if_none_match(etag);
            }
            let out = match req.send().await {
                Ok(out) => out,
                Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => {
                    return Ok(ConfigFetched::Unchanged);
                }
                Err(e) => return Err(crate::call_error("s3:GetObject", &resource, &e)),
            };
            let etag = out.e_tag().unwrap_or_default().to_string();
            let mut body = out.body;
            let mut bytes = Vec::new();
            while let Some(chunk) = body
                .try_next()
                .await
                .map_err(|e| format!("s3:GetObject on {resource}: reading the body: {e}"))?
            {
                if bytes.len() + chunk.len() > MAX_CONFIG_BYTES {
                    return Err(format!(
                        "{resource} is over {MAX_CONFIG_BYTES} bytes: not a settings file"
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(bytes).map_err(|_| format!("{resource} is not UTF-8"))?;
            Ok(ConfigFetched::Changed { etag, text })
        })
    }
}
