//! Issue 11's items 3 and 6, through a real `vitals serve`:
//!
//! - one huge batch (1,000,000 spans, 147 MB of protobuf) while a 3-span batch is sent
//!   every 200 ms: how long the huge batch takes, and the slowest small one (it used to
//!   wait for the whole huge batch);
//! - 512-span batches for 90 s into a store limited to 5 MiB: the most span data and the
//!   largest database + log seen, and the slowest batch (evicting once a minute let the
//!   data pass the limit many times over and stalled a batch for seconds).
//!
//!     cargo bench --bench store_limits
//!
//! `VITALS_BIN=path/to/vitals` runs another build (an older one, to compare).

use std::path::Path;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

#[path = "support/serve.rs"]
mod serve;
use serve::Server;

const HUGE: u64 = 1_000_000;
const SIZE_LIMIT: &str = "5MiB";
const LIMITED_FOR: Duration = Duration::from_secs(90);

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// `spans` spans of traces numbered from `first_trace`, 16 spans each, ending now.
fn batch(first_trace: u64, spans: u64) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let spans = (0..spans)
        .map(|i| Span {
            trace_id: u128::from(first_trace + i / 16).to_be_bytes().to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            name: format!("GET /items/{}", i % 12),
            start_time_unix_nano: now - 1_000_000_000 + i,
            end_time_unix_nano: now + i,
            attributes: vec![
                text("http.route", "/items/{id}"),
                text("enduser.id", &format!("user-{}", i % 1000)),
                text("net.peer.name", "10.0.0.7"),
            ],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "bench")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Sends a batch; how long until it was acknowledged.
async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Duration {
    let started = Instant::now();
    let response = client.post(url).header("content-type", "application/x-protobuf").body(body).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    started.elapsed()
}

async fn huge_batch(client: &reqwest::Client) {
    let server = Server::start("huge", "--otlp-http", &["--max-body", "1GiB", "--max-memory", "4GiB"]);
    let body = batch(1, HUGE);
    let megabytes = body.len() as f64 / 1e6;
    let huge = tokio::spawn({
        let (client, url) = (client.clone(), server.url.clone());
        async move { send(&client, &url, body).await }
    });
    let mut small = Vec::new();
    while !huge.is_finished() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        small.push(send(client, &server.url, batch((1 << 40) | (small.len() as u64 * 16), 3)).await);
    }
    let took = huge.await.unwrap();
    small.sort();
    println!(
        "a {HUGE}-span batch ({megabytes:.0} MB): acknowledged after {took:.1?}; {} 3-span batches sent meanwhile, \
         median {:.1?}, slowest {:.1?}",
        small.len(),
        small.get(small.len() / 2).copied().unwrap_or_default(),
        small.last().copied().unwrap_or_default()
    );
}

/// The span data stored (what the size limit counts), as every layout keeps it.
fn span_data(db: &Path) -> u64 {
    let connection = rusqlite::Connection::open(db).unwrap();
    connection.query_row("SELECT coalesce(sum(bytes), 0) FROM traces", [], |row| row.get::<_, i64>(0)).unwrap() as u64
}

fn on_disk(db: &Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).map_or(0, |m| m.len()))
        .sum()
}

async fn size_limit(client: &reqwest::Client) {
    let server = Server::start("size-limit", "--otlp-http", &["--retention-size", SIZE_LIMIT]);
    let started = Instant::now();
    let (mut batches, mut slowest, mut most_data, mut most_disk) = (0u64, Duration::ZERO, 0, 0);
    while started.elapsed() < LIMITED_FOR {
        slowest = slowest.max(send(client, &server.url, batch(1 + batches * 32, 512)).await);
        batches += 1;
        if batches % 10 == 0 {
            most_data = most_data.max(span_data(&server.db()));
            most_disk = most_disk.max(on_disk(&server.db()));
        }
    }
    let mib = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    println!(
        "{batches} batches of 512 spans in {LIMITED_FOR:?} into a {SIZE_LIMIT} store: span data at most {:.1} MiB, \
         database + log at most {:.1} MiB (at the end {:.1} MiB), slowest batch {slowest:.1?}",
        mib(most_data),
        mib(most_disk),
        mib(on_disk(&server.db()))
    );
}

#[tokio::main]
async fn main() {
    let client = reqwest::Client::new();
    huge_batch(&client).await;
    size_limit(&client).await;
}
