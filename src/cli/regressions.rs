//! `vitals regressions --service S`: the newest version against the one before, or the
//! latest traffic against the traffic before it (see [`crate::providers::regressions`]),
//! for people or as JSON, over a backend or a file/folder of traces.

use super::args::RegressionFlags;
use super::{print_json, print_lines};
use crate::config::DEFAULT_MAX_RESPONSE;
use crate::error::{Error, Result};
use crate::providers::regressions::{RegressionArgs, RegressionSettings, regressions as check};
use crate::providers::{self, TraceProvider, file::FileProvider};
use crate::query::now_ns;
use crate::render::regressions as draw;

pub async fn regressions(flags: RegressionFlags) -> Result<()> {
    let provider: std::sync::Arc<dyn TraceProvider> = match &flags.input {
        Some(path) => std::sync::Arc::new(FileProvider::new(path, DEFAULT_MAX_RESPONSE)),
        None => providers::from_config(&flags.provider.to_config())?,
    };
    let args = RegressionArgs {
        service: flags.service,
        window: flags.window,
        at: flags.at,
        version: flags.version,
        baseline: flags.baseline,
        current: flags.current,
    };
    let settings = RegressionSettings { limit: flags.limit, min_samples: flags.min_samples, ..Default::default() };
    let report = check(&*provider, &args, &settings, now_ns()).await?;
    if report.overall.baseline.count + report.overall.current.count == 0 {
        return Err(Error::invalid(format!("no requests of {} in either window", report.service)));
    }
    if flags.json {
        return print_json(&report);
    }
    let drawn = draw::render(&report, super::terminal_width());
    print_lines(&drawn.rendered.lines)
}
