//! The [`ObjectReader`] effect on S3: an object read as a stream. The body
//! is pulled by a task on the runtime and handed to the (blocking) pipeline
//! through a small bounded channel, so at most a few chunks are ever in
//! memory.

use std::io::{self, Read};

use aws_sdk_s3::Client;
use bytes::Bytes;
use loglake_core::triggers::objects::ObjectRef;
use loglake_handlers::effects::{BoxFuture, ObjectReader, Opened, ReadError};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// Body chunks buffered between the network and the parser.
const CHUNKS_IN_FLIGHT: usize = 8;

/// Raw objects in S3.
#[derive(Debug, Clone)]
pub struct S3Objects {
    pub client: Client,
}

impl ObjectReader for S3Objects {
    fn open<'a>(&'a self, obj: &'a ObjectRef) -> BoxFuture<'a, Result<Opened, ReadError>> {
        Box::pin(open_object(&self.client, obj))
    }
}

/// `GetObject`, returning as soon as the headers are in; the body streams.
pub async fn open_object(client: &Client, obj: &ObjectRef) -> Result<Opened, ReadError> {
    let mut req = client.get_object().bucket(&obj.bucket).key(&obj.key);
    // The object the event describes: its version, or, in a bucket without
    // versions (which reports `null`), the upload with its ETag.
    match (&obj.version_id, &obj.etag) {
        (Some(v), _) if v != "null" && !v.is_empty() => req = req.version_id(v),
        (_, Some(etag)) => req = req.if_match(format!("\"{etag}\"")),
        _ => {}
    }
    let out = req.send().await.map_err(|e| {
        let status = e.raw_response().map(|r| r.status().as_u16());
        let not_found =
            e.as_service_error().is_some_and(|se| se.is_no_such_key()) || status == Some(404);
        if status == Some(412) {
            ReadError::Superseded {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
                etag: obj.etag.clone().unwrap_or_default(),
            }
        } else if not_found {
            ReadError::NotFound {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
            }
        } else {
            ReadError::Failed {
                bucket: obj.bucket.clone(),
                key: obj.key.clone(),
                message: crate::call_error(
                    if obj
                        .version_id
                        .as_deref()
                        .is_some_and(|v| v != "null" && !v.is_empty())
                    {
                        "s3:GetObjectVersion"
                    } else {
                        "s3:GetObject"
                    },
                    &format!("arn:aws:s3:::{}/{}", obj.bucket, obj.key),
                    &e,
                ),
            }
        }
    })?;
    let last_modified_ms = out.last_modified().and_then(|t| t.to_millis().ok());
    let etag = out.e_tag().map(|s| s.trim_matches('"').to_string());
    let version_id = out.version_id().map(str::to_string);
    let size = out.content_length().and_then(|n| u64::try_from(n).ok());
    let mut body = out.body;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_IN_FLIGHT);
    tokio::spawn(async move {
        loop {
            let next = match body.next().await {
                None => break,
                Some(Ok(b)) => Ok(b),
                Some(Err(e)) => Err(io::Error::other(format!("reading the object body: {e}"))),
            };
            let failed = next.is_err();
            // The reader went away (the pipeline stopped): stop reading.
            if tx.send(next).await.is_err() || failed {
                break;
            }
        }
    });
    Ok(Opened {
        etag,
        version_id,
        last_modified_ms,
        size,
        reader: Box::new(BodyReader {
            rx,
            cur: Bytes::new(),
        }),
    })
}

/// A blocking [`Read`] over an object body streamed by a runtime task. Use
/// it from a blocking thread (`spawn_blocking` or a plain thread).
#[derive(Debug)]
pub struct BodyReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    cur: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(chunk) => self.cur = chunk?,
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

/// Run `f` on the runtime from a blocking thread.
pub(crate) fn block_on<F: std::future::Future>(handle: &Handle, f: F) -> F::Output {
    handle.block_on(f)
}
