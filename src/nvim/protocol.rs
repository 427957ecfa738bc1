//! The messages between the Lua plugin and the host, as msgpack values.

use crate::analysis::aggregate::Weight;
use crate::analysis::calls::CodeLocation;

use crate::analysis::trends::{Point, Trend};
use crate::providers::regressions::{RegressionArgs, RegressionSettings};
use crate::query::SearchArgs;
use crate::render::annotations::Annotation;
use crate::render::logs::{CodeJump, ListedLog};
use crate::render::report::ReportItem;
use crate::render::trends::Marker;
use crate::session::{AnalyzeSettings, MapSettings};
use clap::ValueEnum;
use rmpv::Value;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::render::{self, Rendered, View};

/// Reads a notification's `(id, params)` arguments.
pub fn split_args(args: Vec<Value>) -> (Option<u64>, Value) {
    let mut args = args.into_iter();
    let id = args.next().and_then(|v| v.as_u64());
    (id, args.next().unwrap_or(Value::Nil))
}

/// Reads typed parameters. Goes through msgpack bytes with rmp-serde, which reads enums
/// from their names (`"flame"`, `"file"`) the way Lua sends them.
pub fn params<T: for<'de> Deserialize<'de> + Default>(value: Value) -> Result<T> {
    if value.is_nil() {
        return Ok(T::default());
    }
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &value)
        .map_err(|e| Error::invalid(format!("cannot re-encode arguments: {e}")))?;
    rmp_serde::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("the plugin sent arguments the host cannot read: {e}")))
}

/// Encodes an answer for Lua: structs become maps with field names as keys.
pub fn to_value<T: Serialize>(payload: &T) -> Result<Value> {
    let bytes =
        rmp_serde::to_vec_named(payload).map_err(|e| Error::invalid(format!("cannot encode the answer: {e}")))?;
    rmpv::decode::read_value(&mut bytes.as_slice())
        .map_err(|e| Error::invalid(format!("cannot encode the answer: {e}")))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ServiceParams {
    pub service: String,
}

/// Completion of a `key=value` filter: the names of a service's attributes, or the values
/// of one of them.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TagParams {
    pub service: String,
    pub key: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OpenTraceParams {
    pub trace_id: String,
    /// The view's name, read by [`view_named`] ("" for the default).
    pub view: String,
    pub width: usize,
    /// A span to put the cursor on ("" for none).
    pub span_id: String,
    /// Spans to mark (the repeated calls of an N+1).
    pub marks: Vec<String>,
}

/// `:VitalsTransaction`: the trace to start from, how far to follow its links (the
/// `transaction` option), and the columns to draw in.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TransactionParams {
    pub trace_id: String,
    pub width: usize,
    #[serde(flatten)]
    pub bounds: crate::providers::links::Bounds,
}

/// `l` in a trace float: the span under the cursor of an open view.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SpanLinksParams {
    pub view_id: u64,
    /// 0-based line and byte column of the cursor.
    pub line: usize,
    pub col: usize,
    /// The columns a label may take.
    pub width: usize,
}

/// A span at the other end of a link, as `l` lists it.
#[derive(Serialize)]
pub struct LinkItem {
    pub label: String,
    pub direction: crate::providers::links::Direction,
    pub trace_id: String,
    pub span_id: String,
}

/// The view a user named (`:VitalsTrace {id} {view}`); "" is the default one. Read here
/// rather than by serde, whose error for an unknown name ("unknown variant") tells the
/// user neither what was wrong nor which names exist.
pub fn view_named(name: &str) -> Result<View> {
    let name = name.trim();
    if name.is_empty() {
        return Ok(View::default());
    }
    View::from_str(name, true).map_err(|_| {
        let names: Vec<String> = View::value_variants()
            .iter()
            .filter_map(|view| view.to_possible_value())
            .map(|value| value.get_name().to_string())
            .collect();
        Error::invalid(format!("Unknown view {name:?}: use {}", names.join(", ")))
    })
}

/// `:VitalsFlame [service] [memory]`: the recent traces of [`RecentParams`], and what the
/// widths stand for (`self_time`, the default, or `allocated`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct FlameParams {
    #[serde(flatten)]
    pub recent: RecentParams,
    pub weight: Weight,
}

/// `:VitalsAnalyze` and `:VitalsFlame`: which service's recent traces, and how many.
#[derive(Deserialize)]
#[serde(default)]
pub struct RecentParams {
    pub service: String,
    pub lookback: String,
    pub limit: usize,
    /// Analysis only: database calls at least this long are slow queries.
    pub slow_query_ms: u64,
    /// The columns to draw in.
    pub width: usize,
}

impl Default for RecentParams {
    fn default() -> Self {
        RecentParams { service: String::new(), lookback: "1h".into(), limit: 50, slow_query_ms: 500, width: 120 }
    }
}

