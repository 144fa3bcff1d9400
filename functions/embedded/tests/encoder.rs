//! The sentence encoder against an independent reference: a numpy forward
//! pass of the same weights (scripts/encoder-reference.py). Runs
//! `scripts/fetch-encoder` (a second of hashing once fetched) and needs the
//! venv `scripts/test` installs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use handoff_embedded::encoder::{Availability, Encoder, EncoderError, DIMENSIONS};

const SENTENCES: [&str; 5] = [
    "I still have not received my new card",
    "How do I top up my account?",
    "Refund pls!!! charged 2x for order #A-1234",
    "",
    "Ünïcödé and emoji 🚀 in a ticket about an invoice due 2026-12-01",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn encoder(dir: &Path) -> Encoder {
    Encoder::load(dir).unwrap_or_else(|e| panic!("{e}"))
}

fn encoder_dir() -> PathBuf {
    let out = Command::new(workspace().join("scripts/fetch-encoder"))
        .output()
        .expect("scripts/fetch-encoder runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    PathBuf::from(
        stdout
            .trim()
            .strip_prefix("HANDOFF_ENCODER_DIR=")
            .expect("the script prints the directory"),
    )
}

fn reference(dir: &Path) -> Vec<Vec<f32>> {
    let python = workspace().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: scripts/test installs the venv with numpy and tokenizers",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(workspace().join("scripts/encoder-reference.py"))
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for s in SENTENCES {
        writeln!(stdin, "{s}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.iter()
        .map(|r| {
            r["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_an_independent_reference() {
    let dir = encoder_dir();
    let encoder = encoder(&dir);
    let expected = reference(&dir);
    for (sentence, want) in SENTENCES.iter().zip(&expected) {
        let got = encoder.embed(sentence).unwrap();
        assert_eq!(got.len(), DIMENSIONS);
        let worst = largest_difference(&got, want);
        assert!(worst < 1e-4, "{sentence:?}: off by {worst}");
        let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{sentence:?}: norm {norm}");
    }
    // Encoded together, padded to the longest, each text comes out the same.
    let together = encoder.embed_all(&SENTENCES, |_| ()).unwrap();
    for ((sentence, got), want) in SENTENCES.iter().zip(&together).zip(&expected) {
        let worst = largest_difference(got, want);
        assert!(worst < 1e-4, "{sentence:?} in a batch: off by {worst}");
    }
}

#[test]
fn a_directory_without_the_weights_is_refused_with_the_file_named() {
    let dir = std::env::temp_dir().join(format!("handoff-no-encoder-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let err = Encoder::load(&dir).unwrap_err();
    assert!(matches!(err, EncoderError::Load { .. }));
    assert!(err.to_string().contains("config.json"), "{err}");
    match Availability::load(&dir) {
        Availability::Absent(why) => assert!(why.contains("config.json"), "{why}"),
        Availability::Loaded(_) => panic!("loaded from an empty directory"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
