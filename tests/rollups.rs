//! The rollups of trends as `vitals serve` keeps them: spans of several days sent with
//! past timestamps over real OTLP/HTTP, counted per hour and per minute with percentiles
//! within the sketch's stated error; trends that outlive the traces retention evicts; and
//! rollups that agree with the stored spans after a kill -9 in the middle of ingest.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use prost::Message;
use vitals::analysis::sketch::RELATIVE_ERROR;
use vitals::analysis::trends::{CallKind, Rollup, TrendRequest};
use vitals::model::{SpanKind, TraceId};
use vitals::store::{Retention, RollupQuery, Store};

mod common;
use common::otlp::{now_ns, request_of, service};
use common::{TempDir, serve, serve_with};

const MS: u64 = 1_000_000;
const MINUTE: u64 = 60_000 * MS;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

/// A request of `shop`: a server span `GET /items` with a client span `SELECT items` under
/// it, the trace numbered `n`.
fn request(n: u64, start_ns: u64, duration_ms: u64, error: bool) -> Vec<Span> {
    let trace_id = (u128::from(n) + 1).to_be_bytes().to_vec();
    let server = Span {
        trace_id: trace_id.clone(),
        span_id: (2 * n + 1).to_be_bytes().to_vec(),
        name: "GET /items".into(),
        kind: 2,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + duration_ms * MS,
        status: error.then(|| Status { code: 2, message: "boom".into() }),
        ..Default::default()
    };
    let client = Span {
        trace_id,
        span_id: (2 * n + 2).to_be_bytes().to_vec(),
        parent_span_id: server.span_id.clone(),
        name: "SELECT items".into(),
        kind: 3,
        start_time_unix_nano: start_ns + MS,
        end_time_unix_nano: start_ns + 2 * MS,
        ..Default::default()
    };
    vec![server, client]
}

async fn send(url: &str, request: ExportTraceServiceRequest) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(request.encode_to_vec())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
}

fn query(operation: &str, kind: CallKind, start_ns: u64, end_ns: u64) -> RollupQuery {
    RollupQuery { service: "shop".into(), operation: Some(operation.into()), kind: Some(kind), start_ns, end_ns }
}

/// The duration at quantile `q` of `durations`, ranked as the sketch ranks (the lower of
/// the two around q × (n − 1)).
fn exact(durations: &mut [u64], q: f64) -> f64 {
    durations.sort_unstable();
    durations[(q * (durations.len() - 1) as f64) as usize] as f64
}

fn within_error(got: Option<u64>, exact: f64) -> bool {
    got.is_some_and(|got| (got as f64 - exact).abs() <= exact * RELATIVE_ERROR)
}

