//! The SQLite schema and the statements that read and write it.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Params, Transaction, params};

use crate::formats::otlp::convert_attributes;
use crate::model::ids::stable_hash;
use crate::model::{AttrValue, Attribute, TraceId};
use crate::query::SearchQuery;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS resources (
    id INTEGER PRIMARY KEY,
    hash INTEGER NOT NULL UNIQUE,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS spans (
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    error INTEGER NOT NULL,
    resource_id INTEGER NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (trace_id, span_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS spans_by_service ON spans (service, start_ns);
CREATE INDEX IF NOT EXISTS spans_by_operation ON spans (service, operation, start_ns);
CREATE TABLE IF NOT EXISTS traces (
    trace_id BLOB PRIMARY KEY,
    received_ns INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_by_age ON traces (received_ns);
CREATE TABLE IF NOT EXISTS span_tags (
    trace_id BLOB NOT NULL,
    tag INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    PRIMARY KEY (trace_id, tag)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS span_tags_by_tag ON span_tags (tag, start_ns);
";

/// The key of the attribute index: which service's spans carry `key=value` (the value as
/// a tag search writes it). One row per trace and tag, whatever the number of spans.
pub fn tag_hash(service: &str, key: &str, value: &str) -> i64 {
    let mut bytes = Vec::with_capacity(service.len() + key.len() + value.len() + 2);
    for (i, part) in [service, key, value].into_iter().enumerate() {
        if i > 0 {
            bytes.push(0);
        }
        bytes.extend_from_slice(part.as_bytes());
    }
    stable_hash(&bytes) as i64
}

/// The index key of an attribute of `service`'s spans or resource.
pub fn attribute_tag(service: &str, attribute: &Attribute) -> i64 {
    match &attribute.value {
        AttrValue::Str(text) => tag_hash(service, &attribute.key, text),
        other => tag_hash(service, &attribute.key, &other.to_string()),
    }
}

/// Indexes that `trace` has a span carrying `tag` that started at `start_ns`; the row
/// keeps the latest such start, so a search from a time on never misses the trace.
pub fn index_tag(tx: &Transaction, trace: TraceId, tag: i64, start_ns: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO span_tags (trace_id, tag, start_ns) VALUES (?1, ?2, ?3)
         ON CONFLICT (trace_id, tag) DO UPDATE SET start_ns = max(start_ns, excluded.start_ns)",
    )?
    .execute(params![trace.to_bytes().to_vec(), tag, start_ns.min(i64::MAX as u64) as i64])?;
    Ok(())
}

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating when needed) a connection in WAL mode. `synchronous = NORMAL` keeps
/// every committed transaction through a process crash (only a power cut can lose the
/// last ones), at a fraction of FULL's cost.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // A 32 MiB page cache: ingest speed within the memory budget.
    connection.pragma_update(None, "cache_size", -32768)?;
    connection.execute_batch(SCHEMA)?;
    Ok(connection)
}

/// The id of a resource, storing it the first time it is seen.
pub fn resource_id(tx: &Transaction, hash: u64, body: &[u8]) -> rusqlite::Result<i64> {
    tx.execute("INSERT OR IGNORE INTO resources (hash, body) VALUES (?1, ?2)", params![hash as i64, body])?;
    tx.query_row("SELECT id FROM resources WHERE hash = ?1", params![hash as i64], |row| row.get(0))
}

/// Records that a trace received `bytes` more span data at `received_ns`.
pub fn touch_trace(tx: &Transaction, id: TraceId, received_ns: u64, bytes: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO traces (trace_id, received_ns, bytes) VALUES (?1, ?2, ?3)
         ON CONFLICT (trace_id) DO UPDATE SET bytes = bytes + excluded.bytes",
    )?
    .execute(params![id.to_bytes().to_vec(), received_ns as i64, bytes as i64])?;
    Ok(())
}

pub fn strings(connection: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| row.get(0))?;
    rows.collect()
}

/// The span filters of a search as SQL parameters: service, time range, durations.
struct SpanFilter<'q> {
    query: &'q SearchQuery,
    start: i64,
    end: i64,
    min: i64,
    max: i64,
}

impl<'q> SpanFilter<'q> {
    fn new(query: &'q SearchQuery, start_ns: u64, end_ns: u64) -> Self {
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        SpanFilter {
            query,
            start: clamp(start_ns),
            end: clamp(end_ns),
            min: clamp(query.min_duration_ns.unwrap_or(0)),
            max: clamp(query.max_duration_ns.unwrap_or(u64::MAX)),
        }
    }

    /// `SELECT {columns} FROM spans WHERE` the filter holds: the spans of one trace (its
    /// id the last parameter), or all of them newest first.
    fn sql(&self, columns: &str, of_one_trace: bool) -> String {
        let (operation, trace_parameter) = match self.query.operation {
            Some(_) => (" AND operation = ?6", 7),
            None => ("", 6),
        };
        let tail = if of_one_trace {
            format!("AND trace_id = ?{trace_parameter}")
        } else {
            "ORDER BY start_ns DESC".to_string()
        };
        // Within one trace, the primary key is the way in: `+` keeps SQLite from picking
        // the service index instead.
        let plus = if of_one_trace { "+" } else { "" };
        format!(
            "SELECT {columns} FROM spans WHERE {plus}service = ?1 AND {plus}start_ns BETWEEN ?2 AND ?3
             AND duration_ns >= ?4 AND duration_ns <= ?5{operation} {tail}"
        )
    }

