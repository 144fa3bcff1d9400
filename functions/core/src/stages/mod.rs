//! The logic of every stage, one module each. A stage is a struct holding
//! the ports it needs (built once per process) with one async entry point.

pub mod act;
pub mod approval;
pub mod audit;
pub mod callback;
pub mod context;
pub mod decide;
pub mod finalize;
pub mod ingest;
pub mod read;
pub mod reason;
pub mod render;
pub mod starter;

mod error;
pub use error::StageError;
