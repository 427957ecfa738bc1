//! The language-server front door: `vitals lsp` speaks LSP 3.17 on stdin/stdout, so that
//! Helix (which has no plugins) and every other LSP editor get what the Neovim plugin
//! shows: annotations of the lines of code that recent traces ran, as diagnostics and
//! inlay hints, and a hover with the findings and a flame graph.
//!
//! Built on `lsp-server` + `lsp-types`, rust-analyzer's own crates: `lsp-server` does the
//! framing, the initialize handshake, shutdown and `exit`, and hands over messages on a
//! channel, leaving the loop to us, so the loop is plainly visible to never wait on the
//! network (provider work goes to the Tokio runtime the rest of the core already uses and
//! pushes its results back itself); `lsp-types` are the protocol's types as the most used
//! Rust server writes them. (`tower-lsp-server` would bring a second async framework
//! around handlers for no gain here.)
//!
//! Settings come from `initializationOptions` and `workspace/didChangeConfiguration`, read
//! by the schema the Neovim host reads ([`crate::session::Settings`]); the provider, the
//! embedded store with its receivers and the annotations come from [`crate::session`], as
//! the Neovim host's do. stdout carries only LSP; logs go to the host's log file.

mod commands;
pub mod features;
mod server;

use std::process::ExitCode;

use lsp_server::Connection;

pub fn run() -> ExitCode {
    let Some(runtime) = crate::session::start_host() else { return ExitCode::FAILURE };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "language server starting");
    let (connection, _io_threads) = Connection::stdio();
    let code = server::serve(connection, runtime.handle());
    // Work still running (a backend that does not answer) must not hold the exit up; the
    // I/O threads end with the process.
    runtime.shutdown_background();
    tracing::info!("language server stopped");
    code
}
