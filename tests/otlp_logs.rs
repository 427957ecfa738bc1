//! OTLP logs over real HTTP and HTTP/2 into a real SQLite file: records are stored with
//! their trace and span ids and read back by trace and by search, bad bodies are refused
//! with a reason and store nothing, retries are stored once, logs leave by the store's
//! retention, and a store of layout 6 gains them without losing its traces.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsServiceRequest, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use tonic::Code;
use vitals::collector::server::ConnectionLimits;
use vitals::collector::{self, Counters, Intake, Limits, Protocol};
use vitals::model::TraceId;
use vitals::query::LogQuery;
use vitals::store::{Retention, Store};

mod common;
use common::TempDir;
use common::grpc::{assert_refused, call_raw, channel};
use common::otlp::{gzip, now_ns, request_of, service, text};

const EXPORT_LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

struct Receiver {
    address: String,
    store: Arc<Store>,
    counters: Arc<Counters>,
    _dir: TempDir,
}

async fn start(name: &str, protocol: Protocol) -> Receiver {
    let dir = TempDir::new(&format!("logs-{name}"));
    let store = Arc::new(Store::open(&dir.0.join("traces.db"), Retention::default()).unwrap());
    let listener = collector::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (intake, counters) = (Intake::new(Arc::clone(&store), Limits::default()), Arc::new(Counters::default()));
    let serving = Arc::clone(&counters);
    tokio::spawn(async move { intake.serve(protocol, listener, serving, ConnectionLimits::default()).await });
    Receiver { address, store, counters, _dir: dir }
}

/// A record of `shop` at `offset_ms` after `base`, in trace `trace` (none when 0).
fn record(base: u64, offset_ms: u64, trace: u8, severity: i32, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: base + offset_ms * 1_000_000,
        severity_number: severity,
        body: Some(AnyValue { value: Some(any_value::Value::StringValue(body.into())) }),
        attributes: vec![text("code.function", "checkout")],
        trace_id: if trace == 0 { Vec::new() } else { [vec![0; 15], vec![trace]].concat() },
        span_id: if trace == 0 { Vec::new() } else { vec![0, 0, 0, 0, 0, 0, 0, 1] },
        ..Default::default()
    }
}

fn logs_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(service("shop")),
            scope_logs: vec![ScopeLogs { log_records: records, ..Default::default() }],
            ..Default::default()
        }],
    }
}

async fn post(url: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> (u16, Vec<u8>) {
    let mut request = reqwest::Client::new().post(url).header("content-type", content_type).body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
}

fn bodies(logs: &[vitals::model::LogRecord]) -> Vec<&str> {
    logs.iter().map(|l| l.body.as_str()).collect()
}

fn everything(now: u64) -> LogQuery {
    LogQuery::parse(&["*".to_string(), "since=2h".to_string()], now).unwrap()
}

#[tokio::test]
async fn logs_over_http_in_protobuf_json_and_gzip_are_stored_with_their_trace_and_a_retry_once() {
    let receiver = start("http", Protocol::OtlpHttp).await;
    let url = format!("http://{}/v1/logs", receiver.address);
    let base = now_ns() - 60_000_000_000;
    let protobuf = logs_request(vec![record(base, 30, 7, 17, "payment declined"), record(base, 10, 7, 9, "cart read")]);
    let (status, body) = post(&url, "application/x-protobuf", None, protobuf.encode_to_vec()).await;
    assert_eq!(status, 200);
    assert_eq!(ExportLogsServiceResponse::decode(body.as_slice()).unwrap().partial_success, None);
    // The same batch again, as an SDK retries after a lost answer: stored once.
    let (status, _) = post(&url, "application/x-protobuf", Some("gzip"), gzip(&protobuf.encode_to_vec())).await;
    assert_eq!(status, 200);
    let json = format!(
        r#"{{"resourceLogs":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},
        "scopeLogs":[{{"logRecords":[{{"timeUnixNano":"{}","severityNumber":13,"body":{{"stringValue":"stock low"}},
        "traceId":"00000000000000000000000000000007","spanId":"0000000000000001"}},
        {{"timeUnixNano":"{}","severityText":"INFO","body":{{"stringValue":"cache warmed"}}}}]}}]}}]}}"#,
        base + 20_000_000,
        base + 40_000_000
    );
    let (status, body) = post(&url, "application/json", Some("gzip"), gzip(json.as_bytes())).await;
    assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));

    let of_trace = receiver.store.trace_logs(TraceId(7)).unwrap();
    assert_eq!(bodies(&of_trace), ["cart read", "stock low", "payment declined"], "by time, each once");
    assert_eq!(of_trace[2].severity(), "ERROR");
    assert_eq!(of_trace[0].span_id.unwrap().to_string(), "0000000000000001");
    assert_eq!(of_trace[0].service, "shop");
    let all = receiver.store.search_logs(&everything(now_ns())).unwrap();
    assert_eq!(bodies(&all), ["cache warmed", "payment declined", "stock low", "cart read"], "newest first");
    assert_eq!(all[0].trace_id, None, "a log without a trace is kept, found only by a search");
    let now = now_ns();
    let warnings = LogQuery::parse(&["shop".into(), "severity=warn".into(), "since=2h".into()], now).unwrap();
    assert_eq!(bodies(&receiver.store.search_logs(&warnings).unwrap()), ["payment declined", "stock low"]);
    let words = LogQuery::parse(&["*".into(), "DECLINED".into(), "since=2h".into()], now).unwrap();
    assert_eq!(bodies(&receiver.store.search_logs(&words).unwrap()), ["payment declined"]);
    assert_eq!(receiver.store.stats().unwrap().logs, 4);
    assert_eq!(receiver.counters.counts().logs, 6, "every accepted record is counted, retries too");
}

