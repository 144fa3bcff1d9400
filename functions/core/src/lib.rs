//! The behaviour of handoff, written once against ports.
//!
//! Each Lambda's `main.rs` and the local runtime build adapters for the
//! ports and call the same stage functions in [`stages`]; nothing here knows
//! whether it runs in AWS or on a laptop.

pub mod backtest;
pub mod dataset;
pub mod domain;
pub mod http;
pub mod links;
pub mod memory;
pub mod model;
pub mod notify;
pub mod observe;
pub mod pages;
pub mod ports;
pub mod roles;
pub mod signing;
pub mod stages;
pub mod tokens;
pub mod trigger;

pub use handoff_spec as spec;

#[cfg(feature = "testing")]
pub mod testing;

// Lets `testing` name this crate the same way from inside and from tests.
extern crate self as handoff_core;
