//! The OTLP/gRPC receiver over real HTTP/2 into a real SQLite file, called by tonic's
//! client as the SDKs and the Collector call it: what it stores, and which status each
//! bad call gets (with `RetryInfo` only where retrying can help), storing nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use prost::Message;
use tonic::Code;
use vitals::collector::budget::MemoryBudget;
use vitals::collector::server::ConnectionLimits;
use vitals::collector::{self, Counters, Intake, Limits, Protocol, Reason};
use vitals::model::SpanKind;
use vitals::providers::TraceProvider;
use vitals::providers::otlp::OtlpProvider;
use vitals::query::SearchQuery;
use vitals::store::{Retention, Store};

mod common;
use common::TempDir;
use common::grpc::{EXPORT, assert_refused, call_raw, export};
use common::otlp::{gzip, now_ns, request_of, service, text};

struct Receiver {
    address: String,
    provider: OtlpProvider,
    counters: Arc<Counters>,
    _dir: TempDir,
}

async fn start(name: &str, limits: Limits) -> Receiver {
    let dir = TempDir::new(&format!("grpc-{name}"));
    let store = Arc::new(Store::open(&dir.0.join("traces.db"), Retention::default()).unwrap());
    let listener = collector::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (intake, counters) = (Intake::new(Arc::clone(&store), limits), Arc::new(Counters::default()));
    let serving = Arc::clone(&counters);
    tokio::spawn(async move { intake.serve(Protocol::OtlpGrpc, listener, serving, ConnectionLimits::default()).await });
    Receiver { address, provider: OtlpProvider::new(store), counters, _dir: dir }
}

/// `spans` nested spans of trace `trace` of the `shop` service, with an attribute, an
/// event and, on the last, an error.
fn request(trace: u8, spans: u8) -> ExportTraceServiceRequest {
    let start = now_ns() - 1_000_000_000;
    let spans = (1..=spans)
        .map(|i| Span {
            trace_id: [vec![0; 15], vec![trace]].concat(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, i],
            parent_span_id: if i == 1 { Vec::new() } else { vec![0, 0, 0, 0, 0, 0, 0, i - 1] },
            name: format!("op{i}"),
            kind: 2,
            start_time_unix_nano: start + i as u64 * 1000,
            end_time_unix_nano: start + 1_000_000,
            attributes: vec![text("http.route", "/cart")],
            events: vec![span::Event { name: "retry".into(), time_unix_nano: start + 5000, ..Default::default() }],
            status: (i == spans)
                .then(|| opentelemetry_proto::tonic::trace::v1::Status { code: 2, message: "declined".into() }),
            ..Default::default()
        })
        .collect();
    request_of(Some(service("shop")), spans)
}

async fn stored_spans(receiver: &Receiver) -> usize {
    let traces = receiver.provider.search(&SearchQuery::new("shop")).await.unwrap();
    traces.iter().map(|t| t.spans.len()).sum()
}

fn refused(receiver: &Receiver, reason: Reason) -> u64 {
    receiver.counters.counts().refused.iter().find(|(r, _)| *r == reason).map_or(0, |(_, n)| *n)
}

#[tokio::test]
async fn plain_and_gzip_exports_are_stored_intact_and_acknowledged_after_commit() {
    let receiver = start("plain", Limits::default()).await;
    let answer = export(&receiver.address, request(1, 3), false).await.unwrap();
    assert_eq!(answer.partial_success, None);
    // Acknowledged means committed: the spans are there the moment the answer arrives.
    assert_eq!(stored_spans(&receiver).await, 3);
    export(&receiver.address, request(2, 4), true).await.unwrap();
    assert_eq!(stored_spans(&receiver).await, 7);
    let trace = receiver.provider.trace("00000000000000000000000000000002").await.unwrap();
    let root = trace.root().unwrap();
    assert_eq!((root.service(), root.operation.as_str(), root.kind), ("shop", "op1", SpanKind::Server));
    let last = trace.spans.iter().find(|s| s.operation == "op4").unwrap();
    assert_eq!(last.parent_id.map(|p| p.to_string()).as_deref(), Some("0000000000000003"));
    assert!(last.is_error() && last.status.message == "declined");
    assert_eq!(last.attr("http.route").and_then(|v| v.as_str()), Some("/cart"));
    assert_eq!(last.events[0].name, "retry");
    let counts = receiver.counters.counts();
    assert_eq!((counts.batches, counts.spans, counts.refused_batches()), (2, 7, 0));
}

