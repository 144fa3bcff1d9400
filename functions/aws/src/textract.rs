//! [`Ocr`] on Amazon Textract's `AnalyzeExpense`, the synchronous call with
//! the page's bytes inline (PNG, JPEG, TIFF or a single-page PDF): no
//! bucket access for Textract and no job to poll.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_textract::error::{DisplayErrorContext, SdkError};
use aws_sdk_textract::operation::analyze_expense::{AnalyzeExpenseError, AnalyzeExpenseOutput};
use aws_sdk_textract::primitives::Blob;
use aws_sdk_textract::types::{BlockType, Document, ExpenseField};
use handoff_core::ports::{Ocr, OcrError, OcrImage, OcrText};

/// What `AnalyzeExpense` takes inline.
const MEDIA_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/tiff", "application/pdf"];

/// Marks the lines that carry Textract's reading of the invoice rather
/// than text printed on it.
pub const MARK: &str = "[textract]";

pub struct Textract {
    pub client: aws_sdk_textract::Client,
}

impl Textract {
    pub fn new(client: aws_sdk_textract::Client) -> Self {
        Self { client }
    }

    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_textract::Client::new(config))
    }
}

#[async_trait]
impl Ocr for Textract {
    fn name(&self) -> &'static str {
        "textract"
    }

    async fn read(&self, image: OcrImage<'_>) -> Result<OcrText, OcrError> {
        if !MEDIA_TYPES.contains(&image.media_type) {
            return Err(OcrError::Failed(format!(
                "Textract reads PNG, JPEG, TIFF and single-page PDF, not {}",
                image.media_type
            )));
        }
        let output = self
            .client
            .analyze_expense()
            .document(Document::builder().bytes(Blob::new(image.bytes)).build())
            .send()
            .await
            .map_err(failure)?;
        Ok(ocr_text(&output))
    }
}

/// Why the call failed, in words a reviewer or an operator can act on; the
/// service's messages never carry the document.
fn failure(err: SdkError<AnalyzeExpenseError>) -> OcrError {
    use AnalyzeExpenseError as E;
    let Some(service) = err.as_service_error() else {
        return OcrError::Failed(format!(
            "Textract could not be reached: {}",
            DisplayErrorContext(&err)
        ));
    };
    OcrError::Failed(match service {
        E::ThrottlingException(_) | E::ProvisionedThroughputExceededException(_) => {
            "Textract is throttling AnalyzeExpense calls; retry later".to_string()
        }
        E::InternalServerError(_) => "Textract had an internal error; retry later".to_string(),
        E::AccessDeniedException(_) => {
            "Textract denied access: the function's role needs textract:AnalyzeExpense".to_string()
        }
        E::UnsupportedDocumentException(_) => {
            "Textract does not support this document: it reads PNG, JPEG, TIFF and single-page PDF"
                .to_string()
        }
        E::BadDocumentException(_) => {
            "Textract could not read the document (damaged, or not what its type says)".to_string()
        }
        E::DocumentTooLargeException(_) => {
            "the document is too large for Textract's synchronous AnalyzeExpense".to_string()
        }
        other => format!(
            "Textract AnalyzeExpense failed: {}",
            DisplayErrorContext(other)
        ),
    })
}

/// The text is the LINE blocks' text in reading order, one a line; the
/// confidence the mean of the LINE and WORD blocks' confidences, 0–1.
///
/// After the text come Textract's own reading of the invoice as plain
/// lines, one per summary field (`[textract] INVOICE_RECEIPT_ID: INV-123`,
/// an `OTHER` field by its label: `[textract] OTHER (PO number): 4711`) and
/// one per line item (`[textract] line: <description> | qty <q> | unit <u>
/// | <total>`, the parts Textract found). The port carries text only, and
/// the extract task reads text: appended this way, a task (model or
/// pattern) sees the structure Textract recognised, marked as such, next to
/// what the page says, without a second port for invoice fields.
pub fn ocr_text(output: &AnalyzeExpenseOutput) -> OcrText {
    let mut lines = Vec::new();
    let mut structure = Vec::new();
    let (mut total, mut count) = (0.0f64, 0u32);
    // Two receipts on one page are two expense documents over the same
    // page's blocks: each block counts once.
    let mut seen = HashSet::new();
    for document in output.expense_documents() {
        for block in document.blocks() {
            if block.id().is_some_and(|id| !seen.insert(id.to_string())) {
                continue;
            }
            let kind = block.block_type();
            if matches!(kind, Some(BlockType::Line | BlockType::Word)) {
                if let Some(c) = block.confidence() {
                    total += f64::from(c);
                    count += 1;
                }
            }
            if kind == Some(&BlockType::Line) {
                if let Some(text) = block.text() {
                    lines.push(text.to_string());
                }
            }
        }
        for field in document.summary_fields() {
            if let Some(line) = summary_line(field) {
                if !structure.contains(&line) {
                    structure.push(line);
                }
            }
        }
        for group in document.line_item_groups() {
            for item in group.line_items() {
                if let Some(line) = item_line(item.line_item_expense_fields()) {
                    structure.push(line);
                }
            }
        }
    }
    lines.extend(structure);
    OcrText {
        text: lines.join("\n"),
        confidence: (count > 0).then(|| total / f64::from(count) / 100.0),
    }
}

fn value(field: &ExpenseField) -> Option<String> {
    let text = field.value_detection()?.text()?;
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!flat.is_empty()).then_some(flat)
}

fn kind(field: &ExpenseField) -> Option<&str> {
    field.r#type()?.text()
}

fn summary_line(field: &ExpenseField) -> Option<String> {
    let value = value(field)?;
    let kind = kind(field)?;
    let label = field
        .label_detection()
        .and_then(|l| l.text())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty());
    Some(match (kind, label) {
        ("OTHER", Some(label)) => format!("{MARK} OTHER ({label}): {value}"),
        (kind, _) => format!("{MARK} {kind}: {value}"),
    })
}

fn item_line(fields: &[ExpenseField]) -> Option<String> {
    let find = |wanted: &str| {
        fields
            .iter()
            .find(|f| kind(f) == Some(wanted))
            .and_then(value)
    };
    let description = find("ITEM").or_else(|| find("EXPENSE_ROW"));
    let parts: Vec<String> = [
        description,
        find("QUANTITY").map(|q| format!("qty {q}")),
        find("UNIT_PRICE").map(|u| format!("unit {u}")),
        find("PRICE"),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| format!("{MARK} line: {}", parts.join(" | ")))
}
