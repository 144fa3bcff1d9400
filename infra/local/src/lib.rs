//! The local runtime's persistence, as a library so the binary, the tests
//! and the benchmarks share one `store` contract and its SQLite adapter.
pub mod sqlite;
pub mod store;

// The runtime around them: `handoff up` and friends.
pub mod access;
pub mod adapters;
pub mod bench;
pub mod cli;
pub mod client;
pub mod documents;
pub mod gateway;
pub mod models;
pub mod pages;
pub mod redrive;
pub mod runtime;
pub mod sign;
pub mod stack;
pub mod template;

// Many threads allocating and freeing run documents side by side: glibc's
// malloc spent a seventh of the runtime's time in its own bookkeeping. Set
// here, not in main.rs, so every binary that runs the runtime gets it: the
// `handoff` command and the whole-system tests' copy of it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
