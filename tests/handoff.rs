//! The `handoff` command these tests drive (see Cargo.toml for why it is
//! built here too).
fn main() -> anyhow::Result<()> {
    handoff_local::cli::main()
}
