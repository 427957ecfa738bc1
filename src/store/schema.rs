//! The SQLite schema and the statements that read and write it.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::path::Path;

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Params, Transaction, params};

use crate::formats::otlp::convert_attributes;
use crate::model::TraceId;
use crate::providers::SearchQuery;

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
";

/// Opens (creating when needed) a connection in WAL mode. `synchronous = NORMAL` keeps
/// every committed transaction through a process crash (only a power cut can lose the
/// last ones), at a fraction of FULL's cost.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(std::time::Duration::from_secs(5))?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // Fewer, larger checkpoints and a 32 MiB page cache: ingest speed within the memory budget.
    connection.pragma_update(None, "wal_autocheckpoint", 8192)?;
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

/// The ids of the newest traces with a span that matches, at most `query.limit`.
pub fn matching_traces(
    connection: &Connection,
    query: &SearchQuery,
    start_ns: u64,
    end_ns: u64,
) -> rusqlite::Result<Vec<TraceId>> {
    let mut sql = String::from(
        "SELECT trace_id, resource_id, CASE WHEN ?6 THEN body ELSE NULL END FROM spans
         WHERE service = ?1 AND start_ns BETWEEN ?2 AND ?3 AND duration_ns >= ?4 AND duration_ns <= ?5",
    );
    if query.operation.is_some() {
        sql.push_str(" AND operation = ?7");
    }
    sql.push_str(" ORDER BY start_ns DESC");
    let mut statement = connection.prepare_cached(&sql)?;
    let with_tags = !query.tags.is_empty();
    let min = query.min_duration_ns.unwrap_or(0).min(i64::MAX as u64) as i64;
    let max = query.max_duration_ns.unwrap_or(i64::MAX as u64).min(i64::MAX as u64) as i64;
    let start = start_ns.min(i64::MAX as u64) as i64;
    let end = end_ns.min(i64::MAX as u64) as i64;
    let mut rows = match &query.operation {
        Some(operation) => statement.query(params![query.service, start, end, min, max, with_tags, operation])?,
        None => statement.query(params![query.service, start, end, min, max, with_tags])?,
    };
    let mut resources: HashMap<i64, Vec<KeyValue>> = HashMap::new();
    let mut seen = HashSet::new();
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let id_bytes: Vec<u8> = row.get(0)?;
        let Some(id) = TraceId::from_bytes(&id_bytes) else { continue };
        if seen.contains(&id) {
            continue;
        }
        if with_tags {
            let resource_id: i64 = row.get(1)?;
            let body: Vec<u8> = row.get(2)?;
            let Ok(span) = ProtoSpan::decode(body.as_slice()) else { continue };
            let attributes = match resources.entry(resource_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(resource(connection, resource_id)?.attributes),
            };
            if !has_tags(&span, attributes, &query.tags) {
                continue;
            }
        }
        seen.insert(id);
        found.push(id);
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
