//! The Neovim front door: a msgpack-RPC host on stdin/stdout, started by the Lua plugin.
//!
//! Every call from the editor is a *notification* carrying a request id, so Neovim never
//! waits on the host; the host does the work (network included) in a task of its own and
//! pushes the answer back with `require('vitals.client')._resolve(id, err, result)`.

mod alerts;
mod host;
mod links;
mod maps;
mod protocol;
mod tails;
mod views;

use std::process::ExitCode;

use nvim_rs::create::tokio as create;

pub fn run() -> ExitCode {
    let Some(runtime) = crate::session::start_host() else { return ExitCode::FAILURE };
    runtime.block_on(async {
        tracing::info!(version = env!("CARGO_PKG_VERSION"), "host starting");
        let (_nvim, io) = match create::new_parent(host::Host::default()).await {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("vitals: cannot talk to Neovim on stdin/stdout: {e}");
                return ExitCode::FAILURE;
            }
        };
        match io.await {
            Ok(Ok(())) => ExitCode::SUCCESS,
            Ok(Err(e)) if e.is_reader_error() => {
                // Neovim closed the channel: the normal way for the host to end.
                tracing::info!("editor went away: {e}");
                ExitCode::SUCCESS
            }
            Ok(Err(e)) => {
                tracing::error!("RPC loop failed: {e}");
                eprintln!("vitals: RPC loop failed: {e}");
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("vitals: host task failed: {e}");
                ExitCode::FAILURE
            }
        }
    })
}
