//! Answers about one trace, or two compared.

use serde::Serialize;

use super::{Cut, MARKS_LISTED, OnPath, SPANS_LISTED, SpanRef, ms, ms_us, on_path, time};
use crate::analysis::compare::{Change, Comparison, DiffNode, PathStats};
use crate::analysis::critical_path::Section;
use crate::analysis::findings::{Evidence, Finding, FindingKind};
use crate::analysis::report::Report;
use crate::analysis::root_cause::reason;
use crate::model::{AttrValue, Attribute, RefKind, SmolStr, SpanIndex, Trace};

/// Sections of a critical path listed in time order.
const SECTIONS_LISTED: usize = 40;
/// Spans listed in full when a trace's attributes are asked for.
const FULL_SPANS_LISTED: usize = 200;
/// Changed call paths of a comparison, largest change first.
const CHANGES_LISTED: usize = 15;

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
    pub parent_span_id: Option<SmolStr>,
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
            status_message: s.status.message.to_string(),
            attributes: attributes(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| EventRow {
                    offset_ms: ms(e.time_ns.saturating_sub(s.start_ns)),
                    name: e.name.to_string(),
                    attributes: attributes(&e.attributes),
                })
                .collect(),
            links: s
                .references
                .iter()
                .filter(|r| r.kind == RefKind::Link)
                .map(|r| format!("{}/{}", r.trace_id, r.span_id))
                .collect(),
        }
    }
}

fn attributes(attributes: &[Attribute]) -> serde_json::Map<String, serde_json::Value> {
    attributes.iter().map(|a| (a.key.to_string(), json_value(&a.value))).collect()
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
    pub span_ids: Vec<SmolStr>,
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
    let mut changed: Vec<DiffNode> =
        comparison.nodes().filter(|n| n.parent.is_some() && (n.change != Change::Same || n.notable)).collect();
    changed.sort_by_key(|n| std::cmp::Reverse(n.delta_ns.unsigned_abs()));
    let stat = |s: Option<PathStats>| s.map_or((0, 0), |s| (s.count, s.duration_ns));
    let example = |s: Option<PathStats>| s.and_then(|s| s.example).map(|e| e.span_id.to_string());
    let changes = changed
        .into_iter()
        .map(|n| {
            let ((count_before, before), (count_after, after)) = (stat(n.before), stat(n.after));
            PathChange {
                path: path_of(comparison, &n),
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
fn path_of(comparison: &Comparison, node: &DiffNode) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = Some(*node);
    while let Some(n) = current.filter(|n| n.parent.is_some()) {
        path.push(format!("{}: {}", n.service, n.operation));
        current = n.parent.filter(|&p| p < comparison.len()).map(|p| comparison.node(p));
        if path.len() > comparison.len() {
            break;
        }
    }
    path.reverse();
    path
}
