//! Views as plain-text documents, for front doors that show a file rather than a float
//! (the language server's workspace commands): what the float's keys switch between,
//! laid out one after another.

use crate::analysis::TraceSummary;
use crate::model::{SpanIndex, Trace};

use super::{Picture, View, render_trace, summary_line};

/// The trace's views in the order the float's keys reach them: the flame graph and the
/// waterfall with the critical path marked (and the `marked` spans), the network calls
/// and the span statistics.
pub fn trace(trace: &Trace, width: usize, marked: &[SpanIndex]) -> String {
    let sections = [
        ("Flame graph (critical path marked ━)", View::Flame, true),
        ("Waterfall (critical path marked ━)", View::Waterfall, true),
        ("Network calls", View::Network, false),
        ("Span statistics", View::Stats, false),
    ];
    let mut out = String::new();
    for (heading, view, critical_path) in sections {
        let picture = Picture { critical_path, marked: marked.to_vec(), ..Picture::new(view, width) };
        out.push_str(&format!("── {heading} ──\n\n"));
        out.push_str(&render_trace(trace, &picture).plain_text());
        out.push('\n');
    }
    out
}

/// The columns a trace id takes at the start of a search result's line, with its gap.
const ID_COLUMNS: usize = 34;

/// A search result: a title, then one trace a line, its id first (to open it by).
pub fn search(title: &str, summaries: &[TraceSummary], now_ns: u64, width: usize) -> String {
    let mut out = format!("{title}\n\n");
    if summaries.is_empty() {
        out.push_str("(no traces)\n");
    }
    let labels = summary_line::lines(summaries, now_ns, width.saturating_sub(ID_COLUMNS).max(40));
    for (summary, label) in summaries.iter().zip(labels) {
        out.push_str(&format!("{:<32}  {}\n", summary.trace_id, label.trim_end()));
    }
    out
}
