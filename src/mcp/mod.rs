//! The Model Context Protocol front door: `vitals mcp` serves MCP on stdin/stdout, so that
//! the AI assistants people run in and beside their editor (Claude Code, Claude Desktop,
//! VS Code, Cursor, …) investigate traces with Vitals' analyses instead of raw JSON.
//!
//! Built on `rmcp`, the protocol's official Rust SDK: it does the framing, the version
//! negotiation (the initialize handshake of the 2024–2025 revisions and the discovery of
//! 2026-07-28), the tool listing with input schemas derived from the argument types
//! (schemars), and turns arguments that do not fit those types into tool errors. The
//! tools call the core as the other front doors do; stdout carries only MCP, and logs go
//! to the host's log file.

mod answers;
mod server;

use std::collections::BTreeMap;
use std::process::ExitCode;

use rmcp::ServiceExt;

use crate::cli::McpFlags;
use crate::error::{Error, Result};
use crate::providers;
use crate::query::parse_duration;
use crate::session::AnalyzeSettings;

pub fn run(flags: McpFlags) -> ExitCode {
    let Some(runtime) = crate::session::start_host() else { return ExitCode::FAILURE };
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "MCP server starting");
    let code = match runtime.block_on(serve(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("MCP server stopped: {e}");
            crate::logging::say(format_args!("vitals mcp: {e}"));
            ExitCode::FAILURE
        }
    };
    // A backend call still running must not hold the exit up.
    runtime.shutdown_background();
    tracing::info!("MCP server stopped");
    code
}

/// Serves until the client closes stdin. Flags that cannot work (a malformed lookback) stop
/// it before it starts, said on stderr, which clients show; a provider that cannot be
/// reached does not: every tool then says why, so the assistant can tell the user.
async fn serve(flags: McpFlags) -> Result<()> {
    let analyze = AnalyzeSettings {
        lookback: flags.lookback.clone(),
        limit: flags.limit.max(1),
        slow_query_ms: parse_duration(&flags.slow_query)?.as_millis().min(u64::MAX as u128) as u64,
    };
    parse_duration(&analyze.lookback)?;
    let root = match &flags.root {
        Some(root) => root.clone(),
        None => std::env::current_dir().map_err(|e| Error::invalid(format!("no current directory: {e}")))?,
    };
    let root = std::fs::canonicalize(&root).map_err(|source| Error::Io { path: root.clone(), source })?;
    let mappings: BTreeMap<String, String> = flags.path_mappings.iter().cloned().collect();
    let provider = providers::from_config(&flags.provider.to_config());
    if let Err(e) = &provider {
        tracing::warn!("no trace provider: {e}");
    }
    let server = server::Vitals::new(provider, analyze, root, mappings);
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::invalid(format!("the MCP session did not start: {e}")))?;
    running.waiting().await.map_err(|e| Error::Internal(format!("the MCP session failed: {e}")))?;
    Ok(())
}
