//! OTLP/protobuf trace requests read in place into rows: no owned message per span, and
//! no re-encoding of it.
//!
//! Decoding a 512-span request into prost messages and encoding each span again as its
//! stored body made a dozen allocations a span and most of the ingest CPU beside SQLite.
//! A span inside a request is already a complete `Span` message: its body is the span's
//! own fields copied as they arrived, less those the row's columns hold (ids, name,
//! times) and fields this version does not know (which the prost round trip dropped too),
//! so what is stored decodes to exactly what the store read before.
//!
//! The walk accepts only what prost accepts, and gives up (`None`) on anything it does not
//! read itself with the same meaning: a wrong wire type, a group, a repeated singular
//! message. The caller then decodes the request with prost as before, which refuses a
//! malformed request with prost's own words or stores an odd but valid one the ordinary
//! way. Rare parts (events, links, a status, a resource, structured attribute values)
//! are decoded by prost one message at a time, which checks them as the whole decode did.

use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Status;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use prost::Message;

use super::ingest::{PreparedBatch, ResourceRows, SpanFields};
use super::links;
use super::parts::{tag_key, value_key};
use crate::formats::otlp::{convert_attributes, status_code};
use crate::model::{AttrValue, StatusCode};

/// One field of a message as it is on the wire.
enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32,
    Bytes(&'a [u8]),
}

struct Field<'a> {
    number: u32,
    value: Value<'a>,
    /// The whole field, key included, to copy it.
    raw: &'a [u8],
}

/// The fields of one message, in order; `None` past the end, `Err` for bytes prost
/// would refuse or that the walk leaves to prost (groups).
struct Fields<'a> {
    bytes: &'a [u8],
}

struct GiveUp;

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Fields { bytes }
    }

    fn next(&mut self) -> Result<Option<Field<'a>>, GiveUp> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let start = self.bytes;
        let mut rest = self.bytes;
        let key = prost::encoding::decode_varint(&mut rest).map_err(|_| GiveUp)?;
        let key = u32::try_from(key).map_err(|_| GiveUp)?;
        let number = key >> 3;
        if number == 0 {
            return Err(GiveUp);
        }
        let value = match key & 7 {
            0 => Value::Varint(prost::encoding::decode_varint(&mut rest).map_err(|_| GiveUp)?),
            1 => {
                let (word, tail) = rest.split_first_chunk::<8>().ok_or(GiveUp)?;
                rest = tail;
                Value::Fixed64(u64::from_le_bytes(*word))
            }
            5 => {
                rest = rest.get(4..).ok_or(GiveUp)?;
                Value::Fixed32
            }
            2 => {
                let length = prost::encoding::decode_varint(&mut rest).map_err(|_| GiveUp)?;
                let length = usize::try_from(length).map_err(|_| GiveUp)?;
                let content = rest.get(..length).ok_or(GiveUp)?;
                rest = &rest[length..];
                Value::Bytes(content)
            }
            _ => return Err(GiveUp),
        };
        self.bytes = rest;
        Ok(Some(Field { number, value, raw: &start[..start.len() - rest.len()] }))
    }
}

fn bytes<'a>(value: &Value<'a>) -> Result<&'a [u8], GiveUp> {
    match value {
        Value::Bytes(bytes) => Ok(bytes),
        _ => Err(GiveUp),
    }
}

fn text<'a>(value: &Value<'a>) -> Result<&'a str, GiveUp> {
    std::str::from_utf8(bytes(value)?).map_err(|_| GiveUp)
}

fn varint(value: &Value) -> Result<u64, GiveUp> {
    match value {
        Value::Varint(v) => Ok(*v),
        _ => Err(GiveUp),
    }
}

fn fixed64(value: &Value) -> Result<u64, GiveUp> {
    match value {
        Value::Fixed64(v) => Ok(*v),
        _ => Err(GiveUp),
    }
}

