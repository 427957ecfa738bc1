//! The SQLite schema and the statements that read and write it.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Params, Transaction, params};

use super::parts::{Part, keys};
use super::{baselines, links, logs, migrate, rollups, versions};
use crate::model::TraceId;

/// The layout this code writes; [`migrate`] brings older files to it.
pub const VERSION: i64 = 8;

/// Spans are kept whole: their OTLP encoding without what the columns hold (ids, name,
/// times), with the columns that confirming a search on a trace needs. `trace_parts` (see
/// [`super::parts`]) is what searches walk; `operations` lists what each service does.
/// `totals` is one row, the span data (`traces.bytes` summed) and spans stored, kept up
/// to date by every transaction: retention checks it after every chunk, the status shows
/// it, and neither can afford to add up a million rows each time. `versions` (see
/// [`super::versions`]) lists each service's deployments; the rollups of trends and the
/// saved baselines have tables of their own (see [`super::rollups`], [`super::baselines`]),
/// and so do the span links (see [`super::links`]) and log records (see [`super::logs`]).
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
CREATE TABLE IF NOT EXISTS traces (
    trace_id BLOB PRIMARY KEY,
    received_ns INTEGER NOT NULL,
    bytes INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_by_age ON traces (received_ns);
CREATE TABLE IF NOT EXISTS trace_parts (
    service TEXT NOT NULL,
    last_start_ns INTEGER NOT NULL,
    trace_id BLOB NOT NULL,
    first_start_ns INTEGER NOT NULL,
    min_duration_ns INTEGER NOT NULL,
    max_duration_ns INTEGER NOT NULL,
    tags BLOB NOT NULL,
    PRIMARY KEY (service, last_start_ns, trace_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_parts_by_trace ON trace_parts (trace_id);
CREATE TABLE IF NOT EXISTS operations (
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (service, operation)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    span_bytes INTEGER NOT NULL,
    spans INTEGER NOT NULL
);
";

/// How long a statement waits for another connection's lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating or migrating when needed) a connection in WAL mode.
/// `synchronous = NORMAL` keeps every committed transaction through a process crash
/// (only a power cut can lose the last ones), at a fraction of FULL's cost.
///
/// A new file gets `auto_vacuum = INCREMENTAL`, so that the pages retention frees can be
/// given back to the disk (see [`super::retention::reclaim`]); SQLite takes the setting
/// only before the first table exists, and before the file is put in WAL mode. Files made
/// without it keep it off (converting means rewriting the whole file): they reuse the
/// pages retention frees, so they stop growing but do not shrink.
pub fn open(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open(path)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    // A 32 MiB page cache: ingest speed within the memory budget.
    connection.pragma_update(None, "cache_size", -32768)?;
    migrate::to_current(&connection)?;
    Ok(connection)
}

/// Creates what is missing of this version's tables, sums up what the file already
/// holds into `totals` (nothing in a new file), and marks the file as this version.
pub fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)?;
    connection.execute_batch(logs::SCHEMA)?;
    versions::create(connection)?;
    rollups::create(connection)?;
    baselines::create(connection)?;
    links::create(connection)?;
    connection.execute(
        "INSERT OR IGNORE INTO totals (id, span_bytes, spans)
         SELECT 0, (SELECT coalesce(sum(bytes), 0) FROM traces), (SELECT count(*) FROM spans)",
        [],
    )?;
    connection.pragma_update(None, "user_version", VERSION)
}

/// The span data and the spans stored (see `totals` in [`SCHEMA`]).
pub fn totals(connection: &Connection) -> rusqlite::Result<(u64, u64)> {
    connection
        .prepare_cached("SELECT span_bytes, spans FROM totals")?
        .query_row([], |row| Ok((row.get::<_, i64>(0)?.max(0) as u64, row.get::<_, i64>(1)?.max(0) as u64)))
}

/// Adds to the totals what a transaction stored (negative: what it deleted).
pub fn add_to_totals(tx: &Transaction, bytes: i64, spans: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE totals SET span_bytes = span_bytes + ?1, spans = spans + ?2")?
        .execute(params![bytes, spans])?;
    Ok(())
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

/// A count or time as SQLite's signed integer, the largest it holds beyond that.
pub(super) fn clamp(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

/// Stores a part of `trace` (the spans of `service` a batch brought); one stored before
/// with the same latest start (a rare tie) is merged into.
pub fn insert_part(tx: &Transaction, service: &str, trace: &[u8], part: &Part) -> rusqlite::Result<()> {
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO trace_parts
             (service, last_start_ns, trace_id, first_start_ns, min_duration_ns, max_duration_ns, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            service,
            clamp(part.last_start_ns),
            trace,
            clamp(part.first_start_ns),
            clamp(part.min_duration_ns),
            clamp(part.max_duration_ns),
            part.tags()
        ])?;
    if inserted > 0 {
        return Ok(());
    }
    let key = params![service, clamp(part.last_start_ns), trace];
    let stored = tx.query_row(
        "SELECT first_start_ns, min_duration_ns, max_duration_ns, tags FROM trace_parts
         WHERE service = ?1 AND last_start_ns = ?2 AND trace_id = ?3",
        key,
        |row| {
            let ns = |i: usize| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
            let mut stored = Part::new(ns(0)?, ns(1)?);
            stored.add(part.last_start_ns, ns(2)?, &keys(row.get_ref(3)?.as_blob()?));
            Ok(stored)
        },
    )?;
    let mut merged = part.clone();
    merged.merge(&stored);
    tx.execute(
        "UPDATE trace_parts SET first_start_ns = ?4, min_duration_ns = ?5, max_duration_ns = ?6, tags = ?7
         WHERE service = ?1 AND last_start_ns = ?2 AND trace_id = ?3",
        params![
            service,
            clamp(part.last_start_ns),
            trace,
            clamp(merged.first_start_ns),
            clamp(merged.min_duration_ns),
            clamp(merged.max_duration_ns),
            merged.tags()
        ],
    )?;
    Ok(())
}

/// Records that `service` did `operation` in a batch received at `received_ns`.
pub fn saw_operation(tx: &Transaction, service: &str, operation: &str, received_ns: u64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO operations (service, operation, last_seen_ns) VALUES (?1, ?2, ?3)
         ON CONFLICT (service, operation) DO UPDATE SET last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
    )?
    .execute(params![service, operation, clamp(received_ns)])?;
    Ok(())
}

pub fn strings(connection: &Connection, sql: &str, params: impl Params) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| row.get(0))?;
    rows.collect()
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

