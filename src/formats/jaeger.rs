//! Jaeger query API v1 JSON: the `{data:[…]}` search response, a single trace object (as
//! `/api/traces/{id}` wraps it or Jaeger UI downloads it), and a bare array of spans.
//!
//! Jaeger is lenient about ids (any string), so this decoder is too: non-hex ids are
//! hashed and kept as text on the span. It is strict about structure: a wrong type is an
//! error naming the JSON path where it was found.

use std::borrow::{Borrow, Cow};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use smol_str::ToSmolStr;

use super::grouping::group_into_traces;
use super::{lenient, parse_json};
use crate::error::{Error, Result};
use crate::model::times::event_time;
use crate::model::{
    AttrValue, Attribute, Event, IdMap, RefKind, Reference, References, Resource, SmolStr, Span, SpanId, SpanKind,
    SpanTimes, Status, StatusCode, Trace, TraceId,
};

const FORMAT: &str = "Jaeger JSON";

/// Decodes any of the three Jaeger JSON shapes.
///
/// One pass: each span is turned into a model span as soon as it is read, its strings
/// borrowed from `bytes` until they land in the model, so nothing is allocated for a span
/// but what the model keeps. Only what a span's trace or process object says (its
/// `processes`, a trace-level `traceID`, which may come after the spans) is settled
/// after the trace is read.
pub fn decode(bytes: &[u8]) -> Result<Vec<Trace>> {
    let document: Document = parse_json(bytes, FORMAT)?;
    if let Some(errors) = document.errors.filter(|e| !e.is_empty()) {
        let messages: Vec<String> = errors.iter().map(|e| e.msg.clone()).collect();
        if document.data.is_none() {
            return Err(Error::decode(FORMAT, format!("the response holds only errors: {}", messages.join("; "))));
        }
    }
    let mut raw_traces = match (document.data, document.spans, document.bare_spans) {
        (Some(data), _, _) => data.0,
        (None, Some(spans), _) => vec![RawTrace { trace_id: document.trace_id, spans, processes: document.processes }],
        (None, None, Some(spans)) => vec![RawTrace { trace_id: None, spans, processes: HashMap::new() }],
        (None, None, None) => return Err(Error::decode(FORMAT, "no `data`, `spans` or span array found")),
    };
    let spans = match raw_traces.len() {
        1 => raw_traces.pop().map(RawTrace::into_spans).unwrap_or_default(),
        _ => raw_traces.into_iter().flat_map(RawTrace::into_spans).collect(),
    };
    Ok(group_into_traces(spans))
}

/// A string of the document: borrowed from its bytes unless it holds escapes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Str<'de>(Cow<'de, str>);

impl Borrow<str> for Str<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor<'a>(std::marker::PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for StrVisitor<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(StrVisitor(std::marker::PhantomData))
    }
}

/// The top level: an object in one of several shapes, or a bare span array.
#[derive(Default)]
struct Document<'de> {
    data: Option<OneOrMany<RawTrace<'de>>>,
    errors: Option<Vec<RawError>>,
    trace_id: Option<Str<'de>>,
    spans: Option<SpanList<'de>>,
    processes: HashMap<Str<'de>, RawProcess>,
    bare_spans: Option<SpanList<'de>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DocumentObject<'a> {
    #[serde(default, borrow)]
    data: Option<OneOrMany<RawTrace<'a>>>,
    #[serde(default)]
    errors: Option<Vec<RawError>>,
    #[serde(default, rename = "traceID", borrow)]
    trace_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    spans: Option<SpanList<'a>>,
    #[serde(default, borrow)]
    processes: Option<HashMap<Str<'a>, RawProcess>>,
}

impl<'de> Deserialize<'de> for Document<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DocumentVisitor;
        impl<'de> Visitor<'de> for DocumentVisitor {
            type Value = Document<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Jaeger response object or an array of spans")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Document<'de>, A::Error> {
                let spans = SpanList::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Document { bare_spans: Some(spans), ..Document::default() })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Document<'de>, A::Error> {
                let o = DocumentObject::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Document {
                    data: o.data,
                    errors: o.errors,
                    trace_id: o.trace_id,
                    spans: o.spans,
                    processes: o.processes.unwrap_or_default(),
                    bare_spans: None,
                })
            }
        }
        deserializer.deserialize_any(DocumentVisitor)
    }
}

