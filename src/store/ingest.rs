//! Turning an OTLP batch into rows: first prepared without the database (encoding,
//! attribute index keys), then written in one transaction under the writer's lock.

use std::collections::HashMap;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use rusqlite::params;

use super::{IngestReport, Writer, schema};
use crate::formats::otlp::{self, span_ids, status_code};
use crate::model::ids::stable_hash;
use crate::model::{StatusCode, TraceId};

pub(super) struct PreparedBatch {
    resources: Vec<PreparedResource>,
    report: IngestReport,
}

struct PreparedResource {
    hash: u64,
    encoded: Vec<u8>,
    service: String,
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
    body: Vec<u8>,
    /// Attribute index keys of the span's own and its resource's attributes.
    tags: Vec<i64>,
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
            // Every span of a search's service has its service.name: no use indexing it.
            let resource_tags: Vec<i64> = resource
                .attributes
                .iter()
                .filter(|a| a.key != "service.name")
                .map(|a| schema::attribute_tag(&service, a))
                .collect();
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
                let body = span.encode_to_vec();
                let own = otlp::convert_attributes(std::mem::take(&mut span.attributes));
                let mut tags: Vec<i64> = own.iter().map(|a| schema::attribute_tag(&service, a)).collect();
                tags.extend_from_slice(&resource_tags);
                spans.push(SpanRow {
                    trace_id,
                    raw_trace_id: span.trace_id,
                    span_id: span.span_id,
                    operation: span.name,
                    start_ns: span.start_time_unix_nano,
                    duration_ns: span.end_time_unix_nano.saturating_sub(span.start_time_unix_nano),
                    error: span.status.as_ref().is_some_and(|s| status_code(s.code) == StatusCode::Error),
                    body,
                    tags,
                });
            }
            report.accepted += spans.len();
            resources.push(PreparedResource { hash, encoded, service, spans });
        }
        PreparedBatch { resources, report }
    }

    /// Writes the batch in one transaction. Spans already stored (a retried export) are
    /// left alone and neither counted nor indexed again.
    pub(super) fn write(self, writer: &mut Writer, received_ns: u64) -> rusqlite::Result<IngestReport> {
        let Writer { connection, resources } = writer;
        let tx = connection.transaction()?;
        let mut touched: HashMap<TraceId, u64> = HashMap::new();
        let mut tags: HashMap<(TraceId, i64), u64> = HashMap::new();
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
                    for &tag in &span.tags {
                        let latest = tags.entry((span.trace_id, tag)).or_default();
                        *latest = (*latest).max(span.start_ns);
                    }
                }
            }
        }
        for (trace_id, bytes) in &touched {
            schema::touch_trace(&tx, *trace_id, received_ns, *bytes)?;
        }
        for ((trace_id, tag), start_ns) in tags {
            schema::index_tag(&tx, trace_id, tag, start_ns)?;
        }
        tx.commit()?;
        Ok(self.report)
    }
}
