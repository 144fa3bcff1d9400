//! The S3 document store: what ingest puts, the context stage and the run
//! pages read back, encrypted and typed; a duplicate put changes nothing.

use handoff_aws::s3::S3Documents;
use handoff_core::domain::DocumentRef;
use handoff_core::ports::{DocumentStore, StoreError};

use crate::support::*;

const PDF: &[u8] =
    b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\nINVOICE INV-123 total 150.00\n%%EOF\n";

fn invoice() -> DocumentRef {
    DocumentRef {
        sha256: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
        name: Some("INV-123.pdf".into()),
        media_type: "application/pdf".into(),
        bytes: PDF.len(),
    }
}

async fn store() -> S3Documents {
    let client = s3(&sdk_config().await);
    let bucket = bucket(&client).await;
    S3Documents::new(client, bucket).with_prefix("documents/")
}

#[tokio::test]
async fn a_stored_document_reads_back_encrypted_and_typed_under_its_key() {
    let store = store().await;
    let doc = invoice();
    store.put("invoice-approval", &doc, PDF).await.unwrap();

    let read = store.get("invoice-approval", &doc).await.unwrap();
    assert_eq!(read.as_deref(), Some(PDF));

    let key = "documents/invoice-approval/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    assert_eq!(store.object_key("invoice-approval", &doc), key);
    let head = store
        .client
        .head_object()
        .bucket(&store.bucket)
        .key(key)
        .send()
        .await
        .expect("the object is where DocumentRef::key says");
    assert_eq!(
        head.server_side_encryption(),
        Some(&aws_sdk_s3::types::ServerSideEncryption::Aes256)
    );
    assert_eq!(head.content_type(), Some("application/pdf"));
    assert_eq!(head.content_length(), Some(PDF.len() as i64));
}

#[tokio::test]
async fn a_document_never_stored_or_expired_reads_as_none() {
    let store = store().await;
    assert_eq!(
        store.get("invoice-approval", &invoice()).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn storing_a_document_again_succeeds_and_keeps_the_first_copy() {
    let store = store().await;
    let doc = invoice();
    store.put("invoice-approval", &doc, PDF).await.unwrap();
    // The key is the content's hash: a second put is a duplicate delivery
    // (S3 answers 412 to If-None-Match), and it must not overwrite.
    store
        .put("invoice-approval", &doc, b"other bytes")
        .await
        .expect("a second put of the same key succeeds");
    let read = store.get("invoice-approval", &doc).await.unwrap();
    assert_eq!(read.as_deref(), Some(PDF));
}

#[tokio::test]
async fn the_same_document_in_two_workflows_is_two_objects() {
    let store = store().await;
    let doc = invoice();
    store.put("invoice-approval", &doc, PDF).await.unwrap();
    assert_eq!(store.get("support-triage", &doc).await.unwrap(), None);
}

#[tokio::test]
async fn a_missing_bucket_is_unavailable_and_the_error_carries_no_content() {
    let client = s3(&sdk_config().await);
    let store = S3Documents::new(client, unique("no-such-bucket"));
    let err = store
        .put("invoice-approval", &invoice(), PDF)
        .await
        .unwrap_err();
    let StoreError::Unavailable(message) = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("NoSuchBucket"), "{message}");
    assert!(!message.contains("INV-123 total"), "{message}");
    let err = store.get("invoice-approval", &invoice()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
