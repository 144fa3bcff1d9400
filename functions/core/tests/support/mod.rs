//! The shared test bed: `handoff_core::testing`, which the dev-dependency on
//! this crate turns on.
#![allow(dead_code, unused_imports)]

pub use handoff_core::testing::*;