/// `:VitalsRegressions`: what the user asked for (see [`RegressionArgs`]), the
/// `regressions` settings, and the columns to draw in.
#[derive(Deserialize)]
#[serde(default)]
pub struct RegressionParams {
    #[serde(flatten)]
    pub args: RegressionArgs,
    #[serde(flatten)]
    pub settings: RegressionSettings,
    pub width: usize,
}

impl Default for RegressionParams {
    fn default() -> Self {
        RegressionParams { args: RegressionArgs::default(), settings: RegressionSettings::default(), width: 120 }
    }
}

/// `:VitalsTrends [service] [operation] [range]` ("" for every entry operation, and for
/// the default range).
#[derive(Deserialize)]
#[serde(default)]
pub struct TrendParams {
    pub service: String,
    pub operation: String,
    pub range: String,
    /// The columns to draw in.
    pub width: usize,
}

/// `:VitalsBaseline save|list|delete`: `service` (any for `list` when empty), `name` (by
/// default, saving: the newest version or the time), `window` (saving: how much of the
/// latest traffic, the regressions window by default).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BaselineParams {
    pub action: String,
    pub service: String,
    pub name: String,
    pub window: String,
}

/// What `:VitalsBaseline` says: the lines of the list, or of the baseline saved, and a
/// sentence saying what was done.
#[derive(Serialize)]
pub struct BaselinePayload {
    pub message: String,
    pub lines: Vec<String>,
}

impl Default for TrendParams {
    fn default() -> Self {
        TrendParams { service: String::new(), operation: String::new(), range: String::new(), width: 120 }
    }
}

/// A trend float: its drawing, and what its parts open.
#[derive(Serialize)]
pub struct TrendPayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    /// `[line, start, end, trace_id, span_id, stored]` (0-based line, byte columns): a
    /// chart cell, or the line of the slowest request, and the slowest request of what it
    /// stands for, with whether its trace is still stored.
    pub slowest: Vec<(usize, usize, usize, String, String, bool)>,
    /// `[line, operation]`: the lines of the operations list.
    pub operations: Vec<(usize, String)>,
    /// The range shown, to ask for an operation's trend over the same.
    pub range: String,
}

impl TrendPayload {
    pub fn of(trend: &Trend, markers: &[Marker], range: &str, width: usize) -> TrendPayload {
        let drawn = render::trends::render(trend, markers, width);
        let slowest_of = |point: &Point| {
            Some((point.slowest_trace_id?.to_string(), point.slowest_span_id?.to_string(), point.slowest_stored))
        };
        let mut slowest: Vec<(usize, usize, usize, String, String, bool)> = drawn
            .rendered
            .targets
            .iter()
            .filter_map(|t| {
                let (trace, span, stored) = slowest_of(trend.points.get(t.span)?)?;
                Some((t.line, t.start, t.end, trace, span, stored))
            })
            .collect();
        if let (Some(line), Some((trace, span, stored))) = (drawn.slowest, slowest_of(&trend.total)) {
            let end = drawn.rendered.lines[line].text.len();
            slowest.push((line, 0, end, trace, span, stored));
        }
        let operations =
            drawn.operations.iter().map(|&(line, i)| (line, trend.operations[i].operation.clone())).collect();
        let title = match &trend.operation {
            Some(operation) => format!("Vitals trends: {} {operation}", trend.service),
            None => format!("Vitals trends: {}", trend.service),
        };
        TrendPayload { drawing: Drawing::new(title, &drawn.rendered), slowest, operations, range: range.to_string() }
    }
}

/// `:VitalsServiceMap [service]`: the map of the recent traces of every service, rooted
/// at `service` when given; `map_id` names a map to refresh in place.
#[derive(Deserialize)]
#[serde(default)]
pub struct MapParams {
    pub service: String,
    pub lookback: String,
    pub limit: usize,
    pub map_id: u64,
    /// The `service_map` option: the health thresholds.
    pub service_map: MapSettings,
    /// The columns to draw in.
    pub width: usize,
}

impl Default for MapParams {
    fn default() -> Self {
        MapParams {
            service: String::new(),
            lookback: "1h".into(),
            limit: 50,
            map_id: 0,
            service_map: MapSettings::default(),
            width: 120,
        }
    }
}

/// A key pressed in a map float: `tree`, `root`, `callers`, `migration` or `details`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct MapActionParams {
    pub map_id: u64,
    pub action: String,
    pub service: String,
}

/// `:VitalsCompare {a} {b}`: two trace ids, and the columns to draw in.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CompareParams {
    pub a: String,
    pub b: String,
    pub width: usize,
}

/// A report float (analysis, comparison, regressions): its drawing, and what each of its
/// lines opens.
#[derive(Serialize)]
pub struct AnalyzePayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    pub items: Vec<ReportItem>,
    /// For the analysis: what to write on the lines of code it found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Annotation>>,
}

/// Code annotations of the recent traces of some services (all when none are named),
/// analyzed as the `analyze` option says.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct AnnotateParams {
    pub services: Vec<String>,
    #[serde(flatten)]
    pub analyze: AnalyzeSettings,
}

