//! What the analyses report: findings about spans, each with its evidence and a concrete
//! next step. The JSON shape is the CLI contract (see README, "vitals analyze").

use serde::Serialize;

use super::calls::{CallKind, CodeLocation};
use crate::model::{SmolStr, SpanIndex, Trace, saturating_sum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    ErrorRootCause,
    NPlusOne,
    SlowQuery,
    Bottleneck,
    RepeatedCall,
    SequentialCalls,
    DominantSelfTime,
    QueueWait,
}

impl FindingKind {
    /// The name the JSON uses (`n_plus_one`).
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::ErrorRootCause => "error_root_cause",
            FindingKind::NPlusOne => "n_plus_one",
            FindingKind::SlowQuery => "slow_query",
            FindingKind::Bottleneck => "bottleneck",
            FindingKind::RepeatedCall => "repeated_call",
            FindingKind::SequentialCalls => "sequential_calls",
            FindingKind::DominantSelfTime => "dominant_self_time",
            FindingKind::QueueWait => "queue_wait",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Error,
}

/// One problem: what a detector found in one trace, or, once [`super::problems::group`]
/// has merged the same problem across traces, all its occurrences. The fields up to
/// `code` describe the worst occurrence (the JSON contract predates grouping); the
/// fields after it describe the whole group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub trace_id: SmolStr,
    /// The spans the finding is about; for `error_root_cause` the first is where the
    /// error originates.
    pub span_ids: Vec<SmolStr>,
    pub parent_span_id: Option<SmolStr>,
    pub service: SmolStr,
    pub operation: SmolStr,
    /// How many calls one occurrence is about (for an N+1, the calls per request).
    pub count: usize,
    pub total_us: u64,
    /// Share of the time it is measured against (the parent's, the trace's or the
    /// critical path's), in percent.
    pub percent: f64,
    pub code: Option<CodeLocation>,
    /// How many times the problem occurred (an N+1 under two parents of one trace is two).
    pub occurrences: usize,
    /// The analyzed requests of the kind it occurred in (`root_operation`), affected or not:
    /// "in 20 of 20 GET /orders requests".
    pub requests: usize,
    /// The root operation of the requests it occurred in, or "" when they differ.
    pub root_operation: SmolStr,
    /// The time it costs across all the requests: for calls that should be one, their
    /// time; for a cache, all calls but the first; for an error, the failed requests.
    pub impact_us: u64,
    /// The 95th percentile of what it costs one affected request.
    pub p95_us: u64,
    /// How long one call takes on average (N+1, repeated calls, slow queries), else 0.
    pub each_us: u64,
    /// Every affected trace, the worst first, each with its own spans to mark.
    pub traces: Vec<Occurrence>,
    /// Filled by the render layer from the evidence (times become text only there).
    pub message: String,
    pub suggestion: String,
    #[serde(skip)]
    pub evidence: Evidence,
}

/// The problem in one trace: the spans to mark when that trace opens.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Occurrence {
    pub trace_id: SmolStr,
    pub span_ids: Vec<SmolStr>,
    /// What the problem cost this trace.
    pub total_us: u64,
    /// The trace's root, `service: operation`, to tell traces apart in a list.
    #[serde(skip)]
    pub root: SmolStr,
}

/// What a call holding the critical path waits on: a database, a traced peer (then the
/// time the call holds is what the peer's handler does not cover: the network, connection
/// setup, the peer's queue), or a peer that sends no traces.
#[derive(Clone, Debug, PartialEq)]
pub enum Waiting {
    Database { call: String },
    TracedPeer { call: String, peer: String },
    UntracedPeer { call: String },
}

/// What a finding rests on, for its explanation and advice.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Evidence {
    #[default]
    None,
    NPlusOne {
        /// The repeated call as people name it (the query shape, `GET host/route`).
        call: String,
        kind: CallKind,
        parent_operation: String,
        parent_ns: u64,
        table: Option<String>,
        columns: Vec<String>,
    },
    SlowQuery {
        statement: String,
        threshold_ns: u64,
        table: Option<String>,
        columns: Vec<String>,
    },
    ErrorRootCause {
        /// The status message or exception of the origin, or of the span that reported it.
        reason: String,
        /// True when the origin carries no error: it ran out its caller's time budget.
        timed_out: bool,
        reported_by: String,
    },
    Bottleneck {
        traces: usize,
        /// When the operation is a call to another process: what it waits on.
        waits_on: Option<Waiting>,
    },
    RepeatedCall {
        call: String,
    },
    SequentialCalls {
        calls: Vec<String>,
        saving_ns: u64,
    },
    DominantSelfTime {
        self_ns: u64,
        trace_ns: u64,
    },
    QueueWait {
        /// `kafka orders`: the queue of the longest wait.
        queue: String,
        /// The time in queues (overlapping waits once), the longest wait, and the
        /// transaction's wall time.
        wait_ns: u64,
        longest_ns: u64,
        transaction_ns: u64,
        /// The traces of the producer and the consumer of the longest wait.
        producer_trace: String,
        consumer_trace: String,
    },
}

impl Finding {
    /// A finding about `spans` of `trace` (the first names service and operation), at
    /// `code` (the location of the first span or its nearest ancestor that has one: see
    /// [`super::index::TraceIndex::finding`]). Its impact is the spans' time; a detector
    /// that measures otherwise sets `impact_us`.
    pub fn about(kind: FindingKind, trace: &Trace, spans: &[SpanIndex], code: Option<CodeLocation>) -> Finding {
        let first = spans.first().map(|&i| &trace.spans[i]);
        let parent = spans.first().and_then(|&i| trace.tree.parent(i));
        let total_us = saturating_sum(spans.iter().map(|&i| trace.spans[i].duration_ns)) / 1000;
        Finding {
            kind,
            severity: Severity::Warn,
            trace_id: trace.id.to_smol(),
            span_ids: spans.iter().map(|&i| trace.spans[i].display_id()).collect(),
            parent_span_id: parent.map(|p| trace.spans[p].display_id()),
            service: first.map(|s| s.resource.service.clone()).unwrap_or_default(),
            operation: first.map(|s| s.operation.clone()).unwrap_or_default(),
            count: spans.len(),
            total_us,
            percent: 0.0,
            code,
            occurrences: 1,
            requests: 1,
            root_operation: trace.root().map(|r| r.operation.clone()).unwrap_or_default(),
            impact_us: total_us,
            p95_us: 0,
            each_us: 0,
            traces: Vec::new(),
            message: String::new(),
            suggestion: String::new(),
            evidence: Evidence::None,
        }
    }
}

/// `x` as a percentage of `of` (0 when `of` is 0).
pub fn percent(x: u64, of: u64) -> f64 {
    if of == 0 { 0.0 } else { (x as f64 * 1000.0 / of as f64).round() / 10.0 }
}
