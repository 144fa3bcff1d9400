//! `handoff`: the local runtime's command line. It lives in the library
//! (src/cli) so the whole-system tests in the top-level `tests/` crate
//! build the very same command.
fn main() -> anyhow::Result<()> {
    handoff_local::cli::main()
}
