use std::process::ExitCode;

use clap::Parser;
use vitals::cli::{self, Cli, Command};

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
