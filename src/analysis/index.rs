//! What every analysis of one trace needs to know about its spans, worked out once per
//! trace and shared by all of them (see [`super::report::analyze`]): each span as an
//! outgoing call ([`Calls`]), where in the code each span was made and the nearest such
//! place above it, and the trace's wall time. Before, each analysis classified calls and
//! read code locations again, allocating strings for every span.

use super::calls::{Calls, CodeLocation, LocationId};
use super::findings::{Finding, FindingKind};
use crate::model::{SpanIndex, Trace};

pub struct TraceIndex<'t> {
    pub trace: &'t Trace,
    /// Each span as a call, and its own code location.
    pub calls: Calls<'t>,
    /// Each span's own location, else its nearest ancestor's.
    nearest_code: Vec<Option<LocationId>>,
    duration_ns: u64,
}

impl<'t> TraceIndex<'t> {
    pub fn new(trace: &'t Trace) -> TraceIndex<'t> {
        let calls = Calls::of(trace);
        // Parents come before their children in preorder, which holds every span once.
        let mut nearest_code: Vec<Option<LocationId>> = (0..trace.spans.len()).map(|i| calls.location_of(i)).collect();
        for span in trace.tree.preorder() {
            if nearest_code[span].is_none()
                && let Some(parent) = trace.tree.parent(span)
            {
                nearest_code[span] = nearest_code[parent];
            }
        }
        TraceIndex { trace, calls, nearest_code, duration_ns: trace.duration_ns() }
    }

    /// Where in the code the span at `span` was made, as far as its attributes say.
    pub fn code(&self, span: SpanIndex) -> Option<&CodeLocation> {
        self.calls.location_of(span).map(|id| self.calls.location(id))
    }

    /// The span's own location, or its nearest ancestor's: a query made by a repository
    /// method is charged to that method (as [`CodeLocation::nearest`]).
    pub fn nearest_code(&self, span: SpanIndex) -> Option<&CodeLocation> {
        self.nearest_code[span].map(|id| self.calls.location(id))
    }

    /// The trace's wall time ([`Trace::duration_ns`]).
    pub fn duration_ns(&self) -> u64 {
        self.duration_ns
    }

    /// A finding about `spans` (see [`Finding::about`]), located in the code of the first.
    pub fn finding(&self, kind: FindingKind, spans: &[SpanIndex]) -> Finding {
        let code = spans.first().and_then(|&span| self.nearest_code(span)).cloned();
        Finding::about(kind, self.trace, spans, code)
    }
}
