//! Zipkin v2 JSON: the span arrays `POST /api/v2/spans` carries and `GET /api/v2/trace/{id}`
//! returns, and the array of such arrays `GET /api/v2/traces` returns.
//!
//! Two Zipkin habits are undone here, so the model sees what other formats give it:
//! - **Shared span ids**: a client and the server it called may report one span id (the
//!   server's copy says `shared: true`). The server's copy gets an id of its own and becomes
//!   the client's child, and the spans its process made under that id follow it.
//! - **Clock skew**: the server's clock may disagree with the client's, putting the server
//!   span outside the client that waited for it. As Zipkin's UI does, the server's part of
//!   the trace is shifted to sit in the middle of its client (the network time split evenly
//!   between request and response).

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::grouping::group_into_traces;
use super::{lenient, parse_json};
use crate::error::{Error, Result};
use crate::model::ids::stable_hash;
use crate::model::times::{LATEST_TIME_NS, event_time};
use crate::model::{
    AttrValue, Attribute, Event, IdMap, RefKind, Reference, Resource, SmolStr, Span, SpanId, SpanKind, SpanTimes,
    Status, StatusCode, Trace, TraceId,
};

const FORMAT: &str = "Zipkin v2 JSON";
const MICROS: i128 = 1_000;

/// A span array, or an array of span arrays (one per trace).
#[derive(Deserialize)]
#[serde(untagged)]
enum Document {
    Traces(Vec<Vec<RawSpan>>),
    Spans(Vec<RawSpan>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::time_any")]
    timestamp: i128,
    #[serde(default, deserialize_with = "lenient::time_any")]
    duration: i128,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
    #[serde(default)]
    remote_endpoint: Option<Endpoint>,
    #[serde(default)]
    annotations: Vec<Annotation>,
    #[serde(default)]
    tags: HashMap<String, String>,
    #[serde(default)]
    shared: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: Option<String>,
    #[serde(default)]
    ipv4: Option<String>,
    #[serde(default)]
    ipv6: Option<String>,
    #[serde(default)]
    port: Option<u16>,
}

#[derive(Deserialize)]
struct Annotation {
    #[serde(default, deserialize_with = "lenient::time_any")]
    timestamp: i128,
    value: String,
}

/// Whether the bytes look like Zipkin v2 JSON rather than Jaeger's span arrays: Zipkin
/// writes `traceId` and `id` where Jaeger writes `traceID` and `spanID`.
pub fn looks_like(head: &[u8]) -> bool {
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    has(b"\"traceId\"") && !has(b"\"spanID\"") && !has(b"\"spanId\"")
}

/// Decodes Zipkin v2 JSON into traces, one per trace id.
pub fn decode(bytes: &[u8]) -> Result<Vec<Trace>> {
    let spans = match parse_json::<Document>(bytes, FORMAT)? {
        Document::Spans(spans) => spans,
        Document::Traces(traces) => traces.into_iter().flatten().collect(),
    };
    if spans.iter().any(|s| s.trace_id.trim().is_empty() || s.id.trim().is_empty()) {
        return Err(Error::decode(FORMAT, "a span without `traceId` or `id`"));
    }
    let mut resources: HashMap<String, Arc<Resource>> = HashMap::new();
    let spans: Vec<Span> = spans.into_iter().map(|raw| convert(raw, &mut resources)).collect();
    Ok(group_into_traces(spans).into_iter().map(undo_sharing).collect())
}

/// The process a span came from, shared by the spans of one service.
fn resource(endpoint: Option<&Endpoint>, resources: &mut HashMap<String, Arc<Resource>>) -> Arc<Resource> {
    let service = endpoint.and_then(|e| e.service_name.as_deref()).filter(|s| !s.is_empty()).unwrap_or("unknown");
    Arc::clone(
        resources
            .entry(service.to_string())
            .or_insert_with(|| Arc::new(Resource { service: service.into(), attributes: Vec::new() })),
    )
}

fn convert(raw: RawSpan, resources: &mut HashMap<String, Arc<Resource>>) -> Span {
    let trace_id = TraceId::from_text(raw.trace_id.trim()).0;
    let (span_id, canonical) = SpanId::from_text(raw.id.trim());
    let parent_id = raw.parent_id.as_deref().map(|p| SpanId::from_text(p.trim()).0).filter(|p| !p.is_zero());
    let references =
        parent_id.map(|span_id| Reference { kind: RefKind::ChildOf, trace_id, span_id }).into_iter().collect();
    let mut attributes: Vec<Attribute> = Vec::with_capacity(raw.tags.len() + 3);
    let mut tags: Vec<(String, String)> = raw.tags.into_iter().collect();
    tags.sort_unstable();
    let error = tags.iter().find(|(k, _)| k == "error").map(|(_, v)| v.clone());
    attributes.extend(tags.into_iter().map(|(key, value)| Attribute::new(key, AttrValue::Str(value.into()))));
    if let Some(remote) = &raw.remote_endpoint {
        // The names the service map and the network view read for a call's peer.
        let peer = [
            ("peer.service", remote.service_name.clone()),
            ("network.peer.address", remote.ipv4.clone().or_else(|| remote.ipv6.clone())),
            ("network.peer.port", remote.port.map(|p| p.to_string())),
        ];
        for (key, value) in peer {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                attributes.push(Attribute::new(key, AttrValue::Str(value.into())));
            }
        }
    }
    let status = match error {
        // Zipkin's `error` tag holds the message ("" or "true" when there is none).
        Some(message) => Status {
            code: StatusCode::Error,
            message: if message.eq_ignore_ascii_case("true") { SmolStr::default() } else { message.into() },
        },
        None => Status::default(),
    };
    let events = raw
        .annotations
        .into_iter()
        .map(|a| {
            let (name, attributes) = event_of(a.value);
            Event { time_ns: event_time(a.timestamp.saturating_mul(MICROS)), name: name.into(), attributes }
        })
        .collect();
    let shared = raw.shared;
    let times =
        SpanTimes::from_start_duration(raw.timestamp.saturating_mul(MICROS), raw.duration.saturating_mul(MICROS));
    let mut span = Span {
        trace_id,
        span_id,
        parent_id,
        references,
        resource: resource(raw.local_endpoint.as_ref(), resources),
        operation: raw.name.map(SmolStr::from).unwrap_or_default(),
        kind: raw.kind.as_deref().map(SpanKind::from_name).unwrap_or_default(),
        start_ns: times.start_ns,
        duration_ns: times.duration_ns,
        status,
        attributes,
        events,
        source_id: (!canonical).then(|| raw.id.trim().to_string().into_boxed_str()),
        time_repair: times.repair,
    };
    if shared {
        span.attributes.push(Attribute::new(SHARED, AttrValue::Bool(true)));
    }
    if let Some(endpoint) = raw.local_endpoint.as_ref().and_then(address) {
        span.attributes.push(Attribute::new(LOCAL, AttrValue::Str(endpoint.into())));
    }
    span
}

