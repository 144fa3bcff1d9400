//! S3: a run's documents ([`S3Documents`], the [`DocumentStore`]) and the
//! raw messages SES receiving writes into the inbound mail bucket
//! ([`S3Mailbox`]).
//!
//! Objects are written with SSE-S3 (`AES256`), not `aws:kms` with the
//! AWS-managed `aws/s3` key: that key is usable through S3 by every
//! principal of the account, so it would gate no one that `s3:GetObject`
//! does not already, while putting KMS request quotas and cost on every
//! put and get. SES receiving writes the inbound bucket under the same
//! default without a KMS grant. A customer-managed key (revocable, with its
//! own policy) would be the step up, and would change this constant and the
//! buckets' defaults together.

use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use handoff_core::domain::DocumentRef;
use handoff_core::ports::{DocumentStore, StoreError};

/// The environment variable naming the documents bucket.
pub const DOCUMENTS_BUCKET_ENV: &str = "HANDOFF_DOCUMENTS_BUCKET";
/// The environment variable naming the bucket SES receiving writes to.
pub const INBOUND_MAIL_BUCKET_ENV: &str = "HANDOFF_INBOUND_MAIL_BUCKET";
/// Where the receipt rule's S3 action puts messages (its
/// `ObjectKeyPrefix` in template.yaml); the object is named by SES's
/// message id.
pub const INBOUND_PREFIX: &str = "inbound/";
/// SES receiving stores messages of up to 40 MB; bigger ones bounce.
pub const MAX_INBOUND_BYTES: u64 = 40 * 1024 * 1024;

/// What every object is encrypted with; see the module comment.
pub const ENCRYPTION: ServerSideEncryption = ServerSideEncryption::Aes256;

/// The document store on one bucket: object key `<prefix><workflow>/<hex>`
/// ([`DocumentRef::key`]), content type the document's media type.
pub struct S3Documents {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    /// Put before every key, e.g. `documents/`; empty by default.
    pub prefix: String,
}

impl S3Documents {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
        }
    }

    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    pub fn from_config(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        Self::new(aws_sdk_s3::Client::new(config), bucket)
    }

    /// On the bucket named by `HANDOFF_DOCUMENTS_BUCKET`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::lambda::EnvError> {
        Ok(Self::from_config(
            config,
            crate::lambda::env(DOCUMENTS_BUCKET_ENV)?,
        ))
    }

    pub fn object_key(&self, workflow: &str, doc: &DocumentRef) -> String {
        format!("{}{}", self.prefix, doc.key(workflow))
    }
}

/// The HTTP status of a service's answer, if the request got one.
fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// The SDK's account of the failure: the operation, the service's code and
/// message, the request id. Never a body: the request's is the document.
fn unavailable<E>(what: &str, err: SdkError<E>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(format!("{what}: {}", DisplayErrorContext(&err)))
}

#[async_trait]
impl DocumentStore for S3Documents {
    /// Written only if absent (`If-None-Match: *`): the key is the content's
    /// hash, so an object already there holds these bytes, and S3's 412
    /// for it is the second put of a duplicate delivery succeeding.
    async fn put(&self, workflow: &str, doc: &DocumentRef, bytes: &[u8]) -> Result<(), StoreError> {
        let key = self.object_key(workflow, doc);
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(bytes.to_vec()))
            .content_type(&doc.media_type)
            .server_side_encryption(ENCRYPTION)
            .if_none_match("*")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if status(&e) == Some(412) => Ok(()),
            Err(e) => Err(unavailable(
                &format!("storing s3://{}/{key}", self.bucket),
                e,
            )),
        }
    }

    async fn get(&self, workflow: &str, doc: &DocumentRef) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.object_key(workflow, doc);
        let what = || format!("reading s3://{}/{key}", self.bucket);
        let Some(out) = get_object(&self.client, &self.bucket, &key).await? else {
            return Ok(None);
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", what())))?;
        Ok(Some(body.to_vec()))
    }
}

/// The object's response, its body not read yet; `None` when it is missing.
async fn get_object(
    client: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> Result<Option<GetObjectOutput>, StoreError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out)),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(unavailable(&format!("reading s3://{bucket}/{key}"), e)),
    }
}

/// `NoSuchKey`: expired by the bucket's lifecycle, or never written. (S3
/// says so only to a caller allowed `s3:ListBucket`; to others a missing
/// key is a 403, which template.yaml's policies avoid.) Not any 404: a
/// missing bucket is a deployment fault, not a missing document.
fn is_missing(err: &SdkError<GetObjectError>) -> bool {
    matches!(err.as_service_error(), Some(GetObjectError::NoSuchKey(_)))
}

#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// Over the reader's limit: refused before its body was read. Reading
    /// it again will not help.
    #[error("the message is {bytes} bytes, over the {max}-byte limit")]
    TooLarge { bytes: u64, max: u64 },
    /// Not an SES message id (empty, or with a `/`).
    #[error("`{0}` is not a message id")]
    BadMessageId(String),
    /// S3 failed; SES's asynchronous invocation retries.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The raw messages SES receiving stored: `<prefix><message id>` in the
/// inbound mail bucket, read whole up to `max_bytes`.
pub struct S3Mailbox {
    pub client: aws_sdk_s3::Client,
    pub bucket: String,
    pub prefix: String,
    pub max_bytes: u64,
}

impl S3Mailbox {
    /// Messages under [`INBOUND_PREFIX`], up to [`MAX_INBOUND_BYTES`].
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            prefix: INBOUND_PREFIX.into(),
            max_bytes: MAX_INBOUND_BYTES,
        }
    }

    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// On the bucket named by `HANDOFF_INBOUND_MAIL_BUCKET`.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::lambda::EnvError> {
        Ok(Self::new(
            aws_sdk_s3::Client::new(config),
            crate::lambda::env(INBOUND_MAIL_BUCKET_ENV)?,
        ))
    }

    /// The raw message (RFC 5322 bytes) SES stored for `message_id`; `None`
    /// when there is none (expired, or deleted). Its `Content-Length` is
    /// checked before the body is read, and the body is read no further
    /// than the limit whatever that header said.
    pub async fn read(&self, message_id: &str) -> Result<Option<Vec<u8>>, MailboxError> {
        if message_id.is_empty() || message_id.contains('/') {
            return Err(MailboxError::BadMessageId(message_id.to_string()));
        }
        let key = format!("{}{message_id}", self.prefix);
        let what = || format!("reading s3://{}/{key}", self.bucket);
        let Some(out) = get_object(&self.client, &self.bucket, &key).await? else {
            return Ok(None);
        };
        let too_large = |bytes: u64| MailboxError::TooLarge {
            bytes,
            max: self.max_bytes,
        };
        let declared = out.content_length.unwrap_or(0).max(0) as u64;
        if declared > self.max_bytes {
            return Err(too_large(declared));
        }
        let mut body = out.body;
        let mut bytes = Vec::with_capacity(declared as usize);
        while let Some(chunk) = body
            .try_next()
            .await
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", what())))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() as u64 > self.max_bytes {
                return Err(too_large(bytes.len() as u64));
            }
        }
        Ok(Some(bytes))
    }
}
