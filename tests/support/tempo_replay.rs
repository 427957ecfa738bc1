//! Grafana Tempo's HTTP API, answered with real Tempo traces (`../shared/fixtures/tempo`,
//! read at run time, never copied) in the shapes of Tempo's API documentation and of its
//! protobuf messages as `jsonpb` writes them: 64-bit numbers as strings, zeros and empty
//! lists left out, trace documents with base64 ids, search results with hex trace ids
//! whose leading zeros are trimmed.
//!
//! It does not evaluate TraceQL: a search keeps the traces of the service named in
//! `resource.service.name = "…"` (all of them without one) and reports that service's
//! spans as the span set that matched; a query that does not even look like TraceQL
//! (no braces, or unbalanced ones) gets Tempo's 400 and its message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};

use super::{Canned, Scenario, read};

/// The trace with failed requests (two services).
pub const FAILED_TRACE: &str = "e8b6dff9f8d44b28f1b22bc3bd2f6768";
/// The trace with a queue and a database (three services).
pub const QUEUE_TRACE: &str = "4290b5877a9930de79bb428365398ecc";
/// Tempo's own test trace (one service).
pub const VULTURE_TRACE: &str = "3149195ffb0bec05347b48efe8ecc1b0";
/// A copy of the failed-requests trace under an id with leading zeros, which search
/// results write trimmed (`c0ffee0beef`).
pub const ZEROS_TRACE: &str = "000000000000000000000c0ffee0beef";
/// A copy of the vulture trace that Tempo answers as partial (too large), not searchable.
pub const PARTIAL_TRACE: &str = "0000000000000000000000000000a1de";
/// Tempo's answer to a query that is not TraceQL.
pub const BAD_TRACEQL: &str =
    "invalid TraceQL query: parse error at line 1, col 1: syntax error: unexpected IDENTIFIER";
/// Tempo's message for a trace cut at its size limit.
pub const PARTIAL_MESSAGE: &str = "Trace exceeds maximum size of 5000000 bytes, a partial trace is returned";

/// One trace: its id (32 hex digits) and its document as `/api/traces/{id}` holds it.
struct Stored {
    id: String,
    document: Value,
    searchable: bool,
}

/// A span of a stored trace with what Tempo indexes of it.
struct SpanView<'a> {
    service: &'a str,
    resource: &'a [Value],
    span: &'a Value,
}

/// A Tempo 2.5 or later: `/api/v2/traces/{id}` and the v2 tag APIs.
pub fn tempo(root: &Path) -> Scenario {
    scenario(root, true)
}

/// A Tempo before 2.5: no `/api/v2/traces`, and trace documents that say `batches`.
pub fn tempo_before_v2_traces(root: &Path) -> Scenario {
    scenario(root, false)
}

fn scenario(root: &Path, v2_traces: bool) -> Scenario {
    let stored = Arc::new(traces(root));
    let dynamic = move |path: &str, query: &[(String, String)]| answer(&stored, v2_traces, path, query);
    Scenario { dynamic: Some(Arc::new(dynamic)), ..Scenario::default() }
}

fn fixture(root: &Path, name: &str) -> Value {
    serde_json::from_slice(&read(root, &format!("../shared/fixtures/tempo/{name}.json"))).unwrap()
}

fn traces(root: &Path) -> Vec<Stored> {
    let failed = fixture(root, "servicegraph-trace-with-failed-requests");
    let vulture = fixture(root, "vulture-trace");
    vec![
        Stored { id: FAILED_TRACE.into(), document: failed.clone(), searchable: true },
        Stored {
            id: QUEUE_TRACE.into(),
            document: fixture(root, "servicegraph-trace-with-queue-database"),
            searchable: true,
        },
        Stored { id: VULTURE_TRACE.into(), document: vulture.clone(), searchable: true },
        Stored { id: ZEROS_TRACE.into(), document: with_trace_id(failed, ZEROS_TRACE), searchable: true },
        Stored { id: PARTIAL_TRACE.into(), document: with_trace_id(vulture, PARTIAL_TRACE), searchable: false },
    ]
}

