//! Turning an OTLP batch into rows: first prepared without the database (encoding,
//! attribute index keys), then written in one transaction under the writer's lock.

use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use rusqlite::params;

use super::parts::{Part, attribute_key, operation_key};
use super::{IngestReport, Writer, schema};
use crate::formats::otlp::{self, span_ids, status_code};
use crate::model::ids::stable_hash;
use crate::model::{Attribute, StatusCode, TraceId};

pub(super) struct PreparedBatch {
    resources: Vec<PreparedResource>,
    report: IngestReport,
}

struct PreparedResource {
    hash: u64,
    encoded: Vec<u8>,
    service: String,
    /// Attribute index keys of the resource's attributes.
    keys: Vec<u32>,
    spans: Vec<SpanRow>,
}

struct SpanRow {
    trace_id: TraceId,
    raw_trace_id: Vec<u8>,
    span_id: Vec<u8>,
    operation: String,
    start_ns: u64,
    duration_ns: u64,
    error: bool,
    /// The span's encoding without what the row's columns hold (ids, name, times).
    body: Vec<u8>,
    /// Index keys of the span's own attributes and its operation.
    keys: Vec<u32>,
}

/// The attribute index keys of `service`'s attributes. Every span of a search's service
/// has its `service.name`: no use indexing it.
pub(super) fn part_keys(service: &str, attributes: &[Attribute]) -> Vec<u32> {
    attributes.iter().filter(|a| a.key != "service.name").map(|a| attribute_key(service, a)).collect()
}

impl PreparedBatch {
    pub(super) fn new(batch: Vec<ResourceSpans>) -> PreparedBatch {
        let mut report = IngestReport::default();
        let mut resources = Vec::with_capacity(batch.len());
        for resource_spans in batch {
            let resource = resource_spans.resource.unwrap_or_default();
            let encoded = resource.encode_to_vec();
            let hash = stable_hash(&encoded);
            let resource = otlp::convert_resource(resource.attributes);
            let service = resource.service;
            let keys = part_keys(&service, &resource.attributes);
            let mut spans = Vec::new();
            for mut span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                let trace_id = match span_ids(&span) {
                    Ok((trace_id, _, _)) => trace_id,
                    Err(reason) => {
                        report.rejected += 1;
                        if report.reasons.len() < 3 && !report.reasons.contains(&reason) {
                            report.reasons.push(reason);
                        }
                        continue;
                    }
                };
                // What the row's columns hold is left out of the encoding: ids, name, times.
                let raw_trace_id = std::mem::take(&mut span.trace_id);
                let span_id = std::mem::take(&mut span.span_id);
                let operation = std::mem::take(&mut span.name);
                let start_ns = std::mem::take(&mut span.start_time_unix_nano);
                let duration_ns = std::mem::take(&mut span.end_time_unix_nano).saturating_sub(start_ns);
                let body = span.encode_to_vec();
                let own = otlp::convert_attributes(std::mem::take(&mut span.attributes));
                let mut keys = part_keys(&service, &own);
                keys.push(operation_key(&service, &operation));
                spans.push(SpanRow {
                    trace_id,
                    raw_trace_id,
                    span_id,
                    operation,
                    start_ns,
                    duration_ns,
                    error: span.status.as_ref().is_some_and(|s| status_code(s.code) == StatusCode::Error),
                    body,
                    keys,
                });
            }
            report.accepted += spans.len();
            resources.push(PreparedResource { hash, encoded, service, keys, spans });
        }
        PreparedBatch { resources, report }
    }

    /// Writes the batch in one transaction. Spans already stored (a retried export) are
    /// left alone and neither counted nor indexed again.
    pub(super) fn write(self, writer: &mut Writer, received_ns: u64) -> rusqlite::Result<IngestReport> {
        let Writer { connection, resources } = writer;
        let tx = connection.transaction()?;
        let mut touched: HashMap<TraceId, u64> = HashMap::new();
        let mut parts: HashMap<(&[u8], &str), Part> = HashMap::new();
        let mut operations: HashSet<(&str, &str)> = HashSet::new();
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO spans (trace_id, span_id, service, operation, start_ns, duration_ns, error, resource_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for resource in &self.resources {
                let resource_id = match resources.get(&resource.hash) {
                    Some(&id) => id,
                    None => {
                        let id = schema::resource_id(&tx, resource.hash, &resource.encoded)?;
                        resources.insert(resource.hash, id);
                        id
                    }
                };
                for span in &resource.spans {
                    let inserted = insert.execute(params![
                        span.raw_trace_id,
                        span.span_id,
                        resource.service,
                        span.operation,
                        span.start_ns.min(i64::MAX as u64) as i64,
                        span.duration_ns.min(i64::MAX as u64) as i64,
                        span.error,
                        resource_id,
                        span.body,
                    ])?;
                    if inserted == 0 {
                        continue;
                    }
                    *touched.entry(span.trace_id).or_default() += span.body.len() as u64;
                    let part = parts
                        .entry((&span.raw_trace_id, &resource.service))
                        .or_insert_with(|| Part::new(span.start_ns, span.duration_ns));
                    part.add(span.start_ns, span.duration_ns, &span.keys);
                    part.keys.extend_from_slice(&resource.keys);
                    operations.insert((&resource.service, &span.operation));
                }
            }
        }
        for (trace_id, bytes) in &touched {
            schema::touch_trace(&tx, *trace_id, received_ns, *bytes)?;
        }
        for ((trace, service), part) in &parts {
            schema::insert_part(&tx, service, trace, part)?;
        }
        for (service, operation) in operations {
            schema::saw_operation(&tx, service, operation, received_ns)?;
        }
        tx.commit()?;
        Ok(self.report)
    }
}
