//! Turning an OTLP batch into rows: first prepared without the database (encoding,
//! attribute index keys), then written in chunks, each one transaction in a turn of its
//! own at the writer (see [`super::turns`]). A chunk's requests are summed up into
//! rollups in memory and written once per bucket, in the chunk's transaction (see
//! [`super::rollups`]).
//!
//! Chunks bound how long one batch holds the writer: a 1M-span batch in one transaction
//! held it for half a minute while a 3-span batch waited, past senders' export timeouts.
//! The batch is acknowledged once its last chunk commits; a crash in between leaves the
//! committed chunks, which the sender's retry finds stored (spans are keyed by trace and
//! span id) and skips. Refusing large batches instead would lose data: senders do not
//! retry spans reported rejected in a partial success.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use rusqlite::{Transaction, params};

use super::group::Job;
use super::parts::{Part, attribute_key, operation_key, tag_key};
use super::retention::{self, Retention};
use super::rollups::{self, Pending, Request};
use super::{IngestReport, Writer, links, schema, versions};
use crate::analysis::trends::CallKind;
use crate::formats::otlp::{self, status_code};
use crate::model::ids::{IdHasher, stable_hash};
use crate::model::{Attribute, Deployment, IdMap, SpanId, StatusCode, TraceId};

/// The most spans one transaction writes: about 20 ms of the writer in a release build,
/// and several of the batches SDKs send (512 spans).
pub const CHUNK_SPANS: usize = 2048;
/// The most span data one transaction writes (for batches of very large spans).
pub const CHUNK_BYTES: usize = 4 << 20;

pub(super) struct PreparedBatch {
    resources: Vec<PreparedResource>,
    report: IngestReport,
}

struct PreparedResource {
    hash: u64,
    encoded: Vec<u8>,
    service: String,
    /// Which deployment of the service sent the spans (see [`versions`]).
    deployment: Option<Deployment>,
    /// Attribute index keys of the resource's attributes.
    keys: Vec<u32>,
    spans: Vec<SpanRow>,
    /// What the spans' rows point into (see [`Arenas`]).
    arenas: Arenas,
}

/// The variable-length parts of a resource's span rows, one after another: one
/// allocation for all the spans instead of three for each (body, keys, operation), which
/// with their frees were a tenth of the ingest CPU.
#[derive(Default)]
struct Arenas {
    bodies: Vec<u8>,
    keys: Vec<u32>,
    operations: String,
}

impl Arenas {
    fn body(&self, span: &SpanRow) -> &[u8] {
        &self.bodies[span.body.clone()]
    }

    fn keys(&self, span: &SpanRow) -> &[u32] {
        &self.keys[span.keys.clone()]
    }

    fn operation(&self, span: &SpanRow) -> &str {
        // Ranges are cut at the ends of whole names.
        self.operations.get(span.operation.clone()).unwrap_or_default()
    }
}

struct SpanRow {
    trace_id: TraceId,
    raw_trace_id: [u8; 16],
    span_id: [u8; 8],
    /// Where its name is in [`Arenas::operations`].
    operation: Range<usize>,
    start_ns: u64,
    duration_ns: u64,
    error: bool,
    /// Where its encoding without what the row's columns hold (ids, name, times) is in
    /// [`Arenas::bodies`].
    body: Range<usize>,
    /// Where the index keys of its own attributes and its operation are in [`Arenas::keys`].
    keys: Range<usize>,
    /// Whether the span is a request or a call out, which rollups count.
    role: Option<CallKind>,
    /// The spans it links to (trace id, span id), for the index of links (see [`links`]).
    links: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The attribute index keys of `service`'s attributes. Every span of a search's service
/// has its `service.name`: no use indexing it.
pub(super) fn part_keys(service: &str, attributes: &[Attribute]) -> Vec<u32> {
    attributes.iter().filter(|a| a.key != "service.name").map(|a| attribute_key(service, a)).collect()
}

/// What the index of a span needs from it, however it was read (see [`super::wire`]).
pub(super) struct SpanFields<'a> {
    pub trace_id: &'a [u8],
    pub span_id: &'a [u8],
    pub parent_span_id: &'a [u8],
    pub name: &'a str,
    pub kind: i32,
    pub start_ns: u64,
    pub end_ns: u64,
    pub error: bool,
}

