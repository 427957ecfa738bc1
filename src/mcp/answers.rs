//! What each tool answers: small JSON objects built from what the core found, in units an
//! assistant reads without arithmetic (milliseconds, RFC 3339 times), always naming the
//! trace and span ids a claim rests on so that the next call can go deeper. Lists are cut
//! to their most telling entries, saying how many were left out: an answer must fit in an
//! assistant's context beside everything else it is doing.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::analysis::TraceSummary;
use crate::analysis::compare::{Change, Comparison, DiffNode, PathStats};
use crate::analysis::critical_path::{Section, time_on_path};
use crate::analysis::findings::{Evidence, Finding, FindingKind};
use crate::analysis::hot::HotFunction;
use crate::analysis::hotspots::TraceRef;
use crate::analysis::regression::{Change as RegressionChange, RegressionReport};
use crate::analysis::report::Report;
use crate::analysis::root_cause::reason;
use crate::analysis::service_map::{Health, ServiceMap};
use crate::model::{AttrValue, Attribute, SpanIndex, Trace};
use crate::render::annotations::Annotation;
use crate::render::regressions::sentence;
use crate::session::Annotated;

/// Spans listed in a trace's summary lists (critical path, slowest, errors).
const SPANS_LISTED: usize = 8;
/// Sections of a critical path listed in time order.
const SECTIONS_LISTED: usize = 40;
/// Spans listed in full when a trace's attributes are asked for.
const FULL_SPANS_LISTED: usize = 200;
/// Findings of an analysis, costliest first.
const FINDINGS_LISTED: usize = 15;
/// Traces cited per finding or annotation, worst first.
const TRACES_CITED: usize = 5;
/// Changed call paths of a comparison, largest change first.
const CHANGES_LISTED: usize = 15;
/// Operations of a regression report, regressions first.
const OPERATIONS_LISTED: usize = 20;
/// Span ids marked per cited trace (the calls of an N+1).
const MARKS_LISTED: usize = 20;
/// Annotated lines of a file.
const LINES_LISTED: usize = 60;
/// Files named when a file has no annotated line.
const FILES_NAMED: usize = 10;

/// Nanoseconds as milliseconds, to the microsecond.
pub fn ms(ns: u64) -> f64 {
    (ns as f64 / 1_000.0).round() / 1_000.0
}

/// Microseconds as milliseconds.
fn ms_us(us: u64) -> f64 {
    us as f64 / 1_000.0
}

/// A Unix time in nanoseconds as RFC 3339, to the millisecond.
fn time(ns: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(ns)).to_string()
}

/// A list cut to `limit`, with how many were left out.
#[derive(Serialize)]
pub struct Cut<T> {
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "is_zero")]
    pub left_out: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl<T> Cut<T> {
    fn of(mut items: Vec<T>, limit: usize) -> Cut<T> {
        let left_out = items.len().saturating_sub(limit);
        items.truncate(limit);
        Cut { items, left_out }
    }
}

/// What `search_traces` answers.
#[derive(Serialize)]
pub struct Found {
    pub provider: String,
    /// Newest first for a service; the slowest first across services.
    pub traces: Vec<TraceRow>,
}

/// One trace of a search's results.
#[derive(Serialize)]
pub struct TraceRow {
    pub trace_id: String,
    pub root_service: String,
    pub root_operation: String,
    pub start: String,
    pub duration_ms: f64,
    pub span_count: usize,
    pub error_count: usize,
    pub services: Vec<String>,
    /// Tempo's span sets: how many spans matched (the trace is fetched whole when asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_spans: Option<usize>,
}

impl From<TraceSummary> for TraceRow {
    fn from(s: TraceSummary) -> Self {
        TraceRow {
            trace_id: s.trace_id,
            root_service: s.root_service,
            root_operation: s.root_operation,
            start: time(s.start_ns),
            duration_ms: ms(s.duration_ns),
            span_count: s.span_count,
            error_count: s.error_count,
            services: s.services,
            matched_spans: s.matched_spans,
        }
    }
}