#[tokio::test]
async fn bad_log_bodies_are_refused_with_a_reason_and_lose_nothing_already_stored() {
    let receiver = start("http-bad", Protocol::OtlpHttp).await;
    let url = format!("http://{}/v1/logs", receiver.address);
    let base = now_ns() - 1_000_000_000;
    let good = logs_request(vec![record(base, 1, 3, 9, "kept")]).encode_to_vec();
    assert_eq!(post(&url, "application/x-protobuf", None, good.clone()).await.0, 200);

    let (status, body) = post(&url, "application/x-protobuf", None, vec![0xff; 64]).await;
    let why = String::from_utf8_lossy(&body);
    assert_eq!(status, 400);
    assert!(why.contains("not a valid ExportLogsServiceRequest"), "{why}");
    let (status, body) = post(
        &url,
        "application/json",
        None,
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"nope"}]}]}]}"#.to_vec(),
    )
    .await;
    let why = String::from_utf8_lossy(&body);
    assert_eq!(status, 400);
    assert!(why.contains("traceId") && why.contains("nope"), "{why}");
    let (status, _) = post(&url, "application/json", None, b"{\"resourceSpans\":[]}".to_vec()).await;
    assert_eq!(status, 400, "a traces body sent to /v1/logs is not logs");
    let (status, _) = post(&url, "text/plain", None, good.clone()).await;
    assert_eq!(status, 415);
    let (status, _) = post(&url, "application/x-protobuf", Some("gzip"), b"not gzip".to_vec()).await;
    assert_eq!(status, 400);

    // A record with a malformed id is rejected by partial success; the rest are kept.
    let mut broken = record(base, 2, 3, 9, "broken id");
    broken.trace_id = vec![1, 2, 3];
    let mixed = logs_request(vec![broken, record(base, 3, 3, 9, "also kept")]);
    let (status, body) = post(&url, "application/x-protobuf", None, mixed.encode_to_vec()).await;
    assert_eq!(status, 200);
    let partial = ExportLogsServiceResponse::decode(body.as_slice()).unwrap().partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert!(partial.error_message.contains("3 bytes, not 16"), "{}", partial.error_message);
    assert_eq!(bodies(&receiver.store.trace_logs(TraceId(3)).unwrap()), ["kept", "also kept"]);
    // Traces still arrive on the same port.
    let traces_url = format!("http://{}/v1/traces", receiver.address);
    let spans = request_of(Some(service("shop")), Vec::new()).encode_to_vec();
    assert_eq!(post(&traces_url, "application/x-protobuf", None, spans).await.0, 200);
}

