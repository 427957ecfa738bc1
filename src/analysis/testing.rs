//! Small traces built in code for the analyses' unit tests: spans by number, times in ms.

use std::sync::Arc;

use crate::model::{AttrValue, Attribute, Resource, Span, SpanId, SpanKind, Status, StatusCode, Trace, TraceId};

pub struct Build {
    spans: Vec<Span>,
}

pub const MS: u64 = 1_000_000;

/// A trace starting at `spans`: `(id, parent (0 = root), service, operation, start_ms, duration_ms)`.
pub fn trace(spans: &[(u64, u64, &str, &str, u64, u64)]) -> Build {
    let spans = spans
        .iter()
        .map(|&(id, parent, service, operation, start, duration)| Span {
            trace_id: TraceId(1),
            span_id: SpanId(id),
            parent_id: (parent != 0).then_some(SpanId(parent)),
            references: Default::default(),
            resource: Arc::new(Resource { service: service.into(), attributes: Vec::new() }),
            operation: operation.into(),
            kind: SpanKind::Internal,
            start_ns: 1_000_000_000 + start * MS,
            duration_ns: duration * MS,
            status: Status::default(),
            attributes: Vec::new(),
            events: Vec::new(),
            source_id: None,
            time_repair: None,
        })
        .collect();
    Build { spans }
}

impl Build {
    fn span(&mut self, id: u64) -> &mut Span {
        self.spans.iter_mut().find(|s| s.span_id == SpanId(id)).expect("a span of the trace")
    }

    pub fn attr(mut self, id: u64, key: &str, value: &str) -> Self {
        self.span(id).attributes.push(Attribute::new(key, AttrValue::Str(value.to_string().into())));
        self
    }

    /// A resource attribute of the span's process (the span gets a resource of its own).
    pub fn resource(mut self, id: u64, key: &str, value: &str) -> Self {
        let span = self.span(id);
        let mut resource = (*span.resource).clone();
        resource.attributes.push(Attribute::new(key, AttrValue::Str(value.to_string().into())));
        span.resource = Arc::new(resource);
        self
    }

    pub fn kind(mut self, id: u64, kind: SpanKind) -> Self {
        self.span(id).kind = kind;
        self
    }

    pub fn error(mut self, id: u64, message: &str) -> Self {
        self.span(id).status = Status { code: StatusCode::Error, message: message.into() };
        self
    }

    pub fn done(self) -> Trace {
        Trace::from_spans(TraceId(1), self.spans)
    }
}

/// `n` spans numbered from `first` under `parent`, each `duration_ms` long, starting
/// `every_ms` apart from `start_ms` (less than the duration overlaps them).
pub struct Run {
    pub parent: u64,
    pub first: u64,
    pub n: u64,
    pub start_ms: u64,
    pub every_ms: u64,
    pub duration_ms: u64,
}

impl Build {
    /// Adds a [`Run`] of spans with the attributes given (`{i}` in a value becomes the
    /// span's number in the run).
    pub fn run(mut self, run: Run, service: &str, operation: &str, attributes: &[(&str, &str)]) -> Self {
        for i in 0..run.n {
            let id = run.first + i;
            let start = run.start_ms + i * run.every_ms;
            self.spans.extend(trace(&[(id, run.parent, service, operation, start, run.duration_ms)]).spans);
            for (key, value) in attributes {
                self = self.attr(id, key, &value.replace("{i}", &i.to_string()));
            }
        }
        self
    }
}
