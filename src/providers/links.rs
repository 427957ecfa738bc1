//! Following span links from trace to trace, with any provider: forwards along the links
//! the spans carry (a consumer to its producers), and backwards through the provider's
//! index of links where it has one (the embedded store: a producer to its consumers).
//!
//! Shared by `:VitalsTransaction`, `vitals transaction` and whatever else needs "a trace
//! with everything linked to it" (an export of a whole transaction).

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use serde::Deserialize;

use super::TraceProvider;
use crate::analysis::transaction::Transaction;
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};
use crate::render::units::plural;

/// How far [`linked_traces`] goes: links followed from the first trace, and traces in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Bounds {
    pub depth: usize,
    pub max_traces: usize,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds { depth: 3, max_traces: 20 }
    }
}

/// A trace and the traces linked to it.
#[derive(Debug, Default)]
pub struct Linked {
    /// The first trace, then the others in the order they were reached (nearest first).
    pub traces: Vec<Arc<Trace>>,
    /// Linked traces the provider does not have (not kept, or sampled out).
    pub missing: Vec<TraceId>,
    /// Linked traces left out because the bounds were reached.
    pub beyond_bounds: usize,
}

impl Linked {
    /// The traces stitched into one transaction (see [`Transaction::stitch`]), whose
    /// warnings say which linked traces are missing from it and why.
    pub fn stitch(&self) -> Transaction {
        let mut transaction = Transaction::stitch(&self.traces);
        let warnings = &mut transaction.trace.warnings;
        if !self.missing.is_empty() {
            let ids: Vec<String> = self.missing.iter().take(3).map(|id| id.to_string()).collect();
            warnings.push(format!(
                "{} linked trace{} not found (not kept, or sampled out): {}{}",
                self.missing.len(),
                plural(self.missing.len()),
                ids.join(", "),
                if self.missing.len() > ids.len() { ", …" } else { "" }
            ));
        }
        if self.beyond_bounds > 0 {
            warnings.push(format!(
                "{} more linked trace{} left out: raise transaction.max_traces or transaction.depth to see them",
                self.beyond_bounds,
                plural(self.beyond_bounds)
            ));
        }
        transaction
    }
}

/// Trace `id` with every trace linked to it, transitively, breadth first, within
/// `bounds`. The first trace must exist; a linked trace the provider does not have is
/// listed in [`Linked::missing`], and any other failure to fetch one is an error.
pub async fn linked_traces(provider: &dyn TraceProvider, id: &str, bounds: Bounds) -> Result<Linked> {
    let first = provider.trace(id).await?;
    let max_traces = bounds.max_traces.max(1);
    let mut linked = Linked::default();
    let mut seen: HashSet<TraceId> = HashSet::from([first.id]);
    let mut queue: VecDeque<(Arc<Trace>, usize)> = VecDeque::from([(first, 0)]);
    while let Some((trace, depth)) = queue.pop_front() {
        let neighbours = neighbours(provider, &trace, max_traces).await?;
        linked.traces.push(trace);
        for next in neighbours {
            if !seen.insert(next) {
                continue;
            }
            // Beyond the bounds a trace is counted, not fetched, so the view can say so.
            if depth >= bounds.depth || seen.len() > max_traces {
                linked.beyond_bounds += 1;
                continue;
            }
            match provider.trace(&next.to_string()).await {
                Ok(trace) => queue.push_back((trace, depth + 1)),
                Err(Error::NotFound { .. }) => linked.missing.push(next),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(linked)
}

/// The other traces `trace` links to, then those linking to it, each once.
async fn neighbours(provider: &dyn TraceProvider, trace: &Trace, limit: usize) -> Result<Vec<TraceId>> {
    let mut found: Vec<TraceId> = Vec::new();
    let forwards = trace.spans.iter().flat_map(|s| s.links()).map(|r| r.trace_id);
    let backwards = provider.linking_to(trace.id, limit.saturating_mul(8)).await?;
    for id in forwards.chain(backwards.iter().map(|l| l.trace_id)) {
        if id != trace.id && !found.contains(&id) {
            found.push(id);
        }
    }
    Ok(found)
}

/// Which way a link goes from the span asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// The span links to it: the producer of the message a consumer took.
    To,
    /// It links to the span: a consumer of the message the span produced.
    From,
}

/// A span at the other end of a link, with its trace when the provider has it.
#[derive(Debug)]
pub struct LinkedSpan {
    pub direction: Direction,
    pub trace_id: TraceId,
    pub span_id: crate::model::SpanId,
    pub trace: Option<Arc<Trace>>,
}

impl LinkedSpan {
    /// The linked span itself, when its trace was found and holds it.
    pub fn span(&self) -> Option<&crate::model::Span> {
        self.trace.as_ref()?.spans.iter().find(|s| s.span_id == self.span_id)
    }
}

/// The spans `span` links to, then those linking to it (from the provider's index, at
/// most `limit`), each in time order, with its trace fetched through `fetch` (a cache, or
/// the provider).
pub async fn links_of_span<F, Fut>(
    provider: &dyn TraceProvider,
    span: &crate::model::Span,
    limit: usize,
    fetch: F,
) -> Result<Vec<LinkedSpan>>
where
    F: Fn(TraceId) -> Fut,
    Fut: std::future::Future<Output = Result<Arc<Trace>>>,
{
    let mut ends: Vec<(Direction, TraceId, crate::model::SpanId)> =
        span.links().map(|r| (Direction::To, r.trace_id, r.span_id)).collect();
    for link in provider.linking_to(span.trace_id, limit).await? {
        if link.linked_span_id == span.span_id {
            ends.push((Direction::From, link.trace_id, link.span_id));
        }
    }
    ends.dedup();
    ends.truncate(limit.max(1));
    let mut linked = Vec::with_capacity(ends.len());
    for (direction, trace_id, span_id) in ends {
        let trace = match fetch(trace_id).await {
            Ok(trace) => Some(trace),
            Err(Error::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        linked.push(LinkedSpan { direction, trace_id, span_id, trace });
    }
    // The way back first, then the way on; each in time order (unknown spans last).
    linked.sort_by_key(|l| (l.direction == Direction::From, l.span().map_or(u64::MAX, |s| s.start_ns)));
    Ok(linked)
}