#[tokio::test]
async fn spans_of_several_days_sent_over_otlp_http_are_counted_per_hour_then_per_minute_with_percentiles_within_the_stated_error()
 {
    let dir = TempDir::new("rollups-days");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let now = now_ns();
    // Four days ago up to yesterday: 40 requests in each of the hours 02:00, 09:00, 17:00
    // of every day (1 to 400 ms, every tenth failed); in the last hour, 12 requests in
    // each of 5 minutes (500 to 555 ms).
    let day0 = now - now % DAY - 4 * DAY;
    let mut old: Vec<(u64, u64, bool)> = Vec::new();
    for day in 0..3 {
        for hour in [2, 9, 17] {
            for i in 0..40 {
                old.push((day0 + day * DAY + hour * HOUR + i * MINUTE, (i * 97) % 400 + 1, i % 10 == 0));
            }
        }
    }
    let last_hour = now - now % MINUTE - 50 * MINUTE;
    let recent: Vec<(u64, u64, bool)> =
        (0..60).map(|i| (last_hour + (i / 12) * MINUTE + (i % 12) * 1_000_000_000, 500 + i, false)).collect();
    let all: Vec<(u64, u64, bool)> = old.iter().chain(&recent).copied().collect();
    for (batch, chunk) in all.chunks(100).enumerate() {
        let spans = chunk
            .iter()
            .enumerate()
            .flat_map(|(i, &(start, ms, error))| request((batch * 100 + i) as u64, start, ms, error))
            .collect();
        send(&server.otlp_url, request_of(Some(service("shop")), spans)).await;
    }

    let store = Store::open(&db, Retention::default()).unwrap();
    let mut rows: Vec<Rollup> = Vec::new();
    let whole = query("GET /items", CallKind::Entry, day0 - DAY, now + MINUTE);
    store.each_rollup(&whole, |_, _, rollup| rows.push(rollup)).unwrap();
    rows.sort_by_key(|r| r.start_ns);
    let hours: Vec<(u64, u64, u64)> =
        rows.iter().filter(|r| r.width_ns == HOUR).map(|r| (r.start_ns, r.requests, r.errors)).collect();
    let expected: Vec<(u64, u64, u64)> =
        (0..3).flat_map(|day| [2, 9, 17].map(|hour| (day0 + day * DAY + hour * HOUR, 40, 4))).collect();
    assert_eq!(hours, expected, "the hours that ended more than a day ago, per hour");
    let minutes: Vec<(u64, u64)> =
        rows.iter().filter(|r| r.width_ns == MINUTE).map(|r| (r.start_ns, r.requests)).collect();
    assert_eq!(minutes, (0..5).map(|m| (last_hour + m * MINUTE, 12)).collect::<Vec<_>>(), "the last day, per minute");

    // Percentiles of one hour, of the last minutes, and of everything merged.
    let mut first_hour: Vec<u64> = old[..40].iter().map(|r| r.1 * MS).collect();
    let mut recent_ms: Vec<u64> = recent.iter().map(|r| r.1 * MS).collect();
    let mut everything: Vec<u64> = all.iter().map(|r| r.1 * MS).collect();
    let total = store.rollup_total(&whole).unwrap();
    assert_eq!((total.requests, total.errors), (420, 36));
    for q in [0.5, 0.95, 0.99] {
        assert!(within_error(rows[0].latency.quantile(q), exact(&mut first_hour, q)), "hour p{q}");
        assert!(within_error(total.latency.quantile(q), exact(&mut everything, q)), "all p{q}");
        let last = store.rollup_total(&query("GET /items", CallKind::Entry, last_hour, now + MINUTE)).unwrap();
        assert!(within_error(last.latency.quantile(q), exact(&mut recent_ms, q)), "recent p{q}");
    }
    assert_eq!(total.slowest.unwrap().duration_ns, 559 * MS, "the slowest request, to open");
    let calls = store.rollup_total(&query("SELECT items", CallKind::Client, day0 - DAY, now + MINUTE)).unwrap();
    assert_eq!(calls.requests, 420, "calls out are counted apart");

    // The trend over the last week: the requests in their buckets, the totals agreeing.
    let request = TrendRequest {
        service: "shop".into(),
        operation: Some("GET /items".into()),
        start_ns: now - 7 * DAY,
        end_ns: now,
        columns: 84,
    };
    let trend = store.trend(&request).unwrap().unwrap();
    assert_eq!(trend.bucket_ns, 2 * HOUR);
    assert_eq!(trend.points.iter().map(|p| p.requests).sum::<u64>(), 420);
    // Nine old hours in buckets of their own; the last minutes in one, or two when they
    // straddle a bucket's edge.
    let busy = trend.points.iter().filter(|p| p.requests > 0).count();
    assert!(busy == 10 || busy == 11, "{busy} buckets with requests");
    assert_eq!(trend.total.p95_ns, total.latency.quantile(0.95));
}

