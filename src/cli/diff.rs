//! `vitals diff A B`: two traces compared, for people or as JSON. Each side is a trace
//! file or a trace id fetched from the provider.

use std::path::Path;
use std::sync::Arc;

use super::args::{DiffFlags, ProviderFlags};
use super::{keep_until_exit, pick_trace, print_json, print_lines, terminal_width};
use crate::analysis::compare::compare;
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::{self, file::load_path};
use crate::render::compare as draw;

pub async fn diff(flags: DiffFlags) -> Result<()> {
    // Both sides at once: two files decode on the two cores.
    let (before, after) = tokio::join!(side(&flags.provider, &flags.a), side(&flags.provider, &flags.b));
    let (before, after) = (before?, after?);
    let comparison = compare(&before, &after);
    let printed = if flags.json {
        print_json(&comparison)
    } else {
        print_lines(&draw::render(&comparison, flags.width.unwrap_or_else(terminal_width)).rendered.lines)
    };
    keep_until_exit((before, after, comparison));
    printed
}

async fn side(flags: &ProviderFlags, what: &str) -> Result<Arc<Trace>> {
    let path = Path::new(what);
    if path.is_file() {
        let path = path.to_path_buf();
        let decoded = tokio::task::spawn_blocking(move || pick_trace(load_path(&path)?, None, &path));
        let trace = decoded.await.map_err(|e| Error::invalid(format!("decoding {what} failed: {e}")))??;
        return Ok(Arc::new(trace));
    }
    providers::from_config(&flags.to_config())?.trace(what).await
}
