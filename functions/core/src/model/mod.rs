//! Model adapters that need no cloud: the embedded classifier, and the
//! cascade that puts a cheaper model in front of a dearer one.

mod cascade;
mod embedded;

pub use cascade::CascadeModel;
pub use embedded::EmbeddedModel;
