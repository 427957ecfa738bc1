//! What every analysis of one trace needs to know about its spans, worked out once per
//! trace and shared by all of them (see [`super::report::analyze`]): each span as an
//! outgoing call ([`Calls`]), where in the code each span was made and the nearest such
//! place above it, and the trace's wall time. Before, each analysis classified calls and
//! read code locations again, allocating strings for every span.

use std::collections::HashMap;

use super::calls::{Calls, CodeAttributes, CodeLocation};
use super::findings::{Finding, FindingKind};
use crate::model::{IdHasher, SpanIndex, Trace};

/// No location: `u32::MAX` in the per-span tables.
const NONE: u32 = u32::MAX;

pub struct TraceIndex<'t> {
    pub trace: &'t Trace,
    pub calls: Calls<'t>,
    /// Each span's own code location (an index into `locations`), or [`NONE`].
    own_code: Vec<u32>,
    /// Each span's own location, else its nearest ancestor's, or [`NONE`].
    nearest_code: Vec<u32>,
    /// The trace's distinct code locations.
    locations: Vec<CodeLocation>,
    duration_ns: u64,
}

impl<'t> TraceIndex<'t> {
    pub fn new(trace: &'t Trace) -> TraceIndex<'t> {
        let mut interned: HashMap<CodeAttributes<'t>, u32, IdHasher> = HashMap::default();
        let mut locations = Vec::new();
        let own_code: Vec<u32> = trace
            .spans
            .iter()
            .map(|span| match CodeAttributes::of(span) {
                Some(attributes) => *interned.entry(attributes).or_insert_with(|| {
                    locations.push(attributes.location());
                    locations.len() as u32 - 1
                }),
                None => NONE,
            })
            .collect();
        // Parents come before their children in preorder, which holds every span once.
        let mut nearest_code = own_code.clone();
        for span in trace.tree.preorder() {
            if nearest_code[span] == NONE
                && let Some(parent) = trace.tree.parent(span)
            {
                nearest_code[span] = nearest_code[parent];
            }
        }
        TraceIndex {
            trace,
            calls: Calls::of(trace),
            own_code,
            nearest_code,
            locations,
            duration_ns: trace.duration_ns(),
        }
    }

    /// Where in the code the span at `span` was made, as far as its attributes say.
    pub fn code(&self, span: SpanIndex) -> Option<&CodeLocation> {
        self.location(self.own_code[span])
    }

    /// The span's own location, or its nearest ancestor's: a query made by a repository
    /// method is charged to that method (as [`CodeLocation::nearest`]).
    pub fn nearest_code(&self, span: SpanIndex) -> Option<&CodeLocation> {
        self.location(self.nearest_code[span])
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

    fn location(&self, id: u32) -> Option<&CodeLocation> {
        self.locations.get(id as usize)
    }
}