/// The document with every span's trace id replaced (base64, as Tempo writes it).
fn with_trace_id(mut document: Value, hex: &str) -> Value {
    let bytes: Vec<u8> = (0..16).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    for resource_spans in document["resourceSpans"].as_array_mut().unwrap() {
        for scope_spans in resource_spans["scopeSpans"].as_array_mut().unwrap() {
            for span in scope_spans["spans"].as_array_mut().unwrap() {
                span["traceId"] = json!(encoded);
            }
        }
    }
    document
}

fn spans(document: &Value) -> Vec<SpanView<'_>> {
    let mut found = Vec::new();
    for resource_spans in document["resourceSpans"].as_array().unwrap() {
        let resource = resource_spans["resource"]["attributes"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let service =
            resource.iter().find(|a| a["key"] == "service.name").and_then(|a| a["value"]["stringValue"].as_str());
        for scope_spans in resource_spans["scopeSpans"].as_array().unwrap() {
            for span in scope_spans["spans"].as_array().unwrap() {
                found.push(SpanView { service: service.unwrap_or(""), resource, span });
            }
        }
    }
    found
}

fn nanos(span: &Value, field: &str) -> u64 {
    span[field].as_str().and_then(|t| t.parse().ok()).unwrap_or(0)
}

fn failed(span: &Value) -> bool {
    span["status"]["code"] == "STATUS_CODE_ERROR" || span["status"]["code"] == 2
}

/// The hex of a base64 span id, as search results write span ids.
fn hex_of(base64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD.decode(base64).unwrap_or_default();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What `resource.service.name = "…"` in a TraceQL query names, unescaped.
fn service_in(query: &str) -> Option<String> {
    let rest = &query[query.find("resource.service.name = \"")? + "resource.service.name = \"".len()..];
    let mut service = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => service.push(chars.next()?),
            '"' => return Some(service),
            c => service.push(c),
        }
    }
    None
}