/// A span as the lists name it.
#[derive(Serialize)]
pub struct SpanRef {
    pub span_id: String,
    pub service: String,
    pub operation: String,
}

impl SpanRef {
    fn of(trace: &Trace, span: SpanIndex) -> SpanRef {
        let s = &trace.spans[span];
        SpanRef { span_id: s.display_id(), service: s.service().to_string(), operation: s.operation.clone() }
    }
}

/// A span and what it spent on the critical path.
#[derive(Serialize)]
pub struct OnPath {
    #[serde(flatten)]
    pub span: SpanRef,
    pub on_path_ms: f64,
    /// Share of the trace's duration.
    pub percent: f64,
}

/// The spans that held the critical path longest, longest first.
fn on_path(trace: &Trace, sections: &[Section], limit: usize) -> Cut<OnPath> {
    let total = time_on_path(trace, sections);
    let mut spans: Vec<SpanIndex> = (0..trace.spans.len()).filter(|&s| total[s] > 0).collect();
    spans.sort_by_key(|&s| (std::cmp::Reverse(total[s]), s));
    let whole = trace.duration_ns();
    let rows = spans
        .into_iter()
        .map(|s| OnPath {
            span: SpanRef::of(trace, s),
            on_path_ms: ms(total[s]),
            percent: crate::analysis::findings::percent(total[s], whole),
        })
        .collect();
    Cut::of(rows, limit)
}

#[derive(Serialize)]
pub struct SlowSpan {
    #[serde(flatten)]
    pub span: SpanRef,
    pub self_ms: f64,
    pub duration_ms: f64,
}