/// `:VitalsExport [trace-id] [path]`: the trace, and where to write it (relative to the
/// editor's working directory `cwd`; `vitals-<trace id>.json` there when empty).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ExportParams {
    pub trace_id: String,
    pub path: String,
    pub cwd: String,
    pub format: crate::formats::export::ExportFormat,
    /// `:VitalsExport!`: also every trace linked to it, this far.
    pub linked: Option<crate::providers::links::Bounds>,
}

/// `:VitalsOpen FILE`: the file (relative to `cwd`), and how to analyze its traces for
/// annotations.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct OpenFileParams {
    pub path: String,
    pub cwd: String,
    pub analyze: AnalyzeSettings,
}

/// The traces of an opened file (one entry each, as trace lists take them) and the
/// annotations of every trace opened from files so far.
#[derive(Serialize)]
pub struct OpenedFile {
    pub traces: Vec<crate::analysis::hotspots::TraceRef>,
    pub annotations: Vec<Annotation>,
}

/// The aggregated flame graph: its drawing, and the example span of each bar.
#[derive(Serialize)]
pub struct FlamePayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    pub items: Vec<FlameItem>,
}

/// A bar (or a line of the list) of the aggregated flame graph: 0-based line and byte
/// columns, and the longest span on that call path.
#[derive(Serialize)]
pub struct FlameItem {
    pub line: usize,
    pub start: usize,
    pub end: usize,
    pub trace_id: String,
    pub span_id: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ViewActionParams {
    pub view_id: u64,
    /// `detail`, `toggle` (flame ⇄ waterfall), `critical_path`, `network`, `stats`,
    /// `logs` (the span's log lines), `logs_tree` (and its descendants') or `resize`.
    pub action: String,
    /// 0-based line and byte column of the cursor.
    pub line: usize,
    pub col: usize,
    pub width: usize,
}

/// `:VitalsSearch`: what to search for, and the columns the result lines may take.
#[derive(Deserialize)]
#[serde(default)]
pub struct SearchParams {
    #[serde(flatten)]
    pub args: SearchArgs,
    pub width: usize,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams { args: SearchArgs::default(), width: 120 }
    }
}

/// One search result as the picker shows it.
#[derive(Serialize)]
pub struct SearchItem {
    pub trace_id: String,
    pub label: String,
    pub duration_ns: u64,
    pub error_count: usize,
}

/// Text and highlights for a float: `highlights` are `[line, start, end, group]` with
/// 0-based lines and byte columns, ready for `nvim_buf_set_extmark`.
#[derive(Serialize)]
pub struct Drawing {
    pub title: String,
    pub lines: Vec<String>,
    pub highlights: Vec<(usize, usize, usize, String)>,
}

impl Drawing {
    pub fn new(title: String, rendered: &Rendered) -> Self {
        let highlights = rendered
            .lines
            .iter()
            .enumerate()
            .flat_map(|(n, line)| line.highlights.iter().map(move |h| (n, h.start, h.end, h.group.to_string())))
            .collect();
        Drawing { title, lines: rendered.lines.iter().map(|l| l.text.clone()).collect(), highlights }
    }
}

/// The detail float of a span: its drawing, and where in the code the span was made (its
/// own location, else its nearest ancestor's, as the annotations charge it) for `gd`.
#[derive(Serialize)]
pub struct DetailPayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<CodeLocation>,
    /// Stack-frame lines of its exceptions, which `<CR>` follows to the code.
    pub jumps: Vec<CodeJump>,
}

/// A span's log lines (`L` in a trace float) and the stack-frame lines among them.
#[derive(Serialize)]
pub struct LogsPayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    pub jumps: Vec<CodeJump>,
}

/// `:VitalsLogs`: the words typed after the command.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LogsParams {
    pub words: Vec<String>,
    pub width: usize,
    /// Where the user is, seconds east of UTC, for the times of day.
    pub utc_offset_s: i64,
}

/// The `:VitalsLogs` float: its drawing, and the log of each line.
#[derive(Serialize)]
pub struct LogListPayload {
    #[serde(flatten)]
    pub drawing: Drawing,
    pub items: Vec<ListedLog>,
}

/// A trace float: its drawing plus the id the plugin quotes back in key actions.
#[derive(Serialize)]
pub struct ViewPayload {
    pub view_id: u64,
    /// Where to put the cursor: 0-based line and byte column of the focused span (left
    /// out when there is none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<(usize, usize)>,
    pub view: View,
    /// Whether the critical path is marked.
    pub critical_path: bool,
    pub trace_id: String,
    #[serde(flatten)]
    pub drawing: Drawing,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_read_by_name_and_an_unknown_name_lists_the_views() {
        assert_eq!(view_named("").unwrap(), View::Flame);
        assert_eq!(view_named(" Waterfall ").unwrap(), View::Waterfall);
        let error = view_named("bogus").unwrap_err().to_string();
        assert_eq!(error, "Unknown view \"bogus\": use flame, waterfall, network, stats");
    }
}
