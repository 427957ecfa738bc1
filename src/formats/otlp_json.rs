//! OTLP JSON, as SDKs export it and as backends return it: Jaeger api/v3 wraps it in
//! `{"result": …}` (several such documents in a row when it streams), Tempo calls
//! `resourceSpans` `batches` (or wraps it in `{"trace": …}`) and writes ids in base64.
//!
//! The JSON is read into OTLP's protobuf message types, so that one conversion
//! ([`super::otlp::spans_from_resource_spans`]) serves both encodings.

use std::fmt;

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::grouping::group_into_traces;
use super::otlp::spans_from_resource_spans;
use super::{lenient, parse_json};
use crate::error::{Error, Result};
use crate::model::Trace;

const FORMAT: &str = "OTLP JSON";

/// Decodes one or more OTLP JSON documents.
pub fn decode(bytes: &[u8]) -> Result<Vec<Trace>> {
    Ok(group_into_traces(spans_from_resource_spans(decode_resource_spans(bytes)?, FORMAT)?))
}

/// Reads OTLP JSON into OTLP's protobuf messages, as the OTLP receiver stores them.
/// UTF-8 throughout is read as text, for the reason [`parse_json`] gives.
pub fn decode_resource_spans(bytes: &[u8]) -> Result<Vec<ResourceSpans>> {
    match std::str::from_utf8(bytes) {
        Ok(text) => read_documents(serde_json::Deserializer::from_str(text), bytes),
        Err(_) => read_documents(serde_json::Deserializer::from_slice(bytes), bytes),
    }
}

/// Every document of `bytes` (read by `reader`) as OTLP's protobuf messages.
fn read_documents<'de, R: serde_json::de::Read<'de>>(
    reader: serde_json::Deserializer<R>,
    bytes: &'de [u8],
) -> Result<Vec<ResourceSpans>> {
    let mut resource_spans = Vec::new();
    let mut documents = reader.into_iter::<Envelope>();
    loop {
        let offset = documents.byte_offset();
        match documents.next() {
            None => break,
            Some(Ok(envelope)) => resource_spans.extend(envelope.into_resource_spans()?),
            Some(Err(_)) => {
                return Err(parse_json::<Envelope>(&bytes[offset..], FORMAT).err().unwrap_or_else(|| {
                    Error::decode(FORMAT, format!("the document at byte {offset} is not valid JSON"))
                }));
            }
        }
    }
    if resource_spans.is_empty() && bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::decode(FORMAT, "the body is empty"));
    }
    resource_spans.into_iter().enumerate().map(|(i, r)| r.into_proto(i)).collect()
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default, rename = "resourceSpans", alias = "resource_spans", alias = "batches")]
    resource_spans: Option<Vec<RawResourceSpans>>,
    #[serde(default)]
    result: Option<Box<Envelope>>,
    #[serde(default)]
    trace: Option<Box<Envelope>>,
    #[serde(default)]
    error: Option<ApiError>,
}

/// The error object api/v3 returns in place of a result.
#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    message: String,
}

impl Envelope {
    fn into_resource_spans(self) -> Result<Vec<RawResourceSpans>> {
        if let Some(error) = self.error {
            return Err(Error::decode(FORMAT, format!("the backend returned an error: {}", error.message)));
        }
        match (self.resource_spans, self.result, self.trace) {
            (Some(spans), _, _) => Ok(spans),
            (None, Some(inner), _) | (None, None, Some(inner)) => inner.into_resource_spans(),
            (None, None, None) => Err(Error::decode(FORMAT, "no `resourceSpans`, `batches` or `result` found")),
        }
    }
}

#[derive(Deserialize)]
struct RawResourceSpans {
    #[serde(default)]
    resource: Option<RawResource>,
    #[serde(default, rename = "scopeSpans", alias = "scope_spans", alias = "instrumentationLibrarySpans")]
    scope_spans: Vec<RawScopeSpans>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
}

#[derive(Deserialize)]
struct RawScopeSpans {
    #[serde(default)]
    spans: Vec<RawSpan>,
}