#[derive(Serialize)]
pub struct FailedSpan {
    #[serde(flatten)]
    pub span: SpanRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A trace in brief: what `get_trace` answers.
#[derive(Serialize)]
pub struct TraceOverview {
    pub trace_id: String,
    pub root: Option<SpanRef>,
    pub start: String,
    pub duration_ms: f64,
    pub span_count: usize,
    pub services: Vec<String>,
    pub error_count: usize,
    /// The spans that decided the trace's duration, longest on the path first.
    pub critical_path: Cut<OnPath>,
    /// The spans that spent the most time themselves (not in their children).
    pub slowest_spans: Cut<SlowSpan>,
    pub errors: Cut<FailedSpan>,
    /// What was repaired while reading the trace (orphans, clock skew, …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Every span in full, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spans: Option<Cut<FullSpan>>,
}

/// A trace in brief, with every span in full when `full` says so.
pub fn trace_overview(trace: &Trace, sections: &[Section], self_ns: &[u64], full: bool) -> TraceOverview {
    let mut by_self: Vec<SpanIndex> = (0..trace.spans.len()).collect();
    by_self.sort_by_key(|&s| (std::cmp::Reverse(self_ns[s]), s));
    let slowest = by_self
        .into_iter()
        .map(|s| SlowSpan {
            span: SpanRef::of(trace, s),
            self_ms: ms(self_ns[s]),
            duration_ms: ms(trace.spans[s].duration_ns),
        })
        .collect();
    let errors = (0..trace.spans.len())
        .filter(|&s| trace.spans[s].is_error())
        .map(|s| FailedSpan { span: SpanRef::of(trace, s), reason: reason(trace, s) })
        .collect();
    let start = trace.start_ns();
    TraceOverview {
        trace_id: trace.id.to_string(),
        root: trace.tree.roots().next().map(|r| SpanRef::of(trace, r)),
        start: time(start),
        duration_ms: ms(trace.duration_ns()),
        span_count: trace.spans.len(),
        services: trace.services().into_iter().map(str::to_string).collect(),
        error_count: trace.error_count(),
        critical_path: on_path(trace, sections, SPANS_LISTED),
        slowest_spans: Cut::of(slowest, SPANS_LISTED),
        errors: Cut::of(errors, SPANS_LISTED),
        warnings: trace.warnings.clone(),
        spans: full.then(|| {
            let spans = trace.tree.preorder().map(|s| FullSpan::of(trace, s, start)).collect();
            Cut::of(spans, FULL_SPANS_LISTED)
        }),
    }
}

/// One span with everything it carries.
#[derive(Serialize)]
pub struct FullSpan {
    #[serde(flatten)]
    pub span: SpanRef,
    pub parent_span_id: Option<String>,
    pub kind: &'static str,
    /// From the trace's start.
    pub start_offset_ms: f64,
    pub duration_ms: f64,
    pub error: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventRow>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

#[derive(Serialize)]
pub struct EventRow {
    pub offset_ms: f64,
    pub name: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

impl FullSpan {
    pub fn of(trace: &Trace, span: SpanIndex, trace_start_ns: u64) -> FullSpan {
        let s = &trace.spans[span];
        FullSpan {
            span: SpanRef::of(trace, span),
            parent_span_id: trace.tree.parent(span).map(|p| trace.spans[p].display_id()),
            kind: s.kind.as_str(),
            start_offset_ms: ms(s.start_ns.saturating_sub(trace_start_ns)),
            duration_ms: ms(s.duration_ns),
            error: s.is_error(),
            status_message: s.status.message.clone(),
            attributes: attributes(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| EventRow {
                    offset_ms: ms(e.time_ns.saturating_sub(s.start_ns)),
                    name: e.name.clone(),
                    attributes: attributes(&e.attributes),
                })
                .collect(),
            links: s
                .references
                .iter()
                .filter(|r| r.kind == crate::model::RefKind::Link)
                .map(|r| format!("{}/{}", r.trace_id, r.span_id))
                .collect(),
        }
    }
}

fn attributes(attributes: &[Attribute]) -> serde_json::Map<String, serde_json::Value> {
    attributes.iter().map(|a| (a.key.clone(), json_value(&a.value))).collect()
}

/// An attribute's value as JSON: numbers and booleans as they are, the rest as text.
fn json_value(value: &AttrValue) -> serde_json::Value {
    match value {
        AttrValue::Bool(b) => (*b).into(),
        AttrValue::Int(i) => (*i).into(),
        AttrValue::Float(x) => serde_json::Number::from_f64(*x).map_or_else(|| x.to_string().into(), Into::into),
        AttrValue::Array(items) => items.iter().map(json_value).collect(),
        other => other.to_string().into(),
    }
}

/// One stretch of the critical path.
#[derive(Serialize)]
pub struct PathSection {
    #[serde(flatten)]
    pub span: SpanRef,
    pub from_ms: f64,
    pub to_ms: f64,
}

/// What `critical_path` answers.
#[derive(Serialize)]
pub struct CriticalPath {
    pub trace_id: String,
    pub duration_ms: f64,
    /// Each span's time on the path, longest first: where shortening the request pays.
    pub by_span: Cut<OnPath>,
    /// The path in time order, from the trace's start (offsets in ms).
    pub sections: Cut<PathSection>,
}

pub fn critical_path(trace: &Trace, sections: &[Section]) -> CriticalPath {
    let start = trace.start_ns();
    // The analysis lists the latest section first, as Jaeger UI does; people read time forwards.
    let in_order = sections
        .iter()
        .rev()
        .map(|s| PathSection {
            span: SpanRef::of(trace, s.span),
            from_ms: ms(s.start_ns.saturating_sub(start)),
            to_ms: ms(s.end_ns.saturating_sub(start)),
        })
        .collect();
    CriticalPath {
        trace_id: trace.id.to_string(),
        duration_ms: ms(trace.duration_ns()),
        by_span: on_path(trace, sections, SPANS_LISTED * 2),
        sections: Cut::of(in_order, SECTIONS_LISTED),
    }
}

/// A finding as `vitals analyze --json` gives it, citing its worst traces only.
#[derive(Serialize)]
pub struct FindingRow {
    #[serde(flatten)]
    pub finding: Finding,
    /// Every trace it occurred in (`traces` lists the worst few).
    pub affected_traces: usize,
}

impl FindingRow {
    fn of(finding: &Finding) -> FindingRow {
        let mut finding = finding.clone();
        let affected_traces = finding.traces.len();
        finding.traces.truncate(TRACES_CITED);
        for occurrence in &mut finding.traces {
            occurrence.span_ids.truncate(MARKS_LISTED);
        }
        FindingRow { finding, affected_traces }
    }
}

/// What `analyze_service` answers.
#[derive(Serialize)]
pub struct Analysis {
    pub service: String,
    pub lookback: String,
    pub traces_analyzed: usize,
    /// One per problem, the costliest first, each with its evidence, its suggestion and
    /// the traces and spans it was seen in.
    pub findings: Cut<FindingRow>,
    pub hot_functions: Cut<HotFunction>,
    pub slowest_traces: Cut<TraceRow>,
}

pub fn analysis(service: &str, lookback: &str, report: &Report, traces: &[std::sync::Arc<Trace>]) -> Analysis {
    let mut slowest: Vec<&std::sync::Arc<Trace>> = traces.iter().collect();
    slowest.sort_by_key(|t| std::cmp::Reverse(t.duration_ns()));
    Analysis {
        service: service.to_string(),
        lookback: lookback.to_string(),
        traces_analyzed: traces.len(),
        findings: Cut::of(report.findings.iter().map(FindingRow::of).collect(), FINDINGS_LISTED),
        hot_functions: Cut::of(report.hot_functions.clone(), SPANS_LISTED),
        slowest_traces: Cut::of(slowest.into_iter().map(|t| TraceRow::from(TraceSummary::of(t))).collect(), 5),
    }
}

/// Where a trace's failure starts.
#[derive(Serialize)]
pub struct ErrorCause {
    /// The span the failure originates in.
    pub origin: SpanRef,
    /// Its status message or exception (none for a call given up on).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// True when the origin itself reports no error: it used up its caller's time budget
    /// and the caller gave up on it (a timeout reported upstream).
    pub timed_out: bool,
    pub reported_by: String,
    /// From the origin up to the span that reported the failure.
    pub chain: Vec<SpanRef>,
    pub message: String,
    pub suggestion: String,
}

/// A finding in a line, for lists beside a main answer.
#[derive(Serialize)]
pub struct FindingBrief {
    pub kind: FindingKind,
    pub message: String,
    pub suggestion: String,
    pub span_ids: Vec<String>,
    pub impact_ms: f64,
}

impl FindingBrief {
    fn of(finding: &Finding) -> FindingBrief {
        let mut span_ids = finding.span_ids.clone();
        span_ids.truncate(MARKS_LISTED);
        FindingBrief {
            kind: finding.kind,
            message: finding.message.clone(),
            suggestion: finding.suggestion.clone(),
            span_ids,
            impact_ms: ms_us(finding.impact_us),
        }
    }
}

/// What `root_cause` answers.
#[derive(Serialize)]
pub struct RootCause {
    pub trace_id: String,
    pub root: Option<SpanRef>,
    pub duration_ms: f64,
    /// The answer in one sentence.
    pub summary: String,
    pub failed: bool,
    /// Where the failure starts (none when nothing failed).
    pub error: Option<ErrorCause>,
    /// The spans that decided the duration.
    pub critical_path: Cut<OnPath>,
    /// The other problems found in the trace, costliest first.
    pub findings: Cut<FindingBrief>,
}

pub fn root_cause(trace: &Trace, sections: &[Section], report: &Report) -> RootCause {
    let failure = report.findings.iter().find(|f| f.kind == FindingKind::ErrorRootCause);
    let error = failure.and_then(|f| error_cause(trace, f));
    let path = on_path(trace, sections, 3);
    let summary = match (&error, path.items.first()) {
        (Some(cause), _) => cause.message.clone(),
        (None, Some(top)) => format!(
            "Nothing failed. {} {} ({}) holds {}% of the request on its critical path.",
            top.span.service, top.span.operation, top.span.span_id, top.percent
        ),
        (None, None) => "The trace has no spans.".to_string(),
    };
    let others = report.findings.iter().filter(|f| f.kind != FindingKind::ErrorRootCause).map(FindingBrief::of);
    RootCause {
        trace_id: trace.id.to_string(),
        root: trace.tree.roots().next().map(|r| SpanRef::of(trace, r)),
        duration_ms: ms(trace.duration_ns()),
        summary,
        failed: error.is_some(),
        error,
        critical_path: path,
        findings: Cut::of(others.collect(), SPANS_LISTED),
    }
}

fn error_cause(trace: &Trace, finding: &Finding) -> Option<ErrorCause> {
    let Evidence::ErrorRootCause { reason, timed_out, reported_by } = &finding.evidence else { return None };
    let chain: Vec<SpanRef> =
        finding.span_ids.iter().filter_map(|id| trace.find_span(id)).map(|s| SpanRef::of(trace, s)).collect();
    Some(ErrorCause {
        origin: SpanRef::of(trace, trace.find_span(finding.span_ids.first()?)?),
        reason: reason.clone(),
        timed_out: *timed_out,
        reported_by: reported_by.clone(),
        chain,
        message: finding.message.clone(),
        suggestion: finding.suggestion.clone(),
    })
}

#[derive(Serialize)]
pub struct Side {
    pub trace_id: String,
    pub root: String,
    pub duration_ms: f64,
    pub span_count: usize,
}

/// A call path that changed between two traces.
#[derive(Serialize)]
pub struct PathChange {
    /// `service: operation` from the root down to this path.
    pub path: Vec<String>,
    pub change: Change,
    pub count_before: usize,
    pub count_after: usize,
    pub before_ms: f64,
    pub after_ms: f64,
    pub delta_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_percent: Option<f64>,
    /// Whether the time moved enough to call it slower or faster (not noise).
    pub notable: bool,
    /// The longest span of the path in each trace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example_after: Option<String>,
}

/// What `compare_traces` answers.
#[derive(Serialize)]
pub struct ComparisonAnswer {
    pub before: Side,
    pub after: Side,
    pub delta_ms: f64,
    /// The paths added, removed, run more or fewer times, or notably slower or faster,
    /// the largest change in time first.
    pub changes: Cut<PathChange>,
}

pub fn comparison(comparison: &Comparison) -> ComparisonAnswer {
    let side = |s: &crate::analysis::compare::Side| Side {
        trace_id: s.trace_id.to_string(),
        root: s.root.clone(),
        duration_ms: ms(s.duration_ns),
        span_count: s.span_count,
    };
    let nodes = &comparison.nodes;
    let mut changed: Vec<&DiffNode> =
        nodes.iter().filter(|n| n.parent.is_some() && (n.change != Change::Same || n.notable)).collect();
    changed.sort_by_key(|n| std::cmp::Reverse(n.delta_ns.unsigned_abs()));
    let stat = |s: Option<PathStats>| s.map_or((0, 0), |s| (s.count, s.duration_ns));
    let example = |s: Option<PathStats>| s.and_then(|s| s.example).map(|e| e.span_id.to_string());
    let changes = changed
        .into_iter()
        .map(|n| {
            let ((count_before, before), (count_after, after)) = (stat(n.before), stat(n.after));
            PathChange {
                path: path_of(nodes, n),
                change: n.change,
                count_before,
                count_after,
                before_ms: ms(before),
                after_ms: ms(after),
                delta_ms: (n.delta_ns as f64 / 1_000.0).round() / 1_000.0,
                delta_percent: n.delta_percent.map(|p| (p * 10.0).round() / 10.0),
                notable: n.notable,
                example_before: example(n.before),
                example_after: example(n.after),
            }
        })
        .collect();
    let (before, after) = (side(&comparison.before), side(&comparison.after));
    ComparisonAnswer {
        delta_ms: ((after.duration_ms - before.duration_ms) * 1_000.0).round() / 1_000.0,
        before,
        after,
        changes: Cut::of(changes, CHANGES_LISTED),
    }
}

/// The names from the root's child down to `node` (the root itself stands for all entry
/// spans and has no name).
fn path_of(nodes: &[DiffNode], node: &DiffNode) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = Some(node);
    while let Some(n) = current.filter(|n| n.parent.is_some()) {
        path.push(format!("{}: {}", n.service, n.operation));
        current = n.parent.and_then(|p| nodes.get(p));
        if path.len() > nodes.len() {
            break;
        }
    }
    path.reverse();
    path
}

/// A service on the map.
#[derive(Serialize)]
pub struct ServiceRow {
    pub name: String,
    /// `database` or `peer` for a dependency that sends no traces, seen from its callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uninstrumented: Option<&'static str>,
    pub health: Health,
    pub requests: usize,
    pub errors: usize,
    pub p95_ms: f64,
    pub self_ms: f64,
    /// Its busiest operations.
    pub operations: Vec<String>,
}

#[derive(Serialize)]
pub struct CallRow {
    pub from: String,
    pub to: String,
    pub calls: u64,
    pub errors: u64,
}

/// What `service_map` answers.
#[derive(Serialize)]
pub struct MapAnswer {
    pub lookback: String,
    /// How many traces the map was drawn from (a sample when `per_service_limit` is set:
    /// some service had at least that many traces and more may exist).
    pub traces: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_service_limit: Option<usize>,
    /// The service that spent the most time itself.
    pub bottleneck: Option<String>,
    pub services: Vec<ServiceRow>,
    pub calls: Vec<CallRow>,
}

/// The map, or the part of it around `focus` (its callers and callees).
pub fn service_map(map: &ServiceMap, lookback: &str, focus: Option<usize>) -> MapAnswer {
    let edges = map.edges();
    let near = |i: usize| {
        focus.is_none_or(|f| i == f || edges.iter().any(|e| (e.from, e.to) == (f, i) || (e.from, e.to) == (i, f)))
    };
    let services = map
        .services
        .iter()
        .enumerate()
        .filter(|(i, _)| near(*i))
        .map(|(_, s)| ServiceRow {
            name: s.name.clone(),
            uninstrumented: s.virtual_kind,
            health: s.health,
            requests: s.requests,
            errors: s.errors,
            p95_ms: ms(s.p95_ns),
            self_ms: ms(s.self_ns),
            operations: s.operations.iter().take(3).map(|o| o.name.clone()).collect(),
        })
        .collect();
    let name = |i: usize| map.services.get(i).map_or_else(String::new, |s| s.name.clone());
    let calls = edges
        .iter()
        .filter(|e| focus.is_none_or(|f| e.from == f || e.to == f))
        .map(|e| CallRow { from: name(e.from), to: name(e.to), calls: e.calls, errors: e.errors })
        .collect();
    MapAnswer {
        lookback: lookback.to_string(),
        traces: map.basis.traces,
        per_service_limit: map.basis.per_service_limit,
        bottleneck: map.bottleneck.map(name),
        services,
        calls,
    }
}

/// Baseline against current, overall and per operation.
#[derive(Serialize)]
pub struct Regressions<'r> {
    pub service: &'r str,
    /// The windows compared, `from .. to`.
    pub baseline: String,
    pub current: String,
    pub overall: ChangeRow<'r>,
    /// Regressions first, then improvements, then the rest; busiest first.
    pub operations: Cut<ChangeRow<'r>>,
}

/// One comparison of the report, with its verdict in a sentence.
#[derive(Serialize)]
pub struct ChangeRow<'r> {
    pub summary: String,
    #[serde(flatten)]
    pub change: &'r RegressionChange,
}

