//! A transaction across queues: a trace and the traces linked to it (a producer's and its
//! consumers', a batch consumer's and its many producers'), stitched into one trace whose
//! roots are the traces in time order, with the hand-offs through the queues between them.
//!
//! A consumer span carries a link to the span that produced its message (OTLP span links,
//! or the FOLLOWS_FROM reference Jaeger writes for one): that link is a hand-off, and the
//! time between the producer's end and the consumer's start is the time the message spent
//! waiting in the queue.

use std::collections::HashMap;

use super::calls::text;
use crate::model::{Span, SpanId, SpanIndex, Trace, TraceId};

/// The traces of a transaction as one trace, and the hand-offs between them.
#[derive(Debug)]
pub struct Transaction {
    /// Every span of every trace (each keeps its own trace id); the roots, one or more a
    /// trace, in time order.
    pub trace: Trace,
    /// The stitched traces, earliest first.
    pub traces: Vec<TraceId>,
    /// Every link from a span of one trace to a span of another, by the consumer's start.
    pub handoffs: Vec<Handoff>,
}

/// A message handed from a producer span to a consumer span through a queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub producer: SpanIndex,
    pub consumer: SpanIndex,
    /// Consumer start − producer end: the time in the queue (0 when the consumer started
    /// before the producer ended, as a fast consumer of an unacknowledged send does).
    pub wait_ns: u64,
    pub queue: Queue,
}

/// Which queue a message went through, as the messaging attributes of either end say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Queue {
    /// `messaging.system` (`kafka`, `rabbitmq`, …), or the system named by the old
    /// `messaging.kafka.*` / `messaging.rabbitmq.*` attributes; "" when neither says.
    pub system: String,
    /// `messaging.destination.name` (old: `messaging.destination`), with the Kafka
    /// partition or RabbitMQ routing key when given; "" when unknown.
    pub destination: String,
}

impl Queue {
    /// The queue a messaging span (producer or consumer) names, or `None` for a span
    /// without messaging attributes.
    pub fn of(span: &Span) -> Option<Queue> {
        let system = text(span, &["messaging.system"]).map(str::to_string).or_else(|| {
            ["kafka", "rabbitmq"]
                .into_iter()
                .find(|s| span.attributes.iter().any(|a| a.key.starts_with(&format!("messaging.{s}."))))
                .map(str::to_string)
        });
        let name = text(span, &["messaging.destination.name", "messaging.destination"]);
        let partition = [
            "messaging.destination.partition.id",
            "messaging.kafka.partition",
            "messaging.kafka.destination.partition",
        ]
        .iter()
        .find_map(|k| span.attr(k))
        .map(|p| format!(" [partition {p}]"));
        let routing = text(span, &["messaging.rabbitmq.destination.routing_key", "messaging.rabbitmq.routing_key"])
            .map(|k| format!(" (key {k})"));
        if system.is_none() && name.is_none() {
            return None;
        }
        let destination = match name {
            Some(name) => format!("{name}{}", partition.or(routing).unwrap_or_default()),
            None => String::new(),
        };
        Some(Queue { system: system.unwrap_or_default(), destination })
    }

    /// "kafka orders", "rabbitmq", "queue": how a queue is named in views.
    pub fn label(&self) -> String {
        match (self.system.as_str(), self.destination.as_str()) {
            ("", "") => "queue".to_string(),
            (system, "") => system.to_string(),
            ("", destination) => destination.to_string(),
            (system, destination) => format!("{system} {destination}"),
        }
    }
}

impl Transaction {
    /// Stitches `traces` (each once; the order does not matter) into one transaction.
    pub fn stitch(traces: &[impl AsRef<Trace>]) -> Transaction {
        let mut ordered: Vec<&Trace> = traces.iter().map(AsRef::as_ref).collect();
        ordered.sort_by_key(|t| (t.start_ns(), t.id));
        ordered.dedup_by_key(|t| t.id);
        let ids: Vec<TraceId> = ordered.iter().map(|t| t.id).collect();
        let spans: Vec<Span> = ordered.iter().flat_map(|t| t.spans.iter().cloned()).collect();
        let first = ids.first().copied().unwrap_or_default();
        let trace = Trace::from_spans(first, spans);
        let handoffs = handoffs(&trace);
        Transaction { trace, traces: ids, handoffs }
    }

    /// The wall time of the whole transaction: first start to last end.
    pub fn duration_ns(&self) -> u64 {
        self.trace.duration_ns()
    }

    /// The time messages spent in queues, with overlapping waits counted once.
    pub fn queue_wait_ns(&self) -> u64 {
        queue_wait_ns(&self.trace, &self.handoffs)
    }
}

