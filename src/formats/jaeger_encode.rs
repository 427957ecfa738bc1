//! The model as Jaeger query API v1 JSON, so that `vitals serve` can answer Jaeger's own
//! clients (Jaeger UI, Grafana, other editors). The inverse of [`super::jaeger`].

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::model::{AttrValue, Attribute, RefKind, Resource, Span, SpanKind, StatusCode, Trace};

pub fn trace(trace: &Trace) -> Value {
    let trace_id = trace.id.to_string();
    let processes = Processes::of(&trace.spans);
    let spans: Vec<Value> =
        trace.spans.iter().map(|span| self::span(&trace_id, span, &processes.id_of(span))).collect();
    let warnings = if trace.warnings.is_empty() { Value::Null } else { json!(trace.warnings) };
    json!({ "traceID": trace_id, "spans": spans, "processes": processes.to_json(), "warnings": warnings })
}

/// A trace's processes: one per distinct resource of its spans, named `p1`, `p2`, … in
/// the order the spans first use them. Kept apart from the spans so that a trace can be
/// written span by span (the query API streams large traces).
pub struct Processes<'t> {
    resources: Vec<&'t Arc<Resource>>,
    index: HashMap<*const Resource, usize>,
}

impl<'t> Processes<'t> {
    pub fn of(spans: impl IntoIterator<Item = &'t Span>) -> Processes<'t> {
        let mut processes = Processes { resources: Vec::new(), index: HashMap::new() };
        for span in spans {
            processes.index.entry(Arc::as_ptr(&span.resource)).or_insert_with(|| {
                processes.resources.push(&span.resource);
                processes.resources.len()
            });
        }
        processes
    }

    /// The process id of a span of these processes.
    pub fn id_of(&self, span: &Span) -> String {
        format!("p{}", self.index.get(&Arc::as_ptr(&span.resource)).copied().unwrap_or(0))
    }

    pub fn to_json(&self) -> Value {
        let processes: serde_json::Map<String, Value> = self
            .resources
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let tags: Vec<Value> = r.attributes.iter().filter(|a| a.key != "service.name").map(tag).collect();
                (format!("p{}", i + 1), json!({ "serviceName": r.service, "tags": tags }))
            })
            .collect();
        Value::Object(processes)
    }
}

/// One span as Jaeger JSON, naming its process by id. Span links become FOLLOWS_FROM
/// references, as Jaeger's own OTLP translator writes them, so Jaeger UI shows them.
pub fn span(trace_id: &str, span: &Span, process: &str) -> Value {
    let references: Vec<Value> = span
        .references
        .iter()
        .map(|r| {
            let kind = if r.kind == RefKind::ChildOf { "CHILD_OF" } else { "FOLLOWS_FROM" };
            json!({ "refType": kind, "traceID": r.trace_id.to_string(), "spanID": r.span_id.to_string() })
        })
        .collect();
    let mut tags: Vec<Value> = span.attributes.iter().map(tag).collect();
    let has = |key: &str| span.attributes.iter().any(|a| a.key == key);
    if span.kind != SpanKind::Unspecified && !has("span.kind") {
        tags.push(json!({ "key": "span.kind", "type": "string", "value": span.kind.as_str() }));
    }
    if span.status.code == StatusCode::Error && !has("error") {
        tags.push(json!({ "key": "error", "type": "bool", "value": true }));
    }
    // As OpenTelemetry's Jaeger translation writes it: Jaeger itself has no "OK".
    if span.status.code == StatusCode::Ok && !has("otel.status_code") {
        tags.push(json!({ "key": "otel.status_code", "type": "string", "value": "OK" }));
    }
    if !span.status.message.is_empty() && !has("otel.status_description") {
        tags.push(json!({ "key": "otel.status_description", "type": "string", "value": span.status.message }));
    }
    let logs: Vec<Value> = span
        .events
        .iter()
        .map(|e| {
            let mut fields = vec![json!({ "key": "event", "type": "string", "value": e.name })];
            fields.extend(e.attributes.iter().map(tag));
            json!({ "timestamp": e.time_ns / 1_000, "fields": fields })
        })
        .collect();
    json!({
        "traceID": trace_id,
        "spanID": span.display_id(),
        "flags": 1,
        "operationName": span.operation,
        "references": references,
        "startTime": span.start_ns / 1_000,
        "duration": span.duration_ns / 1_000,
        "tags": tags,
        "logs": logs,
        "processID": process,
        "warnings": null,
    })
}

fn tag(attribute: &Attribute) -> Value {
    let (kind, value) = match &attribute.value {
        AttrValue::Str(s) => ("string", json!(s)),
        AttrValue::Bool(b) => ("bool", json!(b)),
        AttrValue::Int(i) => ("int64", json!(i)),
        AttrValue::Float(f) => ("float64", json!(f)),
        other => ("string", json!(other.to_string())),
    };
    json!({ "key": attribute.key, "type": kind, "value": value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    #[test]
    fn a_trace_written_as_jaeger_json_reads_back_the_same() {
        let sample = formats::decode(include_bytes!("../../samples/shop-traces.json")).unwrap();
        for original in &sample {
            let bytes = serde_json::to_vec(&json!({ "data": [trace(original)] })).unwrap();
            let again = formats::decode(&bytes).unwrap().remove(0);
            assert_eq!(again.id, original.id);
            assert_eq!(again.spans.len(), original.spans.len());
            for (a, b) in original.spans.iter().zip(&again.spans) {
                assert_eq!(
                    (a.span_id, a.parent_id, a.service(), &a.operation),
                    (b.span_id, b.parent_id, b.service(), &b.operation)
                );
                assert_eq!(
                    (a.start_ns, a.duration_ns, a.kind, a.is_error()),
                    (b.start_ns, b.duration_ns, b.kind, b.is_error())
                );
                assert_eq!(a.events.len(), b.events.len());
            }
        }
    }
}
