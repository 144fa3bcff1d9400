//! Validates every workflow spec and embeds the files, so a bad spec fails
//! `cargo build` with the file, the YAML path and the reason.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    // Overridable so a test can prove that a broken spec fails the build.
    println!("cargo:rerun-if-env-changed=HANDOFF_WORKFLOWS_DIR");
    let dir = env::var_os("HANDOFF_WORKFLOWS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../../workflows"));
    println!("cargo:rerun-if-changed={}", dir.display());

    let files = spec_files(&dir);
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|path| {
            let name = format!("workflows/{}", path.file_name().unwrap().to_string_lossy());
            println!("cargo:rerun-if-changed={}", path.display());
            (
                name,
                fs::read_to_string(path).expect("readable workflow spec"),
            )
        })
        .collect();

    if let Err(errors) =
        handoff_spec::Catalog::from_files(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))
    {
        for e in &errors.0 {
            println!("cargo::error={e}");
        }
        std::process::exit(1);
    }

    let entries: String = files
        .iter()
        .zip(&texts)
        .map(|(path, (name, _))| {
            let abs = fs::canonicalize(path).unwrap();
            format!(
                "    ({name:?}, include_str!({:?})),\n",
                abs.display().to_string()
            )
        })
        .collect();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("embedded.rs");
    fs::write(
        out,
        format!("pub static FILES: &[(&str, &str)] = &[\n{entries}];\n"),
    )
    .unwrap();
}

fn spec_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    files
}
