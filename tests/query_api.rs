//! `vitals serve` answers Jaeger's query API v1 over its store: traces received over
//! OTLP/HTTP come back through the Jaeger provider (and any Jaeger-compatible tool) the
//! same as they went in.

use std::collections::BTreeSet;
use std::sync::Arc;

use prost::Message;
use serde_json::Value;
use vitals::analysis::dependencies::service_calls;
use vitals::config::{ProviderConfig, ProviderKind};
use vitals::formats::{self, otlp_encode};
use vitals::model::{Span, Trace};
use vitals::providers::TraceProvider;
use vitals::providers::jaeger::JaegerProvider;
use vitals::query::SearchQuery;

mod common;
use common::otlp::now_ns;
use common::{Serve, TempDir, serve};

/// The shop sample, moved so that its newest span ended a second ago (in whole µs, the
/// unit of Jaeger's JSON), as it will read back.
fn recent_sample() -> Vec<Trace> {
    let mut traces = formats::decode(include_bytes!("../samples/shop-traces.json")).unwrap();
    let newest_end = traces.iter().flat_map(|t| &t.spans).map(Span::end_ns).max().unwrap();
    let shift = (now_ns() - 1_000_000_000 - newest_end) / 1000 * 1000;
    for span in traces.iter_mut().flat_map(|t| t.spans.iter_mut()) {
        span.start_ns += shift;
    }
    traces
}

