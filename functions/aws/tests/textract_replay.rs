//! The Textract adapter against AnalyzeExpense answers replayed through the
//! SDK's own HTTP layer: the real request serialisation and response
//! parsing run, and no call leaves the process.

use aws_sdk_textract::config::retry::RetryConfig;
use aws_sdk_textract::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime::client::http::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use base64::Engine as _;
use handoff_aws::textract::Textract;
use handoff_core::ports::{Ocr, OcrError, OcrImage};
use serde_json::{json, Value};

fn reply(status: u16, body: Value) -> ReplayEvent {
    let mut response = http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1");
    if let Some(kind) = body["__type"].as_str() {
        response = response.header("x-amzn-errortype", kind);
    }
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://textract.eu-west-1.amazonaws.com/")
            .body(SdkBody::empty())
            .unwrap(),
        response.body(SdkBody::from(body.to_string())).unwrap(),
    )
}

fn textract(events: Vec<ReplayEvent>) -> (Textract, StaticReplayClient) {
    let http = StaticReplayClient::new(events);
    let config = aws_sdk_textract::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .http_client(http.clone())
        // One exchange per test: the SDK's own retries would replay more.
        .retry_config(RetryConfig::disabled())
        .build();
    (
        Textract::new(aws_sdk_textract::Client::from_conf(config)),
        http,
    )
}

fn block(id: &str, kind: &str, text: Option<&str>, confidence: f64) -> Value {
    let mut block = json!({
        "BlockType": kind,
        "Id": id,
        "Confidence": confidence,
        "Geometry": {
            "BoundingBox": { "Width": 0.2, "Height": 0.02, "Left": 0.1, "Top": 0.1 },
            "Polygon": [
                { "X": 0.1, "Y": 0.1 }, { "X": 0.3, "Y": 0.1 },
                { "X": 0.3, "Y": 0.12 }, { "X": 0.1, "Y": 0.12 }
            ]
        },
        "Page": 1
    });
    if let Some(text) = text {
        block["Text"] = json!(text);
    }
    block
}

fn field(kind: &str, label: Option<&str>, value: &str, confidence: f64) -> Value {
    let mut field = json!({
        "Type": { "Text": kind, "Confidence": confidence },
        "ValueDetection": { "Text": value, "Confidence": confidence },
        "PageNumber": 1
    });
    if let Some(label) = label {
        field["LabelDetection"] = json!({ "Text": label, "Confidence": confidence });
    }
    field
}

/// The shape AnalyzeExpense answers with for a one-page invoice: the page's
/// blocks, the summary fields and one line-item group of two items.
fn invoice() -> Value {
    json!({
        "DocumentMetadata": { "Pages": 1 },
        "ExpenseDocuments": [{
            "ExpenseIndex": 1,
            "SummaryFields": [
                field("VENDOR_NAME", None, "Acme Office Supply", 98.1),
                field("INVOICE_RECEIPT_ID", Some("Invoice No."), "INV-123", 99.2),
                field("INVOICE_RECEIPT_DATE", Some("Date"), "2026-01-15", 97.0),
                field("DUE_DATE", Some("Due"), "2026-02-14", 96.4),
                field("TAX", Some("VAT 20%"), "25.00", 95.5),
                field("TOTAL", Some("Total"), "150.00", 99.0),
                field("OTHER", Some("PO number"), "4711", 90.0),
                field("VENDOR_ADDRESS", None, "1 Main St\nSpringfield", 93.0),
            ],
            "LineItemGroups": [{
                "LineItemGroupIndex": 1,
                "LineItems": [
                    { "LineItemExpenseFields": [
                        field("ITEM", None, "Printer paper A4", 97.3),
                        field("QUANTITY", None, "10", 96.0),
                        field("UNIT_PRICE", None, "5.00", 95.0),
                        field("PRICE", None, "50.00", 98.0),
                        field("EXPENSE_ROW", None, "Printer paper A4 10 5.00 50.00", 94.0),
                    ]},
                    { "LineItemExpenseFields": [
                        field("ITEM", None, "Toner cartridge", 96.0),
                        field("QUANTITY", None, "1", 95.0),
                        field("UNIT_PRICE", None, "75.00", 94.0),
                        field("PRICE", None, "75.00", 97.0),
                        field("EXPENSE_ROW", None, "Toner cartridge 1 75.00 75.00", 93.0),
                    ]}
                ]
            }],
            "Blocks": [
                block("p1", "PAGE", None, 100.0),
                block("l1", "LINE", Some("Acme Office Supply"), 99.0),
                block("w1", "WORD", Some("Acme"), 99.0),
                block("w2", "WORD", Some("Office"), 98.0),
                block("w3", "WORD", Some("Supply"), 97.0),
                block("l2", "LINE", Some("Invoice No. INV-123"), 95.0),
                block("w4", "WORD", Some("Invoice"), 96.0),
                block("w5", "WORD", Some("No."), 94.0),
                block("w6", "WORD", Some("INV-123"), 93.0),
                block("l3", "LINE", Some("Total 150.00"), 89.0),
                block("w7", "WORD", Some("Total"), 90.0),
                block("w8", "WORD", Some("150.00"), 88.0),
            ]
        }]
    })
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR not really a picture";

#[tokio::test]
async fn an_invoice_reads_as_its_lines_then_textracts_fields_and_items() {
    let (ocr, http) = textract(vec![reply(200, invoice())]);
    let read = ocr
        .read(OcrImage {
            media_type: "image/png",
            bytes: PNG,
        })
        .await
        .unwrap();

    assert_eq!(
        read.text,
        "Acme Office Supply\n\
         Invoice No. INV-123\n\
         Total 150.00\n\
         [textract] VENDOR_NAME: Acme Office Supply\n\
         [textract] INVOICE_RECEIPT_ID: INV-123\n\
         [textract] INVOICE_RECEIPT_DATE: 2026-01-15\n\
         [textract] DUE_DATE: 2026-02-14\n\
         [textract] TAX: 25.00\n\
         [textract] TOTAL: 150.00\n\
         [textract] OTHER (PO number): 4711\n\
         [textract] VENDOR_ADDRESS: 1 Main St Springfield\n\
         [textract] line: Printer paper A4 | qty 10 | unit 5.00 | 50.00\n\
         [textract] line: Toner cartridge | qty 1 | unit 75.00 | 75.00"
    );
    // Three LINE and eight WORD blocks; the PAGE block does not count.
    let mean = (99.0 + 99.0 + 98.0 + 97.0 + 95.0 + 96.0 + 94.0 + 93.0 + 89.0 + 90.0 + 88.0) / 11.0;
    let confidence = read.confidence.expect("a confidence");
    assert!((confidence - mean / 100.0).abs() < 1e-6, "{confidence}");
    assert_eq!(ocr.name(), "textract");

    // What went over the wire: the JSON protocol's target, the image inline.
    let requests: Vec<_> = http.actual_requests().collect();
    assert_eq!(requests.len(), 1);
    let request = requests[0];
    assert_eq!(
        request.headers().get("x-amz-target"),
        Some("Textract.AnalyzeExpense")
    );
    let body: Value = serde_json::from_slice(request.body().bytes().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "Document": { "Bytes": base64::engine::general_purpose::STANDARD.encode(PNG) } })
    );
}

