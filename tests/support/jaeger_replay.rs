//! A local HTTP server that answers like a Jaeger query service, from recorded responses.
//!
//! We cannot run Jaeger here, so tests talk real HTTP to this instead: the bodies are
//! Jaeger's own API shapes (the repository's recorded fixtures), and every request is
//! recorded so a test can check the exact path, parameters and headers that were sent.
//! Used by the Rust provider tests (in process) and, through `examples/jaeger_replay.rs`,
//! by the Neovim tests.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Clone)]
pub struct Canned {
    pub status: u16,
    pub body: Bytes,
}

impl Canned {
    fn ok(body: impl Into<Bytes>) -> Self {
        Canned { status: 200, body: body.into() }
    }
}

/// What the server answers: canned responses by exact path, and an optional answer that
/// replaces all of them (for outages and garbage).
#[derive(Clone, Default)]
pub struct Scenario {
    pub routes: HashMap<String, Canned>,
    pub everything: Option<Canned>,
    pub delay: Duration,
    /// Whether missing traces get v1's JSON "trace not found" (a Jaeger that serves v1)
    /// or a bare 404 on v1 paths (one that does not).
    pub serves_v1: bool,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Recorded {
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
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
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.requests.lock().unwrap().push(Recorded { path: path.clone(), query, authorization });
    tokio::time::sleep(shared.scenario.delay).await;
    let canned = shared.scenario.everything.clone().or_else(|| shared.scenario.routes.get(&path).cloned());
    match canned {
        Some(c) => (StatusCode::from_u16(c.status).unwrap(), [(header::CONTENT_TYPE, "application/json")], c.body)
            .into_response(),
        None => not_found(&path, shared.scenario.serves_v1),
    }
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

fn read(root: &Path, relative: &str) -> Vec<u8> {
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

pub fn by_name(name: &str, root: &Path) -> Option<Scenario> {
    Some(match name {
        "v1" => jaeger_v1(root),
        "v3" => jaeger_v3_only(root),
        "outage" => outage(),
        "garbage" => garbage(),
        "slow" => slow(root, Duration::from_secs(5)),
        "busy" => busy(root),
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
