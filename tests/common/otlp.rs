//! OTLP requests as the receiver tests build them.

use std::io::Write;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

pub fn now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// A string attribute.
pub fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// `spans` spans of trace `trace` with no service, each 1 ms long and ending now (named
/// `op0` … `op11`): the filler batch of the limit tests.
pub fn flat_batch(trace: u64, spans: u64) -> ExportTraceServiceRequest {
    let now = now_ns();
    let spans = (1..=spans)
        .map(|i| Span {
            trace_id: u128::from(trace).to_be_bytes().to_vec(),
            span_id: i.to_be_bytes().to_vec(),
            name: format!("op{}", i % 12),
            start_time_unix_nano: now - 1_000_000,
            end_time_unix_nano: now,
            ..Default::default()
        })
        .collect();
    request_of(None, spans)
}

/// The resource of service `name`.
pub fn service(name: &str) -> Resource {
    Resource { attributes: vec![text("service.name", name)], ..Default::default() }
}

/// A request of one resource's spans (`None`: spans with no resource at all).
pub fn request_of(resource: Option<Resource>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource,
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}