#[tokio::test]
async fn the_trends_stay_whole_when_retention_evicts_the_traces_they_count() {
    let dir = TempDir::new("rollups-retention");
    let db = dir.0.join("traces.db");
    let server = serve_with(&db, &["--retention-age", "1s"]);
    let now = now_ns();
    let first: Vec<Span> = (0..20).flat_map(|n| request(n, now - 3 * HOUR + n * MINUTE, 100 + n, false)).collect();
    send(&server.otlp_url, request_of(Some(service("shop")), first)).await;
    // The second batch arrives after the first is past the 1 s retention: storing it
    // evicts the first one's traces.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let second: Vec<Span> = (20..30).flat_map(|n| request(n, now - MINUTE, 10, true)).collect();
    send(&server.otlp_url, request_of(Some(service("shop")), second)).await;

    let store = Store::open(&db, Retention::default()).unwrap();
    assert!(store.trace(TraceId(1)).unwrap().is_none(), "the first traces were evicted");
    assert!(store.trace(TraceId(21)).unwrap().is_some(), "the second are stored");
    assert_eq!(store.stats().unwrap().spans, 20);
    let request = TrendRequest {
        service: "shop".into(),
        operation: Some("GET /items".into()),
        start_ns: now - DAY,
        end_ns: now,
        columns: 96,
    };
    let trend = store.trend(&request).unwrap().unwrap();
    assert_eq!((trend.total.requests, trend.total.errors), (30, 10), "every request still counted");
    let old: Vec<_> = trend.points.iter().filter(|p| p.requests > 0 && p.start_ns < now - HOUR).collect();
    assert_eq!(old.iter().map(|p| p.requests).sum::<u64>(), 20);
    assert!(old.iter().all(|p| !p.slowest_stored), "their slowest traces are gone, and the trend says so");
    let newest = trend.points.iter().rev().find(|p| p.requests > 0).unwrap();
    assert_eq!((newest.requests, newest.errors), (10, 10));
    assert!(newest.slowest_stored);
    // The slowest request of the whole range (the first batch's last), its trace gone.
    assert_eq!((trend.total.slowest_ns, trend.total.slowest_trace_id), (Some(119 * MS), Some(TraceId(20))));
    assert!(!trend.total.slowest_stored);
}

/// Requests per operation, counted from the stored spans as a user reads them: server
/// and consumer spans and roots (entry), client and producer spans (calls out).
fn requests_in_spans(store: &Store) -> HashMap<(String, CallKind), u64> {
    let mut counted = HashMap::new();
    store
        .for_each_trace(0, u64::MAX, |trace| {
            for span in &trace.spans {
                let kind = match span.kind {
                    SpanKind::Server | SpanKind::Consumer => CallKind::Entry,
                    _ if span.parent_id.is_none() => CallKind::Entry,
                    SpanKind::Client | SpanKind::Producer => CallKind::Client,
                    _ => continue,
                };
                *counted.entry((span.operation.to_string(), kind)).or_default() += 1;
            }
        })
        .unwrap();
    counted
}

fn requests_in_rollups(store: &Store) -> HashMap<(String, CallKind), u64> {
    let mut counted = HashMap::new();
    let everything =
        RollupQuery { service: "shop".into(), operation: None, kind: None, start_ns: 0, end_ns: i64::MAX as u64 };
    store
        .each_rollup(&everything, |operation, kind, rollup| {
            *counted.entry((operation.to_string(), kind)).or_default() += rollup.requests;
        })
        .unwrap();
    counted
}

fn store_at(path: &Path) -> Store {
    Store::open(path, Retention::default()).unwrap()
}

#[tokio::test]
async fn a_kill_9_in_the_middle_of_ingest_leaves_the_rollups_and_the_spans_in_agreement() {
    let dir = TempDir::new("rollups-kill");
    let db = dir.0.join("traces.db");
    let mut server = serve(&db);
    let url = server.otlp_url.clone();
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&acknowledged);
    let sending = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let now = now_ns();
        // Batches of 200 requests (400 spans) spread over two days, until one fails.
        for batch in 0..2_000u64 {
            let spans = (0..200)
                .flat_map(|i| {
                    let n = batch * 200 + i;
                    request(n, now - (n * 7919 % (2 * DAY / MS)) * MS, n % 300 + 1, n % 13 == 0)
                })
                .collect();
            let body = request_of(Some(service("shop")), spans).encode_to_vec();
            let sent = client.post(&url).header("content-type", "application/x-protobuf").body(body).send().await;
            if !sent.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    while acknowledged.load(Ordering::Relaxed) < 15 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    sending.await.unwrap();
    let acknowledged = acknowledged.load(Ordering::Relaxed) as u64;
    assert!(acknowledged < 2_000, "the kill should land mid-stream");

    let store = store_at(&db);
    let in_spans = requests_in_spans(&store);
    let entry = in_spans.get(&("GET /items".to_string(), CallKind::Entry)).copied().unwrap_or(0);
    assert!(entry >= acknowledged * 200, "every acknowledged request is stored: {entry}");
    assert_eq!(requests_in_rollups(&store), in_spans, "rollups count exactly the stored spans");
}