/// An annotation's event: OpenTelemetry's Zipkin exporters write an event with attributes
/// as `{"name": {"key": value, …}}`; any other value is the event's name.
fn event_of(value: String) -> (String, Vec<Attribute>) {
    if !value.starts_with('{') {
        return (value, Vec::new());
    }
    let Ok(serde_json::Value::Object(event)) = serde_json::from_str::<serde_json::Value>(&value) else {
        return (value, Vec::new());
    };
    let mut entries = event.into_iter();
    match (entries.next(), entries.next()) {
        (Some((name, serde_json::Value::Object(fields))), None) => {
            let attributes = fields.into_iter().map(|(key, value)| Attribute::new(key, json_value(value))).collect();
            (name, attributes)
        }
        _ => (value, Vec::new()),
    }
}

fn json_value(value: serde_json::Value) -> AttrValue {
    use serde_json::Value;
    match value {
        Value::Bool(b) => AttrValue::Bool(b),
        Value::Number(n) => {
            n.as_i64().map(AttrValue::Int).unwrap_or_else(|| AttrValue::Float(n.as_f64().unwrap_or(0.0)))
        }
        Value::String(s) => AttrValue::Str(s.into()),
        Value::Array(items) => AttrValue::Array(items.into_iter().map(json_value).collect()),
        other => AttrValue::Str(other.to_string().into()),
    }
}

/// `ip:port` of an endpoint, or `:port`, when it names either.
fn address(endpoint: &Endpoint) -> Option<String> {
    let ip = endpoint.ipv4.as_deref().or(endpoint.ipv6.as_deref()).unwrap_or_default();
    let port = endpoint.port.map(|p| p.to_string()).unwrap_or_default();
    (!ip.is_empty() || !port.is_empty()).then(|| format!("{ip}:{port}"))
}

/// Mark the server's copy of a shared span id, and a span's local address, while the
/// trace is rebuilt; removed after.
const SHARED: &str = "zipkin.shared";
const LOCAL: &str = "zipkin.local";