/// Every trace with a part whose spans started around `[start_ns, end_ns]` (from before
/// its end to after its start: a part straddling an edge counts).
pub fn trace_ids_between(connection: &Connection, start_ns: u64, end_ns: u64) -> rusqlite::Result<Vec<TraceId>> {
    let mut statement = connection.prepare_cached(
        "SELECT DISTINCT trace_id FROM trace_parts WHERE last_start_ns >= ?1 AND first_start_ns <= ?2",
    )?;
    let rows = statement.query_map(params![clamp(start_ns), clamp(end_ns)], |row| row.get::<_, Vec<u8>>(0))?;
    // A read that fails (a damaged page) fails the whole: a map of part of the traces
    // would pass for all of them.
    let ids: Vec<Vec<u8>> = rows.collect::<rusqlite::Result<_>>()?;
    Ok(ids.iter().filter_map(|id| TraceId::from_bytes(id)).collect())
}

/// A stored span: its encoding, and what the columns hold of it.
pub struct SpanRow {
    pub span_id: Vec<u8>,
    pub service: String,
    pub operation: String,
    pub start_ns: u64,
    pub duration_ns: u64,
    pub resource_id: i64,
    pub body: Vec<u8>,
}

impl SpanRow {
    /// The span as it was received: its encoding with what the columns hold put back
    /// (spans stored by earlier versions also carry them).
    pub fn into_proto(self, trace: TraceId) -> Result<ProtoSpan, prost::DecodeError> {
        let mut span = ProtoSpan::decode(self.body.as_slice())?;
        span.trace_id = trace.to_bytes().to_vec();
        span.span_id = self.span_id;
        span.name = self.operation;
        span.start_time_unix_nano = self.start_ns;
        span.end_time_unix_nano = self.start_ns.saturating_add(self.duration_ns);
        Ok(span)
    }
}

/// Every stored span of a trace.
pub fn trace_rows(connection: &Connection, id: TraceId) -> rusqlite::Result<Vec<SpanRow>> {
    let mut rows = Vec::new();
    each_trace_row(connection, id, |row| rows.push(row))?;
    Ok(rows)
}

/// How many spans a trace has stored.
pub fn trace_span_count(connection: &Connection, id: TraceId) -> rusqlite::Result<u64> {
    connection
        .prepare_cached("SELECT count(*) FROM spans WHERE trace_id = ?1")?
        .query_row(params![id.to_bytes().to_vec()], |row| row.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
}

/// Calls `visit` with each stored span of a trace as it is read: the spans before a
/// damaged page are seen before its error.
pub fn each_trace_row(connection: &Connection, id: TraceId, mut visit: impl FnMut(SpanRow)) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(
        "SELECT span_id, service, operation, start_ns, duration_ns, resource_id, body FROM spans WHERE trace_id = ?1",
    )?;
    let mut rows = statement.query(params![id.to_bytes().to_vec()])?;
    while let Some(row) = rows.next()? {
        visit(SpanRow {
            span_id: row.get(0)?,
            service: row.get(1)?,
            operation: row.get(2)?,
            start_ns: row.get::<_, i64>(3)?.max(0) as u64,
            duration_ns: row.get::<_, i64>(4)?.max(0) as u64,
            resource_id: row.get(5)?,
            body: row.get(6)?,
        });
    }
    Ok(())
}

/// Spans with their resource ids, grouped under their resources as OTLP sends them.
pub fn by_resource(
    spans: impl IntoIterator<Item = (i64, ProtoSpan)>,
    mut resource: impl FnMut(i64) -> rusqlite::Result<ProtoResource>,
) -> rusqlite::Result<Vec<ResourceSpans>> {
    let mut grouped: HashMap<i64, Vec<ProtoSpan>> = HashMap::new();
    for (resource_id, span) in spans {
        grouped.entry(resource_id).or_default().push(span);
    }
    let mut resource_spans = Vec::with_capacity(grouped.len());
    for (resource_id, spans) in grouped {
        resource_spans.push(ResourceSpans {
            resource: Some(resource(resource_id)?),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        });
    }
    Ok(resource_spans)
}
