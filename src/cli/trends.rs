//! `vitals trends SERVICE [OPERATION]`: how a service's requests moved over days and
//! weeks, from the rollups of the trace store, for people or as JSON.

use super::args::TrendFlags;
use super::{print_json, print_lines, terminal_width};
use crate::error::Result;
use crate::providers::otlp::OtlpProvider;
use crate::providers::trends::{deploy_markers, trend};
use crate::query::now_ns;
use crate::render::trends::{chart_columns, render};

pub async fn trends(flags: TrendFlags) -> Result<()> {
    let store_path = flags.db.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let provider = OtlpProvider::open(&store_path)?;
    let width = flags.width.unwrap_or_else(terminal_width).max(40);
    let trend =
        trend(&provider, &flags.service, flags.operation.as_deref(), &flags.range, chart_columns(width), now_ns())
            .await?;
    if flags.json {
        return print_json(&trend);
    }
    let markers = deploy_markers(&provider, &flags.service).await?;
    print_lines(&render(&trend, &markers, width).rendered.lines)
}
