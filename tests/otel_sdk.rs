//! Real senders against `vitals serve`: the OpenTelemetry Python SDK exporting over
//! OTLP/HTTP, OTLP/gRPC and Zipkin, and a process killed with SIGKILL while batches are
//! acknowledged over HTTP and over gRPC.
//!
//! The SDK tests need a Python with `opentelemetry-sdk` and its OTLP (HTTP and gRPC) and
//! Zipkin JSON exporters in `VITALS_OTEL_PYTHON`; `tests/run` installs them and runs
//! these tests, a plain `cargo test` lists them as ignored.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use vitals::model::{AttrValue, SpanKind};
use vitals::providers::TraceProvider;
use vitals::providers::otlp::OtlpProvider;
use vitals::query::SearchQuery;

mod common;
use common::otlp::request_of;

use common::{TempDir, grpc, serve};

/// Runs `tests/otel/send_checkout.py` against `endpoint` with the SDK's `protocol`
/// exporter; the trace ids it made.
fn send_checkout(endpoint: &str, count: usize, protocol: &str) -> Vec<String> {
    let python = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel/send_checkout.py");
    let output = Command::new(python)
        .arg(script)
        .args([endpoint, &count.to_string(), protocol])
        .output()
        .expect("run the SDK sender");
    assert!(output.status.success(), "the sender failed: {}", String::from_utf8_lossy(&output.stderr));
    let trace_ids: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(trace_ids.len(), count);
    trace_ids
}

