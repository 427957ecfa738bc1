//! `vitals diff A B`: two traces compared, for people or as JSON. Each side is a trace
//! file or a trace id fetched from the provider.

use std::path::Path;
use std::sync::Arc;

use super::args::{DiffFlags, ProviderFlags};
use super::{pick_trace, print_json, print_lines, terminal_width};
use crate::analysis::compare::compare;
use crate::error::Result;
use crate::model::Trace;
use crate::providers::{self, file::load_path};
use crate::render::compare as draw;

pub async fn diff(flags: DiffFlags) -> Result<()> {
    let before = side(&flags.provider, &flags.a).await?;
    let after = side(&flags.provider, &flags.b).await?;
    let comparison = compare(&before, &after);
    if flags.json {
        return print_json(&comparison);
    }
    let drawn = draw::render(&comparison, flags.width.unwrap_or_else(terminal_width));
    print_lines(&drawn.rendered.lines)
}

async fn side(flags: &ProviderFlags, what: &str) -> Result<Arc<Trace>> {
    let path = Path::new(what);
    if path.is_file() {
        return Ok(Arc::new(pick_trace(load_path(path)?, None, path)?));
    }
    providers::from_config(&flags.to_config())?.trace(what).await
}