/// The time of `trace` (a stitched transaction) that messages spent in queues, with
/// overlapping waits (a batch's messages waiting together) counted once.
pub fn queue_wait_ns(trace: &Trace, handoffs: &[Handoff]) -> u64 {
    let mut waits: Vec<(u64, u64)> = handoffs
        .iter()
        .filter(|h| h.wait_ns > 0)
        .map(|h| (trace.spans[h.producer].end_ns(), trace.spans[h.consumer].start_ns))
        .collect();
    waits.sort_unstable();
    let (mut total, mut reached) = (0u64, 0u64);
    for (start, end) in waits {
        let start = start.max(reached);
        if end > start {
            total = total.saturating_add(end - start);
            reached = end;
        }
    }
    total
}

/// Every link from a span to a span of another trace that the transaction holds.
fn handoffs(trace: &Trace) -> Vec<Handoff> {
    let index: HashMap<(TraceId, SpanId), SpanIndex> =
        trace.spans.iter().enumerate().map(|(i, s)| ((s.trace_id, s.span_id), i)).collect();
    let mut found: Vec<Handoff> = Vec::new();
    for (consumer, span) in trace.spans.iter().enumerate() {
        for link in span.links().filter(|r| r.trace_id != span.trace_id) {
            let Some(&producer) = index.get(&(link.trace_id, link.span_id)) else {
                continue;
            };
            let produced = &trace.spans[producer];
            let queue = Queue::of(span).or_else(|| Queue::of(produced)).unwrap_or_default();
            let wait_ns = span.start_ns.saturating_sub(produced.end_ns());
            if !found.iter().any(|h| h.producer == producer && h.consumer == consumer) {
                found.push(Handoff { producer, consumer, wait_ns, queue });
            }
        }
    }
    found.sort_by_key(|h| (trace.spans[h.consumer].start_ns, trace.spans[h.producer].start_ns));
    found
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::{AttrValue, Attribute, RefKind, Reference, Resource, SpanKind};

    fn span(trace: u128, id: u64, service: &str, start_ms: u64, ms: u64, attrs: &[(&str, &str)]) -> Span {
        Span {
            trace_id: TraceId(trace),
            span_id: SpanId(id),
            parent_id: None,
            references: Vec::new(),
            resource: Arc::new(Resource { service: service.to_string(), attributes: Vec::new() }),
            operation: format!("op{id}"),
            kind: SpanKind::Internal,
            // Times from 1 s: a start of 0 reads as "no start time".
            start_ns: (1_000 + start_ms) * 1_000_000,
            duration_ns: ms * 1_000_000,
            status: Default::default(),
            attributes: attrs.iter().map(|(k, v)| Attribute::new(*k, AttrValue::Str(v.to_string()))).collect(),
            events: Vec::new(),
            source_id: None,
            time_repair: None,
        }
    }

    fn linked(mut consumer: Span, trace: u128, id: u64) -> Span {
        consumer.references.push(Reference { kind: RefKind::Link, trace_id: TraceId(trace), span_id: SpanId(id) });
        consumer
    }

    #[test]
    fn a_batch_consumer_is_handed_a_message_by_each_of_its_producers_after_their_queue_wait() {
        let producer_a =
            Trace::from_spans(TraceId(1), vec![span(1, 1, "shop", 0, 10, &[("messaging.system", "kafka")])]);
        let producer_b = Trace::from_spans(TraceId(2), vec![span(2, 2, "shop", 20, 10, &[])]);
        let consumer = Trace::from_spans(
            TraceId(3),
            vec![linked(
                linked(span(3, 3, "billing", 100, 50, &[("messaging.destination.name", "orders")]), 1, 1),
                2,
                2,
            )],
        );
        let transaction = Transaction::stitch(&[consumer, producer_b, producer_a]);
        assert_eq!(transaction.traces, vec![TraceId(1), TraceId(2), TraceId(3)]);
        let waits: Vec<u64> = transaction.handoffs.iter().map(|h| h.wait_ns / 1_000_000).collect();
        assert_eq!(waits, vec![90, 70]);
        assert_eq!(transaction.handoffs[0].queue.label(), "orders");
        // 10 → 100 and 30 → 100 overlap: 90 ms of the 150 ms were spent waiting.
        assert_eq!(transaction.queue_wait_ns(), 90_000_000);
        assert_eq!(transaction.duration_ns(), 150_000_000);
    }

    #[test]
    fn old_messaging_attributes_name_the_queue() {
        let span =
            span(1, 1, "shop", 0, 1, &[("messaging.destination", "payments"), ("messaging.kafka.partition", "3")]);
        assert_eq!(Queue::of(&span).map(|q| q.label()), Some("kafka payments [partition 3]".to_string()));
    }
}