#[tokio::test]
async fn the_grpc_logs_service_stores_records_and_refuses_garbage_as_invalid_argument() {
    let receiver = start("grpc", Protocol::OtlpGrpc).await;
    let base = now_ns() - 1_000_000_000;
    let mut client = LogsServiceClient::new(channel(&receiver.address).await.unwrap())
        .send_compressed(tonic::codec::CompressionEncoding::Gzip);
    let request = logs_request(vec![record(base, 5, 9, 13, "slow query"), record(base, 6, 0, 9, "no trace")]);
    let answer = client.export(request.clone()).await.unwrap().into_inner();
    assert_eq!(answer.partial_success, None);
    client.export(request).await.unwrap();
    assert_eq!(bodies(&receiver.store.trace_logs(TraceId(9)).unwrap()), ["slow query"]);
    assert_eq!(bodies(&receiver.store.search_logs(&everything(now_ns())).unwrap()), ["no trace", "slow query"]);

    let garbage = call_raw(&receiver.address, EXPORT_LOGS, vec![0xff; 64]).await;
    assert_refused(garbage, Code::InvalidArgument, "not a valid ExportLogsServiceRequest", false);
    assert_eq!(receiver.store.stats().unwrap().logs, 2, "nothing lost, nothing stored twice");
}

#[test]
fn logs_leave_by_the_retention_of_traces_by_size_and_by_age() {
    let dir = TempDir::new("logs-retention");
    let retention = Retention { max_age: Duration::from_secs(60), max_bytes: 20_000 };
    let store = Store::open(&dir.0.join("traces.db"), retention).unwrap();
    let now = now_ns();
    for n in 0..100u64 {
        let body = format!("{n:03} {}", "x".repeat(400));
        let batch = logs_request(vec![record(now - 30_000_000_000, n, 0, 9, &body)]).resource_logs;
        store.ingest_logs(batch, now - 30_000_000_000 + n).unwrap();
    }
    let stats = store.stats().unwrap();
    assert!(stats.span_bytes <= 20_000, "the size limit counts logs: {stats:?}");
    assert!(stats.logs > 20 && stats.logs < 60, "{stats:?}");
    let kept = store.search_logs(&everything(now)).unwrap();
    assert!(kept[0].body.starts_with("099"), "the newest stay, the oldest went: {}", &kept[0].body[..3]);
    assert_eq!(kept.len() as u64, stats.logs);
    store.enforce_retention(now + 31_000_000_000).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.logs, stats.span_bytes), (0, 0), "past the age limit, every log went");
}

#[test]
fn a_store_of_layout_6_gains_logs_and_keeps_its_traces() {
    let dir = TempDir::new("logs-migrate");
    let path = dir.0.join("traces.db");
    let now = now_ns();
    {
        let store = Store::open(&path, Retention::default()).unwrap();
        let span = opentelemetry_proto::tonic::trace::v1::Span {
            trace_id: [vec![0; 15], vec![5]].concat(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, 1],
            name: "checkout".into(),
            start_time_unix_nano: now - 1_000_000,
            end_time_unix_nano: now,
            ..Default::default()
        };
        store.ingest(request_of(Some(service("shop")), vec![span]).resource_spans, now).unwrap();
    }
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch("DROP TABLE logs; PRAGMA user_version = 6;").unwrap();
    drop(old);
    let store = Store::open(&path, Retention::default()).unwrap();
    assert_eq!(store.trace(TraceId(5)).unwrap().expect("the trace is kept").spans[0].operation, "checkout");
    store.ingest_logs(logs_request(vec![record(now, 0, 5, 9, "after the upgrade")]).resource_logs, now).unwrap();
    assert_eq!(bodies(&store.trace_logs(TraceId(5)).unwrap()), ["after the upgrade"]);
}

#[test]
fn vitals_logs_prints_the_stored_logs_a_query_asks_for() {
    let dir = TempDir::new("logs-cli");
    let path = dir.0.join("traces.db");
    let now = now_ns();
    {
        let store = Store::open(&path, Retention::default()).unwrap();
        let records =
            vec![record(now - 5_000_000_000, 0, 4, 17, "payment failed"), record(now, 0, 0, 9, "cache warmed")];
        store.ingest_logs(logs_request(records).resource_logs, now).unwrap();
    }
    let run = |words: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["logs", "--provider", "otlp", "--db"])
            .arg(&path)
            .args(["--width", "100"])
            .args(words)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, all, _) = run(&[]);
    assert!(ok);
    let lines: Vec<&str> = all.lines().collect();
    assert!(lines[0].contains("cache warmed") && lines[0].contains("no trace"), "newest first:\n{all}");
    assert!(lines[1].contains("ERROR shop  00000000  payment failed"), "{all}");
    let (_, errors, _) = run(&["shop", "severity=error"]);
    assert!(errors.contains("payment failed") && !errors.contains("cache warmed"), "{errors}");
    let (ok, _, why) = run(&["severity=loud"]);
    assert!(!ok && why.contains("Unknown severity \"loud\""), "{why}");
}
