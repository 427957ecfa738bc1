//! OTLP traces: the protobuf decoder and the conversion from OTLP messages into the model.
//!
//! OTLP JSON is first read into the same protobuf message types (see [`super::otlp_json`]),
//! so this file is the single place where OTLP meaning (kinds, status, links, resources)
//! is mapped onto the model.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span as ProtoSpan, span};
use prost::Message;
use smol_str::ToSmolStr;

use super::grouping::group_into_traces;
use crate::error::{Error, Result};
use crate::model::times::event_time;
use crate::model::{
    AttrValue, Attribute, Event, RefKind, Reference, References, Resource, SmolStr, Span, SpanId, SpanKind, SpanTimes,
    Status, StatusCode, Trace, TraceId,
};

const FORMAT: &str = "OTLP protobuf";

/// Decodes an `ExportTraceServiceRequest` (which shares its wire format with `TracesData`).
pub fn decode_protobuf(bytes: &[u8]) -> Result<Vec<Trace>> {
    let request = ExportTraceServiceRequest::decode(bytes)
        .map_err(|e| Error::decode(FORMAT, format!("not a valid ExportTraceServiceRequest ({e})")))?;
    Ok(group_into_traces(spans_from_resource_spans(request.resource_spans, FORMAT)?))
}

/// Converts OTLP messages into model spans. Ids must have their exact byte lengths; the
/// error names the offending span by its position.
pub fn spans_from_resource_spans(resource_spans: Vec<ResourceSpans>, format: &'static str) -> Result<Vec<Span>> {
    let mut spans = Vec::new();
    for (r, resource_spans) in resource_spans.into_iter().enumerate() {
        let resource = Arc::new(convert_resource(resource_spans.resource.map(|r| r.attributes).unwrap_or_default()));
        for (s, scope_spans) in resource_spans.scope_spans.into_iter().enumerate() {
            for (i, span) in scope_spans.spans.into_iter().enumerate() {
                let at = || format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]");
                spans.push(
                    convert_span(span, Arc::clone(&resource))
                        .map_err(|what| Error::decode(format, format!("at `{}`: {what}", at())))?,
                );
            }
        }
    }
    Ok(spans)
}

/// The resource's attributes, with the service from `service.name` ("unknown" without one).
pub(crate) fn convert_resource(attributes: Vec<KeyValue>) -> Resource {
    let attributes = convert_attributes(attributes);
    let service = attributes
        .iter()
        .find(|a| a.key == "service.name")
        .map(|a| a.value.to_smolstr())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    Resource { service, attributes }
}

/// A span's trace, span and parent ids, checked for their exact byte lengths.
pub(crate) fn span_ids(span: &ProtoSpan) -> Result<(TraceId, SpanId, Option<SpanId>), String> {
    ids_of(&span.trace_id, &span.span_id, &span.parent_span_id)
}

/// The trace, span and parent ids of a span as OTLP protobuf carries them, checked for
/// their exact byte lengths (the trace and span ids also for being non-zero); a zero
/// parent id means none. Shared by the model's reading and the store's, which reads the
/// ids in place (see `store::wire`) and must accept and refuse the same spans in the same
/// words.
pub(crate) fn ids_of(
    trace_id: &[u8],
    span_id: &[u8],
    parent_span_id: &[u8],
) -> Result<(TraceId, SpanId, Option<SpanId>), String> {
    let trace = TraceId::from_bytes(trace_id)
        .filter(|id| !id.is_zero())
        .ok_or_else(|| format!("traceId must be 16 non-zero bytes, got {} bytes", trace_id.len()))?;
    let span = SpanId::from_bytes(span_id)
        .filter(|id| !id.is_zero())
        .ok_or_else(|| format!("spanId must be 8 non-zero bytes, got {} bytes", span_id.len()))?;
    let parent = match parent_span_id.len() {
        0 => None,
        _ => Some(
            SpanId::from_bytes(parent_span_id)
                .ok_or_else(|| format!("parentSpanId must be 8 bytes, got {}", parent_span_id.len()))?,
        )
        .filter(|p| !p.is_zero()),
    };
    Ok((trace, span, parent))
}

pub(crate) fn status_code(code: i32) -> StatusCode {
    match code {
        1 => StatusCode::Ok,
        2 => StatusCode::Error,
        _ => StatusCode::Unset,
    }
}

fn convert_span(span: ProtoSpan, resource: Arc<Resource>) -> Result<Span, String> {
    let (trace_id, span_id, parent_id) = span_ids(&span)?;
    let mut references: References =
        parent_id.map(|p| Reference { kind: RefKind::ChildOf, trace_id, span_id: p }).into_iter().collect();
    references.extend(span.links.iter().filter_map(convert_link));
    let status =
        span.status.map(|s| Status { code: status_code(s.code), message: s.message.into() }).unwrap_or_default();
    let times = SpanTimes::from_start_end(span.start_time_unix_nano.into(), span.end_time_unix_nano.into());
    Ok(Span {
        trace_id,
        span_id,
        parent_id,
        references,
        resource,
        operation: span.name.into(),
        kind: SpanKind::from_otlp(span.kind as i64),
        start_ns: times.start_ns,
        duration_ns: times.duration_ns,
        status,
        attributes: convert_attributes(span.attributes),
        events: span.events.into_iter().map(convert_event).collect(),
        source_id: None,
        time_repair: times.repair,
    })
}