/// Whether Tempo's parser would get past the first token: braces that open first and balance.
fn looks_like_traceql(query: &str) -> bool {
    let mut depth = 0i32;
    for c in query.chars() {
        depth += match c {
            '{' => 1,
            '}' => -1,
            _ => 0,
        };
        if depth < 0 {
            return false;
        }
    }
    query.trim_start().starts_with('{') && depth == 0
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Tempo's reading of a trace id: up to 32 hex digits, leading zeros optional.
fn normalized(id: &str) -> Option<String> {
    let id = id.to_ascii_lowercase();
    (!id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| format!("{id:0>32}"))
}

fn answer(stored: &[Stored], v2_traces: bool, path: &str, query: &[(String, String)]) -> Option<Canned> {
    if path == "/api/search" {
        return Some(search(stored, query));
    }
    if path == "/api/v2/search/tags" {
        return Some(tag_names(stored, query));
    }
    if let Some(tag) = path.strip_prefix("/api/v2/search/tag/").and_then(|t| t.strip_suffix("/values")) {
        return Some(tag_values(stored, tag, query));
    }
    if let Some(id) = path.strip_prefix("/api/v2/traces/") {
        return v2_traces.then(|| trace(stored, id, Shape::V2));
    }
    if let Some(id) = path.strip_prefix("/api/traces/") {
        return Some(trace(stored, id, if v2_traces { Shape::V1 } else { Shape::Batches }));
    }
    None
}

/// `/api/search`: the traces with the query's service, newest first, each with the span
/// set that matched and the spans and errors of each of its services.
fn search(stored: &[Stored], query: &[(String, String)]) -> Canned {
    let q = param(query, "q").unwrap_or("");
    if !q.is_empty() && !looks_like_traceql(q) {
        return Canned::text(400, BAD_TRACEQL);
    }
    for key in ["start", "end", "limit", "spss"] {
        if let Some(value) = param(query, key)
            && value.parse::<u32>().is_err()
        {
            return Canned::text(400, format!("invalid {key}: strconv.ParseUint: parsing {value:?}: invalid syntax"));
        }
    }
    let limit: usize = param(query, "limit").and_then(|l| l.parse().ok()).unwrap_or(20);
    let per_set: usize = param(query, "spss").and_then(|l| l.parse().ok()).unwrap_or(3);
    let service = service_in(q);
    let mut results = Vec::new();
    for trace in stored.iter().filter(|t| t.searchable) {
        let all = spans(&trace.document);
        let matched: Vec<&SpanView> =
            all.iter().filter(|s| service.as_deref().is_none_or(|w| s.service == w)).collect();
        if matched.is_empty() {
            continue;
        }
        let start = all.iter().map(|s| nanos(s.span, "startTimeUnixNano")).min().unwrap_or(0);
        let end = all.iter().map(|s| nanos(s.span, "endTimeUnixNano")).max().unwrap_or(0);
        let root = all.iter().find(|s| s.span["parentSpanId"].as_str().is_none_or(str::is_empty));
        let mut stats: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        for span in &all {
            let entry = stats.entry(span.service).or_default();
            entry.0 += 1;
            entry.1 += u64::from(failed(span.span));
        }
        let service_stats: serde_json::Map<String, Value> = stats
            .into_iter()
            .map(|(name, (count, errors))| {
                let mut stat = json!({ "spanCount": count });
                if errors > 0 {
                    stat["errorCount"] = json!(errors);
                }
                (name.to_string(), stat)
            })
            .collect();
        let shown: Vec<Value> = matched
            .iter()
            .take(per_set)
            .map(|s| {
                let start = nanos(s.span, "startTimeUnixNano");
                json!({
                    "spanID": hex_of(s.span["spanId"].as_str().unwrap_or("")),
                    "name": s.span["name"],
                    "startTimeUnixNano": start.to_string(),
                    "durationNanos": nanos(s.span, "endTimeUnixNano").saturating_sub(start).to_string(),
                    "attributes": [{"key": "service.name", "value": {"stringValue": s.service}}],
                })
            })
            .collect();
        let span_set = json!({ "spans": shown, "matched": matched.len() });
        let mut result = json!({
            "traceID": trace.id.trim_start_matches('0'),
            "rootServiceName": root.map_or("<root span not yet received>", |r| r.service),
            "startTimeUnixNano": start.to_string(),
            "spanSet": span_set,
            "spanSets": [span_set],
            "serviceStats": service_stats,
        });
        if let Some(root) = root {
            result["rootTraceName"] = root.span["name"].clone();
        }
        let duration_ms = (end - start) / 1_000_000;
        if duration_ms > 0 {
            result["durationMs"] = json!(duration_ms);
        }
        results.push(result);
    }
    results.truncate(limit);
    let body = json!({ "traces": results, "metrics": { "inspectedTraces": stored.len(), "inspectedBytes": "48213", "totalBlocks": 1 } });
    Canned::ok(body.to_string())
}

/// How a Tempo writes a trace document.
#[derive(Clone, Copy, PartialEq)]
enum Shape {
    /// `/api/v2/traces/{id}`: `{"trace": {"resourceSpans": …}, "metrics": …}`, with a
    /// status and a message when partial.
    V2,
    /// `/api/traces/{id}`: `{"resourceSpans": …}`.
    V1,
    /// `/api/traces/{id}` before Tempo 2.5: `{"batches": …}`.
    Batches,
}

/// A trace document; a 404 with no body for a trace Tempo lacks.
fn trace(stored: &[Stored], id: &str, shape: Shape) -> Canned {
    let Some(id) = normalized(id) else {
        return Canned::text(400, format!("failed to parse trace id {id:?}: invalid hex"));
    };
    let Some(found) = stored.iter().find(|t| t.id == id) else {
        return Canned::text(404, "");
    };
    let body = match shape {
        Shape::V2 if found.id == PARTIAL_TRACE => {
            json!({ "trace": found.document, "metrics": {}, "status": "PARTIAL", "message": PARTIAL_MESSAGE })
        }
        Shape::V2 => json!({ "trace": found.document, "metrics": { "inspectedBytes": "20480" } }),
        Shape::V1 => found.document.clone(),
        Shape::Batches => json!({ "batches": found.document["resourceSpans"] }),
    };
    Canned::ok(body.to_string())
}

/// The spans a tag request is about: the query's service's, or every searchable trace's.
fn scoped<'a>(stored: &'a [Stored], query: &[(String, String)]) -> Vec<SpanView<'a>> {
    let service = param(query, "q").and_then(service_in);
    stored
        .iter()
        .filter(|t| t.searchable)
        .flat_map(|t| spans(&t.document))
        .filter(|s| service.as_deref().is_none_or(|w| s.service == w))
        .collect()
}