#[derive(Deserialize)]
struct RawSpan {
    #[serde(default, rename = "traceId", alias = "trace_id")]
    trace_id: String,
    #[serde(default, rename = "spanId", alias = "span_id")]
    span_id: String,
    #[serde(default, rename = "parentSpanId", alias = "parent_span_id")]
    parent_span_id: String,
    #[serde(default)]
    name: String,
    #[serde(default, deserialize_with = "enum_code")]
    kind: i64,
    #[serde(
        default,
        rename = "startTimeUnixNano",
        alias = "start_time_unix_nano",
        deserialize_with = "lenient::time_any"
    )]
    start_time_unix_nano: i128,
    #[serde(default, rename = "endTimeUnixNano", alias = "end_time_unix_nano", deserialize_with = "lenient::time_any")]
    end_time_unix_nano: i128,
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
    #[serde(default)]
    events: Vec<RawEvent>,
    #[serde(default)]
    links: Vec<RawLink>,
    #[serde(default)]
    status: Option<RawStatus>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(default, rename = "timeUnixNano", alias = "time_unix_nano", deserialize_with = "lenient::time_any")]
    time_unix_nano: i128,
    #[serde(default)]
    name: String,
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
}

#[derive(Deserialize)]
struct RawLink {
    #[serde(default, rename = "traceId", alias = "trace_id")]
    trace_id: String,
    #[serde(default, rename = "spanId", alias = "span_id")]
    span_id: String,
    #[serde(default)]
    attributes: Vec<RawKeyValue>,
}

#[derive(Deserialize)]
struct RawStatus {
    #[serde(default, deserialize_with = "enum_code")]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
pub(super) struct RawKeyValue {
    key: String,
    #[serde(default)]
    value: Option<RawAnyValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawAnyValue {
    #[serde(default, alias = "string_value")]
    string_value: Option<String>,
    #[serde(default, alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(default, alias = "int_value", deserialize_with = "optional_i64")]
    int_value: Option<i64>,
    #[serde(default, alias = "double_value")]
    double_value: Option<f64>,
    #[serde(default, alias = "bytes_value")]
    bytes_value: Option<String>,
    #[serde(default, alias = "array_value")]
    array_value: Option<RawValues<RawAnyValue>>,
    #[serde(default, alias = "kvlist_value")]
    kvlist_value: Option<RawValues<RawKeyValue>>,
}

#[derive(Deserialize)]
struct RawValues<T> {
    #[serde(default = "Vec::new")]
    values: Vec<T>,
}

fn optional_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    lenient::i64_any(deserializer).map(Some)
}

/// OTLP enums arrive as numbers (`2`) or, from protobuf's JSON mapping, as names
/// (`"SPAN_KIND_SERVER"`, `"STATUS_CODE_ERROR"`).
fn enum_code<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct CodeVisitor;
    impl<'de> Visitor<'de> for CodeVisitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an enum number or name")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
            Ok(v as i64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
            const NAMES: [&str; 6] = ["UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER"];
            const STATUS: [&str; 3] = ["UNSET", "OK", "ERROR"];
            let name = v.trim_start_matches("SPAN_KIND_").trim_start_matches("STATUS_CODE_");
            NAMES
                .iter()
                .position(|n| *n == name)
                .filter(|_| v.starts_with("SPAN_KIND_"))
                .or_else(|| STATUS.iter().position(|n| *n == name))
                .map(|p| p as i64)
                .ok_or_else(|| E::custom(format!("unknown enum value {v:?}")))
        }
        fn visit_unit<E: de::Error>(self) -> Result<i64, E> {
            Ok(0)
        }
    }
    deserializer.deserialize_any(CodeVisitor)
}

