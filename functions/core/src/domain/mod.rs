//! The nouns of a governed run.

mod action;
mod ai;
mod approval;
mod audit;
mod blind_audit;
mod decision;
mod document;
mod event;
mod feedback;
mod run;

pub use action::*;
pub use ai::*;
pub use approval::*;
pub use audit::*;
pub use blind_audit::*;
pub use decision::*;
pub use document::*;
pub use event::*;
pub use feedback::*;
pub use run::*;