/// Gives the server half of each shared span id an id of its own under its client, moves
/// the server's spans below it, and corrects the server side's clock skew. A message sent
/// once and received by several consumers shares one id among them all: each copy gets an
/// id of its own.
fn undo_sharing(trace: Trace) -> Trace {
    let id = trace.id;
    let mut spans = trace.spans;
    let mut copies: IdMap<SpanId, Vec<usize>> = IdMap::default();
    for (i, span) in spans.iter().enumerate() {
        copies.entry(span.span_id).or_default().push(i);
    }
    // A server's copy whose client is not in this document (a receiver gets each
    // process's spans apart) takes the id it takes beside its client, under the client's
    // id, so that the two meet in the store instead of one replacing the other.
    let mut lone: Vec<usize> =
        copies.values().filter(|c| c.len() == 1 && spans[c[0]].attr(SHARED).is_some()).map(|c| c[0]).collect();
    lone.sort_unstable();
    for server in lone {
        let shared_id = spans[server].span_id;
        let own_id = server_id(shared_id, 0);
        let service = spans[server].resource.service.clone();
        for span in spans.iter_mut().filter(|s| s.parent_id == Some(shared_id) && s.service() == service) {
            span.parent_id = Some(own_id);
            span.references = smallvec::smallvec![Reference { kind: RefKind::ChildOf, trace_id: id, span_id: own_id }];
        }
        let span = &mut spans[server];
        span.span_id = own_id;
        span.parent_id = Some(shared_id);
        span.references = smallvec::smallvec![Reference { kind: RefKind::ChildOf, trace_id: id, span_id: shared_id }];
        span.source_id.get_or_insert_with(|| format!("{shared_id}/1").into_boxed_str());
    }
    let mut groups: Vec<Vec<usize>> = copies.into_values().filter(|c| c.len() > 1).collect();
    groups.sort_unstable();
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for group in groups {
        let is_client = |i: &usize| spans[*i].attr(SHARED).is_none() && spans[*i].kind != SpanKind::Server;
        let client = group.iter().copied().find(is_client);
        let primary = client.unwrap_or(group[0]);
        let shared_id = spans[primary].span_id;
        let parent = if client.is_some() { Some(shared_id) } else { spans[primary].parent_id };
        for (n, copy) in group.into_iter().filter(|&i| i != primary).enumerate() {
            let own_id = server_id(shared_id, n);
            if let (Some(client), 0) = (client, n) {
                adopt_server_children(&mut spans, client, copy, own_id);
                pairs.push((client, copy));
            }
            let span = &mut spans[copy];
            span.span_id = own_id;
            span.parent_id = parent;
            span.references =
                parent.map(|span_id| Reference { kind: RefKind::ChildOf, trace_id: id, span_id }).into_iter().collect();
            if span.source_id.is_none() {
                span.source_id = Some(format!("{shared_id}/{}", n + 1).into_boxed_str());
            }
        }
    }
    for span in &mut spans {
        span.attributes.retain(|a| a.key != SHARED && a.key != LOCAL);
    }
    let mut trace = Trace::from_spans(id, spans);
    for (client, server) in pairs {
        correct_skew(&mut trace, client, server);
    }
    // Rebuilt so that the warnings (a span outside its parent) see the corrected times.
    Trace::from_spans(id, trace.spans)
}

/// The id of the `n`th server copy of a shared span id.
fn server_id(shared_id: SpanId, n: usize) -> SpanId {
    SpanId(stable_hash(&[&shared_id.0.to_be_bytes()[..], b"server", &n.to_be_bytes()].concat()))
}

/// The server process's spans under a shared id belong to the server half (`server`, to be
/// known as `own_id`): those of its service, or of its address when services are named
/// differently.
fn adopt_server_children(spans: &mut [Span], client: usize, server: usize, own_id: SpanId) {
    let shared_id = spans[client].span_id;
    let service = spans[server].resource.service.clone();
    let local = |span: &Span| span.attr(LOCAL).and_then(|v| v.as_str()).map(str::to_string);
    let address = local(&spans[server]).filter(|a| Some(a) != local(&spans[client]).as_ref());
    let trace_id = spans[server].trace_id;
    for (i, span) in spans.iter_mut().enumerate() {
        let in_server = span.service() == service || (address.is_some() && local(span) == address);
        if i != server && i != client && span.parent_id == Some(shared_id) && in_server {
            span.parent_id = Some(own_id);
            span.references = smallvec::smallvec![Reference { kind: RefKind::ChildOf, trace_id, span_id: own_id }];
        }
    }
}

