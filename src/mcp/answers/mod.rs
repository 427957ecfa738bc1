//! What each tool answers: small JSON objects built from what the core found, in units an
//! assistant reads without arithmetic (milliseconds, RFC 3339 times), always naming the
//! trace and span ids a claim rests on so that the next call can go deeper. Lists are cut
//! to their most telling entries, saying how many were left out: an answer must fit in an
//! assistant's context beside everything else it is doing.
//!
//! [`trace`] answers about one or two traces, [`service`] about many.

mod service;
mod trace;

pub use service::*;
pub use trace::*;

use std::time::{Duration, UNIX_EPOCH};

use serde::Serialize;

use crate::analysis::TraceSummary;
use crate::analysis::critical_path::{Section, time_on_path};
use crate::analysis::findings::percent;
use crate::model::{SmolStr, SpanIndex, Trace};

/// Spans listed in a trace's summary lists (critical path, slowest, errors).
const SPANS_LISTED: usize = 8;
/// Traces cited per finding or annotation, worst first.
const TRACES_CITED: usize = 5;
/// Span ids marked per cited trace (the calls of an N+1).
const MARKS_LISTED: usize = 20;

/// Nanoseconds as milliseconds, to the microsecond.
fn ms(ns: u64) -> f64 {
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
    pub span_id: SmolStr,
    pub service: String,
    pub operation: String,
}

impl SpanRef {
    fn of(trace: &Trace, span: SpanIndex) -> SpanRef {
        let s = &trace.spans[span];
        SpanRef { span_id: s.display_id(), service: s.service().to_string(), operation: s.operation.to_string() }
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
        .map(|s| OnPath { span: SpanRef::of(trace, s), on_path_ms: ms(total[s]), percent: percent(total[s], whole) })
        .collect();
    Cut::of(rows, limit)
}
