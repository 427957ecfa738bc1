//! The model back to OTLP protobuf messages, for sending traces over OTLP (the demo
//! workload, replays), and to OTLP JSON, for files others read (`vitals export`, Jaeger's
//! upload, Tempo). The inverse of [`super::otlp`]'s and [`super::otlp_json`]'s conversions.

use std::collections::HashMap;

use base64::Engine;
use serde_json::{Value as Json, json};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};

use crate::model::{AttrValue, Attribute, RefKind, SpanKind, StatusCode, Trace};

/// One export request holding `traces`, every time moved by `shift_ns` (which may be
/// negative), spans grouped by their resource.
pub fn export_request<'t>(traces: impl IntoIterator<Item = &'t Trace>, shift_ns: i128) -> ExportTraceServiceRequest {
    let shift = |t: u64| (t as i128 + shift_ns).clamp(0, u64::MAX as i128) as u64;
    let mut groups: Vec<ResourceSpans> = Vec::new();
    let mut index: HashMap<*const crate::model::Resource, usize> = HashMap::new();
    for span in traces.into_iter().flat_map(|t| &t.spans) {
        let key = std::sync::Arc::as_ptr(&span.resource);
        let slot = *index.entry(key).or_insert_with(|| {
            groups.push(ResourceSpans {
                resource: Some(Resource { attributes: resource_attributes(&span.resource), ..Default::default() }),
                scope_spans: vec![ScopeSpans::default()],
                ..Default::default()
            });
            groups.len() - 1
        });
        groups[slot].scope_spans[0].spans.push(Span {
            trace_id: span.trace_id.to_bytes().to_vec(),
            span_id: span.span_id.0.to_be_bytes().to_vec(),
            parent_span_id: span.parent_id.map(|p| p.0.to_be_bytes().to_vec()).unwrap_or_default(),
            name: span.operation.to_string(),
            kind: kind(span.kind),
            start_time_unix_nano: shift(span.start_ns),
            end_time_unix_nano: shift(span.end_ns()),
            attributes: key_values(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| span::Event {
                    time_unix_nano: shift(e.time_ns),
                    name: e.name.to_string(),
                    attributes: key_values(&e.attributes),
                    ..Default::default()
                })
                .collect(),
            links: span
                .references
                .iter()
                .filter(|r| r.kind == RefKind::Link)
                .map(|r| span::Link {
                    trace_id: r.trace_id.to_bytes().to_vec(),
                    span_id: r.span_id.0.to_be_bytes().to_vec(),
                    ..Default::default()
                })
                .collect(),
            status: Some(Status {
                code: match span.status.code {
                    StatusCode::Unset => 0,
                    StatusCode::Ok => 1,
                    StatusCode::Error => 2,
                },
                message: span.status.message.to_string(),
            }),
            ..Default::default()
        });
    }
    ExportTraceServiceRequest { resource_spans: groups }
}

/// The resource's attributes, with `service.name` added when the source had it elsewhere
/// (Jaeger keeps it as the process's service name, not as an attribute).
fn resource_attributes(resource: &crate::model::Resource) -> Vec<KeyValue> {
    let mut attributes = key_values(&resource.attributes);
    if !resource.attributes.iter().any(|a| a.key == "service.name") {
        attributes.push(key_value(&Attribute::new("service.name", AttrValue::Str(resource.service.clone()))));
    }
    attributes
}

/// `traces` as one OTLP JSON document (`{"resourceSpans": […]}`), as the OTLP
/// specification writes it: ids in lowercase hex, times and 64-bit integers as decimal
/// strings, enums as numbers, bytes in base64. What SDKs export, Tempo and Jaeger take in,
/// and Vitals' file provider reads back unchanged.
pub fn to_json<'t>(traces: impl IntoIterator<Item = &'t Trace>) -> Json {
    let resource_spans: Vec<Json> = export_request(traces, 0)
        .resource_spans
        .iter()
        .map(|group| {
            let resource = group.resource.as_ref().map(|r| json_key_values(&r.attributes)).unwrap_or_default();
            let spans: Vec<Json> = group.scope_spans.iter().flat_map(|scope| &scope.spans).map(json_span).collect();
            json!({ "resource": { "attributes": resource }, "scopeSpans": [{ "scope": {}, "spans": spans }] })
        })
        .collect();
    json!({ "resourceSpans": resource_spans })
}

