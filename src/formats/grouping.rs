//! Turns a flat list of spans into traces, one per trace id, in first-seen order.

use crate::model::{IdMap, Span, Trace, TraceId};

pub fn group_into_traces(spans: Vec<Span>) -> Vec<Trace> {
    // A document usually holds one trace: its spans become the trace as they are, without
    // being moved span by span into a list of their own.
    if let Some(id) = spans.first().map(|s| s.trace_id)
        && spans.iter().all(|s| s.trace_id == id)
    {
        return vec![Trace::from_spans(id, spans)];
    }
    let mut order: Vec<TraceId> = Vec::new();
    let mut by_trace: IdMap<TraceId, Vec<Span>> = IdMap::default();
    for span in spans {
        by_trace
            .entry(span.trace_id)
            .or_insert_with(|| {
                order.push(span.trace_id);
                Vec::new()
            })
            .push(span);
    }
    order.into_iter().map(|id| Trace::from_spans(id, by_trace.remove(&id).unwrap_or_default())).collect()
}