/// Shifts the server half of a call and the spans its process made under it, when the
/// server lies outside its client, so that it sits in the middle of the client's time.
fn correct_skew(trace: &mut Trace, client: usize, server: usize) {
    let (c, s) = (&trace.spans[client], &trace.spans[server]);
    if s.duration_ns > c.duration_ns || c.start_ns == 0 || s.start_ns == 0 {
        return;
    }
    if s.start_ns >= c.start_ns && s.end_ns() <= c.end_ns() {
        return;
    }
    let latency = (c.duration_ns - s.duration_ns) / 2;
    let wanted = c.start_ns.saturating_add(latency);
    let shift = wanted as i128 - s.start_ns as i128;
    let service = s.resource.service.clone();
    let mut stack = vec![server];
    while let Some(i) = stack.pop() {
        let span = &mut trace.spans[i];
        span.start_ns = (span.start_ns as i128 + shift).clamp(0, LATEST_TIME_NS.into()) as u64;
        for event in &mut span.events {
            event.time_ns = (event.time_ns as i128 + shift).clamp(0, LATEST_TIME_NS.into()) as u64;
        }
        stack.extend(trace.tree.children(i).filter(|&child| trace.spans[child].service() == service));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_one(json: &str) -> Trace {
        let mut traces = decode(json.as_bytes()).unwrap();
        assert_eq!(traces.len(), 1);
        traces.remove(0)
    }

    #[test]
    fn a_span_reads_its_service_kind_times_tags_annotations_and_peer() {
        let t = decode_one(
            r#"[{"traceId":"86154a4ba6e91385","id":"4d1e00c0db9010db","parentId":"86154a4ba6e91385",
                "kind":"CLIENT","name":"get /users","timestamp":1472470996199000,"duration":207000,
                "localEndpoint":{"serviceName":"frontend","ipv4":"127.0.0.1"},
                "remoteEndpoint":{"serviceName":"backend","ipv4":"192.168.99.101","port":9000},
                "annotations":[{"timestamp":1472470996238000,"value":"ws"}],
                "tags":{"http.method":"GET","error":"connection reset"}}]"#,
        );
        let span = &t.spans[0];
        assert_eq!((span.service(), span.operation.as_str(), span.kind), ("frontend", "get /users", SpanKind::Client));
        assert_eq!((span.start_ns, span.duration_ns), (1_472_470_996_199_000_000, 207_000_000));
        assert_eq!(span.attr("peer.service").and_then(|v| v.as_str()), Some("backend"));
        assert_eq!(span.attr("network.peer.port").and_then(|v| v.as_i64()), Some(9000));
        assert_eq!(span.status, Status { code: StatusCode::Error, message: "connection reset".into() });
        assert_eq!((span.events[0].name.as_str(), span.events[0].time_ns), ("ws", 1_472_470_996_238_000_000));
    }

    #[test]
    fn a_server_half_sent_apart_from_its_client_takes_the_id_it_takes_beside_it() {
        let client = r#"{"traceId":"a","id":"2","parentId":"1","kind":"CLIENT","name":"get","timestamp":10,"duration":100,
            "localEndpoint":{"serviceName":"web"}}"#;
        let server = r#"{"traceId":"a","id":"2","parentId":"1","kind":"SERVER","name":"get","timestamp":20,"duration":80,
            "shared":true,"localEndpoint":{"serviceName":"api"}}"#;
        let child = r#"{"traceId":"a","id":"3","parentId":"2","name":"query","timestamp":30,"duration":10,
            "localEndpoint":{"serviceName":"api"}}"#;
        let together = decode_one(&format!("[{client},{server},{child}]"));
        let apart = decode_one(&format!("[{server},{child}]"));
        let ids = |t: &Trace, name: &str, service: &str| {
            let span = t.spans.iter().find(|s| s.operation == name && s.service() == service).unwrap();
            (span.span_id, span.parent_id)
        };
        assert_eq!(ids(&apart, "get", "api"), ids(&together, "get", "api"));
        assert_eq!(ids(&apart, "get", "api").1, Some(SpanId(2)), "under its client's id");
        assert_eq!(ids(&apart, "query", "api"), ids(&together, "query", "api"));
    }

    #[test]
    fn an_annotation_written_by_opentelemetry_is_an_event_with_attributes() {
        let t = decode_one(
            r#"[{"traceId":"a","id":"1","name":"pay","timestamp":10,"duration":5,"annotations":[
                {"timestamp":12,"value":"{\"card.authorized\": {\"attempt\": 2, \"card.brand\": \"visa\"}}"},
                {"timestamp":13,"value":"{not json"}]}]"#,
        );
        let events = &t.spans[0].events;
        assert_eq!(events[0].name, "card.authorized");
        assert_eq!(
            events[0].attributes,
            [Attribute::new("attempt", AttrValue::Int(2)), Attribute::new("card.brand", AttrValue::Str("visa".into()))]
        );
        assert_eq!((events[1].name.as_str(), events[1].attributes.len()), ("{not json", 0));
    }

    #[test]
    fn arrays_of_traces_as_the_traces_endpoint_returns_them() {
        let json = r#"[[{"traceId":"a","id":"1","name":"x","timestamp":1,"duration":1}],
                       [{"traceId":"b","id":"2","name":"y","timestamp":1,"duration":1}]]"#;
        assert_eq!(decode(json.as_bytes()).unwrap().len(), 2);
        assert!(decode(br#"[{"traceId":"a","name":"no id"}]"#).is_err());
    }
}
