//! The deployment's workflows, validated when this crate was built.

use std::sync::{Arc, LazyLock};

use handoff_spec::Catalog;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// `(file name, YAML text)` of every spec under `workflows/`.
pub fn files() -> &'static [(&'static str, &'static str)] {
    embedded::FILES
}

/// The workflows, parsed once per process. The build script already
/// validated these exact bytes, so parsing cannot fail here.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
        Catalog::from_files(files().iter().copied()).expect("specs were validated at build time")
    });
    &CATALOG
}

/// The same catalog, shared the way the stages hold it.
pub fn shared() -> Arc<Catalog> {
    static SHARED: LazyLock<Arc<Catalog>> = LazyLock::new(|| Arc::new(catalog().clone()));
    SHARED.clone()
}
