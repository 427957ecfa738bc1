//! Issue 11's huge trace: one trace of 1,000,000 spans received by `vitals serve`, then
//! read back through its Jaeger query API (`GET /api/traces/{id}`): the time to the
//! first byte and to the last, the size of the answer, and the server's peak memory
//! while it answers (its peak is reset after the ingest).
//!
//!     cargo bench --bench query_trace
//!
//! `VITALS_BIN=path/to/vitals` runs another build (an older one, to compare).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const SPANS: u64 = 1_000_000;
const BATCH: u64 = 512;
const TRACE: u128 = 0x4242;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// Spans `first..first + BATCH` of the trace: a tree eight wide, with typical attributes.
fn batch(first: u64, now: u64) -> Vec<u8> {
    let spans = (first..(first + BATCH).min(SPANS))
        .map(|i| Span {
            trace_id: TRACE.to_be_bytes().to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { (i / 8 + 1).to_be_bytes().to_vec() },
            name: format!("op{}", i % 40),
            kind: 1,
            start_time_unix_nano: now - 600_000_000_000 + i * 100,
            end_time_unix_nano: now - 600_000_000_000 + i * 100 + 50_000,
            attributes: vec![text("http.route", "/api/items/{id}"), text("db.system", "postgresql")],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "checkout")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let binary = std::env::var("VITALS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vitals").to_string());
    let dir = std::env::temp_dir().join(format!("vitals-query-trace-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new(&binary)
        .args(["serve", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off", "--zipkin", "off"])
        .args(["--query", "127.0.0.1:0", "--db"])
        .arg(dir.join("traces.db"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    // The addresses it prints, in order, skipping the store's line.
    let mut url = || {
        lines
            .by_ref()
            .map(Result::unwrap)
            .find_map(|line| line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string))
            .unwrap()
    };
    let (otlp_url, query_url) = (url(), url());
    std::thread::spawn(move || for _ in lines {});

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let senders: Vec<_> = (0..4u64)
        .map(|sender| {
            let (client, url) = (client.clone(), otlp_url.clone());
            tokio::spawn(async move {
                for first in (sender * BATCH..SPANS).step_by(4 * BATCH as usize) {
                    loop {
                        let sent = client
                            .post(&url)
                            .header("content-type", "application/x-protobuf")
                            .body(batch(first, now))
                            .send()
                            .await;
                        if sent.is_ok_and(|r| r.status().is_success()) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect();
    for sender in senders {
        sender.await.unwrap();
    }
    let ingest = started.elapsed();
    // Reset the peak, so that it is the answer's.
    let _ = std::fs::write(format!("/proc/{pid}/clear_refs"), "5");
    let before_kb = memory_kb(pid, "VmRSS:");

    let sampling = Arc::new(AtomicBool::new(true));
    let sampled_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (sampling, sampled_peak) = (Arc::clone(&sampling), Arc::clone(&sampled_peak));
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                sampled_peak.fetch_max(memory_kb(pid, "VmRSS:"), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let started = Instant::now();
    let response = client
        .get(format!("{query_url}/api/traces/{TRACE:032x}"))
        .timeout(Duration::from_secs(600))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let mut first_byte = None;
    let mut bytes = 0usize;
    let mut response = response;
    let mut tail = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        first_byte.get_or_insert_with(|| started.elapsed());
        bytes += chunk.len();
        tail = chunk[chunk.len().saturating_sub(300)..].to_vec();
    }
    let total = started.elapsed();
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.join();
    let peak_kb = memory_kb(pid, "VmHWM:");
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);

    println!("one trace of {SPANS} spans, ingested in {ingest:.1?}; read back from {binary}");
    println!(
        "GET /api/traces/{{id}}: {status}, {} MB in {total:.1?} (first byte after {:.1?})",
        bytes / 1_000_000,
        first_byte.unwrap_or_default()
    );
    println!(
        "  ends with: …{}",
        String::from_utf8_lossy(&tail).chars().rev().take(120).collect::<String>().chars().rev().collect::<String>()
    );
    println!(
        "vitals serve memory while answering: peak {} MB (before {} MB, sampled peak {} MB)",
        peak_kb / 1024,
        before_kb / 1024,
        sampled_peak.load(Ordering::Relaxed) / 1024
    );
}
