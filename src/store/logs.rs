//! Log records in the store: OTLP logs as the receivers take them, each kept as its
//! protobuf encoding with the columns that finding it needs (its trace, its service, its
//! time, its severity). A trace's logs are read by an index on the trace id; the others
//! only when a user asks for them (`:VitalsLogs`), newest first.
//!
//! A record's `key` is a hash of its service and encoding, so that a retried export
//! stores it once; the unique key is its time and that hash. The time comes first so that
//! the records of a batch, which arrive in about the order they were logged, land at the
//! end of the key's index: a unique key of the hash alone put each record on a page of
//! its own anywhere in the index, and every transaction rewrote hundreds of those pages.
//! Neither is the row id: rows keep their order of arrival, so that each insert appends
//! to the table (a hash as the row id made ingest six times slower), and so that the row
//! id orders logs by arrival for retention and for searches without indexes of their own
//! (each index costs ingest). Logs count towards the same size limit as spans and go by
//! the same age limit (see [`super::retention`]): the oldest by arrival first,
//! interleaved with traces.

use opentelemetry_proto::tonic::logs::v1::{LogRecord as ProtoLogRecord, ResourceLogs};
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::IngestReport;
use super::schema::{self, clamp};
use crate::formats::otlp::convert_resource;
use crate::formats::otlp_logs::log_record;
use crate::model::ids::stable_hash_of;
use crate::model::log::severity_floor;
use crate::model::{LogRecord, TraceId};
use crate::query::LogQuery;

/// The most records one transaction writes: about as long at the writer as a chunk of spans.
pub const CHUNK_LOGS: usize = 8192;
/// The most logs of one trace read: a trace that logged more shows its first ones.
pub const MAX_TRACE_LOGS: usize = 10_000;
/// The most rows one search looks at before it answers with what it found: the editor
/// never waits for a scan of a whole store.
const MAX_SCANNED: usize = 200_000;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS logs (
    id INTEGER PRIMARY KEY,
    key INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    received_ns INTEGER NOT NULL,
    service TEXT NOT NULL,
    severity INTEGER NOT NULL,
    trace_id BLOB,
    body BLOB NOT NULL,
    UNIQUE (time_ns, key)
);
CREATE INDEX IF NOT EXISTS logs_by_trace ON logs (trace_id, time_ns) WHERE trace_id IS NOT NULL;
";

/// A record ready to be written.
pub(super) struct LogRow {
    key: i64,
    time_ns: u64,
    service_index: usize,
    severity: i32,
    trace_id: Option<Vec<u8>>,
    body: Vec<u8>,
}

/// A batch of log records encoded for storage, before the writer is taken.
pub(super) struct PreparedLogs {
    services: Vec<String>,
    rows: Vec<LogRow>,
    report: IngestReport,
}

impl PreparedLogs {
    pub(super) fn new(batch: Vec<ResourceLogs>) -> PreparedLogs {
        let mut report = IngestReport::default();
        let mut services = Vec::with_capacity(batch.len());
        let mut rows = Vec::new();
        for resource_logs in batch {
            let resource = resource_logs.resource.unwrap_or_default();
            let service = convert_resource(resource.attributes).service.to_string();
            let service_index = services.len();
            for record in resource_logs.scope_logs.into_iter().flat_map(|s| s.log_records) {
                if let Err(reason) = check_ids(&record) {
                    report.rejected += 1;
                    if report.reasons.len() < 3 && !report.reasons.contains(&reason) {
                        report.reasons.push(reason);
                    }
                    continue;
                }
                let body = record.encode_to_vec();
                let severity = match record.severity_number {
                    0 => severity_floor(&record.severity_text).unwrap_or(0),
                    n => n,
                };
                let trace_id = (record.trace_id.iter().any(|b| *b != 0)).then_some(record.trace_id);
                rows.push(LogRow {
                    key: stable_hash_of(&[service.as_bytes(), &body]) as i64,
                    time_ns: match record.time_unix_nano {
                        0 => record.observed_time_unix_nano,
                        time => time,
                    },
                    service_index,
                    severity,
                    trace_id,
                    body,
                });
            }
            services.push(service);
        }
        report.accepted = rows.len();
        PreparedLogs { services, rows, report }
    }

    /// The rows in chunks of at most [`CHUNK_LOGS`].
    pub(super) fn chunks(&self) -> std::slice::Chunks<'_, LogRow> {
        self.rows.chunks(CHUNK_LOGS)
    }

    pub(super) fn report(self) -> IngestReport {
        self.report
    }

    /// Writes one chunk in the transaction `tx`; records stored before (a retried export)
    /// are left alone. The bytes stored count towards the size limit.
    pub(super) fn write(&self, tx: &Transaction, chunk: &[LogRow], received_ns: u64) -> rusqlite::Result<()> {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO logs (key, time_ns, received_ns, service, severity, trace_id, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut bytes = 0;
        for row in chunk {
            let inserted = insert.execute(params![
                row.key,
                clamp(row.time_ns),
                clamp(received_ns),
                self.services[row.service_index],
                row.severity,
                row.trace_id,
                row.body,
            ])?;
            if inserted > 0 {
                bytes += row.body.len() as i64;
            }
        }
        schema::add_to_totals(tx, bytes, 0)
    }
}