/// `data` is an array of traces in search responses and a single trace in Jaeger UI's
/// saved state; both are accepted without buffering the document.
struct OneOrMany<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a trace or an array of traces")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany<T>, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(OneOrMany)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<OneOrMany<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<OneOrMany<T>, E> {
                Ok(OneOrMany(Vec::new()))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct RawError {
    #[serde(default)]
    msg: String,
}

#[derive(Deserialize)]
struct RawTrace<'a> {
    #[serde(default, rename = "traceID", borrow)]
    trace_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    spans: SpanList<'a>,
    #[serde(default, borrow)]
    processes: HashMap<Str<'a>, RawProcess>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawProcess {
    #[serde(default)]
    service_name: SmolStr,
    #[serde(default, deserialize_with = "attributes")]
    tags: Vec<Attribute>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpan<'a> {
    #[serde(default, rename = "traceID", borrow)]
    trace_id: Option<Str<'a>>,
    #[serde(rename = "spanID", borrow)]
    span_id: Str<'a>,
    #[serde(default, rename = "parentSpanID", borrow)]
    parent_span_id: Option<Str<'a>>,
    #[serde(default)]
    operation_name: SmolStr,
    #[serde(default, borrow)]
    references: Option<SmallVec<[RawReference<'a>; 1]>>,
    /// In µs, as every time of Jaeger's JSON.
    #[serde(default, deserialize_with = "lenient::time_any")]
    start_time: i128,
    #[serde(default, deserialize_with = "lenient::time_any")]
    duration: i128,
    #[serde(default, deserialize_with = "attributes")]
    tags: Vec<Attribute>,
    #[serde(default, deserialize_with = "events")]
    logs: Vec<Event>,
    #[serde(default, rename = "processID", borrow)]
    process_id: Option<Str<'a>>,
    #[serde(default)]
    process: Option<RawProcess>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawReference<'a> {
    #[serde(default, borrow)]
    ref_type: Str<'a>,
    #[serde(default, rename = "traceID", borrow)]
    trace_id: Option<Str<'a>>,
    #[serde(rename = "spanID", borrow)]
    span_id: Str<'a>,
}

#[derive(Deserialize)]
struct RawLog {
    #[serde(default, deserialize_with = "lenient::time_any")]
    timestamp: i128,
    #[serde(default, deserialize_with = "attributes")]
    fields: Vec<Attribute>,
}

#[derive(Deserialize)]
struct RawTag<'a> {
    key: SmolStr,
    #[serde(default, rename = "type", borrow)]
    kind: Option<Str<'a>>,
    #[serde(default)]
    value: TagValue,
}

/// A tag value as JSON gives it, before its declared `type` is applied.
#[derive(Default)]
enum TagValue {
    #[default]
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(SmolStr),
}

