//! `vitals diff A B`: two traces compared, for people or as JSON. Each side is a trace
//! file or a trace id fetched from the provider.

use std::path::Path;
use std::sync::Arc;

use super::args::{DiffFlags, ProviderFlags};
use super::{keep_until_exit, pick_trace, print_json, print_lines, terminal_width};
use crate::analysis::compare::Before;
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::{self, file::load_path};
use crate::render::compare as draw;

pub async fn diff(flags: DiffFlags) -> Result<()> {
    // One side after the other, the first merged into call paths and let go before the
    // second is read: one decoded trace at a time halves the peak memory of two big traces
    // (decoding both at once on two cores was faster but held both).
    let before = Before::of(&*side(&flags.provider, &flags.a).await?);
    let after = side(&flags.provider, &flags.b).await?;
    let comparison = before.compare(&after);
    let printed = if flags.json {
        print_json(&comparison)
    } else {
        print_lines(&draw::render(&comparison, flags.width.unwrap_or_else(terminal_width)).rendered.lines)
    };
    keep_until_exit((after, comparison));
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
