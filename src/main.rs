use std::process::ExitCode;

use clap::Parser;
use vitals::cli::{self, Cli, Command};

/// mimalloc, not glibc's malloc: glibc was the slow part of decoding a trace while others
/// stayed open (the editor host keeps the traces it opened) and of freeing one (issue 16,
/// `cargo bench --bench decode`). Declared here, not in the library, so that a test binary
/// can install an allocator of its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Nvim => vitals::nvim::run(),
        Command::Lsp => vitals::lsp::run(),
        Command::Mcp(flags) => vitals::mcp::run(flags),
        command => {
            vitals::logging::to_stderr();
            cli::run(command)
        }
    }
}