impl<'de> Deserialize<'de> for TagValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TagValueVisitor;
        impl<'de> Visitor<'de> for TagValueVisitor {
            type Value = TagValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_bool<E>(self, v: bool) -> Result<TagValue, E> {
                Ok(TagValue::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<TagValue, E> {
                Ok(TagValue::Int(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<TagValue, E> {
                Ok(i64::try_from(v).map(TagValue::Int).unwrap_or(TagValue::Float(v as f64)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<TagValue, E> {
                Ok(TagValue::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<TagValue, E> {
                Ok(TagValue::Str(v.into()))
            }
            fn visit_unit<E>(self) -> Result<TagValue, E> {
                Ok(TagValue::Null)
            }
        }
        deserializer.deserialize_any(TagValueVisitor)
    }
}

impl RawTag<'_> {
    fn into_attribute(self) -> Attribute {
        let value = match (self.kind.as_ref().map(|k| &*k.0), self.value) {
            (Some("bool"), TagValue::Str(s)) => AttrValue::Bool(s.eq_ignore_ascii_case("true")),
            (Some("int64"), TagValue::Str(s)) => s.parse().map(AttrValue::Int).unwrap_or(AttrValue::Str(s)),
            (Some("float64"), TagValue::Str(s)) => s.parse().map(AttrValue::Float).unwrap_or(AttrValue::Str(s)),
            (_, TagValue::Bool(b)) => AttrValue::Bool(b),
            (_, TagValue::Int(i)) => AttrValue::Int(i),
            (_, TagValue::Float(f)) => AttrValue::Float(f),
            (_, TagValue::Str(s)) => AttrValue::Str(s),
            (_, TagValue::Null) => AttrValue::Str(SmolStr::default()),
        };
        Attribute { key: self.key, value }
    }
}

/// A tag array (or null) read straight into attributes, each tag converted as it is read,
/// into a list of exactly the tags' length.
fn attributes<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Attribute>, D::Error> {
    each_element(deserializer, "an array of tags", RawTag::into_attribute)
}

/// A log array (or null) read straight into events.
fn events<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Event>, D::Error> {
    each_element(deserializer, "an array of logs", convert_log)
}

/// Reads an array (or null, as none) of `T`, converting each element as it is read; the
/// result is allocated once, at its length (short lists are gathered inline first).
fn each_element<'de, D, T, U>(deserializer: D, what: &'static str, convert: fn(T) -> U) -> Result<Vec<U>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Elements<T, U> {
        what: &'static str,
        convert: fn(T) -> U,
    }
    impl<'de, T: Deserialize<'de>, U> Visitor<'de> for Elements<T, U> {
        type Value = Vec<U>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(self.what)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<U>, A::Error> {
            let mut gathered: SmallVec<[U; 4]> = SmallVec::new();
            while let Some(element) = seq.next_element::<T>()? {
                gathered.push((self.convert)(element));
            }
            Ok(if gathered.spilled() { gathered.into_vec() } else { gathered.into_iter().collect() })
        }
        fn visit_unit<E: de::Error>(self) -> Result<Vec<U>, E> {
            Ok(Vec::new())
        }
    }
    deserializer.deserialize_any(Elements { what, convert })
}

/// Nanoseconds in a microsecond.
const MICROS: i128 = 1_000;

/// The spans of one span array, converted as they were read, and what is left to settle
/// once their trace object has been read whole.
#[derive(Default)]
struct SpanList<'de> {
    spans: Vec<Span>,
    /// The `processID` of each span, for the spans without a `process` of their own.
    process_ids: Vec<Option<Str<'de>>>,
    /// The spans without a `traceID` of their own, which take their trace's.
    without_trace_id: Vec<WithoutTraceId>,
    trace_ids: LastTraceId,
}

/// The last `traceID` text read and its id. Every span of a trace repeats the same text,
/// and comparing it is cheaper than reading its hex again. Holds one id's text at a time.
#[derive(Default)]
struct LastTraceId {
    text: String,
    id: Option<TraceId>,
}

impl LastTraceId {
    fn id_of(&mut self, text: &str) -> TraceId {
        match self.id {
            Some(id) if self.text == text => id,
            _ => {
                let id = TraceId::from_text(text).0;
                self.text.clear();
                self.text.push_str(text);
                self.id = Some(id);
                id
            }
        }
    }
}

/// What a span without its own `traceID` needs once its trace's is known.
struct WithoutTraceId {
    index: usize,
    /// Its references that named no trace, and so are in its trace.
    references_in_trace: SmallVec<[usize; 1]>,
    parent_span_id: Option<SpanId>,
}

impl<'de: 'a, 'a> Deserialize<'de> for SpanList<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpanListVisitor<'a>(std::marker::PhantomData<&'a str>);
        impl<'de: 'a, 'a> Visitor<'de> for SpanListVisitor<'a> {
            type Value = SpanList<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of spans")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpanList<'a>, A::Error> {
                let mut list = SpanList::default();
                let unknown = Arc::new(unknown_resource());
                while let Some(raw) = seq.next_element::<RawSpan<'a>>()? {
                    list.push(raw, &unknown);
                }
                Ok(list)
            }
        }
        deserializer.deserialize_seq(SpanListVisitor(std::marker::PhantomData))
    }
}