fn json_span(span: &Span) -> Json {
    let mut out = json!({
        "traceId": hex(&span.trace_id),
        "spanId": hex(&span.span_id),
        "name": span.name,
        "kind": span.kind,
        "startTimeUnixNano": span.start_time_unix_nano.to_string(),
        "endTimeUnixNano": span.end_time_unix_nano.to_string(),
        "attributes": json_key_values(&span.attributes),
        "events": span.events.iter().map(|e| json!({
            "timeUnixNano": e.time_unix_nano.to_string(),
            "name": e.name,
            "attributes": json_key_values(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": span.links.iter().map(|l| json!({
            "traceId": hex(&l.trace_id),
            "spanId": hex(&l.span_id),
            "attributes": json_key_values(&l.attributes),
        })).collect::<Vec<_>>(),
        "status": span.status.as_ref().map(|s| json!({ "code": s.code, "message": s.message })).unwrap_or(json!({})),
    });
    if !span.parent_span_id.is_empty() {
        out["parentSpanId"] = Json::from(hex(&span.parent_span_id));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn json_key_values(attributes: &[KeyValue]) -> Vec<Json> {
    attributes
        .iter()
        .map(|kv| json!({ "key": kv.key, "value": kv.value.as_ref().map(json_any_value).unwrap_or(json!({})) }))
        .collect()
}

fn json_any_value(value: &AnyValue) -> Json {
    use any_value::Value;
    match &value.value {
        Some(Value::StringValue(s)) => json!({ "stringValue": s }),
        Some(Value::BoolValue(b)) => json!({ "boolValue": b }),
        Some(Value::IntValue(i)) => json!({ "intValue": i.to_string() }),
        // JSON has no NaN or infinity, and readers disagree on how to spell them: as text,
        // every reader keeps the file.
        Some(Value::DoubleValue(f)) if !f.is_finite() => json!({ "stringValue": f.to_string() }),
        Some(Value::DoubleValue(f)) => json!({ "doubleValue": f }),
        Some(Value::BytesValue(b)) => json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) }),
        Some(Value::ArrayValue(a)) => {
            json!({ "arrayValue": { "values": a.values.iter().map(json_any_value).collect::<Vec<_>>() } })
        }
        Some(Value::KvlistValue(m)) => json!({ "kvlistValue": { "values": json_key_values(&m.values) } }),
        // Profiles' string-table references; [`export_request`] never writes them.
        Some(Value::StringValueStrindex(_)) | None => json!({}),
    }
}

fn kind(kind: SpanKind) -> i32 {
    match kind {
        SpanKind::Unspecified => 0,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

fn key_values(attributes: &[Attribute]) -> Vec<KeyValue> {
    attributes.iter().map(key_value).collect()
}

fn key_value(attribute: &Attribute) -> KeyValue {
    KeyValue { key: attribute.key.to_string(), value: Some(any_value(&attribute.value)), ..Default::default() }
}

fn any_value(value: &AttrValue) -> AnyValue {
    use any_value::Value;
    let value = match value {
        AttrValue::Str(s) => Value::StringValue(s.to_string()),
        AttrValue::Bool(b) => Value::BoolValue(*b),
        AttrValue::Int(i) => Value::IntValue(*i),
        AttrValue::Float(f) => Value::DoubleValue(*f),
        AttrValue::Bytes(b) => Value::BytesValue(b.clone()),
        AttrValue::Array(items) => Value::ArrayValue(ArrayValue { values: items.iter().map(any_value).collect() }),
        AttrValue::Map(entries) => Value::KvlistValue(KeyValueList { values: key_values(entries) }),
    };
    AnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::formats;

    fn sorted_by_id(trace: &Trace) -> Vec<&crate::model::Span> {
        let mut spans: Vec<_> = trace.spans.iter().collect();
        spans.sort_by_key(|s| s.span_id);
        spans
    }

    #[test]
    fn encoding_and_decoding_again_gives_the_same_trace_moved_in_time() {
        let sample = formats::decode(include_bytes!("../../samples/shop-traces.json")).unwrap();
        let bytes = export_request(&sample, 1_000).encode_to_vec();
        let again = formats::otlp::decode_protobuf(&bytes).unwrap();
        assert_eq!(again.len(), sample.len());
        for (a, b) in sample.iter().zip(&again) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.spans.len(), b.spans.len());
            for (x, y) in sorted_by_id(a).into_iter().zip(sorted_by_id(b)) {
                assert_eq!(
                    (x.span_id, x.parent_id, x.service(), &x.operation),
                    (y.span_id, y.parent_id, y.service(), &y.operation)
                );
                assert_eq!(
                    (x.start_ns + 1_000, x.duration_ns, x.kind, x.is_error()),
                    (y.start_ns, y.duration_ns, y.kind, y.is_error())
                );
                assert_eq!(x.attributes, y.attributes);
                assert_eq!(x.events.len(), y.events.len());
            }
        }
    }
}