/// A message decoded by prost on its own, as the whole decode would have.
fn decoded<M: Message + Default>(value: &Value) -> Result<M, GiveUp> {
    M::decode(bytes(value)?).map_err(|_| GiveUp)
}

/// The rows of an `ExportTraceServiceRequest`, or `None` when prost must decode it.
pub(super) fn prepare(request: &[u8]) -> Option<PreparedBatch> {
    let mut batch = PreparedBatch::empty();
    let mut fields = Fields::new(request);
    while let Some(field) = fields.next().ok()? {
        if field.number == 1 {
            resource_spans(bytes(&field.value).ok()?, &mut batch).ok()?;
        }
    }
    Some(batch)
}

fn resource_spans(message: &[u8], batch: &mut PreparedBatch) -> Result<(), GiveUp> {
    // The resource first, wherever it is: every span's keys need its service.
    let mut resource = None;
    let mut fields = Fields::new(message);
    while let Some(field) = fields.next()? {
        match field.number {
            1 if resource.is_none() => resource = Some(decoded::<Resource>(&field.value)?),
            1 => return Err(GiveUp),
            3 => {
                text(&field.value)?;
            }
            _ => {}
        }
    }
    let mut walked = Ok(());
    // The spans' bodies are parts of the message: its size bounds theirs.
    batch.add_resource(resource.unwrap_or_default(), message.len(), |rows| {
        walked = scope_spans_of(message, rows);
        walked.is_ok().then_some(())
    });
    walked
}

