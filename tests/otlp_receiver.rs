//! The OTLP/HTTP receiver over real HTTP into a real SQLite file: what it accepts, what
//! it refuses and with which status, and that refusals store nothing and break nothing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use vitals::collector::budget::MemoryBudget;
use vitals::collector::server::ConnectionLimits;
use vitals::collector::{self, Counters, Intake, Limits, Protocol};
use vitals::providers::TraceProvider;
use vitals::providers::otlp::OtlpProvider;
use vitals::query::SearchQuery;
use vitals::store::{Retention, Store};

mod common;
use common::TempDir;
use common::otlp::{gzip, now_ns, request_of, service};

struct Receiver {
    url: String,
    provider: OtlpProvider,
    _dir: TempDir,
}

async fn start(name: &str, limits: Limits) -> Receiver {
    let dir = TempDir::new(&format!("receiver-{name}"));
    let store = Arc::new(Store::open(&dir.0.join("traces.db"), Retention::default()).unwrap());
    let listener = collector::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    let intake = Intake::new(Arc::clone(&store), limits);
    let counters = Arc::new(Counters::default());
    tokio::spawn(
        async move { intake.serve(Protocol::OtlpHttp, listener, counters, ConnectionLimits::default()).await },
    );
    Receiver { url, provider: OtlpProvider::new(store), _dir: dir }
}

fn request(trace: u8, spans: u8) -> ExportTraceServiceRequest {
    let start = now_ns() - 1_000_000_000;
    let spans = (1..=spans)
        .map(|i| Span {
            trace_id: [vec![0; 15], vec![trace]].concat(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, i],
            parent_span_id: if i == 1 { Vec::new() } else { vec![0, 0, 0, 0, 0, 0, 0, 1] },
            name: format!("op{i}"),
            start_time_unix_nano: start + i as u64 * 1000,
            end_time_unix_nano: start + 1_000_000,
            ..Default::default()
        })
        .collect();
    request_of(Some(service("shop")), spans)
}

async fn post(url: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> (u16, String, Vec<u8>) {
    let mut request = reqwest::Client::new().post(url).header("content-type", content_type).body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, content_type, response.bytes().await.unwrap().to_vec())
}

async fn stored_spans(receiver: &Receiver) -> usize {
    let traces = receiver.provider.search(&SearchQuery::new("shop")).await.unwrap();
    traces.iter().map(|t| t.spans.len()).sum()
}

#[tokio::test]
async fn protobuf_plain_and_gzip_are_stored_and_answered_in_protobuf() {
    let receiver = start("protobuf", Limits { max_body: 1 << 20, ..Limits::default() }).await;
    let (status, content_type, body) =
        post(&receiver.url, "application/x-protobuf", None, request(1, 3).encode_to_vec()).await;
    assert_eq!((status, content_type.as_str()), (200, "application/x-protobuf"));
    assert_eq!(ExportTraceServiceResponse::decode(body.as_slice()).unwrap().partial_success, None);
    let (status, ..) =
        post(&receiver.url, "application/x-protobuf", Some("gzip"), gzip(&request(2, 4).encode_to_vec())).await;
    assert_eq!(status, 200);
    assert_eq!(stored_spans(&receiver).await, 7);
    let trace = receiver.provider.trace("00000000000000000000000000000002").await.unwrap();
    assert_eq!(trace.spans.len(), 4);
    assert_eq!(trace.root().unwrap().operation, "op1");
}

#[tokio::test]
async fn json_is_stored_and_answered_in_json() {
    let receiver = start("json", Limits { max_body: 1 << 20, ..Limits::default() }).await;
    let body = std::fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/jaeger-api/otlp-export-request.json"),
    )
    .expect("the shared fixtures");
    // The recorded export is from 2024: refresh its times so a recent search finds it.
    let text = String::from_utf8(body).unwrap();
    let now = now_ns();
    let text = text
        .replace("\"1706678909209712000\"", &format!("\"{}\"", now - 2_000_000))
        .replace("\"1706678909209835000\"", &format!("\"{}\"", now - 1_000_000));
    let (status, content_type, answer) =
        post(&receiver.url, "application/json", Some("gzip"), gzip(text.as_bytes())).await;
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&answer).unwrap(), serde_json::json!({}));
    let traces = receiver.provider.search(&SearchQuery::new("telemetrygen")).await.unwrap();
    assert_eq!(traces[0].spans[0].operation, "okey-dokey-0");
}