/// The spans of one resource being prepared, and the batch's report of refused spans.
pub(super) struct ResourceRows<'r> {
    service: &'r str,
    report: &'r mut IngestReport,
    spans: Vec<SpanRow>,
    arenas: Arenas,
}

impl<'r> ResourceRows<'r> {
    /// `bytes`: the span data to be expected, for the arena of bodies (the size of the
    /// resource's encoding bounds that of its spans' bodies).
    pub(super) fn new(service: &'r str, report: &'r mut IngestReport, bytes: usize) -> Self {
        let arenas = Arenas { bodies: Vec::with_capacity(bytes), ..Arenas::default() };
        ResourceRows { service, report, spans: Vec::new(), arenas }
    }

    /// Whether a span with these ids is stored; counts it refused, with why, if not.
    pub(super) fn accepts(&mut self, span: &SpanFields) -> Option<Ids> {
        match checked_ids(span.trace_id, span.span_id, span.parent_span_id) {
            Ok(ids) => Some(ids),
            Err(reason) => {
                self.report.rejected += 1;
                if self.report.reasons.len() < 3 && !self.report.reasons.contains(&reason) {
                    self.report.reasons.push(reason);
                }
                None
            }
        }
    }

    /// Adds an accepted span: `body` is its encoding without what the row's columns hold,
    /// `keys` the index keys of its own attributes (see [`part_keys`]).
    pub(super) fn push(
        &mut self,
        ids: Ids,
        span: &SpanFields,
        body: &[u8],
        keys: &[u32],
        links: Vec<(Vec<u8>, Vec<u8>)>,
    ) {
        let arenas = &mut self.arenas;
        let appended = |arena_len: usize, added: usize| arena_len - added..arena_len;
        arenas.bodies.extend_from_slice(body);
        let body = appended(arenas.bodies.len(), body.len());
        arenas.operations.push_str(span.name);
        let operation = appended(arenas.operations.len(), span.name.len());
        let keys_start = arenas.keys.len();
        arenas.keys.extend_from_slice(keys);
        arenas.keys.push(operation_key(self.service, span.name));
        if span.error {
            // A failed span is found by `error=true` as Jaeger's tag would find it.
            arenas.keys.push(tag_key(self.service, "error", "true"));
        }
        self.spans.push(SpanRow {
            trace_id: ids.trace_id,
            raw_trace_id: ids.trace_id.0.to_be_bytes(),
            span_id: ids.span_id,
            operation,
            start_ns: span.start_ns,
            duration_ns: span.end_ns.saturating_sub(span.start_ns),
            error: span.error,
            body,
            keys: keys_start..arenas.keys.len(),
            role: rollups::role(span.kind, span.parent_span_id),
            links,
        });
    }

    pub(super) fn service(&self) -> &'r str {
        self.service
    }
}

/// The ids of a span the store accepts.
pub(super) struct Ids {
    trace_id: TraceId,
    span_id: [u8; 8],
}

/// A span's ids, once its trace, span and parent ids have their exact byte lengths (the
/// formats' own checks and words, see [`otlp::ids_of`]).
fn checked_ids(trace_id: &[u8], span_id: &[u8], parent_span_id: &[u8]) -> Result<Ids, String> {
    let (trace_id, span_id, _) = otlp::ids_of(trace_id, span_id, parent_span_id)?;
    Ok(Ids { trace_id, span_id: span_id.0.to_be_bytes() })
}

