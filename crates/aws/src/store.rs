//! Core's [`OutputStore`] on S3. Small objects are one `PutObject`; large
//! ones become multipart uploads as they grow (parts are sent while the
//! pipeline keeps writing), completed on commit and aborted if dropped, so
//! no half object is ever visible and no incomplete upload is left behind.

use std::collections::VecDeque;
use std::io::{self, Write};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use loglake_core::store::{OutputFile, OutputStore};
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::read::block_on;

/// Multipart part size: S3's minimum (5 MiB). Every open file holds up to
/// one part being filled plus the parts in flight, so this bounds upload
/// memory together with the open-file limit.
const PART_BYTES: usize = 5 << 20;
const PARTS_IN_FLIGHT: usize = 2;

/// A prefix of one bucket as an object store. Used from blocking threads:
/// every call waits on the runtime behind `handle`.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    handle: Handle,
}

impl S3Store {
    /// Keys are written under `prefix` (empty, or ending without `/`).
    pub fn new(
        client: Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
        handle: Handle,
    ) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
            prefix: prefix.into().trim_matches('/').to_string(),
            handle,
        }
    }

    fn full_key(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}/{key}", self.prefix)
        }
    }
}

/// A failed S3 call on `key`, naming the IAM action and the object's ARN.
fn s3_err<E>(action: &str, bucket: &str, key: &str, e: SdkError<E, HttpResponse>) -> io::Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let kind = if crate::is_denied(&e) {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(
        kind,
        crate::call_error(action, &format!("arn:aws:s3:::{bucket}/{key}"), &e),
    )
}

impl OutputStore for S3Store {
    fn create(&self, key: &str) -> io::Result<Box<dyn OutputFile>> {
        Ok(Box::new(Upload {
            store: self.clone(),
            key: self.full_key(key),
            buf: Vec::with_capacity(PART_BYTES + (64 << 10)),
            upload_id: None,
            parts: Vec::new(),
            in_flight: VecDeque::new(),
            written: 0,
            done: false,
        }))
    }

    fn get(&self, key: &str) -> io::Result<Option<Vec<u8>>> {
        let key = self.full_key(key);
        block_on(&self.handle, async {
            match self
                .client
                .get_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(out) => {
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "get() is for small objects (manifests); data objects are streamed by S3Objects"
                    )]
                    let b = out.body.collect().await.map_err(|e| {
                        io::Error::other(format!("reading s3://{}/{key}: {e}", self.bucket))
                    })?;
                    Ok(Some(b.into_bytes().to_vec()))
                }
                Err(e)
                    if e.as_service_error().is_some_and(|se| se.is_no_such_key())
                        || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
                {
                    Ok(None)
                }
                Err(e) => Err(s3_err("s3:GetObject", &self.bucket, &key, e)),
            }
        })
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let key = self.full_key(key);
        block_on(&self.handle, async {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(&key)
                .send()
                .await
                .map(drop)
                .map_err(|e| s3_err("s3:DeleteObject", &self.bucket, &key, e))
        })
    }

    fn uri(&self, key: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.full_key(key))
    }
}

struct Upload {
    store: S3Store,
    key: String,
    buf: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    in_flight: VecDeque<JoinHandle<io::Result<CompletedPart>>>,
    written: u64,
    done: bool,
}

impl Upload {
    /// Start uploading the buffer as the next part, in the background: the
    /// pipeline keeps encoding while it travels. At most
    /// `PARTS_IN_FLIGHT` parts per file are in the air.
    fn send_part(&mut self) -> io::Result<()> {
        let body = std::mem::replace(&mut self.buf, Vec::with_capacity(PART_BYTES + (64 << 10)));
        self.written += body.len() as u64;
        let part_number = (self.parts.len() + self.in_flight.len()) as i32 + 1;
        let s = self.store.clone();
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let out = block_on(
                    &s.handle,
                    s.client
                        .create_multipart_upload()
                        .bucket(&s.bucket)
                        .key(&self.key)
                        .send(),
                )
                .map_err(|e| {
                    s3_err(
                        "s3:PutObject (CreateMultipartUpload)",
                        &s.bucket,
                        &self.key,
                        e,
                    )
                })?;
                let id = out
                    .upload_id()
                    .ok_or_else(|| io::Error::other("CreateMultipartUpload returned no upload id"))?
                    .to_string();
                self.upload_id = Some(id.clone());
                id
            }
        };
        if self.in_flight.len() >= PARTS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        let key = self.key.clone();
        let task = s.handle.clone().spawn(async move {
            let out = s
                .client
                .upload_part()
                .bucket(&s.bucket)
                .key(&key)
                .upload_id(upload_id)
                .part_number(part_number)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| s3_err("s3:PutObject (UploadPart)", &s.bucket, &key, e))?;
            Ok(CompletedPart::builder()
                .part_number(part_number)
                .set_e_tag(out.e_tag().map(str::to_string))
                .build())
        });
        self.in_flight.push_back(task);
        Ok(())
    }

    fn wait_oldest(&mut self) -> io::Result<()> {
        if let Some(task) = self.in_flight.pop_front() {
            let part = block_on(&self.store.handle, task).map_err(|e| {
                io::Error::other(format!("part upload task of {}: {e}", self.key))
            })??;
            self.parts.push(part);
        }
        Ok(())
    }
}

impl Write for Upload {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= PART_BYTES {
            self.send_part()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl OutputFile for Upload {
    fn commit(mut self: Box<Self>) -> io::Result<u64> {
        let s = self.store.clone();
        if self.upload_id.is_none() {
            let n = self.buf.len() as u64;
            let body = std::mem::take(&mut self.buf);
            block_on(
                &s.handle,
                s.client
                    .put_object()
                    .bucket(&s.bucket)
                    .key(&self.key)
                    .body(ByteStream::from(body))
                    .send(),
            )
            .map_err(|e| s3_err("s3:PutObject", &s.bucket, &self.key, e))?;
            self.done = true;
            return Ok(n);
        }
        if !self.buf.is_empty() {
            self.send_part()?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        let parts = std::mem::take(&mut self.parts);
        block_on(
            &s.handle,
            s.client
                .complete_multipart_upload()
                .bucket(&s.bucket)
                .key(&self.key)
                .upload_id(self.upload_id.clone().unwrap_or_default())
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send(),
        )
        .map_err(|e| {
            s3_err(
                "s3:PutObject (CompleteMultipartUpload)",
                &s.bucket,
                &self.key,
                e,
            )
        })?;
        self.done = true;
        Ok(self.written)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        for task in self.in_flight.drain(..) {
            task.abort();
        }
        if let Some(id) = self.upload_id.take() {
            let s = &self.store;
            let r = block_on(
                &s.handle,
                s.client
                    .abort_multipart_upload()
                    .bucket(&s.bucket)
                    .key(&self.key)
                    .upload_id(id)
                    .send(),
            );
            if let Err(e) = r {
                tracing::warn!(key = %self.key, error = %aws_sdk_s3::error::DisplayErrorContext(&e), "cannot abort multipart upload");
            }
        }
    }
}
