//! `vitals analyze`: every analysis over a file or folder of traces, for people or, with
//! `--json`, as the one JSON object scripts and other editors read.

use super::args::AnalyzeFlags;
use super::{keep_until_exit, load_traces_of, print_json, print_lines};
use crate::analysis::report::{Options, analyze as analyze_traces};
use crate::error::Result;
use crate::query::parse_duration;
use crate::render::{findings::explain_report, report};

pub fn analyze(flags: AnalyzeFlags) -> Result<()> {
    let slow_query = parse_duration(&flags.slow_query)?;
    let options = Options { slow_query_ns: slow_query.as_nanos().min(u64::MAX as u128) as u64 };
    let traces = load_traces_of(&flags.input, flags.service.as_deref())?;
    let mut result = analyze_traces(&traces, &options);
    explain_report(&mut result);
    let printed = if flags.json {
        print_json(&result)
    } else {
        let title = match &flags.service {
            Some(service) => format!("{service} in {}", flags.input.display()),
            None => flags.input.display().to_string(),
        };
        print_lines(&report::render(&result, &title, super::terminal_width()).rendered.lines)
    };
    keep_until_exit((traces, result));
    printed
}