/// `/api/v2/search/tags`: the attribute names by scope, and TraceQL's intrinsics.
fn tag_names(stored: &[Stored], query: &[(String, String)]) -> Canned {
    let seen = scoped(stored, query);
    let keys = |attributes: &mut dyn Iterator<Item = &Value>| -> BTreeSet<String> {
        attributes.filter_map(|a| a["key"].as_str().map(str::to_string)).collect()
    };
    let resource = keys(&mut seen.iter().flat_map(|s| s.resource.iter()));
    let span = keys(&mut seen.iter().flat_map(|s| s.span["attributes"].as_array().into_iter().flatten()));
    let intrinsic =
        ["duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"];
    let body = json!({
        "scopes": [
            { "name": "resource", "tags": resource },
            { "name": "span", "tags": span },
            { "name": "intrinsic", "tags": intrinsic },
        ],
        "metrics": { "inspectedBytes": "377046" }
    });
    Canned::ok(body.to_string())
}

/// `/api/v2/search/tag/{tag}/values`, `tag` a TraceQL identifier: `resource.service.name`,
/// `name`, or an attribute (`.http.method`, `span.http.method`, `resource.k8s.pod.name`).
fn tag_values(stored: &[Stored], tag: &str, query: &[(String, String)]) -> Canned {
    let seen = scoped(stored, query);
    let mut values: BTreeMap<String, &str> = BTreeMap::new();
    for span in &seen {
        match tag {
            "resource.service.name" => {
                values.insert(span.service.to_string(), "string");
            }
            "name" => {
                values.insert(span.span["name"].as_str().unwrap_or("").to_string(), "string");
            }
            _ => {
                let (scope, name) = ["span.", "resource.", "."]
                    .iter()
                    .find_map(|scope| tag.strip_prefix(scope).map(|rest| (*scope, rest)))
                    .unwrap_or((".", tag));
                let own = span.span["attributes"].as_array().into_iter().flatten().filter(|_| scope != "resource.");
                let process = span.resource.iter().filter(|_| scope != "span.");
                for attribute in own.chain(process).filter(|a| a["key"] == name) {
                    let value = &attribute["value"];
                    let (text, kind) = match (value["stringValue"].as_str(), value["intValue"].as_str()) {
                        (Some(text), _) => (text.to_string(), "string"),
                        (None, Some(number)) => (number.to_string(), "int"),
                        _ => (value.to_string(), "string"),
                    };
                    values.insert(text, kind);
                }
            }
        }
    }
    let listed: Vec<Value> = values.into_iter().map(|(value, kind)| json!({ "type": kind, "value": value })).collect();
    Canned::ok(json!({ "tagValues": listed, "metrics": { "inspectedBytes": "502756" } }).to_string())
}
