//! How much memory decoding an OTLP body will allocate, known before decoding it.
//!
//! Decoded messages are larger than their encoding: an empty span is 2 bytes of protobuf
//! (or 3 of JSON) and a few hundred bytes of struct, so 16 MiB of empty spans would decode
//! into gigabytes. The receiver reserves this bound from the memory budget before it
//! decodes, and refuses bodies whose bound no request may hold.
//!
//! For protobuf the bound walks the wire format with the schema of the trace (or logs) messages,
//! counting what prost allocates: the `Vec` of every repeated message field (see
//! [`vector`]) and what its elements hold,
//! every string and byte field (its length plus the allocator's overhead); singular
//! messages live inline in their parent. For JSON (OTLP JSON and Zipkin v2 JSON), whose
//! decoders are private to the formats layer, it is a coarser bound from the counts of
//! objects, arrays and strings.

use std::mem::size_of;

use opentelemetry_proto::tonic::common::v1::{AnyValue, EntityRef, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};

use crate::model::{Attribute, Span as ModelSpan};

/// What one heap allocation costs beyond its bytes (glibc's header and rounding, 32 B at least).
const ALLOCATION: usize = 32;
/// Prost's own limit on nested messages.
const MAX_DEPTH: usize = 100;

/// How a field of a trace message is held once decoded. Repeated fields are numbered
/// below 16 in every trace message.
#[derive(Clone, Copy)]
enum Field {
    /// A `String` or `Vec<u8>` of the field's length.
    Heap,
    /// One `String` of a repeated string field.
    HeapElement,
    /// A message inside its parent (`Option<T>` or a oneof): no allocation of its own.
    Inline(&'static Message),
    /// One element of a repeated message field, in its parent's `Vec<T>`.
    Element(&'static Message),
}

/// The decoded size of a message type and how its length-delimited fields are held; other
/// fields (numbers, enums) are inside the struct and cost nothing more.
struct Message {
    size: usize,
    fields: &'static [(u32, Field)],
}

static REQUEST: Message = Message { size: 0, fields: &[(1, Field::Element(&RESOURCE_SPANS))] };
static RESOURCE_SPANS: Message = Message {
    size: size_of::<ResourceSpans>(),
    fields: &[(1, Field::Inline(&RESOURCE)), (2, Field::Element(&SCOPE_SPANS)), (3, Field::Heap)],
};
static RESOURCE: Message =
    Message { size: 0, fields: &[(1, Field::Element(&KEY_VALUE)), (3, Field::Element(&ENTITY_REF))] };
static ENTITY_REF: Message = Message {
    size: size_of::<EntityRef>(),
    fields: &[(1, Field::Heap), (2, Field::Heap), (3, Field::HeapElement), (4, Field::HeapElement)],
};
static SCOPE_SPANS: Message = Message {
    size: size_of::<ScopeSpans>(),
    fields: &[(1, Field::Inline(&SCOPE)), (2, Field::Element(&SPAN)), (3, Field::Heap)],
};
static SCOPE: Message =
    Message { size: 0, fields: &[(1, Field::Heap), (2, Field::Heap), (3, Field::Element(&KEY_VALUE))] };
static SPAN: Message = Message {
    size: size_of::<Span>(),
    fields: &[
        (1, Field::Heap),
        (2, Field::Heap),
        (3, Field::Heap),
        (4, Field::Heap),
        (5, Field::Heap),
        (9, Field::Element(&KEY_VALUE)),
        (11, Field::Element(&EVENT)),
        (13, Field::Element(&LINK)),
        (15, Field::Inline(&STATUS)),
    ],
};
static EVENT: Message =
    Message { size: size_of::<span::Event>(), fields: &[(2, Field::Heap), (3, Field::Element(&KEY_VALUE))] };
static LINK: Message = Message {
    size: size_of::<span::Link>(),
    fields: &[(1, Field::Heap), (2, Field::Heap), (3, Field::Heap), (4, Field::Element(&KEY_VALUE))],
};
static STATUS: Message = Message { size: 0, fields: &[(2, Field::Heap)] };
static KEY_VALUE: Message =
    Message { size: size_of::<KeyValue>(), fields: &[(1, Field::Heap), (2, Field::Inline(&ANY_VALUE))] };
static ANY_VALUE: Message = Message {
    size: 0,
    fields: &[(1, Field::Heap), (5, Field::Inline(&ARRAY)), (6, Field::Inline(&KEY_VALUE_LIST)), (7, Field::Heap)],
};
static ARRAY: Message = Message { size: 0, fields: &[(1, Field::Element(&ANY_VALUE_ELEMENT))] };
/// An `AnyValue` as an element of an array, where it is not inline.
static ANY_VALUE_ELEMENT: Message = Message { size: size_of::<AnyValue>(), fields: ANY_VALUE.fields };
static KEY_VALUE_LIST: Message = Message { size: 0, fields: &[(1, Field::Element(&KEY_VALUE))] };

static LOGS_REQUEST: Message = Message { size: 0, fields: &[(1, Field::Element(&RESOURCE_LOGS))] };
static RESOURCE_LOGS: Message = Message {
    size: size_of::<ResourceLogs>(),
    fields: &[(1, Field::Inline(&RESOURCE)), (2, Field::Element(&SCOPE_LOGS)), (3, Field::Heap)],
};
static SCOPE_LOGS: Message = Message {
    size: size_of::<ScopeLogs>(),
    fields: &[(1, Field::Inline(&SCOPE)), (2, Field::Element(&LOG_RECORD)), (3, Field::Heap)],
};
static LOG_RECORD: Message = Message {
    size: size_of::<LogRecord>(),
    fields: &[
        (3, Field::Heap),
        (5, Field::Inline(&ANY_VALUE)),
        (6, Field::Element(&KEY_VALUE)),
        (9, Field::Heap),
        (10, Field::Heap),
        (12, Field::Heap),
    ],
};

/// Why a protobuf body could not be walked: it is not protobuf.
#[derive(Debug, PartialEq)]
pub struct Malformed(pub &'static str);

/// The bytes that decoding `body` as an `ExportTraceServiceRequest` will allocate at most.
pub fn protobuf(body: &[u8]) -> Result<usize, Malformed> {
    // A sixteenth more for what the count does not see, such as large blocks' rounding.
    message(body, &REQUEST, 0).map(|cost| cost.saturating_add(cost / 16))
}

/// The bytes that decoding `body` as an `ExportLogsServiceRequest` will allocate at most.
pub fn logs_protobuf(body: &[u8]) -> Result<usize, Malformed> {
    message(body, &LOGS_REQUEST, 0).map(|cost| cost.saturating_add(cost / 16))
}

fn message(mut bytes: &[u8], schema: &Message, depth: usize) -> Result<usize, Malformed> {
    if depth > MAX_DEPTH {
        return Err(Malformed("messages nested too deeply"));
    }
    let mut cost = 0usize;
    // Elements of each repeated field, by field number: their `Vec`s are counted at the end.
    let mut elements = [0usize; 16];
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let (number, wire_type) = (key >> 3, key & 7);
        if number == 0 {
            return Err(Malformed("a field numbered 0"));
        }
        match wire_type {
            0 => {
                varint(&mut bytes)?;
            }
            1 => bytes = skip(bytes, 8)?,
            5 => bytes = skip(bytes, 4)?,
            2 => {
                let length = usize::try_from(varint(&mut bytes)?).map_err(|_| Malformed("a length past the body"))?;
                let content = bytes.get(..length).ok_or(Malformed("a length past the body"))?;
                bytes = &bytes[length..];
                let Some(field) = schema.field(number) else { continue };
                if let Field::HeapElement | Field::Element(_) = field {
                    elements[number as usize] += 1;
                }
                cost = cost.saturating_add(match field {
                    Field::Heap | Field::HeapElement => length + ALLOCATION,
                    Field::Inline(inner) | Field::Element(inner) => message(content, inner, depth + 1)?,
                });
            }
            _ => return Err(Malformed("an unknown wire type")),
        }
    }
    for &(number, field) in schema.fields {
        let count = elements[number as usize];
        cost = cost.saturating_add(match field {
            Field::HeapElement => vector(count, size_of::<String>()),
            Field::Element(inner) => vector(count, inner.size),
            Field::Heap | Field::Inline(_) => 0,
        });
    }
    Ok(cost)
}

impl Message {
    fn field(&self, number: u64) -> Option<Field> {
        self.fields.iter().find(|(n, _)| u64::from(*n) == number).map(|(_, field)| *field)
    }
}

/// What a `Vec` of `count` elements filled one push at a time costs at most: its
/// capacity doubles from four slots, and while it moves to a larger block the old one
/// (half the size) still exists.
fn vector(count: usize, size: usize) -> usize {
    if count == 0 {
        return 0;
    }
    let slots = count.checked_next_power_of_two().unwrap_or(usize::MAX).max(4);
    slots.saturating_mul(size).saturating_mul(3) / 2 + ALLOCATION
}

fn varint(bytes: &mut &[u8]) -> Result<u64, Malformed> {
    let mut value = 0u64;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Ok(value);
        }
    }
    Err(Malformed("a truncated or overlong varint"))
}