fn convert_link(link: &span::Link) -> Option<Reference> {
    Some(Reference {
        kind: RefKind::Link,
        trace_id: TraceId::from_bytes(&link.trace_id)?,
        span_id: SpanId::from_bytes(&link.span_id)?,
    })
}

fn convert_event(event: span::Event) -> Event {
    Event {
        time_ns: event_time(event.time_unix_nano.into()),
        name: event.name.into(),
        attributes: convert_attributes(event.attributes),
    }
}

pub(crate) fn convert_attributes(attributes: Vec<KeyValue>) -> Vec<Attribute> {
    attributes
        .into_iter()
        .map(|kv| Attribute {
            key: kv.key.into(),
            value: kv.value.map(convert_value).unwrap_or(AttrValue::Str(SmolStr::default())),
        })
        .collect()
}

pub(crate) fn convert_value(value: AnyValue) -> AttrValue {
    match value.value {
        Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.into()),
        Some(any_value::Value::BoolValue(b)) => AttrValue::Bool(b),
        Some(any_value::Value::IntValue(i)) => AttrValue::Int(i),
        Some(any_value::Value::DoubleValue(d)) => AttrValue::Float(d),
        Some(any_value::Value::BytesValue(b)) => AttrValue::Bytes(b),
        Some(any_value::Value::ArrayValue(a)) => AttrValue::Array(a.values.into_iter().map(convert_value).collect()),
        Some(any_value::Value::KvlistValue(kv)) => AttrValue::Map(convert_attributes(kv.values)),
        Some(_) | None => AttrValue::Str(SmolStr::default()),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span as ProtoSpan, Status as ProtoStatus};

    use super::*;

    fn request(span: ProtoSpan) -> Vec<u8> {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(ProtoResource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue { value: Some(any_value::Value::StringValue("cart".into())) }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans { spans: vec![span], ..Default::default() }],
                ..Default::default()
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn protobuf_spans_decode_with_resource_status_and_kind() {
        let bytes = request(ProtoSpan {
            trace_id: vec![1; 16],
            span_id: vec![2; 8],
            name: "GET /cart".into(),
            kind: 2,
            start_time_unix_nano: 1_000,
            end_time_unix_nano: 4_000,
            status: Some(ProtoStatus { code: 2, message: "boom".into() }),
            ..Default::default()
        });
        let traces = decode_protobuf(&bytes).unwrap();
        let span = &traces[0].spans[0];
        assert_eq!((span.service(), span.operation.as_str(), span.kind), ("cart", "GET /cart", SpanKind::Server));
        assert_eq!(span.duration_ns, 3_000);
        assert_eq!(span.status.message, "boom");
        assert!(span.is_error());
    }

    #[test]
    fn impossible_times_are_repaired_span_by_span_with_warnings() {
        const NOW: u64 = 1_700_000_000_000_000_000;
        let span = |id: u8, start_time_unix_nano: u64, end_time_unix_nano: u64| ProtoSpan {
            trace_id: vec![1; 16],
            span_id: vec![id; 8],
            start_time_unix_nano,
            end_time_unix_nano,
            ..Default::default()
        };
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        span(1, NOW, NOW - 1),
                        span(2, NOW, u64::MAX),
                        span(3, 0, u64::MAX - 7),
                        span(4, u64::MAX, u64::MAX),
                        span(5, NOW, NOW + 3_000),
                    ],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let trace = decode_protobuf(&request.encode_to_vec()).unwrap().remove(0);
        let times: Vec<(u64, u64)> = trace.spans.iter().map(|s| (s.start_ns, s.duration_ns)).collect();
        assert_eq!(times, [(NOW, 0), (NOW, 0), (0, 0), (0, 0), (NOW, 3_000)]);
        for expected in [
            "1 span ends before it starts, shown as taking no time: 0101010101010101",
            "1 span lasts longer than 30 days, shown as taking no time: 0202020202020202",
            "1 span has no start time: 0303030303030303",
            "1 span starts before 1970 or after 2262, shown with no start time: 0404040404040404",
        ] {
            assert!(trace.warnings.iter().any(|w| w == expected), "{expected:?} in {:#?}", trace.warnings);
        }
    }

    #[test]
    fn wrong_id_lengths_and_truncation_are_errors() {
        let bytes = request(ProtoSpan { trace_id: vec![1; 5], span_id: vec![2; 8], ..Default::default() });
        let err = decode_protobuf(&bytes).unwrap_err().to_string();
        assert!(err.contains("traceId must be 16") && err.contains("spans[0]"), "{err}");

        let good = request(ProtoSpan { trace_id: vec![1; 16], span_id: vec![2; 8], ..Default::default() });
        assert!(decode_protobuf(&good[..good.len() - 3]).is_err());
    }
}
