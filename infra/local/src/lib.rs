//! The local runtime's persistence, as a library so the binary, the tests
//! and the benchmarks share one `store` contract and its SQLite adapter.
pub mod sqlite;
pub mod store;
