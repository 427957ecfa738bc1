//! A local HTTP server that answers like a Jaeger query service, from recorded responses,
//! or like Tempo or Zipkin (the [`tempo`] and [`zipkin`] scenarios).
//!
//! We cannot run Jaeger here, so tests talk real HTTP to this instead: the bodies are
//! Jaeger's own API shapes (the repository's recorded fixtures), and every request is
//! recorded so a test can check the exact path, parameters and headers that were sent.
//! Used by the Rust provider tests (in process) and, through `examples/jaeger_replay.rs`,
//! by the Neovim tests.

#[path = "tempo_replay.rs"]
pub mod tempo;
#[path = "zipkin_replay.rs"]
pub mod zipkin;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

/// The trace of the `wide` scenario.
pub const WIDE_TRACE: &str = "00000000000000000000000000a1de00";
/// How many spans it has.
pub const WIDE_SPANS: usize = 5_000;

#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub body: Bytes,
    pub content_type: &'static str,
}

impl Canned {
    pub fn ok(body: impl Into<Bytes>) -> Self {
        Canned { status: 200, body: body.into(), content_type: "application/json" }
    }

    /// A plain-text answer, as Go's `http.Error` and Zipkin's errors are.
    pub fn text(status: u16, body: impl Into<Bytes>) -> Self {
        Canned { status, body: body.into(), content_type: "text/plain; charset=utf-8" }
    }
}

/// An answer worked out from the request's path and query parameters, for a backend whose
/// answers depend on them (ids in several forms, a filter, a malformed parameter); `None`
/// leaves the request to the canned routes.
pub type Dynamic = Arc<dyn Fn(&str, &[(String, String)]) -> Option<Canned> + Send + Sync>;

/// A body made as it is sent, so that a huge or endless answer costs the server nothing.
#[derive(Clone, Copy)]
pub enum Streamed {
    /// A real trace document, padded with whitespace to `bytes` in all and announced so
    /// in `Content-Length`: what a Jaeger holding a giant trace sends.
    Huge { bytes: u64 },
    /// A trace document whose spans never end (chunked, no length): a broken backend.
    Endless,
    /// Every request's headers sent back in an error, as a debugging proxy or a backend
    /// that explains a refusal does: 401 with Jaeger's JSON error on `/api/services`,
    /// 502 with a plain-text dump elsewhere.
    EchoHeaders,
}

/// What the server answers: canned responses by exact path, and an optional answer that
/// replaces all of them (for outages and garbage).
#[derive(Clone, Default)]
pub struct Scenario {
    pub routes: HashMap<String, Canned>,
    pub everything: Option<Canned>,
    /// Replaces every answer too, made as it is sent.
    pub streamed: Option<Streamed>,
    pub delay: Duration,
    /// Whether missing traces get v1's JSON "trace not found" (a Jaeger that serves v1)
    /// or a bare 404 on v1 paths (one that does not).
    pub serves_v1: bool,
    /// Asked before the canned routes.
    pub dynamic: Option<Dynamic>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Recorded {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
    /// The `X-Scope-OrgID` header: the tenant a multi-tenant Tempo answers for.
    pub tenant: Option<String>,
}

#[derive(Clone)]
struct Shared {
    scenario: Arc<Scenario>,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

pub struct Replay {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Replay {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The query parameters of the last request to `path`.
    pub fn last_query(&self, path: &str) -> Vec<(String, String)> {
        let found = self.recorded().into_iter().rfind(|r| r.path == path);
        found.unwrap_or_else(|| panic!("no request to {path}: {:?}", self.recorded())).query
    }