fn skip(bytes: &[u8], count: usize) -> Result<&[u8], Malformed> {
    bytes.get(count..).ok_or(Malformed("a field past the body"))
}

/// What one JSON object costs at most once decoded: a slot in its parent's `Vec` while
/// the JSON form is read (three times its size as the `Vec` grows, see [`vector`]), and
/// its protobuf twin made from it, the largest of either being about a span.
const JSON_OBJECT: usize = 4 * size_of::<Span>() + 2 * ALLOCATION;
/// What one JSON array costs at most beyond its elements: a `Vec` of at least four slots.
const JSON_ARRAY: usize = 4 * size_of::<Span>() + ALLOCATION;

/// The bytes that decoding `body` as OTLP JSON will allocate at most: its text (strings
/// are copied out), and for every `{`, `[` and string what holding it costs. Braces
/// inside strings are counted too, which only makes the bound safer.
pub fn json(body: &[u8]) -> usize {
    let shape = JsonShape::of(body);
    body.len()
        .saturating_add(shape.objects.saturating_mul(JSON_OBJECT))
        .saturating_add(shape.arrays.saturating_mul(JSON_ARRAY))
        .saturating_add(shape.strings.saturating_mul(ALLOCATION))
}

/// What one Zipkin JSON object costs at most once decoded and turned into OTLP: a span
/// object is the decoder's raw span, then a model span with its place in the span tree
/// (rebuilt once more when shared ids are undone), then an OTLP span; its endpoints and
/// annotations cost less than a span each.
const ZIPKIN_OBJECT: usize = 4 * size_of::<ModelSpan>() + 4 * size_of::<Span>() + 8 * ALLOCATION;
/// What one Zipkin string costs at most: a tag's key or value is held in the decoder's
/// map, in a model attribute and in an OTLP key-value, each a copy of its own.
const ZIPKIN_STRING: usize = 4 * ALLOCATION + 2 * size_of::<Attribute>() + 2 * size_of::<KeyValue>();