#[tokio::test]
async fn spans_with_bad_ids_are_refused_by_partial_success_and_the_rest_kept() {
    let receiver = start("partial", Limits::default()).await;
    let mut batch = request(3, 2);
    batch.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2];
    let partial = export(&receiver.address, batch, false).await.unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("spanId must be 8"), "{}", partial.error_message);
    assert_eq!(stored_spans(&receiver).await, 1);
}

#[tokio::test]
async fn garbage_is_invalid_argument_and_stores_nothing() {
    let receiver = start("garbage", Limits::default()).await;
    let good = request(4, 2).encode_to_vec();
    let cut_short = good[..good.len() - 5].to_vec();
    assert_refused(call_raw(&receiver.address, EXPORT, cut_short).await, Code::InvalidArgument, "not a valid", false);
    assert_refused(
        call_raw(&receiver.address, EXPORT, vec![0xff; 64]).await,
        Code::InvalidArgument,
        "not a valid",
        false,
    );
    assert_eq!(refused(&receiver, Reason::Undecodable), 2);
    let unknown = call_raw(&receiver.address, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export", good);
    assert_refused(unknown.await, Code::Unimplemented, "not a method of this server", false);
    assert_eq!(stored_spans(&receiver).await, 0);
    export(&receiver.address, request(4, 2), false).await.expect("the receiver keeps serving");
    assert_eq!(stored_spans(&receiver).await, 2);
}

#[tokio::test]
async fn a_message_past_the_size_limit_is_resource_exhausted_for_good() {
    let receiver = start("limit", Limits { max_body: 16 << 10, ..Limits::default() }).await;
    // 25 KB of protobuf, refused from its prefix.
    let large = request(5, 250);
    assert!(large.encoded_len() > 16 << 10);
    assert_refused(export(&receiver.address, large, false).await, Code::ResourceExhausted, "larger than 16 KiB", false);
    // 200 bytes of gzip that inflate past the limit.
    let bomb = gzip(&vec![0x0a; 8 << 20]);
    assert!(bomb.len() < 16 << 10);
    let bomb_call = common::grpc::call_gzip_raw(&receiver.address, bomb);
    assert_refused(bomb_call.await, Code::ResourceExhausted, "larger than 16 KiB", false);
    assert_eq!(refused(&receiver, Reason::TooLarge), 2);
    assert_eq!(stored_spans(&receiver).await, 0);
}

#[tokio::test]
async fn a_spent_memory_budget_is_resource_exhausted_with_a_time_to_retry() {
    let memory = MemoryBudget::new(64 << 20);
    let receiver = start("budget", Limits { memory: memory.clone(), ..Limits::default() }).await;
    // Other requests (of any receiver: they share the budget) hold all of it but a KiB.
    let mut others = vec![memory.reserve()];
    others[0].grow(memory.largest_request()).unwrap();
    loop {
        let mut small = memory.reserve();
        if small.grow(1 << 10).is_err() {
            break;
        }
        others.push(small);
    }
    let refusal = export(&receiver.address, request(6, 20), false).await;
    assert_refused(refusal, Code::ResourceExhausted, "memory limit", true);
    assert_eq!(refused(&receiver, Reason::MemoryFull), 1);
    assert_eq!(stored_spans(&receiver).await, 0);
    drop(others);
    export(&receiver.address, request(6, 20), false).await.expect("the retry succeeds once memory is free");
    assert_eq!(stored_spans(&receiver).await, 20);
}

#[tokio::test]
async fn a_full_queue_is_unavailable_with_a_time_to_retry() {
    let receiver = start("queue", Limits { max_queued_batches: 0, ..Limits::default() }).await;
    let refusal = export(&receiver.address, request(7, 1), false).await;
    assert_refused(refusal, Code::Unavailable, "busy", true);
    assert_eq!(refused(&receiver, Reason::QueueFull), 1);
    assert_eq!(stored_spans(&receiver).await, 0);
}