    /// The paths asked for, in order.
    pub fn paths(&self) -> Vec<String> {
        self.recorded().into_iter().map(|r| r.path).collect()
    }
}

/// The value of `key` among query parameters.
pub fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Serves `scenario` on a free loopback port until the runtime ends.
pub async fn start(scenario: Scenario) -> Replay {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let shared = Shared { scenario: Arc::new(scenario), requests: Arc::clone(&requests) };
    let app = Router::new().fallback(answer).with_state(shared);
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Replay { addr, requests }
}

async fn answer(
    State(shared): State<Shared>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    request: Request,
) -> Response {
    let path = request.uri().path().to_string();
    if path == "/__requests" {
        let body = serde_json::to_vec(&*shared.requests.lock().unwrap()).unwrap();
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()).into_owned().collect();
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (authorization, tenant) = (header_text(header::AUTHORIZATION.as_str()), header_text("x-scope-orgid"));
    shared.requests.lock().unwrap().push(Recorded { path: path.clone(), query: query.clone(), authorization, tenant });
    tokio::time::sleep(shared.scenario.delay).await;
    match shared.scenario.streamed {
        Some(Streamed::Huge { bytes }) => return huge(bytes),
        Some(Streamed::Endless) => return endless(),
        Some(Streamed::EchoHeaders) => return echo_headers(&path, &headers),
        None => {}
    }
    let scenario = &shared.scenario;
    let canned = scenario
        .everything
        .clone()
        .or_else(|| scenario.dynamic.as_ref().and_then(|dynamic| dynamic(&path, &query)))
        .or_else(|| scenario.routes.get(&path).cloned());
    match canned {
        Some(c) => {
            (StatusCode::from_u16(c.status).unwrap(), [(header::CONTENT_TYPE, c.content_type)], c.body).into_response()
        }
        None => not_found(&path, scenario.serves_v1),
    }
}

/// Span `n` (from 0) of the generated trace, in Jaeger v1 JSON: a child of span
/// `(n - 1) / 10`, so the trace is a tree in which every span has ten children.
fn span_json(trace_id: &str, n: usize) -> String {
    let references = match n {
        0 => String::new(),
        _ => format!(r#"{{"refType":"CHILD_OF","traceID":"{trace_id}","spanID":"{:016x}"}}"#, (n - 1) / 10 + 1),
    };
    format!(
        r#"{{"traceID":"{trace_id}","spanID":"{:016x}","operationName":"step {n}","references":[{references}],"startTime":{},"duration":{},"tags":[],"logs":[],"processID":"p1","warnings":null}}"#,
        n + 1,
        1_763_632_000_000_000u64 + n as u64,
        // Each span ends before the one started before it: children lie within parents.
        10_000_000u64.saturating_sub(2 * n as u64),
    )
}

const DOCUMENT_HEAD: &str = r#"{"data":[{"traceID":"00000000000000000000000000a1de00","spans":["#;
const DOCUMENT_TAIL: &str =
    r#"],"processes":{"p1":{"serviceName":"wide","tags":[]}}}],"total":0,"limit":0,"offset":0,"errors":null}"#;

/// A Jaeger v1 answer holding one trace of `spans` spans.
fn wide_document(spans: usize) -> String {
    let spans: Vec<String> = (0..spans).map(|n| span_json(WIDE_TRACE, n)).collect();
    format!("{DOCUMENT_HEAD}{}{DOCUMENT_TAIL}", spans.join(","))
}

/// A valid trace document of exactly `bytes` bytes: a thousand spans, then whitespace.
fn huge(bytes: u64) -> Response {
    let document = wide_document(1_000);
    let head = Bytes::from(document[..document.len() - DOCUMENT_TAIL.len()].to_string());
    let tail = Bytes::from_static(DOCUMENT_TAIL.as_bytes());
    let padding = bytes.saturating_sub(document.len() as u64);
    const CHUNK: u64 = 1 << 20;
    let blanks = futures::stream::iter(
        (0..padding.div_ceil(CHUNK)).map(move |i| Bytes::from(vec![b' '; (padding - i * CHUNK).min(CHUNK) as usize])),
    );
    let length = (head.len() + tail.len()) as u64 + padding;
    let body = futures::stream::iter([head]).chain(blanks).chain(futures::stream::iter([tail]));
    let body = body.map(Ok::<_, std::convert::Infallible>);
    (
        [(header::CONTENT_TYPE, "application/json".to_string()), (header::CONTENT_LENGTH, length.to_string())],
        Body::from_stream(body),
    )
        .into_response()
}

/// A trace document whose spans keep coming, a thousand at a time, until the client goes.
fn endless() -> Response {
    let head = futures::stream::once(async { Bytes::from_static(DOCUMENT_HEAD.as_bytes()) });
    let spans = futures::stream::iter(0usize..).map(|batch| {
        let spans: Vec<String> = (batch * 1_000..(batch + 1) * 1_000).map(|n| span_json(WIDE_TRACE, n)).collect();
        Bytes::from(format!("{},", spans.join(",")))
    });
    let body = head.chain(spans).map(Ok::<_, std::convert::Infallible>);
    ([(header::CONTENT_TYPE, "application/json")], Body::from_stream(body)).into_response()
}

/// The request's headers sent back in an error.
fn echo_headers(path: &str, headers: &HeaderMap) -> Response {
    let lines: Vec<String> =
        headers.iter().map(|(name, value)| format!("{name}: {}", value.to_str().unwrap_or("?"))).collect();
    if path == "/api/services" {
        let message = format!("unauthorized; the request had {}", lines.join("; "));
        let body = serde_json::json!({"data": null, "errors": [{"code": 401, "msg": message}]}).to_string();
        return (StatusCode::UNAUTHORIZED, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let body = format!("upstream refused GET {path}\n{}\n", lines.join("\n"));
    (StatusCode::BAD_GATEWAY, [(header::CONTENT_TYPE, "text/plain")], body).into_response()
}

/// What Jaeger says for a path it does not serve, and for a trace it does not have.
fn not_found(path: &str, serves_v1: bool) -> Response {
    let body = if path.starts_with("/api/v3/traces/") {
        r#"{"error":{"httpCode":404,"message":"trace not found"}}"#
    } else if serves_v1 && path.starts_with("/api/traces/") {
        r#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}"#
    } else {
        "404 page not found\n"
    };
    (StatusCode::NOT_FOUND, body).into_response()
}

pub fn read(root: &Path, relative: &str) -> Vec<u8> {
    std::fs::read(root.join(relative)).unwrap_or_else(|e| panic!("cannot read {relative}: {e}"))
}

/// A Jaeger 1.x query service: the v1 API and api/v3 side by side.
pub fn jaeger_v1(root: &Path) -> Scenario {
    let mut routes = v1_routes(root);
    routes.extend(v3_routes(root));
    Scenario { routes, serves_v1: true, ..Scenario::default() }
}

/// A Jaeger after v2.20: only api/v3 answers, v1 paths are 404.
pub fn jaeger_v3_only(root: &Path) -> Scenario {
    Scenario { routes: v3_routes(root), ..Scenario::default() }
}

/// Every request fails with a 500, as a Jaeger whose storage is down answers.
pub fn outage() -> Scenario {
    Scenario {
        everything: Some(Canned {
            status: 500,
            body: Bytes::from_static(b"{\"data\":null,\"errors\":[{\"code\":500,\"msg\":\"storage unavailable\"}]}"),
            content_type: "application/json",
        }),
        ..Scenario::default()
    }
}

/// Something that is not Jaeger answers 200 with an HTML page.
pub fn garbage() -> Scenario {
    Scenario {
        everything: Some(Canned::ok(&b"<html><body>Welcome to nginx!</body></html>"[..])),
        ..Scenario::default()
    }
}

/// A busy Jaeger: its dependency list counted ten times the shop's calls that its
/// searches return (a search returns a sample; the dependency list counts every call).
pub fn busy(root: &Path) -> Scenario {
    let mut scenario = jaeger_v1(root);
    let traces = vitals::formats::decode(&read(root, "samples/shop-traces.json")).expect("the shop's traces");
    let calls: Vec<serde_json::Value> = vitals::analysis::dependencies::service_calls(&traces)
        .into_iter()
        .map(|c| serde_json::json!({"parent": c.parent, "child": c.child, "callCount": c.call_count * 10}))
        .collect();
    let body = serde_json::json!({ "data": calls }).to_string();
    scenario.routes.insert("/api/dependencies".to_string(), Canned::ok(body));
    scenario
}

/// A Jaeger that answers correctly but only after `delay`.
pub fn slow(root: &Path, delay: Duration) -> Scenario {
    Scenario { delay, ..jaeger_v1(root) }
}

/// A Jaeger 1.x whose trace `WIDE_TRACE` has `WIDE_SPANS` spans, ten children a span.
pub fn wide(root: &Path) -> Scenario {
    let mut scenario = jaeger_v1(root);
    scenario.routes.insert(format!("/api/traces/{WIDE_TRACE}"), Canned::ok(wide_document(WIDE_SPANS)));
    scenario
}

/// Every answer is a trace document of `bytes` bytes, announced in its length.
pub fn huge_answers(bytes: u64) -> Scenario {
    Scenario { streamed: Some(Streamed::Huge { bytes }), ..Scenario::default() }
}

/// Every answer is a trace document that never ends.
pub fn endless_answers() -> Scenario {
    Scenario { streamed: Some(Streamed::Endless), ..Scenario::default() }
}

/// Every request is refused with its headers (credentials included) sent back.
pub fn echo_headers_back() -> Scenario {
    Scenario { streamed: Some(Streamed::EchoHeaders), ..Scenario::default() }
}

pub fn by_name(name: &str, root: &Path) -> Option<Scenario> {
    Some(match name {
        "v1" => jaeger_v1(root),
        "v3" => jaeger_v3_only(root),
        "outage" => outage(),
        "garbage" => garbage(),
        "slow" => slow(root, Duration::from_secs(5)),
        "busy" => busy(root),
        "wide" => wide(root),
        "huge" => huge_answers(1 << 30),
        "endless" => endless_answers(),
        "echo" => echo_headers_back(),
        "tempo" => tempo::tempo(root),
        "tempo-v1" => tempo::tempo_before_v2_traces(root),
        "zipkin" => zipkin::zipkin(root),
        _ => return None,
    })
}

fn v1_routes(root: &Path) -> HashMap<String, Canned> {
    let search = read(root, "samples/shop-traces.json");
    let mut routes = HashMap::from([
        ("/api/services".to_string(), Canned::ok(read(root, "tests/fixtures/jaeger/v1-services.json"))),
        (
            "/api/services/frontend/operations".to_string(),
            Canned::ok(read(root, "tests/fixtures/jaeger/v1-operations-frontend.json")),
        ),
        ("/api/traces".to_string(), Canned::ok(search.clone())),
        // A real Jaeger UI dependency answer (other services than the shop's).
        (
            "/api/dependencies".to_string(),
            Canned::ok(read(root, "../shared/fixtures/jaeger-ui/dependencies/small.json")),
        ),
    ]);
    // `/api/traces/{id}` answers `{"data":[trace]}` with the one trace.
    let document: serde_json::Value = serde_json::from_slice(&search).unwrap();
    for trace in document["data"].as_array().unwrap() {
        let id = trace["traceID"].as_str().unwrap();
        let body = serde_json::json!({"data": [trace], "total": 0, "limit": 0, "offset": 0, "errors": null});
        routes.insert(format!("/api/traces/{id}"), Canned::ok(body.to_string()));
    }
    routes
}

fn v3_routes(root: &Path) -> HashMap<String, Canned> {
    let search = read(root, "tests/fixtures/jaeger/v3-search.json");
    let mut routes = HashMap::from([
        ("/api/v3/services".to_string(), Canned::ok(read(root, "tests/fixtures/jaeger/v3-services.json"))),
        ("/api/v3/operations".to_string(), Canned::ok(read(root, "tests/fixtures/jaeger/v3-operations-frontend.json"))),
        ("/api/v3/traces".to_string(), Canned::ok(search.clone())),
    ]);
    // `/api/v3/traces/{id}` answers the same envelope holding only that trace's spans.
    let document: serde_json::Value = serde_json::from_slice(&search).unwrap();
    let mut by_trace: HashMap<String, Vec<serde_json::Value>> = HashMap::new();
    for resource_spans in document["result"]["resourceSpans"].as_array().unwrap() {
        let id = resource_spans["scopeSpans"][0]["spans"][0]["traceId"].as_str().unwrap().to_string();
        by_trace.entry(id).or_default().push(resource_spans.clone());
    }
    for (id, resource_spans) in by_trace {
        let body = serde_json::json!({"result": {"resourceSpans": resource_spans}});
        routes.insert(format!("/api/v3/traces/{id}"), Canned::ok(body.to_string()));
    }
    routes
}
