//! The HTTP edges against real servers on loopback: context lookups through
//! the reqwest fetcher, actions through the retrying action sink, each
//! driven by the core stage that uses it in production.

mod actions;
mod lookups;
mod outbound;
mod support;
