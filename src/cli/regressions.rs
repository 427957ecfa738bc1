//! `vitals regressions --service S`: baseline against current window, for people or as
//! JSON, over a backend or a file/folder of traces.

use super::args::RegressionFlags;
use super::{print_json, print_lines};
use crate::analysis::regression::Options;
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::windows::WindowSpec;
use crate::providers::{self, file::load_path};
use crate::query::now_ns;
use crate::render::regressions as draw;

pub async fn regressions(flags: RegressionFlags) -> Result<()> {
    let now = now_ns();
    let spec = WindowSpec::parse(
        &flags.window,
        flags.at.as_deref(),
        flags.baseline.as_deref(),
        flags.current.as_deref(),
        now,
    )?;
    let traces: Vec<std::sync::Arc<Trace>> = match &flags.input {
        Some(path) => load_path(path)?.into_iter().map(std::sync::Arc::new).collect(),
        None => {
            let provider = providers::from_config(&flags.provider.to_config())?;
            provider.search(&spec.query(&flags.service, flags.limit, now)).await?
        }
    };
    let options = Options { min_samples: flags.min_samples.max(1), ..Options::default() };
    let report = spec.detect(&flags.service, traces.iter().map(|t| &**t), options, now);
    if report.overall.baseline.count + report.overall.current.count == 0 {
        return Err(Error::invalid(format!("no requests of {} in either window", flags.service)));
    }
    if flags.json {
        return print_json(&report);
    }
    let drawn = draw::render(&report, super::terminal_width());
    print_lines(&drawn.rendered.lines)
}