impl<'r> ChangeRow<'r> {
    fn of(change: &'r RegressionChange) -> Self {
        ChangeRow { summary: sentence(change), change }
    }
}

pub fn regressions(report: &RegressionReport) -> Regressions<'_> {
    let window = |w: &crate::analysis::regression::Window| format!("{} .. {}", time(w.start_ns), time(w.end_ns));
    Regressions {
        service: &report.service,
        baseline: window(&report.windows.baseline),
        current: window(&report.windows.current),
        overall: ChangeRow::of(&report.overall),
        operations: Cut::of(report.operations.iter().map(ChangeRow::of).collect(), OPERATIONS_LISTED),
    }
}

/// An annotation of a line of code, as `code_hotspots` lists it.
#[derive(Serialize)]
pub struct LineNote {
    /// `timing`, or the finding's kind (`n_plus_one`, `slow_query`, …).
    pub kind: String,
    pub message: String,
    pub severity: crate::analysis::findings::Severity,
    /// The share of request time spent here (timing), or the finding's share.
    pub percent: f64,
    /// The traces through this line, slowest first, with the spans made here.
    pub traces: Cut<TraceCite>,
}

#[derive(Serialize)]
pub struct TraceCite {
    pub trace_id: String,
    pub span_id: String,
    pub duration_ms: f64,
    pub root: String,
    /// The spans to look at in that trace (the calls of an N+1).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_ids: Vec<String>,
}