fn scope_spans_of(message: &[u8], rows: &mut ResourceRows) -> Result<(), GiveUp> {
    let mut scratch = Scratch::default();
    let mut fields = Fields::new(message);
    while let Some(field) = fields.next()? {
        if field.number != 2 {
            continue;
        }
        let mut scope_fields = Fields::new(bytes(&field.value)?);
        while let Some(field) = scope_fields.next()? {
            match field.number {
                1 => {
                    decoded::<InstrumentationScope>(&field.value)?;
                }
                2 => span(bytes(&field.value)?, rows, &mut scratch)?,
                3 => {
                    text(&field.value)?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Fields the row's columns hold, left out of the body: trace id, span id, name, start
/// and end.
const IN_COLUMNS: [u32; 5] = [1, 2, 5, 7, 8];
/// The highest field number of `Span` this version knows; others are left out too.
const LAST_FIELD: u32 = 16;

/// A span's body and keys being read, kept from span to span so that reading one
/// allocates nothing.
#[derive(Default)]
struct Scratch {
    body: Vec<u8>,
    keys: Vec<u32>,
}

fn span(message: &[u8], rows: &mut ResourceRows, scratch: &mut Scratch) -> Result<(), GiveUp> {
    let mut span = SpanFields {
        trace_id: &[],
        span_id: &[],
        parent_span_id: &[],
        name: "",
        kind: 0,
        start_ns: 0,
        end_ns: 0,
        error: false,
    };
    let Scratch { body, keys } = scratch;
    body.clear();
    // Computed as the span is read, though wasted on a span the store refuses.
    keys.clear();
    let mut span_links = Vec::new();
    let mut status = false;
    let mut fields = Fields::new(message);
    while let Some(field) = fields.next()? {
        let value = &field.value;
        match field.number {
            1 => span.trace_id = bytes(value)?,
            2 => span.span_id = bytes(value)?,
            3 => {
                text(value)?;
            }
            4 => span.parent_span_id = bytes(value)?,
            5 => span.name = text(value)?,
            6 => span.kind = varint(value)? as i32,
            7 => span.start_ns = fixed64(value)?,
            8 => span.end_ns = fixed64(value)?,
            9 => keys.extend(attribute_key(rows.service(), bytes(value)?)?),
            10 | 12 | 14 => {
                varint(value)?;
            }
            11 => {
                decoded::<Event>(value)?;
            }
            13 => span_links.push(decoded::<Link>(value)?),
            // A second status would be merged into the first: prost's to do.
            15 if status => return Err(GiveUp),
            15 => {
                status = true;
                span.error = status_code(decoded::<Status>(value)?.code) == StatusCode::Error;
            }
            16 if !matches!(value, Value::Fixed32) => return Err(GiveUp),
            _ => {}
        }
        if field.number <= LAST_FIELD && !IN_COLUMNS.contains(&field.number) {
            body.extend_from_slice(field.raw);
        }
    }
    let Some(ids) = rows.accepts(&span) else { return Ok(()) };
    rows.push(ids, &span, body, keys, links::of_links(&span_links));
    Ok(())
}

/// The index key of an encoded `KeyValue` (none for `service.name`, see
/// [`super::ingest::part_keys`]). Strings, booleans and numbers are read in place;
/// anything else is decoded by prost.
fn attribute_key(service: &str, message: &[u8]) -> Result<Option<u32>, GiveUp> {
    let Some((key, value)) = simple_attribute(message)? else {
        let attribute = KeyValue::decode(message).map_err(|_| GiveUp)?;
        let attribute = convert_attributes(vec![attribute]).pop().ok_or(GiveUp)?;
        return Ok((attribute.key != "service.name").then(|| value_key(service, &attribute.key, &attribute.value)));
    };
    if key == "service.name" {
        return Ok(None);
    }
    Ok(Some(match value {
        Simple::Text(text) => tag_key(service, key, text),
        Simple::Other(value) => value_key(service, key, &value),
    }))
}

enum Simple<'a> {
    Text(&'a str),
    Other(AttrValue),
}

/// A `KeyValue` of one key and at most one string, boolean, integer or double, each
/// field once; `None` for any other shape.
fn simple_attribute(message: &[u8]) -> Result<Option<(&str, Simple<'_>)>, GiveUp> {
    let (mut key, mut value) = (None, None);
    let mut fields = Fields::new(message);
    while let Some(field) = fields.next()? {
        match field.number {
            1 if key.is_none() => key = Some(text(&field.value)?),
            2 if value.is_none() => value = Some(bytes(&field.value)?),
            _ => return Ok(None),
        }
    }
    let mut simple = None;
    let mut fields = Fields::new(value.unwrap_or_default());
    while let Some(field) = fields.next()? {
        if simple.is_some() {
            return Ok(None);
        }
        simple = Some(match (field.number, &field.value) {
            (1, Value::Bytes(_)) => Simple::Text(text(&field.value)?),
            (2, Value::Varint(v)) => Simple::Other(AttrValue::Bool(*v != 0)),
            (3, Value::Varint(v)) => Simple::Other(AttrValue::Int(*v as i64)),
            (4, Value::Fixed64(v)) => Simple::Other(AttrValue::Float(f64::from_bits(*v))),
            _ => return Ok(None),
        });
    }
    Ok(Some((key.unwrap_or_default(), simple.unwrap_or(Simple::Text("")))))
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue as Array, KeyValueList, any_value};
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn attribute(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(value) }), ..Default::default() }
    }

    /// Spans of every shape the store reads: all kinds of attribute values, events, links,
    /// a status, parents, and ids the store refuses.
    fn request() -> Vec<u8> {
        use any_value::Value::*;
        let spans = (0..40u64)
            .map(|n| Span {
                trace_id: if n == 7 { vec![0; 16] } else { (u128::from(n / 4) + 1).to_be_bytes().to_vec() },
                span_id: if n == 9 { vec![1; 3] } else { (n + 1).to_be_bytes().to_vec() },
                parent_span_id: if n % 4 == 0 { Vec::new() } else { (n - n % 4 + 1).to_be_bytes().to_vec() },
                trace_state: "k=v".into(),
                name: format!("op{}", n % 5),
                kind: (n % 6) as i32,
                start_time_unix_nano: 1_000 + n,
                end_time_unix_nano: 5_000 + n * 7,
                attributes: vec![
                    attribute("http.route", StringValue("/items/{id}".into())),
                    attribute("service.name", StringValue("shadow".into())),
                    attribute("ok", BoolValue(n % 2 == 0)),
                    attribute("count", IntValue(n as i64 - 20)),
                    attribute("ratio", DoubleValue(n as f64 / 3.0)),
                    attribute("raw", BytesValue(vec![n as u8, 0xff])),
                    attribute("list", ArrayValue(Array { values: vec![AnyValue { value: Some(IntValue(3)) }] })),
                    attribute(
                        "map",
                        KvlistValue(KeyValueList { values: vec![attribute("inner", StringValue("x".into()))] }),
                    ),
                    KeyValue { key: "empty".into(), value: None, ..Default::default() },
                ],
                events: vec![opentelemetry_proto::tonic::trace::v1::span::Event {
                    time_unix_nano: 2_000,
                    name: "retry".into(),
                    attributes: vec![attribute("attempt", IntValue(2))],
                    ..Default::default()
                }],
                links: (n % 3 == 0)
                    .then(|| Link { trace_id: vec![9; 16], span_id: vec![8; 8], ..Default::default() })
                    .into_iter()
                    .collect(),
                status: (n % 5 == 0).then(|| Status { code: (n % 3) as i32, message: "boom".into() }),
                flags: 0x301,
                dropped_attributes_count: 2,
                ..Default::default()
            })
            .collect::<Vec<_>>();
        let resource = |service: &str| Resource {
            attributes: vec![
                attribute("service.name", any_value::Value::StringValue(service.into())),
                attribute("service.version", any_value::Value::StringValue("1.2".into())),
            ],
            ..Default::default()
        };
        ExportTraceServiceRequest {
            resource_spans: vec![
                ResourceSpans {
                    resource: Some(resource("cart")),
                    scope_spans: vec![
                        ScopeSpans { spans: spans[..25].to_vec(), ..Default::default() },
                        ScopeSpans { spans: spans[25..30].to_vec(), ..Default::default() },
                    ],
                    ..Default::default()
                },
                ResourceSpans {
                    scope_spans: vec![ScopeSpans { spans: spans[30..].to_vec(), ..Default::default() }],
                    ..Default::default()
                },
            ],
        }
        .encode_to_vec()
    }

    /// What prost's decoding and the store's preparation make of `request`.
    fn through_prost(request: &[u8]) -> Option<String> {
        let decoded = ExportTraceServiceRequest::decode(request).ok()?;
        Some(PreparedBatch::new(decoded.resource_spans).summary())
    }

    #[test]
    fn read_in_place_the_rows_are_those_of_the_decoded_request() {
        let request = request();
        let in_place = prepare(&request).expect("read in place");
        let decoded = PreparedBatch::new(ExportTraceServiceRequest::decode(request.as_slice()).unwrap().resource_spans);
        assert_eq!(in_place.bodies(), decoded.bodies(), "the bodies prost would encode, byte for byte");
        let in_place = in_place.summary();
        assert_eq!(Some(in_place.clone()), through_prost(&request));
        assert!(in_place.contains("rejected: 2"), "{in_place}");
    }

    #[test]
    fn what_is_read_in_place_prost_reads_the_same_and_the_rest_is_left_to_it() {
        let request = request();
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut read, mut left) = (0, 0);
        for round in 0..3000 {
            let mut mutated = request.clone();
            for _ in 0..1 + round % 3 {
                let at = next() as usize % mutated.len();
                mutated[at] = next() as u8;
            }
            if round % 7 == 0 {
                mutated.truncate(next() as usize % mutated.len());
            }
            match prepare(&mutated) {
                Some(batch) => {
                    read += 1;
                    assert_eq!(Some(batch.summary()), through_prost(&mutated), "round {round}");
                }
                None => left += 1,
            }
        }
        assert!(read > 100 && left > 100, "{read} read in place, {left} left to prost");
    }
}
