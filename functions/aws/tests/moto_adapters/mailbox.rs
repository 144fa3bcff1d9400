//! The inbound mail reader: a message stored as SES receiving stores it
//! (`inbound/<message id>`), read back whole; an oversize one refused.

use aws_sdk_s3::primitives::ByteStream;
use handoff_aws::s3::{MailboxError, S3Mailbox, INBOUND_PREFIX};

use crate::support::*;

const MESSAGE: &[u8] = b"Return-Path: <billing@supplier.example>\r\n\
From: Supplier Billing <billing@supplier.example>\r\n\
To: invoices@buyer.example\r\n\
Subject: Invoice INV-123\r\n\
Message-ID: <abc@supplier.example>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Please find invoice INV-123 for 150.00 EUR.\r\n";

/// A mailbox over a fresh bucket holding `message` as SES would store it
/// for message id `id`.
async fn mailbox_with(id: &str, message: &[u8]) -> S3Mailbox {
    let client = s3(&sdk_config().await);
    let bucket = bucket(&client).await;
    client
        .put_object()
        .bucket(&bucket)
        .key(format!("{INBOUND_PREFIX}{id}"))
        .body(ByteStream::from(message.to_vec()))
        .send()
        .await
        .expect("put the message as SES would");
    S3Mailbox::new(client, bucket)
}

#[tokio::test]
async fn a_message_ses_stored_reads_back_whole() {
    let id = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1";
    let mailbox = mailbox_with(id, MESSAGE).await;
    assert_eq!(mailbox.read(id).await.unwrap().as_deref(), Some(MESSAGE));
}

#[tokio::test]
async fn a_message_over_the_limit_is_refused() {
    let id = "big0message0id";
    let mailbox = mailbox_with(id, MESSAGE).await.with_max_bytes(64);
    let err = mailbox.read(id).await.unwrap_err();
    assert!(
        matches!(err, MailboxError::TooLarge { bytes, max: 64 } if bytes == MESSAGE.len() as u64),
        "{err:?}"
    );
    // Exactly at the limit is fine.
    let at_limit = mailbox_with(id, MESSAGE)
        .await
        .with_max_bytes(MESSAGE.len() as u64);
    assert!(at_limit.read(id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_message_not_there_reads_as_none() {
    let mailbox = mailbox_with("some-other-id", MESSAGE).await;
    assert_eq!(mailbox.read("expired0id").await.unwrap(), None);
}

#[tokio::test]
async fn a_message_id_that_is_a_path_is_refused_without_a_read() {
    let mailbox = mailbox_with("x", MESSAGE).await;
    for id in ["", "../documents/x", "a/b"] {
        let err = mailbox.read(id).await.unwrap_err();
        assert!(
            matches!(err, MailboxError::BadMessageId(_)),
            "{id}: {err:?}"
        );
    }
}
