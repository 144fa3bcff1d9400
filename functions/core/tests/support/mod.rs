//! The shared test bed, compiled into this crate's tests directly.
#![allow(dead_code, unused_imports)]

#[path = "../../src/testing.rs"]
mod testing;

pub use testing::*;
