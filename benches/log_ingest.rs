//! Issue 15's log number: OTLP/HTTP log ingest into the store through a real `vitals
//! serve` process (protobuf, batches of 512 records as the SDKs' batch processors send
//! them, 4 senders, each batch acknowledged after its commit), then a check that every
//! record is stored and a trace's logs are read back by its id. Goal: ≥ 100,000 records/s.
//! The server's CPU time is reported too: on a busy machine the rate follows the load.
//!
//!     cargo bench --bench log_ingest
//!
//! `VITALS_BIN=path/to/vitals` runs another build (an older one, to compare).

use std::sync::Arc;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use vitals::model::TraceId;
use vitals::store::{Retention, Store};

#[path = "support/serve.rs"]
mod serve;
use serve::Server;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::cpu_seconds;

#[path = "support/otlp.rs"]
mod otlp;
use otlp::text;

#[path = "support/senders.rs"]
mod senders;
use senders::ingest_all;

const RECORDS: usize = 500_000;
const BATCH: usize = 512;
const SENDERS: usize = 4;
const SERVICES: [&str; 4] = ["frontend", "checkout", "cart", "payment"];

/// Batch `n`: 512 records of one service, four in five logged inside a span (8 records a
/// trace), with the attributes Python's logging bridge adds.
fn batch(n: usize, now: u64) -> Vec<u8> {
    let service = SERVICES[n % SERVICES.len()];
    let log_records = (0..BATCH)
        .map(|i| {
            let record = n * BATCH + i;
            let traced = !record.is_multiple_of(5);
            let error = record.is_multiple_of(20);
            LogRecord {
                time_unix_nano: now - 600_000_000_000 + record as u64 * 1000,
                observed_time_unix_nano: now - 600_000_000_000 + record as u64 * 1000 + 50,
                severity_number: if error { 17 } else { 9 },
                severity_text: if error { "ERROR" } else { "INFO" }.into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue(format!("order {record} placed with 3 items"))),
                }),
                attributes: vec![
                    text("code.file.path", "/app/shop/orders.py"),
                    text("code.function.name", "place_order"),
                    text("code.line.number", "42"),
                ],
                trace_id: if traced { (record as u128 / 8 + 1).to_be_bytes().to_vec() } else { Vec::new() },
                span_id: if traced { (record as u64 + 1).to_be_bytes().to_vec() } else { Vec::new() },
                ..Default::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![text("service.name", service), text("service.version", "1.4.2")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs { log_records, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[tokio::main]
async fn main() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let batches: Arc<Vec<Vec<u8>>> = Arc::new((0..RECORDS / BATCH).map(|n| batch(n, now)).collect());
    let records = batches.len() * BATCH;
    let megabytes = batches.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;

    let server = Server::start("log-ingest", "--otlp-http", &[]);
    let url = server.url.replace("/v1/traces", "/v1/logs");
    let client = reqwest::Client::new();
    let (elapsed, retries) = ingest_all(&batches, SENDERS, move |_, body| {
        let sent = client.post(&url).header("content-type", "application/x-protobuf").body(body).send();
        Box::pin(async move { sent.await.is_ok_and(|r| r.status().is_success()) })
    })
    .await;
    let cpu = cpu_seconds(server.child.id());

    // Every acknowledged record is in the file, read by another connection.
    let store = Store::open(&server.db(), Retention::default()).unwrap();
    let stored = store.stats().unwrap().logs;
    let read = Instant::now();
    let of_trace = store.trace_logs(TraceId(1_000)).unwrap();
    let read_ms = read.elapsed().as_secs_f64() * 1e3;
    assert_eq!(stored as usize, records, "every acknowledged record is stored");
    assert_eq!(of_trace.len(), 7, "trace 1000's records (one of its 8 was logged outside a span)");

    println!("log ingest over OTLP/HTTP into the store, acknowledged after commit");
    println!("  {records} records ({megabytes:.1} MB protobuf) in batches of {BATCH}, {SENDERS} senders");
    println!("  {:.0} records/s ({elapsed:.2} s, {retries} retried sends; goal ≥ 100,000)", records as f64 / elapsed);
    // Hardly moved by other processes busy on the machine, unlike the rate above.
    println!("  {:.0} records per CPU second of the server ({cpu:.2} s of CPU)", records as f64 / cpu);
    println!("  {stored} stored; a trace's logs read back in {read_ms:.2} ms");
}