impl<'de> SpanList<'de> {
    fn push(&mut self, raw: RawSpan<'de>, unknown: &Arc<Resource>) {
        let own_trace_id = raw.trace_id.as_ref().map(|t| self.trace_ids.id_of(&t.0));
        let trace_id = own_trace_id.unwrap_or_else(|| TraceId::from_text("").0);
        let raw_references = raw.references.unwrap_or_default();
        let mut references_in_trace = SmallVec::new();
        let references: References = raw_references
            .iter()
            .enumerate()
            .map(|(i, r)| Reference {
                kind: if r.ref_type.0.eq_ignore_ascii_case("FOLLOWS_FROM") {
                    RefKind::FollowsFrom
                } else {
                    RefKind::ChildOf
                },
                trace_id: match &r.trace_id {
                    Some(t) => self.trace_ids.id_of(&t.0),
                    None => {
                        references_in_trace.push(i);
                        trace_id
                    }
                },
                span_id: SpanId::from_text(&r.span_id.0).0,
            })
            .collect();
        let parent_span_id = raw.parent_span_id.as_ref().map(|p| SpanId::from_text(&p.0).0).filter(|p| !p.is_zero());
        if own_trace_id.is_none() {
            let index = self.spans.len();
            self.without_trace_id.push(WithoutTraceId { index, references_in_trace, parent_span_id });
        }
        // A span's own `process` comes before the trace's process its `processID` names.
        let (resource, process_id) = match raw.process {
            Some(process) => (Arc::new(convert_process(process)), None),
            None => (Arc::clone(unknown), raw.process_id),
        };
        self.process_ids.push(process_id);
        let (span_id, canonical) = SpanId::from_text(&raw.span_id.0);
        let attributes = raw.tags;
        let kind = attributes
            .iter()
            .find(|a| a.key == "span.kind")
            .and_then(|a| a.value.as_str())
            .map(SpanKind::from_name)
            .unwrap_or_default();
        let status = status_from_tags(&attributes);
        let times =
            SpanTimes::from_start_duration(raw.start_time.saturating_mul(MICROS), raw.duration.saturating_mul(MICROS));
        self.spans.push(Span {
            trace_id,
            span_id,
            parent_id: parent_of(&references, trace_id).or(parent_span_id),
            references,
            resource,
            operation: raw.operation_name,
            kind,
            start_ns: times.start_ns,
            duration_ns: times.duration_ns,
            status,
            attributes,
            events: raw.logs,
            source_id: (!canonical).then(|| raw.span_id.0.into()),
            time_repair: times.repair,
        });
    }
}

impl RawTrace<'_> {
    /// The trace's spans, each with its process and its trace id.
    fn into_spans(self) -> Vec<Span> {
        let SpanList { mut spans, process_ids, without_trace_id, .. } = self.spans;
        if let Some(text) = &self.trace_id {
            let trace_id = TraceId::from_text(&text.0).0;
            for pending in without_trace_id {
                let span = &mut spans[pending.index];
                span.trace_id = trace_id;
                for &r in &pending.references_in_trace {
                    span.references[r].trace_id = trace_id;
                }
                span.parent_id = parent_of(&span.references, trace_id).or(pending.parent_span_id);
            }
        }
        // Looked up once per span: the keyed foldhash of the model's maps, not std's SipHash.
        let resources: IdMap<Str, Arc<Resource>> =
            self.processes.into_iter().map(|(id, process)| (id, Arc::new(convert_process(process)))).collect();
        for (span, id) in spans.iter_mut().zip(process_ids) {
            if let Some(resource) = id.and_then(|id| resources.get(&*id.0)) {
                span.resource = Arc::clone(resource);
            }
        }
        spans
    }
}

fn unknown_resource() -> Resource {
    Resource { service: "unknown".into(), attributes: Vec::new() }
}

fn convert_process(process: RawProcess) -> Resource {
    let service = if process.service_name.is_empty() { "unknown".into() } else { process.service_name };
    Resource { service, attributes: process.tags }
}

