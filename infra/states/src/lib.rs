//! Amazon States Language interpreter with no I/O of its own.
//!
//! The host starts an [`Execution`], calls [`Execution::advance`] whenever something happened
//! (a task finished, a timer fired), hands the returned [`TaskRequest`]s to its workers and
//! reports back with [`Execution::task_succeeded`] / [`Execution::task_failed`] or, for
//! `.waitForTaskToken` tasks, [`Execution::send_task_success`] and friends. The execution is
//! serde data: persist it after every call and deserialize it to resume.
pub mod choice;
pub mod conformance;
mod context;
pub mod definition;
pub mod driver;
pub mod error;
mod execution;
mod frame;
mod history;
mod intrinsics;
mod json;
mod jsonata;
pub mod path;
mod payload;
mod retry;
mod timestamp;
pub mod validate;
mod value;

pub use context::ExecutionInfo;
pub use definition::{QueryLanguage, StateMachine};
pub use driver::{Clock, SystemClock, TaskHandler, TaskReply, VirtualClock};
pub use error::{DefinitionError, Failure};
pub use execution::{CallbackError, Execution, Status};
pub use frame::TaskRequest;
pub use history::HistoryEvent;