#[tokio::test]
async fn spans_with_bad_ids_are_refused_by_partial_success_and_the_rest_kept() {
    let receiver = start("partial", Limits { max_body: 1 << 20, ..Limits::default() }).await;
    let mut export = request(3, 2);
    export.resource_spans[0].scope_spans[0].spans[1].span_id = vec![1, 2];
    let (status, _, body) = post(&receiver.url, "application/x-protobuf", None, export.encode_to_vec()).await;
    assert_eq!(status, 200);
    let partial = ExportTraceServiceResponse::decode(body.as_slice()).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("spanId must be 8"), "{}", partial.error_message);
    assert_eq!(stored_spans(&receiver).await, 1);
}

#[tokio::test]
async fn bad_bodies_get_the_right_status_store_nothing_and_the_receiver_keeps_serving() {
    let receiver = start("bad", Limits { max_body: 1 << 20, ..Limits::default() }).await;
    let good = request(4, 2).encode_to_vec();
    let bomb = gzip(&vec![0u8; 50 << 20]);
    let cases: Vec<(&str, Option<&str>, Vec<u8>, u16)> = vec![
        ("application/x-protobuf", None, good[..good.len() - 5].to_vec(), 400),
        ("application/json", None, b"{\"resourceSpans\": [".to_vec(), 400),
        (
            "application/json",
            None,
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"nothex","spanId":"0000000000000001"}]}]}]}"#
                .to_vec(),
            400,
        ),
        ("application/x-protobuf", Some("gzip"), b"not gzip at all".to_vec(), 400),
        ("text/plain", None, good.clone(), 415),
        ("application/x-protobuf", None, vec![0x0a; (1 << 20) + 1], 413),
        ("application/x-protobuf", Some("gzip"), bomb, 413),
    ];
    for (content_type, encoding, body, expected) in cases {
        let (status, _, answer) = post(&receiver.url, content_type, encoding, body).await;
        assert_eq!(status, expected, "{content_type} {encoding:?}: {}", String::from_utf8_lossy(&answer));
        assert!(!answer.is_empty(), "a refusal says why");
    }
    assert_eq!(stored_spans(&receiver).await, 0);
    let (status, ..) = post(&receiver.url, "application/x-protobuf", None, good).await;
    assert_eq!(status, 200);
    assert_eq!(stored_spans(&receiver).await, 2);
}

#[tokio::test]
async fn a_receiver_that_cannot_keep_up_says_when_to_retry_instead_of_dropping() {
    let receiver = start("busy", Limits { max_queued_batches: 0, ..Limits::default() }).await;
    let response = reqwest::Client::new()
        .post(&receiver.url)
        .header("content-type", "application/x-protobuf")
        .body(request(5, 1).encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers().get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_eq!(stored_spans(&receiver).await, 0);
}

#[tokio::test]
async fn a_body_that_would_decode_into_far_more_memory_than_its_size_is_refused_before_decoding() {
    let receiver = start("amplified", Limits { memory: MemoryBudget::new(64 << 20), ..Limits::default() }).await;
    // 600,000 empty spans: 1.2 MB of protobuf, hundreds of MB once decoded.
    let mut export = request(6, 1);
    export.resource_spans[0].scope_spans[0].spans = vec![Span::default(); 600_000];
    let (status, _, body) = post(&receiver.url, "application/x-protobuf", None, export.encode_to_vec()).await;
    assert_eq!(status, 413);
    assert!(String::from_utf8_lossy(&body).contains("send smaller batches"), "{}", String::from_utf8_lossy(&body));
    let (status, ..) = post(&receiver.url, "application/x-protobuf", None, request(7, 3).encode_to_vec()).await;
    assert_eq!(status, 200, "the budget is given back");
}