impl PreparedBatch {
    pub(super) fn new(batch: Vec<ResourceSpans>) -> PreparedBatch {
        let mut prepared =
            PreparedBatch { resources: Vec::with_capacity(batch.len()), report: IngestReport::default() };
        for resource_spans in batch {
            let resource = resource_spans.resource.unwrap_or_default();
            let mut body = Vec::new();
            prepared.add_resource(resource, 0, |rows| {
                for mut span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
                    // What the row's columns hold is left out of the encoding: ids, name, times.
                    let raw_trace_id = std::mem::take(&mut span.trace_id);
                    let span_id = std::mem::take(&mut span.span_id);
                    let name = std::mem::take(&mut span.name);
                    let fields = SpanFields {
                        trace_id: &raw_trace_id,
                        span_id: &span_id,
                        parent_span_id: &span.parent_span_id,
                        name: &name,
                        kind: span.kind,
                        start_ns: std::mem::take(&mut span.start_time_unix_nano),
                        end_ns: std::mem::take(&mut span.end_time_unix_nano),
                        error: span.status.as_ref().is_some_and(|s| status_code(s.code) == StatusCode::Error),
                    };
                    let Some(ids) = rows.accepts(&fields) else { continue };
                    let span_links = links::of_links(&span.links);
                    body.clear();
                    span.encode_raw(&mut body);
                    let keys =
                        part_keys(rows.service(), &otlp::convert_attributes(std::mem::take(&mut span.attributes)));
                    rows.push(ids, &fields, &body, &keys, span_links);
                }
                Some(())
            });
        }
        prepared
    }

    /// An empty batch, for spans read by [`super::wire`].
    pub(super) fn empty() -> PreparedBatch {
        PreparedBatch { resources: Vec::new(), report: IngestReport::default() }
    }

    /// Adds a resource and the spans `spans` adds to its rows; nothing when `spans` gives
    /// up. `bytes`: the span data to be expected (see [`ResourceRows::new`]).
    pub(super) fn add_resource(
        &mut self,
        resource: opentelemetry_proto::tonic::resource::v1::Resource,
        bytes: usize,
        spans: impl FnOnce(&mut ResourceRows) -> Option<()>,
    ) -> Option<()> {
        let encoded = resource.encode_to_vec();
        let hash = stable_hash(&encoded);
        let resource = otlp::convert_resource(resource.attributes);
        let deployment = resource.deployment();
        let service = resource.service.to_string();
        let keys = part_keys(&service, &resource.attributes);
        let mut rows = ResourceRows::new(&service, &mut self.report, bytes);
        spans(&mut rows)?;
        let ResourceRows { spans, arenas, .. } = rows;
        self.report.accepted += spans.len();
        self.resources.push(PreparedResource { hash, encoded, service, deployment, keys, spans, arenas });
        Some(())
    }

    /// The batch cut into chunks of at most [`CHUNK_SPANS`] spans or [`CHUNK_BYTES`] of
    /// span data (and at least one span), in order.
    pub(super) fn chunks(&self) -> Vec<Chunk> {
        let mut chunks = Vec::new();
        let mut current = Chunk::default();
        let (mut spans, mut bytes) = (0, 0);
        for (resource, prepared) in self.resources.iter().enumerate() {
            let mut start = 0;
            for (i, span) in prepared.spans.iter().enumerate() {
                if spans > 0 && (spans == CHUNK_SPANS || bytes + span.body.len() > CHUNK_BYTES) {
                    if start < i {
                        current.pieces.push((resource, start..i));
                    }
                    chunks.push(std::mem::take(&mut current));
                    (start, spans, bytes) = (i, 0, 0);
                }
                spans += 1;
                bytes += span.body.len();
            }
            if start < prepared.spans.len() {
                current.pieces.push((resource, start..prepared.spans.len()));
            }
        }
        if !current.pieces.is_empty() {
            chunks.push(current);
        }
        chunks
    }

    /// The trace of every span to be stored, in order.
    pub(super) fn trace_ids(&self) -> impl Iterator<Item = TraceId> + '_ {
        self.resources.iter().flat_map(|r| &r.spans).map(|span| span.trace_id)
    }

    /// What becomes of the batch once every chunk is written.
    pub(super) fn take_report(&mut self) -> IngestReport {
        std::mem::take(&mut self.report)
    }

    /// Writes one chunk in `tx`; what it stored, for the totals. Spans already stored (a
    /// retried export, or a batch retried after some of its chunks were committed) are
    /// left alone and neither counted nor indexed again.
    fn write_chunk(
        &self,
        tx: &Transaction,
        chunk: &Chunk,
        resources: &mut HashMap<u64, i64>,
        written: &mut rollups::Written,
        received_ns: u64,
    ) -> rusqlite::Result<Stored> {
        // Every span goes through these maps: keyed by foldhash, as the model's maps of ids
        // are (std's SipHash was 1.6 % of the ingest CPU).
        let mut touched: IdMap<TraceId, u64> = IdMap::default();
        let mut parts: IdMap<(&[u8], &str), Part> = IdMap::default();
        let mut operations: HashSet<(&str, &str), IdHasher> = HashSet::default();
        let mut requests: Pending<&str> = Pending::default();
        let mut stored_spans = 0;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO spans (trace_id, span_id, service, operation, start_ns, duration_ns, error, resource_id, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (resource, range) in &chunk.pieces {
                let resource = &self.resources[*resource];
                let resource_id = match resources.get(&resource.hash) {
                    Some(&id) => id,
                    None => {
                        let id = schema::resource_id(tx, resource.hash, &resource.encoded)?;
                        resources.insert(resource.hash, id);
                        id
                    }
                };
                // The span starts of this deployment that this chunk stored.
                let mut seen: Option<(u64, u64)> = None;
                for span in &resource.spans[range.clone()] {
                    let operation = resource.arenas.operation(span);
                    let inserted = insert.execute(params![
                        &span.raw_trace_id[..],
                        &span.span_id[..],
                        resource.service,
                        operation,
                        span.start_ns.min(i64::MAX as u64) as i64,
                        span.duration_ns.min(i64::MAX as u64) as i64,
                        span.error,
                        resource_id,
                        resource.arenas.body(span),
                    ])?;
                    if inserted == 0 {
                        continue;
                    }
                    stored_spans += 1;
                    links::record(tx, &span.raw_trace_id, &span.span_id, &span.links)?;
                    *touched.entry(span.trace_id).or_default() += span.body.len() as u64;
                    let part = parts
                        .entry((&span.raw_trace_id[..], &resource.service))
                        .or_insert_with(|| Part::new(span.start_ns, span.duration_ns));
                    part.add(span.start_ns, span.duration_ns, resource.arenas.keys(span));
                    part.keys.extend_from_slice(&resource.keys);
                    operations.insert((&resource.service, operation));
                    if let Some(kind) = span.role {
                        let request = Request {
                            start_ns: span.start_ns,
                            duration_ns: span.duration_ns,
                            error: span.error,
                            trace_id: span.trace_id,
                            span_id: SpanId::from_bytes(&span.span_id).unwrap_or_default(),
                        };
                        requests.add(&resource.service, operation, kind, &request, received_ns);
                    }
                    seen = Some(seen.map_or((span.start_ns, span.start_ns), |(first, last)| {
                        (first.min(span.start_ns), last.max(span.start_ns))
                    }));
                }
                if let (Some(deployment), Some((first, last))) = (&resource.deployment, seen) {
                    versions::saw(tx, &resource.service, deployment, first, last)?;
                }
            }
        }
        for (trace_id, bytes) in &touched {
            schema::touch_trace(tx, *trace_id, received_ns, *bytes)?;
        }
        for ((trace, service), part) in &parts {
            schema::insert_part(tx, service, trace, part)?;
        }
        for (service, operation) in operations {
            schema::saw_operation(tx, service, operation, received_ns)?;
        }
        requests.write(tx, written)?;
        Ok(Stored { spans: stored_spans, bytes: touched.values().sum() })
    }
}