/// OTLP's rule: a trace id is 16 bytes and a span id 8, or absent.
fn check_ids(record: &ProtoLogRecord) -> Result<(), String> {
    if !matches!(record.trace_id.len(), 0 | 16) {
        return Err(format!("a log record's trace id has {} bytes, not 16", record.trace_id.len()));
    }
    if !matches!(record.span_id.len(), 0 | 8) {
        return Err(format!("a log record's span id has {} bytes, not 8", record.span_id.len()));
    }
    Ok(())
}

/// The logs of a trace, by time (at most [`MAX_TRACE_LOGS`]).
pub(super) fn of_trace(connection: &Connection, id: TraceId) -> rusqlite::Result<Vec<LogRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT service, body FROM logs WHERE trace_id = ?1 AND trace_id IS NOT NULL ORDER BY time_ns LIMIT ?2",
    )?;
    let rows = statement.query_map(params![id.to_bytes().to_vec(), MAX_TRACE_LOGS as i64], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    let mut logs = Vec::new();
    for row in rows {
        let (service, body) = row?;
        // A record that does not decode is damage the checks report; the rest still show.
        if let Ok(record) = ProtoLogRecord::decode(body.as_slice()) {
            logs.push(log_record(&service, record));
        }
    }
    Ok(logs)
}

/// The logs a query asks for, newest first. Rows are walked from the latest to arrive
/// back to the first that arrived before the query's start (a log arrives after it is
/// written), at most [`MAX_SCANNED`] of them.
pub(super) fn search(connection: &Connection, query: &LogQuery) -> rusqlite::Result<Vec<LogRecord>> {
    let mut statement = connection.prepare_cached(
        "SELECT service, body, received_ns FROM logs WHERE (?1 = '' OR service = ?1) AND severity >= ?2
         ORDER BY id DESC LIMIT ?3",
    )?;
    let mut rows = statement.query(params![query.service, query.min_severity, MAX_SCANNED as i64])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        if row.get::<_, i64>(2)? < clamp(query.start_ns) {
            break;
        }
        let Ok(record) = ProtoLogRecord::decode(row.get_ref(1)?.as_blob()?) else { continue };
        let record = log_record(row.get_ref(0)?.as_str()?, record);
        if (query.start_ns..=query.end_ns).contains(&record.time_ns) && holds_words(&record, &query.text) {
            found.push(record);
            if found.len() == query.limit {
                break;
            }
        }
    }
    // Arrival order is nearly time order; within a batch it may not be.
    found.sort_by_key(|record| std::cmp::Reverse(record.time_ns));
    Ok(found)
}

/// Whether the body or an attribute value holds every word (lower-case).
fn holds_words(record: &LogRecord, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let mut text = record.body.to_lowercase();
    for attribute in &record.attributes {
        text.push('\n');
        text.push_str(&attribute.value.to_string().to_lowercase());
    }
    words.iter().all(|word| text.contains(word.as_str()))
}

/// How many log records are stored.
pub(super) fn count(connection: &Connection) -> rusqlite::Result<u64> {
    connection.query_row("SELECT count(*) FROM logs", [], |row| row.get::<_, i64>(0)).map(|n| n.max(0) as u64)
}

/// What a step of retention may delete of the logs: those that arrived before `cutoff`,
/// and, while the stored data is over `goal_bytes`, those that arrived before `before`.
pub(super) struct Eviction {
    pub cutoff: i64,
    pub before: i64,
    pub bytes: i64,
    pub goal_bytes: i64,
}

/// Deletes up to `limit` logs past the limits, oldest first; how many, and their bytes.
pub(super) fn evict(tx: &Transaction, eviction: &Eviction, limit: usize) -> rusqlite::Result<(usize, i64)> {
    let oldest: Vec<(i64, i64, i64)> = {
        let mut statement = tx.prepare_cached("SELECT id, received_ns, length(body) FROM logs ORDER BY id LIMIT ?1")?;
        let rows = statement.query_map(params![limit as i64], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut delete = tx.prepare_cached("DELETE FROM logs WHERE id = ?1")?;
    let (mut deleted, mut freed) = (0, 0);
    for (id, received_ns, bytes) in oldest {
        let over_size = eviction.bytes - freed > eviction.goal_bytes && received_ns < eviction.before;
        if received_ns >= eviction.cutoff && !over_size {
            break;
        }
        delete.execute(params![id])?;
        deleted += 1;
        freed += bytes;
    }
    Ok((deleted, freed))
}

/// When the oldest stored log arrived.
pub(super) fn oldest_received(connection: &Connection) -> rusqlite::Result<Option<i64>> {
    connection
        .prepare_cached("SELECT received_ns FROM logs ORDER BY id LIMIT 1")?
        .query_row([], |row| row.get(0))
        .optional()
}