impl TraceCite {
    fn of(r: &TraceRef) -> TraceCite {
        TraceCite {
            trace_id: r.trace_id.clone(),
            span_id: r.span_id.clone(),
            duration_ms: ms(r.duration_ns),
            root: r.root.clone(),
            span_ids: r.marks.iter().take(MARKS_LISTED).cloned().collect(),
        }
    }
}

/// One annotated line of a file.
#[derive(Serialize)]
pub struct AnnotatedLine {
    /// 1-based.
    pub line: usize,
    pub code: String,
    pub annotations: Vec<LineNote>,
}

fn annotated_line(line: usize, code: &str, here: &[&Annotation]) -> AnnotatedLine {
    AnnotatedLine {
        line: line + 1,
        code: code.trim().chars().take(160).collect(),
        annotations: here
            .iter()
            .map(|a| LineNote {
                kind: a.kind.clone(),
                message: a.message().to_string(),
                severity: a.severity,
                percent: a.percent,
                traces: Cut::of(a.traces.iter().map(TraceCite::of).collect(), TRACES_CITED),
            })
            .collect(),
    }
}

/// What `code_hotspots` answers.
#[derive(Serialize)]
pub struct Hotspots {
    pub file: String,
    pub traces_analyzed: usize,
    /// The annotated lines, in file order.
    pub lines: Cut<AnnotatedLine>,
    /// When no line of the file is annotated: the files the traces do name, to try instead.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files_in_traces: Vec<String>,
}

pub fn hotspots(
    file: &Path,
    lines: &[&str],
    placed: &BTreeMap<usize, Vec<&Annotation>>,
    annotated: &Annotated,
) -> Hotspots {
    let rows: Vec<AnnotatedLine> = placed
        .iter()
        .map(|(&line, here)| annotated_line(line, lines.get(line).copied().unwrap_or_default(), here))
        .collect();
    let mut files: Vec<String> = Vec::new();
    if rows.is_empty() {
        for path in annotated.annotations.iter().filter_map(|a| a.code.filepath.as_ref()) {
            if !files.contains(path) && files.len() < FILES_NAMED {
                files.push(path.clone());
            }
        }
    }
    Hotspots {
        file: file.display().to_string(),
        traces_analyzed: annotated.traces.len(),
        lines: Cut::of(rows, LINES_LISTED),
        files_in_traces: files,
    }
}
