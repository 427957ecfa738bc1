//! Issue 3's and issue 12's numbers: OTLP/HTTP and OTLP/gRPC ingest into the store
//! through a real `vitals serve` process (protobuf, 512-span batches, 4 senders, each
//! batch acknowledged after its commit), search over the 1,000,000 stored spans, the
//! service map of all of them, the disk they take, and the server's peak memory; next to
//! the raw protobuf decode speed of the same payload, the ratio to beat.
//!
//!     cargo bench --bench ingest
//!
//! `VITALS_BIN=path/to/vitals` runs another build (an older one, to compare).

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use vitals::analysis::service_map::Thresholds;
use vitals::providers::TraceProvider;
use vitals::providers::otlp::OtlpProvider;
use vitals::query::SearchQuery;

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

#[path = "../tests/common/grpc.rs"]
#[allow(dead_code)]
mod grpc;

const SPANS: usize = 1_000_000;
const BATCH: usize = 512;
const SENDERS: usize = 4;
const SERVICES: [&str; 8] = ["frontend", "checkout", "cart", "payment", "inventory", "shipping", "postgres", "redis"];

/// Batch `n`: 512 spans of 32 traces (16 spans each) of one service, with typical attributes.
fn batch(n: usize, now: u64) -> Vec<u8> {
    let service = SERVICES[n % SERVICES.len()];
    let spans = (0..BATCH)
        .map(|i| {
            let trace = (n * BATCH + i) / 16;
            Span {
                trace_id: (trace as u128 + 1).to_be_bytes().to_vec(),
                span_id: ((n * BATCH + i) as u64 + 1).to_be_bytes().to_vec(),
                parent_span_id: if i % 16 == 0 {
                    Vec::new()
                } else {
                    ((n * BATCH + i - i % 16) as u64 + 1).to_be_bytes().to_vec()
                },
                name: format!("{service} op{}", i % 12),
                kind: 2,
                start_time_unix_nano: now - 600_000_000_000 + (n * BATCH + i) as u64 * 500,
                end_time_unix_nano: now - 600_000_000_000
                    + (n * BATCH + i) as u64 * 500
                    + 1_000_000
                    + (i as u64 % 97) * 10_000,
                attributes: vec![
                    text("http.request.method", "GET"),
                    text("http.route", "/api/items/{id}"),
                    text("code.function.name", "handle_request"),
                    text("net.peer.name", "10.0.0.7"),
                    text("enduser.id", &format!("user-{}", trace % 1000)),
                ],
                status: (i % 50 == 0).then(|| Status { code: 2, message: "boom".into() }),
                ..Default::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                // As SDKs send it: the version (which the store lists, see store::versions)
                // and the process's instance.
                attributes: vec![
                    text("service.name", service),
                    text("service.version", "1.4.2"),
                    text("service.instance.id", &format!("{service}-1")),
                    text("host.name", "bench"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn peak_memory_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let batches: Arc<Vec<Vec<u8>>> = Arc::new((0..SPANS / BATCH).map(|n| batch(n, now)).collect());
    let spans = batches.len() * BATCH;
    let megabytes = batches.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;

    let started = Instant::now();
    for body in batches.iter() {
        std::hint::black_box(ExportTraceServiceRequest::decode(body.as_slice()).unwrap());
    }
    let decode = spans as f64 / started.elapsed().as_secs_f64();

    let binary = serve::binary();
    let server = Server::start("ingest-http", "--otlp-http", &[]);
    let db = server.db();
    let client = reqwest::Client::new();
    let url = server.url.clone();
    let (seconds, retries) = ingest_all(&batches, SENDERS, move |_, body| {
        let sent = client.post(&url).header("content-type", "application/x-protobuf").body(body).send();
        Box::pin(async move { sent.await.is_ok_and(|r| r.status().is_success()) })
    })
    .await;
    let ingest = spans as f64 / seconds;
    let cpu = cpu_seconds(server.child.id());
    let on_disk = || {
        ["", "-wal"]
            .iter()
            .map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    let disk_busy = on_disk();
    // Once batches pause, the store empties its write-ahead log.
    std::thread::sleep(Duration::from_secs(3));
    let disk_idle = on_disk();

    let provider = OtlpProvider::open(&db.display().to_string()).unwrap();
    let mut timings = Vec::new();
    for round in 0..21 {
        let mut query = SearchQuery::new(SERVICES[round % SERVICES.len()]);
        query.min_duration_ns = (round % 2 == 0).then_some(1_500_000);
        let started = Instant::now();
        let found = provider.search(&query).await.unwrap();
        timings.push(started.elapsed());
        assert_eq!(found.len(), 20, "each search fills its page");
    }
    timings.sort();
    let mut tag_timings = Vec::new();
    for round in 0..9 {
        let mut query = SearchQuery::new(SERVICES[round % SERVICES.len()]);
        query.tags = vec![("enduser.id".into(), format!("user-{}", round * 111))];
        let started = Instant::now();
        let found = provider.search(&query).await.unwrap();
        tag_timings.push(started.elapsed());
        assert!(!found.is_empty(), "a user's traces are found");
    }
    tag_timings.sort();
    let started = Instant::now();
    let map = provider.service_map(0, u64::MAX, &Thresholds::default()).await.unwrap().unwrap();
    let map_time = started.elapsed();
    assert_eq!(map.basis.traces, spans / 16, "every stored trace");
    let memory = peak_memory_mb(server.child.id());
    drop(server);

    // The same batches over gRPC into a fresh store, each sender on a connection of its
    // own as an SDK's exporter is.
    let server = Server::start("ingest-grpc", "--otlp-grpc", &[]);
    let mut channels = Vec::new();
    for _ in 0..SENDERS {
        channels.push(grpc::channel(&server.url).await.unwrap());
    }
    let (grpc_seconds, grpc_retries) = ingest_all(&batches, SENDERS, move |sender, body| {
        let mut client: tonic::client::Grpc<tonic::transport::Channel> =
            tonic::client::Grpc::new(channels[sender].clone());
        Box::pin(async move {
            let path = tonic::codegen::http::uri::PathAndQuery::from_static(grpc::EXPORT);
            client.ready().await.is_ok() && client.unary(tonic::Request::new(body), path, grpc::RawCodec).await.is_ok()
        })
    })
    .await;
    let grpc_ingest = spans as f64 / grpc_seconds;
    let grpc_cpu = cpu_seconds(server.child.id());
    let grpc_stored = OtlpProvider::open(&server.db().display().to_string()).unwrap().store().stats().unwrap().spans;
    assert_eq!(grpc_stored as usize, spans, "every span acknowledged over gRPC is stored");
    let grpc_memory = peak_memory_mb(server.child.id());
    drop(server);

    println!(
        "payload: {spans} spans in {} batches of {BATCH}, {megabytes:.0} MB protobuf, into {binary}",
        batches.len()
    );
    println!("raw protobuf decode:        {decode:>12.0} spans/s");
    println!(
        "HTTP ingest, committed:     {ingest:>12.0} spans/s  ({:.2}x decode; {SENDERS} senders, {retries} retried after 503)",
        ingest / decode
    );
    println!(
        "gRPC ingest, committed:     {grpc_ingest:>12.0} spans/s  ({:.2}x decode, {:.2}x HTTP; {SENDERS} senders, {grpc_retries} retried after UNAVAILABLE or RESOURCE_EXHAUSTED)",
        grpc_ingest / decode,
        grpc_ingest / ingest
    );
    println!(
        "search over {spans} spans:  median {:?}, max {:?} (21 searches, 20 traces each)",
        timings[10], timings[20]
    );
    println!(
        "search by a rare attribute:  median {:?}, max {:?} (9 searches, 1 trace in 1,000 matches)",
        tag_timings[4], tag_timings[8]
    );
    println!("service map of every trace:  {map_time:?} ({} traces)", map.basis.traces);
    println!(
        "on disk (database + log):   {:.0} bytes/span right after the last batch, {:.0} bytes/span once idle",
        disk_busy as f64 / spans as f64,
        disk_idle as f64 / spans as f64
    );
    println!("vitals serve peak memory:   {memory:.0} MB over HTTP, {grpc_memory:.0} MB over gRPC");
    println!(
        "vitals serve CPU to ingest: {:.2} µs/span over HTTP, {:.2} µs/span over gRPC (user + system)",
        cpu * 1e6 / spans as f64,
        grpc_cpu * 1e6 / spans as f64
    );
}
