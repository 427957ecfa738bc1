//! `vitals export`: traces from a backend written to one file to share.

use std::path::Path;

use super::args::ProviderFlags;
use super::write_stdout;
use crate::error::{Error, Result};
use crate::formats::export::{ExportFormat, encode};
use crate::providers;
use crate::providers::links::{Bounds, linked_traces};
use crate::session::export::{export_path, exported, write_file};

/// How `vitals export` writes: over an existing file or not, with linked traces or not.
pub struct Written {
    pub force: bool,
    pub linked: bool,
}

pub async fn export(
    flags: ProviderFlags,
    ids: Vec<String>,
    format: ExportFormat,
    output: Option<String>,
    Written { force, linked }: Written,
) -> Result<()> {
    let provider = providers::from_config(&flags.to_config())?;
    let mut traces: Vec<std::sync::Arc<crate::model::Trace>> = Vec::with_capacity(ids.len());
    for id in &ids {
        let found = match linked {
            true => linked_traces(&*provider, id, Bounds::default()).await?.traces,
            false => vec![provider.trace(id).await?],
        };
        // Two ids of one transaction bring the same traces: each is written once.
        for trace in found {
            if traces.iter().all(|t| t.id != trace.id) {
                traces.push(trace);
            }
        }
    }
    let bytes = encode(traces.iter().map(|t| &**t), format);
    if let Some(loses) = format.loses() {
        eprintln!("vitals: {loses}");
    }
    if output.as_deref() == Some("-") {
        return write_stdout(&String::from_utf8_lossy(&bytes));
    }
    let path = export_path(Path::new("."), output.as_deref(), &traces.iter().map(|t| t.id).collect::<Vec<_>>());
    write_file(&path, &bytes, force, Path::new(".")).map_err(|e| match path.exists() && !force {
        true => Error::invalid(format!("{e}, or --force to replace it")),
        false => e,
    })?;
    eprintln!("{}", exported(&traces, &path, Path::new(".")));
    Ok(())
}
