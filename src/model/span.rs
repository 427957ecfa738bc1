//! One span of a trace, normalized from whatever format it arrived in.

use std::sync::Arc;

use smallvec::SmallVec;
pub use smol_str::SmolStr;

use super::ids::{SpanId, TraceId};
use super::times::TimeRepair;

/// What role a span plays in a call (OpenTelemetry's `SpanKind`, Jaeger's `span.kind` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SpanKind {
    #[default]
    Unspecified,
    Internal,
    Server,
    Client,
    Producer,
    Consumer,
}

impl SpanKind {
    /// Reads Jaeger's `span.kind` tag values and OTLP's enum names alike.
    /// Letter case does not matter, and `SPAN_KIND_` prefixes are skipped. Every span's
    /// kind is read through here, so nothing is lowercased into a copy.
    pub fn from_name(name: &str) -> Self {
        const PREFIX: &str = "span_kind_";
        let mut rest = name;
        while rest.get(..PREFIX.len()).is_some_and(|head| head.eq_ignore_ascii_case(PREFIX)) {
            rest = &rest[PREFIX.len()..];
        }
        [Self::Internal, Self::Server, Self::Client, Self::Producer, Self::Consumer]
            .into_iter()
            .find(|kind| rest.eq_ignore_ascii_case(kind.as_str()))
            .unwrap_or(Self::Unspecified)
    }