#[tokio::test]
async fn two_receipts_on_one_page_count_its_lines_once() {
    let mut answer = invoice();
    let first = answer["ExpenseDocuments"][0].clone();
    let mut second = first.clone();
    second["ExpenseIndex"] = json!(2);
    second["SummaryFields"] = json!([field("INVOICE_RECEIPT_ID", None, "INV-124", 99.0)]);
    second["LineItemGroups"] = json!([]);
    answer["ExpenseDocuments"] = json!([first, second]);
    let (ocr, _) = textract(vec![reply(200, answer)]);

    let read = ocr
        .read(OcrImage {
            media_type: "image/jpeg",
            bytes: b"\xff\xd8\xff",
        })
        .await
        .unwrap();

    let lines: Vec<&str> = read.text.lines().collect();
    assert_eq!(
        &lines[..3],
        ["Acme Office Supply", "Invoice No. INV-123", "Total 150.00"]
    );
    assert_eq!(lines.iter().filter(|l| **l == "Total 150.00").count(), 1);
    assert!(lines.contains(&"[textract] INVOICE_RECEIPT_ID: INV-123"));
    assert_eq!(
        lines.last(),
        Some(&"[textract] INVOICE_RECEIPT_ID: INV-124")
    );
}

#[tokio::test]
async fn a_page_textract_finds_nothing_on_reads_empty_without_confidence() {
    let (ocr, _) = textract(vec![reply(
        200,
        json!({ "DocumentMetadata": { "Pages": 1 }, "ExpenseDocuments": [] }),
    )]);
    let read = ocr
        .read(OcrImage {
            media_type: "image/tiff",
            bytes: b"II*\0",
        })
        .await
        .unwrap();
    assert_eq!((read.text.as_str(), read.confidence), ("", None));
}

#[tokio::test]
async fn throttling_fails_the_read_saying_so() {
    let (ocr, http) = textract(vec![reply(
        400,
        json!({ "__type": "ThrottlingException", "Message": "Rate exceeded" }),
    )]);
    let err = ocr
        .read(OcrImage {
            media_type: "image/png",
            bytes: PNG,
        })
        .await
        .unwrap_err();
    let OcrError::Failed(message) = err else {
        panic!("{err:?}");
    };
    assert!(message.contains("throttling"), "{message}");
    assert_eq!(http.actual_requests().count(), 1);
}

#[tokio::test]
async fn access_denied_and_unsupported_documents_fail_with_what_to_do() {
    let (ocr, _) = textract(vec![
        reply(
            400,
            json!({ "__type": "AccessDeniedException", "Message": "not authorized" }),
        ),
        reply(
            400,
            json!({ "__type": "UnsupportedDocumentException", "Message": "Request has unsupported document format" }),
        ),
    ]);
    let image = OcrImage {
        media_type: "application/pdf",
        bytes: b"%PDF-1.7",
    };
    let denied = ocr.read(image).await.unwrap_err().to_string();
    assert!(denied.contains("textract:AnalyzeExpense"), "{denied}");
    let unsupported = ocr.read(image).await.unwrap_err().to_string();
    assert!(
        unsupported.contains("does not support this document"),
        "{unsupported}"
    );
}

#[tokio::test]
async fn an_image_type_textract_does_not_take_is_refused_without_a_call() {
    let (ocr, http) = textract(vec![]);
    let err = ocr
        .read(OcrImage {
            media_type: "image/webp",
            bytes: b"RIFF",
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OcrError::Failed(m) if m.contains("image/webp")),
        "{err:?}"
    );
    assert_eq!(http.actual_requests().count(), 0);
}