/// Jaeger UI's rule: the parent is the first CHILD_OF reference within the trace, or else
/// the first FOLLOWS_FROM one.
fn parent_of(references: &[Reference], trace_id: TraceId) -> Option<SpanId> {
    let in_trace = |kind| references.iter().find(|r| r.kind == kind && r.trace_id == trace_id);
    in_trace(RefKind::ChildOf).or_else(|| in_trace(RefKind::FollowsFrom)).map(|r| r.span_id)
}

/// Jaeger marks failures with an `error=true` tag; OpenTelemetry spans stored by Jaeger
/// carry `otel.status_code` and `otel.status_description`.
fn status_from_tags(attributes: &[Attribute]) -> Status {
    let get = |key: &str| attributes.iter().find(|a| a.key == key).map(|a| &a.value);
    let message = get("otel.status_description").or_else(|| get("error.message")).map(|v| v.to_smolstr());
    let code = match get("otel.status_code").and_then(AttrValue::as_str) {
        Some(c) if c.eq_ignore_ascii_case("ERROR") => StatusCode::Error,
        _ if get("error").is_some_and(AttrValue::is_truthy) => StatusCode::Error,
        Some(c) if c.eq_ignore_ascii_case("OK") => StatusCode::Ok,
        _ => StatusCode::Unset,
    };
    Status { code, message: message.unwrap_or_default() }
}

