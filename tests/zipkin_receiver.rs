//! The Zipkin receiver over real HTTP into a real SQLite file: real Zipkin traces posted
//! as `POST /api/v2/spans` carries them are stored as the Zipkin decoder reads the same
//! file (shared span ids, clock skew, annotations, endpoints), a shared span whose client
//! and server halves arrive apart becomes one call, and bad bodies get Zipkin's answers and
//! store nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use vitals::collector::server::ConnectionLimits;
use vitals::collector::{self, Counters, Intake, Limits, Protocol, Reason};
use vitals::formats::zipkin;
use vitals::model::{SpanKind, Trace};
use vitals::store::{Retention, Store};

mod common;
use common::otlp::gzip;
use common::{TempDir, read_shared};

struct Receiver {
    url: String,
    store: Arc<Store>,
    counters: Arc<Counters>,
    _dir: TempDir,
}

async fn start(name: &str, limits: Limits) -> Receiver {
    let dir = TempDir::new(&format!("zipkin-{name}"));
    let store = Arc::new(Store::open(&dir.0.join("traces.db"), Retention::default()).unwrap());
    let listener = collector::bind("127.0.0.1:0".parse::<SocketAddr>().unwrap()).await.unwrap();
    let url = Protocol::Zipkin.url(listener.local_addr().unwrap());
    let (intake, counters) = (Intake::new(Arc::clone(&store), limits), Arc::new(Counters::default()));
    let serving = Arc::clone(&counters);
    tokio::spawn(async move { intake.serve(Protocol::Zipkin, listener, serving, ConnectionLimits::default()).await });
    Receiver { url, store, counters, _dir: dir }
}

async fn post(url: &str, content_type: Option<&str>, gzip: bool, body: Vec<u8>) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::new().post(url).body(body);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    (status, retry_after, response.text().await.unwrap())
}

/// What a view shows of each span, a line each, in a stable order.
fn shape(trace: &Trace) -> Vec<String> {
    let mut spans: Vec<String> = trace
        .spans
        .iter()
        .map(|s| {
            format!(
                "{} under {:?}: {}: {} at {} for {} {:?}, error {}, {} events",
                s.span_id,
                s.parent_id.map(|p| p.to_string()),
                s.service(),
                s.operation,
                s.start_ns,
                s.duration_ns,
                s.kind,
                s.is_error(),
                s.events.len()
            )
        })
        .collect();
    spans.sort();
    spans
}

#[tokio::test]
async fn real_zipkin_traces_are_stored_as_the_zipkin_decoder_reads_them() {
    let receiver = start("fixtures", Limits::default()).await;
    let mut spans = 0;
    for name in ["envoy", "skew", "messaging", "messaging-kafka", "yelp", "smartthings-mobile-web-install"] {
        let body = read_shared(&format!("zipkin/{name}.json"));
        let (status, _, answer) = post(
            &receiver.url,
            Some("application/json"),
            name == "yelp",
            match name {
                "yelp" => gzip(&body),
                _ => body.clone(),
            },
        )
        .await;
        assert_eq!((status, answer.as_str()), (202, ""), "{name}");
        for expected in zipkin::decode(&body).unwrap() {
            let stored = receiver.store.trace(expected.id).unwrap().unwrap_or_else(|| panic!("{name} not stored"));
            assert_eq!(shape(&stored), shape(&expected), "{name}: trace {} as stored", expected.id);
            spans += expected.spans.len();
        }
    }
    let counts = receiver.counters.counts();
    assert_eq!((counts.batches, counts.spans as usize, counts.refused_batches()), (6, spans, 0));
}

