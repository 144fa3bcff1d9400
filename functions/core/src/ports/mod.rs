//! What the stages need from the outside world. Each port has an AWS adapter
//! (`functions/aws`), an embedded one (`infra/local`) and an in-memory one
//! ([`crate::memory`]) for tests.

mod actions;
mod clock;
mod documents;
mod executions;
mod fetch;
mod intake;
mod metrics;
mod model;
mod notifier;
mod queue;
mod secrets;
mod store;

pub use actions::*;
pub use clock::*;
pub use documents::*;
pub use executions::*;
pub use fetch::*;
pub use intake::*;
pub use metrics::*;
pub use model::*;
pub use notifier::*;
pub use queue::*;
pub use secrets::*;
pub use store::*;