/// Starts `vitals serve`, sends it `traces` over OTLP/HTTP and returns it with a Jaeger
/// provider pointed at its query API.
async fn serve_with(traces: &[Trace], dir: &TempDir) -> (Serve, JaegerProvider) {
    let server = serve(&dir.0.join("traces.db"));
    let body = otlp_encode::export_request(traces, 0).encode_to_vec();
    let response = reqwest::Client::new()
        .post(&server.otlp_url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let config =
        ProviderConfig { kind: ProviderKind::Jaeger, endpoint: server.query_url.clone(), ..ProviderConfig::default() };
    let provider = JaegerProvider::new(&config).unwrap();
    (server, provider)
}

/// What a reader of the trace sees of a span.
fn seen(span: &Span) -> (String, Option<String>, String, String, u64, u64, bool, BTreeSet<String>, usize) {
    let attributes = span.attributes.iter().map(|a| format!("{}={:?}", a.key, a.value)).collect();
    (
        span.span_id.to_string(),
        span.parent_id.map(|p| p.to_string()),
        span.service().to_string(),
        span.operation.to_string(),
        span.start_ns,
        span.duration_ns,
        span.is_error(),
        attributes,
        span.events.len(),
    )
}

#[tokio::test]
async fn the_jaeger_provider_reads_back_what_was_received_over_otlp() {
    let sample = recent_sample();
    let dir = TempDir::new("query-roundtrip");
    let (_server, jaeger) = serve_with(&sample, &dir).await;

    let services: BTreeSet<String> = sample.iter().flat_map(|t| &t.spans).map(|s| s.service().to_string()).collect();
    assert_eq!(jaeger.services().await.unwrap(), services.into_iter().collect::<Vec<_>>());
    let checkout_operations: BTreeSet<String> = sample
        .iter()
        .flat_map(|t| &t.spans)
        .filter(|s| s.service() == "checkout")
        .map(|s| s.operation.to_string())
        .collect();
    assert_eq!(jaeger.operations("checkout").await.unwrap(), checkout_operations.into_iter().collect::<Vec<_>>());

    for original in &sample {
        let again = jaeger.trace(&original.id.to_string()).await.unwrap();
        assert!(again.warnings.is_empty(), "{:?}", again.warnings);
        let mut before: Vec<_> = original.spans.iter().map(seen).collect();
        let mut after: Vec<_> = again.spans.iter().map(seen).collect();
        before.sort();
        after.sort();
        assert_eq!(after, before, "trace {} reads back as it was sent", original.id);
    }
}

#[tokio::test]
async fn searches_through_the_query_api_keep_jaegers_semantics() {
    let sample = recent_sample();
    let dir = TempDir::new("query-search");
    let (_server, jaeger) = serve_with(&sample, &dir).await;
    let ids = |traces: &[Arc<Trace>]| traces.iter().map(|t| t.id.to_string()).collect::<BTreeSet<_>>();
    let expected = |keep: &dyn Fn(&Trace) -> bool| {
        sample.iter().filter(|t| keep(t)).map(|t| t.id.to_string()).collect::<BTreeSet<_>>()
    };

    let through_checkout = jaeger.search(&SearchQuery::new("checkout")).await.unwrap();
    assert_eq!(ids(&through_checkout), expected(&|t| t.spans.iter().any(|s| s.service() == "checkout")));
    assert!(ids(&through_checkout).len() < sample.len(), "the sample has a trace that skips checkout");

    let mut slow = SearchQuery::new("frontend");
    slow.min_duration_ns = Some(1_000_000_000);
    let slow_frontend = |t: &Trace| t.spans.iter().any(|s| s.service() == "frontend" && s.duration_ns >= 1_000_000_000);
    assert_eq!(ids(&jaeger.search(&slow).await.unwrap()), expected(&slow_frontend));

    let mut newest_two = SearchQuery::new("frontend");
    newest_two.limit = 2;
    assert_eq!(jaeger.search(&newest_two).await.unwrap().len(), 2);

    let unknown = jaeger.trace("00000000000000000000000000abcdef").await.unwrap_err();
    assert!(unknown.to_string().contains("not found"), "{unknown}");
}

#[tokio::test]
async fn dependencies_and_bad_parameters_answer_as_jaeger_does() {
    let sample = recent_sample();
    let dir = TempDir::new("query-dependencies");
    let (server, _) = serve_with(&sample, &dir).await;
    let get = |path: &str| {
        let url = format!("{}{path}", server.query_url);
        async move {
            let response = reqwest::get(url).await.unwrap();
            let status = response.status().as_u16();
            (status, serde_json::from_slice::<Value>(&response.bytes().await.unwrap()).unwrap())
        }
    };

    let end_ms = now_ns() / 1_000_000;
    let (status, body) = get(&format!("/api/dependencies?endTs={end_ms}&lookback=3600000")).await;
    assert_eq!(status, 200);
    let expected = serde_json::to_value(service_calls(&sample)).unwrap();
    assert_eq!(body["data"], expected);
    assert!(body["data"].as_array().unwrap().iter().any(|e| e["parent"] == "frontend" && e["child"] == "checkout"));
    let (_, long_ago) = get(&format!("/api/dependencies?endTs={}&lookback=60000", end_ms - 7_200_000)).await;
    assert_eq!(long_ago["data"], serde_json::json!([]), "nothing was received two hours ago");

    let (status, body) = get("/api/traces?limit=5").await;
    assert_eq!(status, 400);
    assert!(body["errors"][0]["msg"].as_str().unwrap().contains("service"), "{body}");
    let (status, body) = get("/api/traces?service=frontend&minDuration=soon").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = get("/api/traces/00000000000000000000000000abcdef").await;
    assert_eq!(status, 404);
}

/// Sends `GET path` with these headers over a raw connection (a browser's `Host`), and
/// returns the status and the head of the answer.
fn get_raw(address: &str, path: &str, headers: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\n{headers}Connection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test]
async fn bound_to_loopback_the_query_api_answers_only_loopback_hosts_and_lets_no_other_origin_read_it() {
    let dir = TempDir::new("query-hosts");
    let server = serve(&dir.0.join("traces.db"));
    let address = server.query_url.trim_start_matches("http://").to_string();
    let port = address.rsplit(':').next().unwrap();

    // A page of evil.example whose name now resolves to 127.0.0.1 (DNS rebinding).
    let (status, answer) = get_raw(&address, "/api/services", "Host: evil.example\r\n");
    assert_eq!(status, 403, "{answer}");
    assert!(answer.contains("--query-allowed-hosts evil.example"), "the refusal says how to allow it: {answer}");
    let (status, _) = get_raw(&address, "/api/traces?service=x", &format!("Host: evil.example:{port}\r\n"));
    assert_eq!(status, 403);

    for host in ["localhost", &format!("localhost:{port}"), &format!("127.0.0.1:{port}"), &format!("[::1]:{port}")] {
        let (status, answer) = get_raw(&address, "/api/services", &format!("Host: {host}\r\n"));
        assert_eq!(status, 200, "{host}: {answer}");
    }

    // No CORS: neither a preflight nor a cross-origin read is allowed.
    let origin = "Host: localhost\r\nOrigin: http://evil.example\r\n";
    for answer in [get_raw(&address, "/api/services", origin).1, {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "OPTIONS /api/services HTTP/1.1\r\n{origin}Access-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }] {
        assert!(!answer.to_ascii_lowercase().contains("access-control-"), "{answer}");
    }
}

#[tokio::test]
async fn hosts_named_with_query_allowed_hosts_are_answered() {
    let dir = TempDir::new("query-allowed");
    let server =
        common::serve_with(&dir.0.join("traces.db"), &["--query-allowed-hosts", "traces.example,other.example"]);
    let address = server.query_url.trim_start_matches("http://").to_string();
    assert_eq!(get_raw(&address, "/api/services", "Host: traces.example\r\n").0, 200);
    assert_eq!(get_raw(&address, "/api/services", "Host: other.example:16686\r\n").0, 200);
    assert_eq!(get_raw(&address, "/api/services", "Host: evil.example\r\n").0, 403);
}

#[tokio::test]
async fn a_trace_past_the_span_limit_is_served_cut_in_tree_order_and_says_so() {
    let dir = TempDir::new("query-cut");
    let server = common::serve_with(&dir.0.join("traces.db"), &["--query-max-spans", "5"]);
    let sample = recent_sample();
    let largest = sample.iter().max_by_key(|t| t.spans.len()).unwrap();
    assert!(largest.spans.len() > 5, "the sample has a trace of more than 5 spans");
    let body = otlp_encode::export_request(std::slice::from_ref(largest), 0).encode_to_vec();
    let sent = reqwest::Client::new()
        .post(&server.otlp_url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);

    let response = reqwest::get(format!("{}/api/traces/{}", server.query_url, largest.id)).await.unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let trace = &answer["data"][0];
    let spans = trace["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 5);
    let root = largest.root().unwrap().span_id.to_string();
    assert_eq!(spans[0]["spanID"], root.as_str(), "the cut keeps the root first");
    let served: BTreeSet<&str> = spans.iter().map(|s| s["spanID"].as_str().unwrap()).collect();
    for span in spans {
        for reference in span["references"].as_array().unwrap() {
            assert!(served.contains(reference["spanID"].as_str().unwrap()), "a served span's parent is served");
        }
    }
    let warning = trace["warnings"][0].as_str().unwrap();
    assert!(
        warning.contains(&format!("{} spans", largest.spans.len())) && warning.contains("--query-max-spans"),
        "{warning}"
    );
    assert_eq!(spans[0]["warnings"][0].as_str(), Some(warning), "Jaeger UI shows span warnings");
}

#[tokio::test]
async fn dependencies_count_every_stored_trace_in_the_window() {
    // 1,250 requests: more than any sample of recent traces would hold.
    let sample = recent_sample();
    let copies: Vec<Trace> = (1..=250u128)
        .flat_map(|copy| {
            sample.iter().map(move |trace| {
                let id = vitals::model::TraceId(copy << 64 | trace.id.0 as u64 as u128);
                let spans = trace.spans.iter().map(|span| Span { trace_id: id, ..span.clone() }).collect();
                Trace::from_spans(id, spans)
            })
        })
        .collect();
    let dir = TempDir::new("query-dependencies-all");
    let (server, jaeger) = serve_with(&copies, &dir).await;
    let end_ms = now_ns() / 1_000_000;
    let response =
        reqwest::get(format!("{}/api/dependencies?endTs={end_ms}&lookback=3600000", server.query_url)).await.unwrap();
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let once = service_calls(&sample);
    let counted: Vec<(String, String, u64)> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["parent"].as_str().unwrap().into(),
                e["child"].as_str().unwrap().into(),
                e["callCount"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(String, String, u64)> =
        once.into_iter().map(|c| (c.parent, c.child, c.call_count * 250)).collect();
    assert_eq!(counted, expected, "every call of the 1,250 stored traces");
    assert_eq!(jaeger.dependencies(end_ms * 1000, 3_600_000_000).await.unwrap().len(), expected.len());
}