#[tokio::test]
async fn a_shared_span_whose_client_and_server_report_apart_becomes_one_call() {
    let receiver = start("shared", Limits::default()).await;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as u64;
    let client = format!(
        r#"[{{"traceId":"5af7183fb1d4cf5f","id":"6b221d5bc9e6496c","kind":"CLIENT","name":"get /api","timestamp":{now},
            "duration":300000,"localEndpoint":{{"serviceName":"frontend","ipv4":"10.0.0.1"}},
            "remoteEndpoint":{{"serviceName":"backend","ipv4":"10.0.0.2","port":8080}},"tags":{{"http.path":"/api"}}}}]"#
    );
    // The server's clock runs 2 s ahead: it reports its half outside its client.
    let server = format!(
        r#"[{{"traceId":"5af7183fb1d4cf5f","id":"6b221d5bc9e6496c","kind":"SERVER","name":"get /api","shared":true,
            "timestamp":{},"duration":200000,"localEndpoint":{{"serviceName":"backend","ipv4":"10.0.0.2"}},
            "annotations":[{{"timestamp":{},"value":"cache miss"}}]}},
           {{"traceId":"5af7183fb1d4cf5f","id":"7c3a5e2b1f4d6a8e","parentId":"6b221d5bc9e6496c","kind":"CLIENT",
            "name":"select","timestamp":{},"duration":100000,"localEndpoint":{{"serviceName":"backend"}},
            "remoteEndpoint":{{"serviceName":"postgres"}}}}]"#,
        now + 2_000_000,
        now + 2_010_000,
        now + 2_050_000
    );
    for body in [server, client] {
        assert_eq!(post(&receiver.url, None, false, body.into_bytes()).await.0, 202);
    }
    let trace = receiver.store.trace(vitals::model::TraceId::from_text("5af7183fb1d4cf5f").0).unwrap().unwrap();
    assert_eq!(trace.spans.len(), 3, "the server's half is kept beside its client's: {:?}", shape(&trace));
    let root = trace.root().unwrap();
    assert_eq!((root.service(), root.kind), ("frontend", SpanKind::Client));
    assert_eq!(root.attr("peer.service").and_then(|v| v.as_str()), Some("backend"));
    let server = trace.spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
    assert_eq!((server.service(), server.parent_id), ("backend", Some(root.span_id)));
    assert_eq!(server.events[0].name, "cache miss");
    let query = trace.spans.iter().find(|s| s.operation == "select").unwrap();
    assert_eq!(query.parent_id, Some(server.span_id), "the server's own spans follow it");
}

#[tokio::test]
async fn bad_bodies_get_zipkins_answers_and_store_nothing() {
    let receiver = start("bad", Limits { max_body: 64 << 10, ..Limits::default() }).await;
    let good = read_shared("zipkin/skew.json");
    // Content type, gzip, body, the status and words of the answer.
    type Case = (Option<&'static str>, bool, Vec<u8>, u16, &'static str);
    let cases: Vec<Case> = vec![
        (Some("application/json"), false, b"[{\"traceId\":".to_vec(), 400, "Zipkin v2 JSON"),
        (Some("application/json"), false, br#"[{"traceId":"a","name":"no id"}]"#.to_vec(), 400, "Zipkin v2 JSON"),
        (Some("application/json"), true, b"not gzip".to_vec(), 400, "gzip"),
        (Some("application/x-protobuf"), false, good.clone(), 415, "send Zipkin v2 JSON"),
        (Some("application/json"), false, vec![b' '; (64 << 10) + 1], 413, "64 KiB"),
        (Some("application/json"), true, gzip(&vec![b' '; 8 << 20]), 413, "64 KiB"),
    ];
    for (content_type, gzipped, body, expected, words) in cases {
        let (status, _, answer) = post(&receiver.url, content_type, gzipped, body).await;
        assert_eq!(status, expected, "{content_type:?}: {answer}");
        assert!(answer.contains(words), "{words:?} not in {answer:?}");
    }
    let counts = receiver.counters.counts();
    assert_eq!(counts.refused, [(Reason::TooLarge, 2), (Reason::Unsupported, 1), (Reason::Undecodable, 3)]);
    assert_eq!(receiver.store.stats().unwrap().spans, 0);
    assert_eq!(post(&receiver.url, Some("application/json"), false, good).await.0, 202, "it keeps serving");

    let busy = start("busy", Limits { max_queued_batches: 0, ..Limits::default() }).await;
    let (status, retry_after, _) = post(&busy.url, None, false, read_shared("zipkin/skew.json")).await;
    assert_eq!((status, retry_after.as_deref()), (503, Some("1")));
    assert_eq!(busy.store.stats().unwrap().spans, 0);
}