fn convert_log(log: RawLog) -> Event {
    let attributes = log.fields;
    let name = ["event", "message", "log"]
        .iter()
        .find_map(|key| attributes.iter().find(|a| a.key == *key))
        .map(|a| a.value.to_smolstr())
        .unwrap_or_else(|| "log".into());
    Event { time_ns: event_time(log.timestamp.saturating_mul(MICROS)), name, attributes }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_response_with_processes_decodes() {
        let json = br#"{"data":[{"traceID":"abc","spans":[
            {"traceID":"abc","spanID":"1","operationName":"root","references":[],"startTime":10,"duration":5,
             "tags":[{"key":"span.kind","type":"string","value":"server"},{"key":"error","type":"bool","value":true},
                     {"key":"http.status_code","type":"int64","value":"500"}],
             "logs":[{"timestamp":12,"fields":[{"key":"event","type":"string","value":"retry"}]}],"processID":"p1"},
            {"traceID":"abc","spanID":"2","operationName":"child","references":[{"refType":"FOLLOWS_FROM","traceID":"abc","spanID":"1"}],
             "startTime":11,"duration":2,"processID":"p2"}],
            "processes":{"p1":{"serviceName":"frontend","tags":[{"key":"host","type":"string","value":"h1"}]},"p2":{"serviceName":"queue"}}}],
            "total":0,"limit":0,"offset":0,"errors":null}"#;
        let traces = decode(json).unwrap();
        assert_eq!(traces.len(), 1);
        let trace = &traces[0];
        let root = trace.root().unwrap();
        assert_eq!((root.service(), root.operation.as_str(), root.kind), ("frontend", "root", SpanKind::Server));
        assert_eq!((root.start_ns, root.duration_ns), (10_000, 5_000));
        assert!(root.is_error());
        assert_eq!(root.attr("http.status_code"), Some(&AttrValue::Int(500)));
        assert_eq!(root.events[0].name, "retry");
        assert_eq!(root.events[0].time_ns, 12_000);
        let child = &trace.spans[1];
        assert_eq!(child.parent_id, Some(root.span_id));
        assert!(child.follows_from_parent());
        assert_eq!(child.service(), "queue");
    }

    #[test]
    fn a_bare_span_array_with_inline_processes_and_string_ids_decodes() {
        let json = br#"[{"traceID":"t","spanID":"span-A","operationName":"a","startTime":"100","duration":"7",
                         "process":{"serviceName":"svc"}},
                        {"traceID":"t","spanID":"span-B","operationName":"b","startTime":101,"duration":1,
                         "references":[{"refType":"CHILD_OF","spanID":"span-A"}]}]"#;
        let traces = decode(json).unwrap();
        let trace = &traces[0];
        assert_eq!(trace.spans[0].display_id(), "span-A");
        assert_eq!(trace.spans[1].parent_id, Some(trace.spans[0].span_id));
        assert_eq!(trace.spans[1].service(), "unknown");
        assert_eq!(trace.duration_ns(), 7_000);
    }

    #[test]
    fn impossible_times_keep_the_file_and_are_repaired_span_by_span_with_warnings() {
        // Ends before it starts, lasts 292,000 years, starts before 1970, starts after 2262
        // (as a string), and a possible span for comparison.
        let json = br#"[{"traceID":"t","spanID":"a","startTime":1700000000000000,"duration":-5},
            {"traceID":"t","spanID":"b","startTime":1700000000000000,"duration":9223372036854775807},
            {"traceID":"t","spanID":"c","startTime":-1,"duration":7},
            {"traceID":"t","spanID":"d","startTime":"99999999999999999999","duration":7},
            {"traceID":"t","spanID":"e","startTime":1700000000000000,"duration":2592000000000,
             "logs":[{"timestamp":-3,"fields":[]}]}]"#;
        let trace = decode(json).unwrap().remove(0);
        let times = |id: &str| {
            let span = &trace.spans[trace.find_span(id).unwrap()];
            (span.start_ns, span.duration_ns)
        };
        assert_eq!(times("a"), (1_700_000_000_000_000_000, 0));
        assert_eq!(times("b"), (1_700_000_000_000_000_000, 0));
        assert_eq!(times("c"), (0, 7_000));
        assert_eq!(times("d"), (0, 7_000));
        assert_eq!(times("e"), (1_700_000_000_000_000_000, 2_592_000_000_000_000), "30 days is possible");
        assert_eq!(trace.spans[trace.find_span("e").unwrap()].events[0].time_ns, 0);
        for expected in [
            "1 span ends before it starts, shown as taking no time: a",
            "1 span lasts longer than 30 days, shown as taking no time: b",
            "2 spans start before 1970 or after 2262, shown with no start time, e.g. c",
        ] {
            assert!(trace.warnings.iter().any(|w| w == expected), "{expected:?} in {:#?}", trace.warnings);
        }
    }

    #[test]
    fn a_trace_id_after_the_spans_escapes_and_a_span_s_own_process_are_honoured() {
        // The trace's `traceID` and `processes` come after its spans; strings hold escapes.
        let json = br#"{"data":[{"spans":[
            {"spanID":"1","operationName":"GET \"/a\"","processID":"p1","startTime":10,"duration":5,
             "tags":[{"key":"note","type":"string","value":"caf\u00e9 \u2013 a long value that is not inline"}]},
            {"spanID":"2","operationName":"child","references":[{"refType":"CHILD_OF","spanID":"1"}],"startTime":11,"duration":1,
             "processID":"p1","process":{"serviceName":"own"}}],
            "traceID":"00000000000000000000000000000abc",
            "processes":{"p1":{"serviceName":"shop"}}}]}"#;
        let trace = decode(json).unwrap().remove(0);
        assert_eq!(trace.id, TraceId(0xabc));
        let (root, child) = (&trace.spans[0], &trace.spans[1]);
        assert_eq!((root.trace_id, child.trace_id), (TraceId(0xabc), TraceId(0xabc)));
        assert_eq!(root.operation, "GET \"/a\"");
        assert_eq!(root.attr("note").and_then(AttrValue::as_str), Some("café – a long value that is not inline"));
        assert_eq!(root.service(), "shop");
        assert_eq!(child.service(), "own", "a span's own process comes first");
        assert_eq!(child.parent_id, Some(root.span_id));
        assert_eq!(child.references[0].trace_id, TraceId(0xabc));
        assert!(trace.warnings.is_empty(), "{:?}", trace.warnings);
    }

    #[test]
    fn errors_name_the_path_and_the_problem() {
        let err = decode(br#"{"data":[{"traceID":"a","spans":[{"spanID":"1","startTime":"soon"}]}]}"#).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("data[0].spans[0].startTime"), "{text}");
        assert!(text.contains("not an integer"), "{text}");

        let err = decode(br#"{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}"#).unwrap_err();
        assert!(err.to_string().contains("trace not found"), "{err}");
    }
}
