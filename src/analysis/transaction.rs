//! A transaction across queues: a trace and the traces linked to it (a producer's and its
//! consumers', a batch consumer's and its many producers'), stitched into one trace whose
//! roots are the traces in time order, with the hand-offs through the queues between them.
//!
//! A consumer span carries a link to the span that produced its message (OTLP span links,
//! or the FOLLOWS_FROM reference Jaeger writes for one): that link is a hand-off, and the
//! time between the producer's end and the consumer's start is the time the message spent
//! waiting in the queue.

use std::collections::{HashMap, HashSet};

use super::calls::{CodeLocation, text};
use super::findings::{Evidence, Finding, FindingKind, Severity, percent};
use crate::model::{Span, SpanId, SpanIndex, SpanKind, Trace, TraceId};

/// The share of a transaction's wall time (%) spent in queues from which the wait is a
/// finding: more than the work itself…
pub const QUEUE_WAIT_SHARE: f64 = 50.0;
/// …and at least this long.
const QUEUE_WAIT_MIN_NS: u64 = 1_000_000;

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
        // Sized up front: collecting a flattened iterator would grow (and move) the spans of
        // a large transaction many times over.
        let mut spans: Vec<Span> = Vec::with_capacity(ordered.iter().map(|t| t.spans.len()).sum());
        for trace in &ordered {
            spans.extend(trace.spans.iter().cloned());
        }
        let first = ids.first().copied().unwrap_or_default();
        let trace = Trace::from_spans(first, spans);
        let handoffs = handoffs(&trace);
        Transaction { trace, traces: ids, handoffs }
    }

    /// The queue-wait finding, when messages waited for most of the transaction.
    pub fn queue_wait(&self) -> Option<Finding> {
        queue_wait(&self.trace, &self.handoffs)
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

/// The hand-offs of `trace` (one trace, or a stitched transaction): every span linking to
/// a span the trace holds (a consumer to its producer, across traces or not), and every
/// consumer span that is the child of a producer span (a message whose context was
/// propagated), by the consumer's start.
pub fn handoffs(trace: &Trace) -> Vec<Handoff> {
    let consumes = |s: &Span| s.kind == SpanKind::Consumer || s.links().next().is_some();
    if !trace.spans.iter().any(consumes) {
        return Vec::new();
    }
    // Only the spans some link names are indexed: a transaction has tens of thousands of
    // spans and a few dozen links.
    let named: HashSet<(TraceId, SpanId)> =
        trace.spans.iter().flat_map(|s| s.links()).map(|link| (link.trace_id, link.span_id)).collect();
    let index: HashMap<(TraceId, SpanId), SpanIndex> = trace
        .spans
        .iter()
        .enumerate()
        .map(|(i, s)| ((s.trace_id, s.span_id), i))
        .filter(|(key, _)| named.contains(key))
        .collect();
    let mut found: Vec<Handoff> = Vec::new();
    let mut producers: HashSet<SpanIndex> = HashSet::new();
    for (consumer, span) in trace.spans.iter().enumerate().filter(|(_, s)| consumes(s)) {
        // A consumer's hand-offs are found together: only its own repeat (one producer
        // linked twice, or linked and its parent).
        producers.clear();
        let linked = span.links().filter_map(|link| index.get(&(link.trace_id, link.span_id)).copied());
        let parent = trace
            .tree
            .parent(consumer)
            .filter(|&p| span.kind == SpanKind::Consumer && trace.spans[p].kind == SpanKind::Producer);
        for producer in linked.chain(parent).filter(|&p| p != consumer) {
            if !producers.insert(producer) {
                continue;
            }
            let produced = &trace.spans[producer];
            let queue = Queue::of(span).or_else(|| Queue::of(produced)).unwrap_or_default();
            let wait_ns = span.start_ns.saturating_sub(produced.end_ns());
            found.push(Handoff { producer, consumer, wait_ns, queue });
        }
    }
    found.sort_by_key(|h| (trace.spans[h.consumer].start_ns, trace.spans[h.producer].start_ns));
    found
}

/// A finding when messages spent more than [`QUEUE_WAIT_SHARE`] of the transaction's wall
/// time waiting in queues: its evidence is the longest wait (its producer and consumer
/// spans and their traces, the queue).
pub fn queue_wait(trace: &Trace, handoffs: &[Handoff]) -> Option<Finding> {
    let wait_ns = queue_wait_ns(trace, handoffs);
    let transaction_ns = trace.duration_ns();
    if wait_ns < QUEUE_WAIT_MIN_NS || percent(wait_ns, transaction_ns) <= QUEUE_WAIT_SHARE {
        return None;
    }
    let longest = handoffs.iter().max_by_key(|h| h.wait_ns)?;
    let code = CodeLocation::nearest(trace, longest.consumer);
    let mut finding = Finding::about(FindingKind::QueueWait, trace, &[longest.consumer, longest.producer], code);
    finding.trace_id = trace.spans[longest.consumer].trace_id.to_smol();
    finding.total_us = wait_ns / 1000;
    finding.impact_us = finding.total_us;
    finding.percent = percent(wait_ns, transaction_ns);
    finding.severity = Severity::Warn;
    finding.evidence = Evidence::QueueWait {
        queue: longest.queue.label(),
        wait_ns,
        longest_ns: longest.wait_ns,
        transaction_ns,
        producer_trace: trace.spans[longest.producer].trace_id.to_string(),
        consumer_trace: trace.spans[longest.consumer].trace_id.to_string(),
    };
    Some(finding)
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
            references: Default::default(),
            resource: Arc::new(Resource { service: service.into(), attributes: Vec::new() }),
            operation: format!("op{id}").into(),
            kind: SpanKind::Internal,
            // Times from 1 s: a start of 0 reads as "no start time".
            start_ns: (1_000 + start_ms) * 1_000_000,
            duration_ns: ms * 1_000_000,
            status: Default::default(),
            attributes: attrs.iter().map(|(k, v)| Attribute::new(*k, AttrValue::Str(v.to_string().into()))).collect(),
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
    fn a_wait_for_most_of_the_transaction_is_a_finding_with_its_evidence_and_a_short_one_is_not() {
        let producer = Trace::from_spans(TraceId(1), vec![span(1, 1, "shop", 0, 10, &[("messaging.system", "kafka")])]);
        let consumer = |start_ms| {
            Trace::from_spans(
                TraceId(2),
                vec![linked(span(2, 2, "billing", start_ms, 20, &[("messaging.destination.name", "orders")]), 1, 1)],
            )
        };
        let slow = Transaction::stitch(&[producer, consumer(200)]);
        let finding = slow.queue_wait().expect("190 ms of 220 ms in the queue");
        assert_eq!(finding.kind, FindingKind::QueueWait);
        assert_eq!(finding.trace_id, TraceId(2).to_string());
        assert_eq!(finding.span_ids, vec![SpanId(2).to_string(), SpanId(1).to_string()]);
        assert_eq!(finding.service, "billing");
        match &finding.evidence {
            Evidence::QueueWait { queue, wait_ns, transaction_ns, producer_trace, .. } => {
                assert_eq!(queue, "orders");
                assert_eq!((*wait_ns, *transaction_ns), (190_000_000, 220_000_000));
                assert_eq!(producer_trace, &TraceId(1).to_string());
            }
            other => panic!("{other:?}"),
        }
        let producer = Trace::from_spans(TraceId(1), vec![span(1, 1, "shop", 0, 10, &[])]);
        assert!(Transaction::stitch(&[producer, consumer(15)]).queue_wait().is_none(), "5 ms of 35 ms");
    }

    #[test]
    fn a_consumer_child_of_its_producer_is_a_hand_off_within_one_trace() {
        let mut publish = span(1, 2, "shop", 5, 5, &[("messaging.system", "rabbitmq")]);
        publish.kind = SpanKind::Producer;
        publish.parent_id = Some(SpanId(1));
        let mut take = span(1, 3, "billing", 60, 10, &[]);
        take.kind = SpanKind::Consumer;
        take.parent_id = Some(SpanId(2));
        let trace = Trace::from_spans(TraceId(1), vec![span(1, 1, "shop", 0, 12, &[]), publish, take]);
        let found = handoffs(&trace);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].wait_ns, found[0].queue.label()), (50_000_000, "rabbitmq".to_string()));
    }

    #[test]
    fn old_messaging_attributes_name_the_queue() {
        let span =
            span(1, 1, "shop", 0, 1, &[("messaging.destination", "payments"), ("messaging.kafka.partition", "3")]);
        assert_eq!(Queue::of(&span).map(|q| q.label()), Some("kafka payments [partition 3]".to_string()));
    }
}
