//! Views as plain-text documents, for front doors that show a file rather than a float
//! (the language server's workspace commands): what the float's keys switch between,
//! laid out one after another.

use crate::analysis::TraceSummary;
use crate::analysis::calls::CodeLocation;
use crate::analysis::service_map::ServiceMap;
use crate::model::{SpanIndex, Trace};

use super::service_map::{self as map_view, MapView};
use super::units::duration;
use super::{Picture, View, render_trace, summary_line};

/// A view's part under its heading, as each part of a document starts.
fn section(out: &mut String, heading: &str, body: &str) {
    out.push_str(&format!("── {heading} ──\n\n{body}\n"));
}

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
        section(&mut out, heading, &render_trace(trace, &picture).plain_text());
    }
    section(&mut out, "Code (gf on a file:line opens it)", &code_locations(trace));
    out
}

/// The most places of code one trace's document lists.
const MAX_CODE_LOCATIONS: usize = 100;

/// Where in the code the trace's spans were made, longest span first, each place once:
/// `  41.2ms  frontend: GET /dispatch  services/frontend/server.go:87 (HandleDispatch)`.
fn code_locations(trace: &Trace) -> String {
    let mut spans: Vec<(SpanIndex, CodeLocation)> = (0..trace.spans.len())
        .filter_map(|i| CodeLocation::of(&trace.spans[i]).filter(|c| c.filepath.is_some()).map(|c| (i, c)))
        .collect();
    if spans.is_empty() {
        return "(no span of this trace says where in the code it was made: code.file.path)\n".to_string();
    }
    spans.sort_by_key(|(i, _)| std::cmp::Reverse(trace.spans[*i].duration_ns));
    let mut seen = std::collections::HashSet::new();
    let mut out = String::new();
    for (i, code) in spans.into_iter().filter(|(_, c)| seen.insert(c.clone())).take(MAX_CODE_LOCATIONS) {
        let span = &trace.spans[i];
        let line =
            format!("{:>9}  {}: {}  {}", duration(span.duration_ns), span.service(), span.operation, code.describe());
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The service map: with a service, the calls from it, its callers and its details; else
/// every service's calls and the order to migrate them in.
pub fn service_map(map: &ServiceMap, service: Option<usize>, width: usize) -> String {
    let views = match service {
        Some(of) => {
            let name = &map.services[of].name;
            vec![
                (format!("Calls from {name}"), MapView::Tree { root: Some(of) }),
                (format!("Callers of {name}"), MapView::Callers { of }),
                (name.clone(), MapView::Details { of }),
            ]
        }
        None => vec![
            ("Every service and its calls".to_string(), MapView::Tree { root: None }),
            ("Migration order".to_string(), MapView::Migration),
        ],
    };
    let mut out = String::new();
    for (heading, view) in views {
        section(&mut out, &heading, &map_view::render(map, view, width).plain_text());
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