/// What a chunk stored: spans and their bytes.
#[derive(Default)]
struct Stored {
    spans: i64,
    bytes: u64,
}

/// Writes the chunks of `group` in one transaction, in order, and says whether the store
/// is now past its retention limits (see [`super::group`]).
pub(super) fn write_group(group: &[Arc<Job>], writer: &mut Writer, retention: &Retention) -> rusqlite::Result<bool> {
    let written = write_in_one_transaction(group, writer, retention);
    if written.is_err() {
        // Resources and rollups this transaction stored are gone with it.
        writer.resources.clear();
        writer.rollups.forget();
    }
    written
}

fn write_in_one_transaction(group: &[Arc<Job>], writer: &mut Writer, retention: &Retention) -> rusqlite::Result<bool> {
    let Writer { connection, resources, rollups: written } = writer;
    let tx = connection.transaction()?;
    let mut stored = Stored::default();
    for job in group {
        let chunk = job.batch.write_chunk(&tx, &job.chunk, resources, written, job.received_ns)?;
        stored.spans += chunk.spans;
        stored.bytes += chunk.bytes;
    }
    if stored.spans > 0 {
        schema::add_to_totals(&tx, stored.bytes as i64, stored.spans)?;
    }
    let newest = group.iter().map(|job| job.received_ns).max().unwrap_or_default();
    let past_limits = retention::past_limits(&tx, retention, newest)?;
    tx.commit()?;
    Ok(past_limits)
}

