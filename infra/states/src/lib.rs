//! Amazon States Language interpreter with no I/O of its own.
pub mod choice;
pub mod definition;
pub mod error;
mod intrinsics;
mod jsonata;
pub mod path;
mod payload;
mod timestamp;
mod value;