/// Every span of the checkouts is found with its service, parent, kind, attributes,
/// events and status. Zipkin carries attributes as text and no resource attributes.
async fn assert_checkouts_intact(provider: &OtlpProvider, trace_ids: &[String], zipkin: bool) {
    assert_eq!(provider.services().await.unwrap(), ["checkout", "frontend", "payment"]);
    let found = provider.search(&SearchQuery::new("frontend")).await.unwrap();
    let mut found_ids: Vec<String> = found.iter().map(|t| t.id.to_string()).collect();
    let mut sent = trace_ids.to_vec();
    found_ids.sort();
    sent.sort();
    assert_eq!(found_ids, sent, "every exported trace is found");

    let failed = provider.trace(&trace_ids[0]).await.unwrap();
    assert_eq!(failed.spans.len(), 6, "root, PlaceOrder, three queries, Charge");
    assert!(failed.warnings.is_empty(), "{:?}", failed.warnings);
    let root = failed.root().unwrap();
    assert_eq!((root.service(), root.operation.as_str(), root.kind), ("frontend", "POST /checkout", SpanKind::Server));
    let line = if zipkin { AttrValue::Str("42".into()) } else { AttrValue::Int(42) };
    assert_eq!(root.attr("code.line.number"), Some(&line));
    assert_eq!(root.attr("http.route").and_then(|v| v.as_str()), Some("/checkout"));
    if !zipkin {
        assert!(root.resource.attributes.iter().any(|a| a.key == "deployment.environment"));
    }
    let by_name = |name: &'static str| failed.spans.iter().filter(move |s| s.operation == name);
    let place = by_name("PlaceOrder").next().unwrap();
    assert_eq!((place.service(), place.parent_id), ("checkout", Some(root.span_id)));
    let queries: Vec<_> = by_name("SELECT items").filter(|s| s.parent_id == Some(place.span_id)).collect();
    assert_eq!(queries.len(), 3);
    assert!(queries.iter().all(|q| q.kind == SpanKind::Client && q.attr("db.system.name").is_some()));
    let charge = by_name("Charge").next().unwrap();
    assert_eq!((charge.service(), charge.parent_id), ("payment", Some(place.span_id)));
    assert!(charge.is_error());
    assert_eq!(charge.status.message, "card declined");
    let events: Vec<&str> = charge.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["card.authorized", "exception"]);
    assert_eq!(charge.events[0].attributes[0].value.as_str(), Some("visa"));
    assert!(charge.events[0].time_ns >= charge.start_ns && charge.events[0].time_ns <= charge.end_ns());
    let healthy = provider.trace(&trace_ids[1]).await.unwrap();
    assert_eq!((healthy.spans.len(), healthy.error_count()), (6, 0));
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
async fn spans_exported_by_the_opentelemetry_sdk_over_http_are_all_found_intact() {
    let dir = TempDir::new("sdk-http");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let trace_ids = send_checkout(&server.otlp_url, 3, "http");
    assert_checkouts_intact(&OtlpProvider::open(&db.display().to_string()).unwrap(), &trace_ids, false).await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
async fn spans_exported_by_the_opentelemetry_sdk_over_grpc_are_all_found_intact() {
    let dir = TempDir::new("sdk-grpc");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let trace_ids = send_checkout(&server.grpc_url, 3, "grpc");
    assert_checkouts_intact(&OtlpProvider::open(&db.display().to_string()).unwrap(), &trace_ids, false).await;
}

#[tokio::test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
async fn spans_exported_by_the_opentelemetry_zipkin_exporter_are_all_found_intact() {
    let dir = TempDir::new("sdk-zipkin");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let trace_ids = send_checkout(&server.zipkin_url, 3, "zipkin");
    assert_checkouts_intact(&OtlpProvider::open(&db.display().to_string()).unwrap(), &trace_ids, true).await;
}

fn batch(n: u32) -> ExportTraceServiceRequest {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let spans = (0..50u32)
        .map(|i| Span {
            trace_id: [vec![0xab; 12], n.to_be_bytes().to_vec()].concat(),
            span_id: [vec![0; 4], (i + 1).to_be_bytes().to_vec()].concat(),
            name: format!("op{i}"),
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1000,
            ..Default::default()
        })
        .collect();
    request_of(Some(Resource::default()), spans)
}

/// Sends batch `n`; whether it was acknowledged.
type Sender = Arc<dyn Fn(u32) -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

/// Sends batches one after another until one is not acknowledged, kills the server with
/// SIGKILL once a good number were, and checks that every acknowledged batch is stored.
async fn every_acknowledged_batch_survives_a_kill_9(name: &str, sender: impl Fn(&common::Serve) -> Sender) {
    let dir = TempDir::new(name);
    let db = dir.0.join("traces.db");
    let mut server = serve(&db);
    let send = sender(&server);
    let progress = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&progress);
    let sending = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for n in 0..2_000u32 {
            if !send(n).await {
                break;
            }
            acknowledged.push(n);
            counter.store(acknowledged.len(), Ordering::Relaxed);
        }
        acknowledged
    });
    // Kill the receiver mid-stream, once a good number of batches were acknowledged.
    while progress.load(Ordering::Relaxed) < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    let acknowledged = sending.await.unwrap();
    assert!(acknowledged.len() < 2_000, "the kill should land mid-stream");

    let restarted = serve(&db);
    let provider = OtlpProvider::open(&db.display().to_string()).unwrap();
    for n in &acknowledged {
        let id = format!("{}{:08x}", "ab".repeat(12), n);
        let trace = provider.trace(&id).await.unwrap_or_else(|e| panic!("acknowledged batch {n} lost: {e}"));
        assert_eq!(trace.spans.len(), 50, "batch {n} is whole");
    }
    drop(restarted);
}

#[tokio::test]
async fn every_span_acknowledged_over_http_survives_a_kill_9() {
    every_acknowledged_batch_survives_a_kill_9("kill-http", |server| {
        let (client, url) = (reqwest::Client::new(), server.otlp_url.clone());
        Arc::new(move |n| {
            let sent =
                client.post(&url).header("content-type", "application/x-protobuf").body(batch(n).encode_to_vec());
            Box::pin(async move { sent.send().await.is_ok_and(|r| r.status().is_success()) })
        })
    })
    .await;
}

#[tokio::test]
async fn every_span_acknowledged_over_grpc_survives_a_kill_9() {
    every_acknowledged_batch_survives_a_kill_9("kill-grpc", |server| {
        let address = server.grpc_url.clone();
        Arc::new(move |n| {
            let address = address.clone();
            // Every other batch gzip-compressed, as the Collector sends them.
            Box::pin(async move { grpc::export(&address, batch(n), n % 2 == 0).await.is_ok() })
        })
    })
    .await;
}
