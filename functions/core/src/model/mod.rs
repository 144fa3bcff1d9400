//! Model adapters that need no cloud: the embedded classifier.

mod embedded;

pub use embedded::EmbeddedModel;