/// A part of a batch written in one transaction: ranges of the spans of its resources.
#[derive(Debug, Default)]
pub(super) struct Chunk {
    pieces: Vec<(usize, Range<usize>)>,
}

#[cfg(test)]
impl PreparedBatch {
    /// Everything the batch would write, its bodies decoded (equal bodies may be encoded
    /// differently), for comparing two ways of preparing one batch.
    pub(super) fn summary(&self) -> String {
        use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
        let mut out = format!("{:?}\n", self.report);
        for r in &self.resources {
            out += &format!("resource {} {:?} {} {:?} {:?}\n", r.hash, r.encoded, r.service, r.deployment, r.keys);
            for s in &r.spans {
                let (operation, keys, body) = (r.arenas.operation(s), r.arenas.keys(s), r.arenas.body(s));
                out += &format!(
                    "  {:?} {:?} {:?} {} {} {} {} {:?} {:?} {:?} {:?}\n",
                    s.trace_id,
                    s.raw_trace_id,
                    s.span_id,
                    operation,
                    s.start_ns,
                    s.duration_ns,
                    s.error,
                    keys,
                    s.role,
                    s.links,
                    ProtoSpan::decode(body),
                );
            }
        }
        out
    }

    /// The bodies of its spans as stored.
    pub(super) fn bodies(&self) -> Vec<&[u8]> {
        self.resources.iter().flat_map(|r| r.spans.iter().map(|s| r.arenas.body(s))).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::trace::v1::{ScopeSpans, Span};

    use super::*;

    fn resource(spans: usize, body_bytes: usize) -> ResourceSpans {
        let spans = (0..spans)
            .map(|n| Span {
                trace_id: vec![1; 16],
                span_id: (n as u64 + 1).to_be_bytes().to_vec(),
                trace_state: "x".repeat(body_bytes),
                ..Default::default()
            })
            .collect();
        ResourceSpans { scope_spans: vec![ScopeSpans { spans, ..Default::default() }], ..Default::default() }
    }

    #[test]
    fn chunks_hold_every_span_once_in_order_within_both_bounds() {
        let batch = PreparedBatch::new(vec![
            resource(CHUNK_SPANS - 10, 0),
            resource(CHUNK_SPANS * 2 + 5, 0),
            resource(3, CHUNK_BYTES / 2 - 100),
            resource(1, CHUNK_BYTES * 2),
        ]);
        let chunks = batch.chunks();
        let mut seen = Vec::new();
        for chunk in &chunks {
            let spans: Vec<&SpanRow> =
                chunk.pieces.iter().flat_map(|(r, range)| &batch.resources[*r].spans[range.clone()]).collect();
            let bytes: usize = spans.iter().map(|s| s.body.len()).sum();
            assert!(!spans.is_empty() && spans.len() <= CHUNK_SPANS);
            assert!(bytes <= CHUNK_BYTES || spans.len() == 1, "{bytes} bytes in {} spans", spans.len());
            seen.extend(chunk.pieces.iter().flat_map(|(r, range)| range.clone().map(move |i| (*r, i))));
        }
        let all: Vec<(usize, usize)> =
            batch.resources.iter().enumerate().flat_map(|(r, res)| (0..res.spans.len()).map(move |i| (r, i))).collect();
        assert_eq!(seen, all);
        // 6,139 small spans cut at 2,048 spans, the last chunk of them also taking two of the
        // 2 MiB spans; the third 2 MiB span; the 8 MiB span alone.
        assert_eq!(chunks.len(), 3 + 1 + 1);
    }
}