/// The bytes that decoding `body` as Zipkin v2 JSON and converting it to OTLP will
/// allocate at most: its text three times (the decoder's strings, the model's, OTLP's)
/// and for every `{`, `[` and string what holding it costs on the way.
pub fn zipkin_json(body: &[u8]) -> usize {
    let shape = JsonShape::of(body);
    body.len()
        .saturating_mul(3)
        .saturating_add(shape.objects.saturating_mul(ZIPKIN_OBJECT))
        .saturating_add(shape.arrays.saturating_mul(JSON_ARRAY))
        .saturating_add(shape.strings.saturating_mul(ZIPKIN_STRING))
}

/// How many objects, arrays and strings a JSON text holds at most.
struct JsonShape {
    objects: usize,
    arrays: usize,
    strings: usize,
}

impl JsonShape {
    fn of(body: &[u8]) -> JsonShape {
        let (mut objects, mut arrays, mut quotes) = (0usize, 0usize, 0usize);
        for &byte in body {
            match byte {
                b'{' => objects += 1,
                b'[' => arrays += 1,
                b'"' => quotes += 1,
                _ => {}
            }
        }
        JsonShape { objects, arrays, strings: quotes.div_ceil(2) }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message as _;

    use super::*;

    fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn empty_spans_cost_their_structs_not_their_two_bytes() {
        let body = request(vec![Span::default(); 1000]).encode_to_vec();
        assert!(body.len() < 3000);
        assert!(protobuf(&body).unwrap() >= 1024 * size_of::<Span>());
    }

    #[test]
    fn malformed_bodies_are_told_apart() {
        assert_eq!(protobuf(&[0x0a, 0x05, 1]), Err(Malformed("a length past the body")));
        assert_eq!(protobuf(&[0x0b]), Err(Malformed("an unknown wire type")));
        assert_eq!(protobuf(&[0xff; 11]), Err(Malformed("a truncated or overlong varint")));
        assert_eq!(protobuf(&[]), Ok(0));
    }

    #[test]
    fn arrays_nested_past_prosts_limit_are_malformed() {
        let mut value = Vec::new();
        for _ in 0..150 {
            // AnyValue { array_value: ArrayValue { values: [value] } }
            let array = [vec![0x0a], varint_bytes(value.len()), value].concat();
            value = [vec![0x2a], varint_bytes(array.len()), array].concat();
        }
        let key_value = [vec![0x12], varint_bytes(value.len()), value].concat();
        let span = [vec![0x4a], varint_bytes(key_value.len()), key_value].concat();
        let scope = [vec![0x12], varint_bytes(span.len()), span].concat();
        let resource = [vec![0x12], varint_bytes(scope.len()), scope].concat();
        let body = [vec![0x0a], varint_bytes(resource.len()), resource].concat();
        assert_eq!(protobuf(&body), Err(Malformed("messages nested too deeply")));
    }

    fn varint_bytes(mut n: usize) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }
}
