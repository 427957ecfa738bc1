//! Real senders against `vitals serve`: the OpenTelemetry Python SDK exporting over
//! OTLP/HTTP, and a process killed with SIGKILL while batches are acknowledged.
//!
//! The SDK test needs a Python with `opentelemetry-sdk` and
//! `opentelemetry-exporter-otlp-proto-http` in `VITALS_OTEL_PYTHON`; `tests/run` installs
//! them and runs these tests, a plain `cargo test` lists them as ignored.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use vitals::model::{AttrValue, SpanKind};
use vitals::providers::TraceProvider;
use vitals::providers::otlp::OtlpProvider;
use vitals::query::SearchQuery;

mod common;

use common::{TempDir, serve};

#[tokio::test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
async fn spans_exported_by_the_opentelemetry_sdk_are_all_found_intact() {
    let python = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let dir = TempDir::new("sdk-python");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel/send_checkout.py");
    let output = Command::new(python).arg(script).arg(&server.otlp_url).arg("3").output().expect("run the SDK sender");
    assert!(output.status.success(), "the sender failed: {}", String::from_utf8_lossy(&output.stderr));
    let trace_ids: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(trace_ids.len(), 3);

    let provider = OtlpProvider::open(&db.display().to_string()).unwrap();
    assert_eq!(provider.services().await.unwrap(), ["checkout", "frontend", "payment"]);
    let found = provider.search(&SearchQuery::new("frontend")).await.unwrap();
    let mut found_ids: Vec<String> = found.iter().map(|t| t.id.to_string()).collect();
    let mut sent = trace_ids.clone();
    found_ids.sort();
    sent.sort();
    assert_eq!(found_ids, sent, "every exported trace is found");

    let failed = provider.trace(&trace_ids[0]).await.unwrap();
    assert_eq!(failed.spans.len(), 6, "root, PlaceOrder, three queries, Charge");
    assert!(failed.warnings.is_empty(), "{:?}", failed.warnings);
    let root = failed.root().unwrap();
    assert_eq!((root.service(), root.operation.as_str(), root.kind), ("frontend", "POST /checkout", SpanKind::Server));
    assert_eq!(root.attr("code.line.number"), Some(&AttrValue::Int(42)));
    assert!(root.resource.attributes.iter().any(|a| a.key == "deployment.environment"));
    let by_name = |name: &'static str| failed.spans.iter().filter(move |s| s.operation == name);
    let place = by_name("PlaceOrder").next().unwrap();
    assert_eq!(place.parent_id, Some(root.span_id));
    assert_eq!(by_name("SELECT items").filter(|s| s.parent_id == Some(place.span_id)).count(), 3);
    let charge = by_name("Charge").next().unwrap();
    assert_eq!((charge.service(), charge.parent_id), ("payment", Some(place.span_id)));
    assert!(charge.is_error());
    assert_eq!(charge.status.message, "card declined");
    let events: Vec<&str> = charge.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["card.authorized", "exception"]);
    let healthy = provider.trace(&trace_ids[1]).await.unwrap();
    assert_eq!(healthy.error_count(), 0);
}

fn batch(n: u32) -> Vec<u8> {
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
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource::default()),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::test]
async fn every_acknowledged_span_survives_a_kill_9() {
    let dir = TempDir::new("sdk-kill");
    let db = dir.0.join("traces.db");
    let mut server = serve(&db);
    let client = reqwest::Client::new();
    let url = server.otlp_url.clone();
    let progress = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&progress);
    let sender = tokio::spawn(async move {
        let mut acknowledged = Vec::new();
        for n in 0..2_000u32 {
            let sent = client.post(&url).header("content-type", "application/x-protobuf").body(batch(n)).send().await;
            match sent {
                Ok(response) if response.status().is_success() => acknowledged.push(n),
                _ => break,
            }
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
    let acknowledged = sender.await.unwrap();
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
