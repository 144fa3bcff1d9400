//! `handoff`: the local runtime's command line.
mod cli;
// The contract and its SQLite adapter live in the library (src/lib.rs).
#[allow(unused_imports)]
use handoff_local::{sqlite, store};

use clap::Parser;

// Many threads allocating and freeing run documents side by side: glibc's
// malloc spent a seventh of the runtime's time in its own bookkeeping.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = cli::Cli::parse();
    let code = cli::run(args)?;
    std::process::exit(code);
}