    fn rows<'s>(
        &self,
        statement: &'s mut rusqlite::CachedStatement,
        trace: Option<&[u8]>,
    ) -> rusqlite::Result<rusqlite::Rows<'s>> {
        let q = self.query;
        match (&q.operation, trace) {
            (Some(op), Some(x)) => statement.query(params![q.service, self.start, self.end, self.min, self.max, op, x]),
            (Some(op), None) => statement.query(params![q.service, self.start, self.end, self.min, self.max, op]),
            (None, Some(x)) => statement.query(params![q.service, self.start, self.end, self.min, self.max, x]),
            (None, None) => statement.query(params![q.service, self.start, self.end, self.min, self.max]),
        }
    }
}

/// The ids of the newest traces with a span that matches, at most `query.limit`.
pub fn matching_traces(
    connection: &Connection,
    query: &SearchQuery,
    start_ns: u64,
    end_ns: u64,
) -> rusqlite::Result<Vec<TraceId>> {
    let filter = SpanFilter::new(query, start_ns, end_ns);
    if !query.tags.is_empty() {
        return matching_traces_by_tag(connection, &filter);
    }
    let mut statement = connection.prepare_cached(&filter.sql("trace_id", false))?;
    let mut rows = filter.rows(&mut statement, None)?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let Some(id) = TraceId::from_bytes(&row.get::<_, Vec<u8>>(0)?) else { continue };
        if !found.contains(&id) {
            found.push(id);
            if found.len() >= query.limit {
                break;
            }
        }
    }
    Ok(found)
}

/// A tag search: the attribute index names the candidate traces, newest first; each is
/// confirmed by decoding its spans of the service, which must match every filter and tag.
fn matching_traces_by_tag(connection: &Connection, filter: &SpanFilter) -> rusqlite::Result<Vec<TraceId>> {
    let query = filter.query;
    let (key, value) = &query.tags[0];
    let mut candidates = connection
        .prepare_cached("SELECT trace_id FROM span_tags WHERE tag = ?1 AND start_ns >= ?2 ORDER BY start_ns DESC")?;
    let mut candidates = candidates.query(params![tag_hash(&query.service, key, value), filter.start])?;
    let mut spans = connection.prepare_cached(&filter.sql("resource_id, body", true))?;
    let mut resources: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    let mut found = Vec::new();
    while let Some(row) = candidates.next()? {
        let id_bytes: Vec<u8> = row.get(0)?;
        let Some(id) = TraceId::from_bytes(&id_bytes) else { continue };
        let mut rows = filter.rows(&mut spans, Some(&id_bytes))?;
        while let Some(span_row) = rows.next()? {
            let resource_id: i64 = span_row.get(0)?;
            let Ok(span) = ProtoSpan::decode(span_row.get_ref(1)?.as_blob()?) else { continue };
            let attributes = match resources.entry(resource_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(resource(connection, resource_id)?.attributes),
            };
            if has_tags(&span, attributes, &query.tags) {
                found.push(id);
                break;
            }
        }
        if found.len() >= query.limit {
            break;
        }
    }
    Ok(found)
}

/// Whether a span (with its resource) carries every `key=value` of a tag search.
fn has_tags(span: &ProtoSpan, resource: &[KeyValue], tags: &[(String, String)]) -> bool {
    let own = convert_attributes(span.attributes.clone());
    let shared = convert_attributes(resource.to_vec());
    tags.iter().all(|(key, value)| own.iter().chain(&shared).any(|a| a.key == *key && a.value.to_string() == *value))
}

/// A stored resource; an unreadable one reads as empty rather than hiding its spans.
pub fn resource(connection: &Connection, id: i64) -> rusqlite::Result<ProtoResource> {
    let body: Option<Vec<u8>> =
        connection.query_row("SELECT body FROM resources WHERE id = ?1", params![id], |row| row.get(0)).optional()?;
    Ok(body.and_then(|b| ProtoResource::decode(b.as_slice()).ok()).unwrap_or_default())
}

/// How many bytes of spans a trace has, or `None` when it is not stored.
pub fn trace_bytes(connection: &Connection, id: TraceId) -> rusqlite::Result<Option<u64>> {
    connection
        .prepare_cached("SELECT bytes FROM traces WHERE trace_id = ?1")?
        .query_row(params![id.to_bytes().to_vec()], |row| row.get::<_, i64>(0))
        .optional()
        .map(|bytes| bytes.map(|b| b.max(0) as u64))
}

pub fn recent_trace_ids(connection: &Connection, limit: usize) -> rusqlite::Result<Vec<TraceId>> {
    let mut statement = connection.prepare_cached("SELECT trace_id FROM traces ORDER BY received_ns DESC LIMIT ?1")?;
    let rows = statement.query_map(params![limit.min(i64::MAX as usize) as i64], |row| row.get::<_, Vec<u8>>(0))?;
    Ok(rows.filter_map(|id| id.ok().and_then(|id| TraceId::from_bytes(&id))).collect())
}

/// `(resource_id, body)` of every stored span of a trace.
pub fn trace_rows(connection: &Connection, id: TraceId) -> rusqlite::Result<Vec<(i64, Vec<u8>)>> {
    let mut statement = connection.prepare_cached("SELECT resource_id, body FROM spans WHERE trace_id = ?1")?;
    let rows = statement.query_map(params![id.to_bytes().to_vec()], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}