    /// OTLP's numeric encoding.
    pub fn from_otlp(code: i64) -> Self {
        match code {
            1 => Self::Internal,
            2 => Self::Server,
            3 => Self::Client,
            4 => Self::Producer,
            5 => Self::Consumer,
            _ => Self::Unspecified,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Internal => "internal",
            Self::Server => "server",
            Self::Client => "client",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StatusCode {
    #[default]
    Unset,
    Ok,
    Error,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct Status {
    pub code: StatusCode,
    pub message: SmolStr,
}

/// A typed attribute value; OTLP's `AnyValue`, which also covers Jaeger's tag types.
///
/// Strings, here and in the rest of the model, are [`SmolStr`]: most names and values of a
/// trace are short, and a short one lives inside the value, so that a 100,000-span trace
/// is decoded and freed without hundreds of thousands of small allocations; a long one is
/// shared, so that copying it into an analysis's result is a reference count.
#[derive(Clone, Debug, PartialEq)]
pub enum AttrValue {
    Str(SmolStr),
    Bool(bool),
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Array(Vec<AttrValue>),
    Map(Vec<Attribute>),
}

impl AttrValue {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            AttrValue::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            AttrValue::Int(i) => Some(*i),
            AttrValue::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// True for `true` and for the string "true", as Jaeger's `error` tag is sent both ways.
    pub fn is_truthy(&self) -> bool {
        match self {
            AttrValue::Bool(b) => *b,
            AttrValue::Str(s) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Bool(b) => write!(f, "{b}"),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Float(x) => write!(f, "{x}"),
            AttrValue::Bytes(b) => b.iter().try_for_each(|byte| write!(f, "{byte:02x}")),
            AttrValue::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            AttrValue::Map(entries) => {
                f.write_str("{")?;
                for (i, entry) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}: {}", entry.key, entry.value)?;
                }
                f.write_str("}")
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Attribute {
    pub key: SmolStr,
    pub value: AttrValue,
}

impl Attribute {
    pub fn new(key: impl Into<SmolStr>, value: AttrValue) -> Self {
        Self { key: key.into(), value }
    }
}

/// Looks an attribute up by key; attribute lists are short, so a scan beats a map.
pub fn find_attr<'a>(attributes: &'a [Attribute], key: &str) -> Option<&'a AttrValue> {
    attributes.iter().find(|a| a.key == key).map(|a| &a.value)
}

/// A timestamped event on a span (OTLP span event, Jaeger log).
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time_ns: u64,
    pub name: SmolStr,
    pub attributes: Vec<Attribute>,
}

/// How a span relates to another one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefKind {
    /// The other span waits for this one (a synchronous child).
    ChildOf,
    /// The other span started this one but does not wait for it (an async hand-off).
    FollowsFrom,
    /// A causal link without a parent relation (OTLP span links).
    Link,
}

/// A span's references: almost always one, its parent, held inside the span.
pub type References = SmallVec<[Reference; 1]>;

#[derive(Clone, Debug, PartialEq)]
pub struct Reference {
    pub kind: RefKind,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

/// The process that emitted spans: its service and resource attributes. Shared by all of
/// its spans, since a trace has few processes and many spans.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Resource {
    pub service: SmolStr,
    pub attributes: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Span {
    pub trace_id: TraceId,
    pub span_id: SpanId,
    pub parent_id: Option<SpanId>,
    /// Every reference the source gave, the parent's included.
    pub references: References,
    pub resource: Arc<Resource>,
    pub operation: SmolStr,
    pub kind: SpanKind,
    /// Unix time in nanoseconds; 0 when the source had none.
    pub start_ns: u64,
    pub duration_ns: u64,
    pub status: Status,
    pub attributes: Vec<Attribute>,
    pub events: Vec<Event>,
    /// The id as the source wrote it, kept only when it was not canonical hex.
    pub source_id: Option<Box<str>>,
    /// What was impossible about the source's times, when the decoder repaired them; the
    /// trace says so in its warnings.
    pub time_repair: Option<TimeRepair>,
}

impl Span {
    pub fn service(&self) -> &str {
        &self.resource.service
    }

    pub fn end_ns(&self) -> u64 {
        self.start_ns.saturating_add(self.duration_ns)
    }

    pub fn is_error(&self) -> bool {
        self.status.code == StatusCode::Error
    }

    pub fn attr(&self, key: &str) -> Option<&AttrValue> {
        find_attr(&self.attributes, key)
    }

    /// The id as the user knows it: the source's text when it was not hex.
    pub fn display_id(&self) -> SmolStr {
        match &self.source_id {
            Some(text) => SmolStr::new(text),
            None => self.span_id.to_smol(),
        }
    }

    /// The spans this one links to: every reference but its parent (OTLP links, and the
    /// FOLLOWS_FROM references Jaeger writes for them, to another trace or span).
    pub fn links(&self) -> impl Iterator<Item = &Reference> + '_ {
        self.references.iter().filter(move |r| {
            r.kind == RefKind::Link || !(r.trace_id == self.trace_id && Some(r.span_id) == self.parent_id)
        })
    }

    /// True when the parent hands work off without waiting for it (FOLLOWS_FROM).
    pub fn follows_from_parent(&self) -> bool {
        self.parent_id
            .is_some_and(|parent| self.references.iter().any(|r| r.span_id == parent && r.kind == RefKind::FollowsFrom))
    }
}

#[cfg(test)]
mod tests {
    use super::SpanKind;

    #[test]
    fn kind_names_are_read_in_any_case_with_or_without_the_otlp_prefix() {
        assert_eq!(SpanKind::from_name("client"), SpanKind::Client);
        assert_eq!(SpanKind::from_name("SERVER"), SpanKind::Server);
        assert_eq!(SpanKind::from_name("SPAN_KIND_PRODUCER"), SpanKind::Producer);
        assert_eq!(SpanKind::from_name("span_kind_Consumer"), SpanKind::Consumer);
        assert_eq!(SpanKind::from_name("Internal"), SpanKind::Internal);
        assert_eq!(SpanKind::from_name("span_kind_"), SpanKind::Unspecified);
        assert_eq!(SpanKind::from_name("clients"), SpanKind::Unspecified);
        assert_eq!(SpanKind::from_name("span_kïnd_client"), SpanKind::Unspecified);
        assert_eq!(SpanKind::from_name(""), SpanKind::Unspecified);
    }
}
