//! The embedded adapters for documents: files under the data directory, and
//! Tesseract (Debian's `tesseract-ocr`) for scans when it is installed.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::Stdio;

use async_trait::async_trait;
use handoff_core::domain::DocumentRef;
use handoff_core::ports::{DocumentStore, Ocr, OcrError, OcrImage, OcrText, StoreError};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// `<data dir>/documents/<workflow>/<sha256 hex>`.
pub struct FileDocuments {
    pub root: PathBuf,
}

impl FileDocuments {
    fn path(&self, workflow: &str, doc: &DocumentRef) -> Result<PathBuf, StoreError> {
        let key = doc.key(workflow);
        // The workflow name is the catalog's and the hash is ours, but a
        // path is built from them: refuse anything that could leave root.
        if key
            .split('/')
            .any(|part| part.is_empty() || part.starts_with('.'))
        {
            return Err(StoreError::Unavailable(format!("bad document key {key}")));
        }
        Ok(self.root.join(key))
    }
}

fn unavailable(e: std::io::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

#[async_trait]
impl DocumentStore for FileDocuments {
    async fn put(&self, workflow: &str, doc: &DocumentRef, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.path(workflow, doc)?;
        if tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Ok(());
        }
        let dir = path.parent().expect("a key has a folder");
        tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        // Written aside and renamed: a reader never sees half a document.
        let partial = dir.join(format!(".{}.partial", uuid::Uuid::new_v4()));
        tokio::fs::write(&partial, bytes)
            .await
            .map_err(unavailable)?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, workflow: &str, doc: &DocumentRef) -> Result<Option<Vec<u8>>, StoreError> {
        match tokio::fs::read(self.path(workflow, doc)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// Runs `tesseract - - tsv` on each image: words with their confidences,
/// joined back into lines.
pub struct Tesseract {
    pub program: PathBuf,
    pub language: String,
}

impl Default for Tesseract {
    fn default() -> Self {
        Self {
            program: PathBuf::from("tesseract"),
            language: "eng".into(),
        }
    }
}

#[async_trait]
impl Ocr for Tesseract {
    fn name(&self) -> &'static str {
        "tesseract"
    }

    async fn read(&self, image: OcrImage<'_>) -> Result<OcrText, OcrError> {
        let mut child = Command::new(&self.program)
            .args(["-", "-", "-l", &self.language, "--psm", "3", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => OcrError::Unavailable(format!(
                    "`{}` is not installed (apt-get install tesseract-ocr)",
                    self.program.display()
                )),
                _ => OcrError::Failed(e.to_string()),
            })?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        let bytes = image.bytes.to_vec();
        // Written while the output is read: a large image would otherwise
        // fill both pipes and stall.
        let writer = tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
        let output = child
            .wait_with_output()
            .await
            .map_err(|e| OcrError::Failed(e.to_string()))?;
        let _ = writer.await;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().last().unwrap_or("").chars().take(200);
            return Err(OcrError::Failed(format!(
                "tesseract exited with {}: {}",
                output.status,
                last.collect::<String>()
            )));
        }
        Ok(from_tsv(&String::from_utf8_lossy(&output.stdout)))
    }
}

/// Tesseract's TSV: one row per word (level 5) with its block, paragraph
/// and line numbers and a confidence in 0–100.
fn from_tsv(tsv: &str) -> OcrText {
    let mut lines: BTreeMap<(u32, u32, u32, u32), Vec<&str>> = BTreeMap::new();
    let (mut total, mut words) = (0.0, 0u32);
    for row in tsv.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let word = cols[11].trim();
        let confidence: f64 = cols[10].parse().unwrap_or(-1.0);
        if word.is_empty() || confidence < 0.0 {
            continue;
        }
        let n = |i: usize| cols[i].parse::<u32>().unwrap_or(0);
        lines
            .entry((n(1), n(2), n(3), n(4)))
            .or_default()
            .push(word);
        total += confidence;
        words += 1;
    }
    let mut text = String::new();
    let mut last_paragraph = None;
    for ((page, block, paragraph, _), line) in &lines {
        if last_paragraph.is_some_and(|p| p != (page, block, paragraph)) {
            text.push('\n');
        }
        last_paragraph = Some((page, block, paragraph));
        text.push_str(&line.join(" "));
        text.push('\n');
    }
    OcrText {
        text,
        confidence: (words > 0).then(|| total / f64::from(words) / 100.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_come_back_as_lines_with_their_mean_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
                   5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tInvoice\n\
                   5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tINV-7\n\
                   5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tTotal\n\
                   5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t60\tEUR\n";
        let read = from_tsv(tsv);
        assert_eq!(read.text, "Invoice INV-7\nTotal\n\nEUR\n");
        assert!((read.confidence.unwrap() - 0.75).abs() < 1e-9);
    }
}