/// OTLP JSON writes ids as hex (the specification) or base64 (protobuf's JSON mapping,
/// used by Tempo). A hex id has exactly twice as many digits as bytes.
pub(super) fn decode_id(text: &str, bytes: usize, field: &str, at: &dyn Fn() -> String) -> Result<Vec<u8>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    if text.len() == bytes * 2 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok((0..bytes).map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap_or(0)).collect());
    }
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(decoded) if decoded.len() == bytes => Ok(decoded),
        _ => Err(Error::decode(
            FORMAT,
            format!("at `{}.{field}`: {text:?} is neither {} hex digits nor base64 of {bytes} bytes", at(), bytes * 2),
        )),
    }
}

impl RawResourceSpans {
    fn into_proto(self, r: usize) -> Result<ResourceSpans> {
        let scope_spans = self
            .scope_spans
            .into_iter()
            .enumerate()
            .map(|(s, scope)| {
                let spans = scope
                    .spans
                    .into_iter()
                    .enumerate()
                    .map(|(i, span)| span.into_proto(&|| format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]")))
                    .collect::<Result<Vec<Span>>>()?;
                Ok(ScopeSpans { spans, ..Default::default() })
            })
            .collect::<Result<Vec<ScopeSpans>>>()?;
        let resource = self.resource.map(|r| Resource { attributes: key_values(r.attributes), ..Default::default() });
        Ok(ResourceSpans { resource, scope_spans, ..Default::default() })
    }
}

impl RawSpan {
    fn into_proto(self, at: &dyn Fn() -> String) -> Result<Span> {
        let links = self
            .links
            .into_iter()
            .map(|link| {
                Ok(span::Link {
                    trace_id: decode_id(&link.trace_id, 16, "links.traceId", at)?,
                    span_id: decode_id(&link.span_id, 8, "links.spanId", at)?,
                    attributes: key_values(link.attributes),
                    ..Default::default()
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Span {
            trace_id: decode_id(&self.trace_id, 16, "traceId", at)?,
            span_id: decode_id(&self.span_id, 8, "spanId", at)?,
            parent_span_id: decode_id(&self.parent_span_id, 8, "parentSpanId", at)?,
            name: self.name,
            kind: self.kind as i32,
            start_time_unix_nano: unsigned_time(self.start_time_unix_nano),
            end_time_unix_nano: unsigned_time(self.end_time_unix_nano),
            attributes: key_values(self.attributes),
            events: self
                .events
                .into_iter()
                .map(|e| span::Event {
                    time_unix_nano: unsigned_time(e.time_unix_nano),
                    name: e.name,
                    attributes: key_values(e.attributes),
                    ..Default::default()
                })
                .collect(),
            links,
            status: self.status.map(|s| Status { code: s.code as i32, message: s.message }),
            ..Default::default()
        })
    }
}

/// OTLP's times are unsigned (fixed64). A negative one is as good as none (0, which the
/// model reports); one beyond 64 bits is kept out of range, which the model repairs.
pub(super) fn unsigned_time(time_ns: i128) -> u64 {
    u64::try_from(time_ns.max(0)).unwrap_or(u64::MAX)
}

pub(super) fn key_values(raw: Vec<RawKeyValue>) -> Vec<KeyValue> {
    raw.into_iter().map(|kv| KeyValue { key: kv.key, value: kv.value.map(any_value), ..Default::default() }).collect()
}

pub(super) fn any_value(raw: RawAnyValue) -> AnyValue {
    use any_value::Value;
    let value = if let Some(s) = raw.string_value {
        Value::StringValue(s)
    } else if let Some(b) = raw.bool_value {
        Value::BoolValue(b)
    } else if let Some(i) = raw.int_value {
        Value::IntValue(i)
    } else if let Some(d) = raw.double_value {
        Value::DoubleValue(d)
    } else if let Some(b) = raw.bytes_value {
        Value::BytesValue(base64::engine::general_purpose::STANDARD.decode(&b).unwrap_or_else(|_| b.into_bytes()))
    } else if let Some(a) = raw.array_value {
        Value::ArrayValue(ArrayValue { values: a.values.into_iter().map(any_value).collect() })
    } else if let Some(kv) = raw.kvlist_value {
        Value::KvlistValue(KeyValueList { values: key_values(kv.values) })
    } else {
        return AnyValue { value: None };
    };
    AnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttrValue, SpanKind};

    #[test]
    fn hex_and_base64_ids_and_string_or_number_times_decode_alike() {
        let hex =
            br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002",
            "name":"op","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"1000","endTimeUnixNano":3000,
            "attributes":[{"key":"n","value":{"intValue":"42"}}],"futureField":true}]}]}]}"#;
        let tempo = br#"{"batches":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
            "scopeSpans":[{"spans":[{"traceId":"AAAAAAAAAAAAAAAAAAAAAQ==","spanId":"AAAAAAAAAAI=",
            "name":"op","kind":3,"startTimeUnixNano":1000,"endTimeUnixNano":"3000",
            "attributes":[{"key":"n","value":{"intValue":42}}]}]}]}]}"#;
        for body in [&hex[..], &tempo[..]] {
            let traces = decode(body).unwrap();
            let span = &traces[0].spans[0];
            assert_eq!(span.trace_id.to_string(), "00000000000000000000000000000001");
            assert_eq!(span.span_id.to_string(), "0000000000000002");
            assert_eq!((span.kind, span.duration_ns, span.service()), (SpanKind::Client, 2000, "api"));
            assert_eq!(span.attr("n"), Some(&AttrValue::Int(42)));
        }
    }

    #[test]
    fn the_api_v3_envelope_and_streamed_documents_decode() {
        let one = r#"{"result":{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","spanId":"0000000000000002","name":"a"}]}]}]}}"#;
        let two = one.replace("0000000000000002", "0000000000000003");
        let traces = decode(format!("{one}\n{two}").as_bytes()).unwrap();
        assert_eq!(traces.len(), 1);
        assert_eq!(traces[0].spans.len(), 2);
    }

    #[test]
    fn impossible_times_are_repaired_span_by_span_with_warnings() {
        let span = |id: u8, start: &str, end: &str| {
            format!(
                r#"{{"traceId":"00000000000000000000000000000001","spanId":"00000000000000{id:02x}","startTimeUnixNano":{start},"endTimeUnixNano":{end}}}"#
            )
        };
        let spans = [
            span(1, "\"1700000000000000000\"", "1699999999999999999"),
            span(2, "1700000000000000000", "\"18446744073709551615\""),
            span(3, "\"-5\"", "1700000000000000000"),
            span(4, "\"99999999999999999999\"", "1e30"),
            span(5, "1700000000000000000", "1700000000000003000"),
        ];
        let body = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{}]}}]}}]}}"#, spans.join(","));
        let trace = decode(body.as_bytes()).unwrap().remove(0);
        let times: Vec<(u64, u64)> = trace.spans.iter().map(|s| (s.start_ns, s.duration_ns)).collect();
        const NOW: u64 = 1_700_000_000_000_000_000;
        assert_eq!(times, [(NOW, 0), (NOW, 0), (0, 0), (0, 0), (NOW, 3_000)]);
        for expected in [
            "1 span ends before it starts, shown as taking no time: 0000000000000001",
            "1 span lasts longer than 30 days, shown as taking no time: 0000000000000002",
            "1 span has no start time: 0000000000000003",
            "1 span starts before 1970 or after 2262, shown with no start time: 0000000000000004",
        ] {
            assert!(trace.warnings.iter().any(|w| w == expected), "{expected:?} in {:#?}", trace.warnings);
        }
    }

    #[test]
    fn bad_ids_and_bad_json_say_where() {
        let err = decode(
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz","spanId":"0000000000000002"}]}]}]}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("resourceSpans[0].scopeSpans[0].spans[0].traceId"), "{err}");
        let err = decode(br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"later"}]}]}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("startTimeUnixNano") && err.contains("not an integer"), "{err}");
        let err = decode(br#"{"error":{"httpCode":404,"message":"trace not found"}}"#).unwrap_err().to_string();
        assert!(err.contains("trace not found"), "{err}");
    }
}
