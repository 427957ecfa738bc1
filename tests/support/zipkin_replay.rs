//! A Zipkin server's API v2, answered with real Zipkin traces (`../shared/fixtures/zipkin`,
//! read at run time, never copied) in the shapes of Zipkin's OpenAPI definition
//! (`zipkin2-api.yaml`), with the checks Zipkin makes of the search parameters (a
//! positive `minDuration`, `maxDuration` only with it, `endTs` and `lookback` above 0).
//!
//! A search keeps the traces with a span of `serviceName` (newest first, at most `limit`);
//! the other filters are not evaluated, so tests check the parameters sent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::{Value, json};

use super::{Canned, Scenario, read};

/// Kafka producer and consumer, three failed spans (servicea, serviceb).
pub const KAFKA_TRACE: &str = "0562809467078eab";
/// A 128-bit trace (frontend, backend).
pub const MESSAGING_TRACE: &str = "5aab74dbb904746bb33447baae403ed6";
/// mobile-gateway, content-service and auth-service over HTTP.
pub const ASCEND_TRACE: &str = "ef86c83c0a05a6d6";
/// The tag keys this Zipkin is configured to complete (its `AUTOCOMPLETE_KEYS`).
pub const AUTOCOMPLETE_KEYS: [&str; 2] = ["http.method", "http.path"];

const FIXTURES: [&str; 8] = [
    "ascend",
    "messaging",
    "messaging2",
    "messaging-kafka",
    "skew",
    "yelp",
    "simple-db-p6",
    "smartthings-oauth-authorization",
];

/// Zipkin with the fixtures' traces.
pub fn zipkin(root: &Path) -> Scenario {
    let traces: Arc<Vec<Vec<Value>>> = Arc::new(FIXTURES.iter().map(|name| fixture(root, name)).collect());
    let dynamic = move |path: &str, query: &[(String, String)]| answer(&traces, path, query);
    Scenario { dynamic: Some(Arc::new(dynamic)), ..Scenario::default() }
}

/// A fixture's spans (a trace is an array of spans).
fn fixture(root: &Path, name: &str) -> Vec<Value> {
    let document: Value =
        serde_json::from_slice(&read(root, &format!("../shared/fixtures/zipkin/{name}.json"))).unwrap();
    match document {
        Value::Array(items) if items.first().is_some_and(Value::is_array) => {
            items.into_iter().flat_map(|t| t.as_array().cloned().unwrap_or_default()).collect()
        }
        Value::Array(spans) => spans,
        _ => panic!("{name} is not a Zipkin span array"),
    }
}

fn service(span: &Value) -> Option<&str> {
    span["localEndpoint"]["serviceName"].as_str()
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `Span.normalizeTraceId`: lower case, and a 128-bit id whose high half is zero written
/// as its low 64 bits.
fn normalized(id: &str) -> String {
    let id = id.to_ascii_lowercase();
    match id.strip_prefix("0000000000000000") {
        Some(low) if id.len() == 32 => low.to_string(),
        _ => id,
    }
}

fn json_list<T: serde::Serialize>(items: T) -> Canned {
    Canned::ok(serde_json::to_string(&items).unwrap())
}

fn answer(traces: &[Vec<Value>], path: &str, query: &[(String, String)]) -> Option<Canned> {
    let spans = || traces.iter().flatten();
    Some(match path {
        "/api/v2/services" => json_list(spans().filter_map(service).collect::<BTreeSet<_>>()),
        "/api/v2/spans" => match param(query, "serviceName") {
            None | Some("") => Canned::text(400, "serviceName is required"),
            Some(wanted) => json_list(
                spans()
                    .filter(|s| service(s) == Some(wanted))
                    .filter_map(|s| s["name"].as_str())
                    .collect::<BTreeSet<_>>(),
            ),
        },
        "/api/v2/traces" => search(traces, query),
        "/api/v2/dependencies" => match param(query, "endTs").map(str::parse::<u64>) {
            Some(Ok(_)) => dependencies(traces),
            _ => Canned::text(400, "endTs is required and must be a positive number of milliseconds"),
        },
        "/api/v2/autocompleteKeys" => json_list(AUTOCOMPLETE_KEYS),
        "/api/v2/autocompleteValues" => match param(query, "key") {
            None => Canned::text(400, "key is required"),
            Some(key) if !AUTOCOMPLETE_KEYS.contains(&key) => json_list(Vec::<String>::new()),
            Some(key) => json_list(spans().filter_map(|s| s["tags"][key].as_str()).collect::<BTreeSet<_>>()),
        },
        _ => {
            let id = path.strip_prefix("/api/v2/trace/")?;
            let wanted = normalized(id);
            match traces.iter().find(|t| t.first().and_then(|s| s["traceId"].as_str()) == Some(wanted.as_str())) {
                Some(trace) => json_list(trace),
                None => Canned::text(404, format!("{id} not found")),
            }
        }
    })
}

/// `/api/v2/traces`, after Zipkin's checks of its parameters.
fn search(traces: &[Vec<Value>], query: &[(String, String)]) -> Canned {
    let number = |key: &str| param(query, key).map(|v| v.parse::<i64>().map_err(|_| format!("{key} is not a number")));
    let mut checked = BTreeMap::new();
    for key in ["endTs", "lookback", "minDuration", "maxDuration", "limit"] {
        match number(key) {
            Some(Ok(n)) if n <= 0 => return Canned::text(400, format!("{key} should be positive")),
            Some(Ok(n)) => {
                checked.insert(key, n);
            }
            Some(Err(message)) => return Canned::text(400, message),
            None => {}
        }
    }
    match (checked.get("minDuration"), checked.get("maxDuration")) {
        (None, Some(_)) => return Canned::text(400, "maxDuration is only valid with minDuration"),
        (Some(min), Some(max)) if max < min => return Canned::text(400, "maxDuration should be >= minDuration"),
        _ => {}
    }
    let limit = checked.get("limit").copied().unwrap_or(10) as usize;
    let wanted = param(query, "serviceName").filter(|s| !s.is_empty());
    let mut found: Vec<&Vec<Value>> =
        traces.iter().filter(|t| wanted.is_none_or(|w| t.iter().any(|s| service(s) == Some(w)))).collect();
    let start = |t: &Vec<Value>| t.iter().filter_map(|s| s["timestamp"].as_u64()).min().unwrap_or(0);
    found.sort_by_key(|t| std::cmp::Reverse(start(t)));
    found.truncate(limit);
    json_list(found)
}

/// Links between the services of the fixtures: a span whose parent is another service's is
/// a call, failed when the span has an `error` tag.
fn dependencies(traces: &[Vec<Value>]) -> Canned {
    let mut links: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for trace in traces {
        for span in trace {
            let parent =
                span["parentId"].as_str().and_then(|p| trace.iter().find(|s| s["id"] == p && s["shared"] != true));
            let (Some(child), Some(parent)) = (service(span), parent.and_then(service)) else { continue };
            if child != parent {
                let link = links.entry((parent.to_string(), child.to_string())).or_default();
                link.0 += 1;
                link.1 += u64::from(span["tags"].get("error").is_some());
            }
        }
    }
    let listed: Vec<Value> = links
        .into_iter()
        .map(|((parent, child), (calls, errors))| {
            let mut link = json!({ "parent": parent, "child": child, "callCount": calls });
            if errors > 0 {
                link["errorCount"] = json!(errors);
            }
            link
        })
        .collect();
    json_list(listed)
}
