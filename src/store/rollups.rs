//! Rollups: each operation's requests summed up per minute (per hour once the hour ended
//! more than a day ago), kept for months after their traces are evicted, for trends.
//!
//! A row of `rollups` counts the entry spans (requests served) or client spans (calls
//! made) of one service and operation in one bucket: requests, errors, a latency sketch
//! (see [`crate::analysis::sketch`]) and the slowest request, whose trace opens while it
//! is still stored. Ingest sums a transaction's spans up in memory ([`Pending`]) and
//! writes each bucket once, in the transaction that stores the spans: rollups and spans
//! always agree, even after a crash. A store from before rollups has them built from its
//! spans when it is migrated ([`rebuild`]). Retention of traces leaves rollups alone;
//! [`Store::enforce_retention`] merges minutes into hours ([`compact_step`]) and drops
//! rollups past their own age limit ([`evict_step`]).

use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroUsize;
use std::time::Duration;

use lru::LruCache;

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use super::schema::clamp;
use super::{Store, db_error, lock};
use crate::analysis::sketch::LatencySketch;
use crate::analysis::trends::{self, Buckets, CallKind, OperationTotal, Point, Rollup, Slowest, Trend, TrendRequest};
use crate::error::Result;
use crate::model::{IdMap, SpanId, SpanKind, TraceId};

/// How long rollups are kept unless told otherwise: 90 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

const MINUTE_NS: i64 = 60_000_000_000;
const HOUR_NS: i64 = 60 * MINUTE_NS;
/// The most rows one compaction or eviction step goes through: a few milliseconds at the
/// writer, so batches arriving meanwhile hardly wait.
const STEP_ROWS: usize = 2048;
/// How many buckets a rebuild sums up in memory before writing them.
const REBUILD_BUCKETS: usize = 4096;
/// How many of the rollups it wrote last the writer keeps (a few KiB each): the current
/// minute of every operation of a busy system.
const WRITTEN_KEPT: usize = 1024;

/// A row per service, operation, kind and bucket; `rollups_by_time` serves compaction and
/// eviction, which go by bucket width and age.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rollups (
    service TEXT NOT NULL,
    operation TEXT NOT NULL,
    kind INTEGER NOT NULL,
    start_ns INTEGER NOT NULL,
    width_ns INTEGER NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    sketch BLOB NOT NULL,
    slowest_ns INTEGER NOT NULL,
    slowest_trace BLOB NOT NULL,
    slowest_span BLOB NOT NULL,
    PRIMARY KEY (service, operation, kind, start_ns, width_ns)
);
CREATE INDEX IF NOT EXISTS rollups_by_time ON rollups (width_ns, start_ns);
";

/// Creates the rollups' table when it is missing.
pub fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)
}

/// What a stored span counts as (an OTLP kind, and its parent's id): entry spans are
/// requests, client spans calls out, the rest neither.
pub fn role(kind: i32, parent_span_id: &[u8]) -> Option<CallKind> {
    CallKind::of(SpanKind::from_otlp(i64::from(kind)), parent_span_id.iter().all(|&b| b == 0))
}

/// One request, as a rollup counts it.
pub struct Request {
    pub start_ns: u64,
    pub duration_ns: u64,
    pub error: bool,
    pub trace_id: TraceId,
    pub span_id: SpanId,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key<S> {
    service: S,
    operation: S,
    kind: CallKind,
    start_ns: u64,
    width_ns: u64,
}

/// The rollups the writer's connection wrote last, as stored: a batch adds to them without
/// reading and decoding them again, which cost more than the rest of the rollups' share
/// of ingest. Another process writing to the same file makes them stale; SQLite's
/// `data_version` says when that happened, and they are forgotten.
pub struct Written {
    data_version: Option<i64>,
    rollups: LruCache<Key<String>, Rollup>,
}

impl Default for Written {
    fn default() -> Self {
        Written {
            data_version: None,
            rollups: LruCache::new(NonZeroUsize::new(WRITTEN_KEPT).unwrap_or(NonZeroUsize::MIN)),
        }
    }
}

impl Written {
    /// After a transaction that failed, or one that changed rollups another way.
    pub fn forget(&mut self) {
        self.rollups.clear();
    }

    /// Forgets them when another connection committed since the last look.
    fn check(&mut self, tx: &Transaction) -> rusqlite::Result<()> {
        let version: i64 = tx.pragma_query_value(None, "data_version", |row| row.get(0))?;
        if self.data_version != Some(version) {
            self.rollups.clear();
            self.data_version = Some(version);
        }
        Ok(())
    }
}

/// Rollups being summed up in memory, to be written once per bucket (see [`Pending::write`]).
/// `S` is `&str` at ingest (the batch's own names), `String` when reading rows.
pub struct Pending<S> {
    /// Keyed by foldhash: every request span of a batch is added (see [`crate::model::IdMap`]).
    rollups: IdMap<Key<S>, Rollup>,
}

impl<S> Default for Pending<S> {
    fn default() -> Self {
        Pending { rollups: IdMap::default() }
    }
}

impl<S: AsRef<str> + Eq + Hash> Pending<S> {
    /// Counts a request received at `now_ns` in its bucket (see [`trends::bucket_of`]).
    pub fn add(&mut self, service: S, operation: S, kind: CallKind, request: &Request, now_ns: u64) {
        let (start_ns, width_ns) = trends::bucket_of(request.start_ns, now_ns);
        let key = Key { service, operation, kind, start_ns, width_ns };
        self.rollups.entry(key).or_insert_with(|| Rollup::new(start_ns, width_ns)).add(
            request.duration_ns,
            request.error,
            request.trace_id,
            request.span_id,
        );
    }

    fn merge(&mut self, key: Key<S>, rollup: &Rollup) {
        let (start_ns, width_ns) = (key.start_ns, key.width_ns);
        self.rollups.entry(key).or_insert_with(|| Rollup::new(start_ns, width_ns)).merge(rollup);
    }

    pub fn len(&self) -> usize {
        self.rollups.len()
    }

    /// Adds every bucket to its stored row (read back unless `written` has it), and
    /// empties. `written` then holds the rows as stored, for the next transaction.
    pub fn write(&mut self, tx: &Transaction, written: &mut Written) -> rusqlite::Result<()> {
        written.check(tx)?;
        for (key, mut rollup) in self.rollups.drain() {
            let (service, operation) = (key.service.as_ref(), key.operation.as_ref());
            let (start, width) = (clamp(key.start_ns), clamp(key.width_ns));
            let owned = Key {
                service: service.to_string(),
                operation: operation.to_string(),
                kind: key.kind,
                start_ns: key.start_ns,
                width_ns: key.width_ns,
            };
            let stored = match written.rollups.pop(&owned) {
                Some(known) => Some(known),
                None => tx
                    .prepare_cached(
                        "SELECT requests, errors, sketch, slowest_ns, slowest_trace, slowest_span FROM rollups
                         WHERE service = ?1 AND operation = ?2 AND kind = ?3 AND start_ns = ?4 AND width_ns = ?5",
                    )?
                    .query_row(params![service, operation, key.kind.code(), start, width], |row| {
                        read_counts(row, 0, key.start_ns, key.width_ns)
                    })
                    .optional()?,
            };
            if let Some(stored) = stored {
                rollup.merge(&stored);
            }
            let slowest = rollup.slowest;
            tx.prepare_cached(
                "INSERT INTO rollups (service, operation, kind, start_ns, width_ns, requests, errors, sketch,
                     slowest_ns, slowest_trace, slowest_span)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (service, operation, kind, start_ns, width_ns) DO UPDATE SET
                     requests = excluded.requests, errors = excluded.errors, sketch = excluded.sketch,
                     slowest_ns = excluded.slowest_ns, slowest_trace = excluded.slowest_trace,
                     slowest_span = excluded.slowest_span",
            )?
            .execute(params![
                service,
                operation,
                key.kind.code(),
                start,
                width,
                clamp(rollup.requests),
                clamp(rollup.errors),
                rollup.latency.encode(),
                clamp(slowest.map_or(0, |s| s.duration_ns)),
                slowest.map_or(Vec::new(), |s| s.trace_id.to_bytes().to_vec()),
                slowest.map_or(Vec::new(), |s| s.span_id.0.to_be_bytes().to_vec()),
            ])?;
            written.rollups.put(owned, rollup);
        }
        Ok(())
    }
}

/// The counts of a row, from column `at` on: requests, errors, sketch, slowest (duration,
/// trace, span). A sketch that no longer decodes (a damaged row) reads as empty: the
/// counts still hold.
fn read_counts(row: &Row, at: usize, start_ns: u64, width_ns: u64) -> rusqlite::Result<Rollup> {
    let count = |i: usize| row.get::<_, i64>(at + i).map(|n| n.max(0) as u64);
    let latency = LatencySketch::decode(row.get_ref(at + 2)?.as_blob()?).unwrap_or_default();
    let slowest = match (TraceId::from_bytes(row.get_ref(at + 4)?.as_blob()?), row.get_ref(at + 5)?.as_blob()?) {
        (Some(trace_id), span) => {
            Some(Slowest { duration_ns: count(3)?, trace_id, span_id: SpanId::from_bytes(span).unwrap_or_default() })
        }
        (None, _) => None,
    };
    Ok(Rollup { start_ns, width_ns, requests: count(0)?, errors: count(1)?, latency, slowest })
}

/// Sums the stored spans up into rollups (a store from before rollups, see
/// [`super::migrate`]), as if each had arrived at `now_ns`: hours that ended more than a
/// day before are rolled up per hour.
pub fn rebuild(tx: &Transaction, now_ns: u64) -> rusqlite::Result<()> {
    let mut pending: Pending<String> = Pending::default();
    let mut statement =
        tx.prepare("SELECT trace_id, span_id, service, operation, start_ns, duration_ns, error, body FROM spans")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let Ok(span) = ProtoSpan::decode(row.get_ref(7)?.as_blob()?) else { continue };
        let Some(kind) = role(span.kind, &span.parent_span_id) else { continue };
        let request = Request {
            start_ns: row.get::<_, i64>(4)?.max(0) as u64,
            duration_ns: row.get::<_, i64>(5)?.max(0) as u64,
            error: row.get(6)?,
            trace_id: TraceId::from_bytes(row.get_ref(0)?.as_blob()?).unwrap_or_default(),
            span_id: SpanId::from_bytes(row.get_ref(1)?.as_blob()?).unwrap_or_default(),
        };
        pending.add(row.get(2)?, row.get(3)?, kind, &request, now_ns);
        if pending.len() >= REBUILD_BUCKETS {
            pending.write(tx, &mut Written::default())?;
        }
    }
    pending.write(tx, &mut Written::default())
}

/// Merges up to [`STEP_ROWS`] per-minute rollups of hours that ended more than a day
/// before `now_ns` into per-hour ones, in one transaction; whether more remain.
pub fn compact_step(connection: &mut Connection, now_ns: u64) -> rusqlite::Result<bool> {
    let before = clamp(trends::minutes_kept_from(now_ns));
    let tx = connection.transaction()?;
    let mut pending: Pending<String> = Pending::default();
    let mut merged = Vec::new();
    {
        let mut statement = tx.prepare_cached(
            "SELECT rowid, service, operation, kind, start_ns,
                    requests, errors, sketch, slowest_ns, slowest_trace, slowest_span
             FROM rollups WHERE width_ns = ?1 AND start_ns < ?2 LIMIT ?3",
        )?;
        let mut rows = statement.query(params![MINUTE_NS, before, STEP_ROWS as i64])?;
        while let Some(row) = rows.next()? {
            merged.push(row.get::<_, i64>(0)?);
            let Some(kind) = CallKind::from_code(row.get(3)?) else { continue };
            let start_ns = row.get::<_, i64>(4)?.max(0) as u64;
            let rollup = read_counts(row, 5, start_ns, MINUTE_NS as u64)?;
            let hour = trends::hour_of(start_ns);
            let key =
                Key { service: row.get(1)?, operation: row.get(2)?, kind, start_ns: hour, width_ns: HOUR_NS as u64 };
            pending.merge(key, &rollup);
        }
    }
    for rowid in &merged {
        tx.prepare_cached("DELETE FROM rollups WHERE rowid = ?1")?.execute(params![rowid])?;
    }
    pending.write(&tx, &mut Written::default())?;
    tx.commit()?;
    Ok(merged.len() == STEP_ROWS)
}

/// Deletes up to [`STEP_ROWS`] rollups of buckets that started longer than `max_age`
/// before `now_ns`; whether more remain.
pub fn evict_step(connection: &Connection, max_age: Duration, now_ns: u64) -> rusqlite::Result<bool> {
    let cutoff = now_ns.saturating_sub(max_age.as_nanos().min(u128::from(u64::MAX)) as u64);
    let deleted = connection
        .prepare_cached(
            "DELETE FROM rollups WHERE rowid IN
             (SELECT rowid FROM rollups WHERE width_ns IN (?1, ?2) AND start_ns < ?3 LIMIT ?4)",
        )?
        .execute(params![MINUTE_NS, HOUR_NS, clamp(cutoff), STEP_ROWS as i64])?;
    Ok(deleted == STEP_ROWS)
}

/// What [`Store::maintain_rollups`] does, one after the other.
enum Step {
    Compact,
    Evict,
}

/// Which rollups to read: a service's, of one operation or all, of one kind or both,
/// whose buckets start in `[start_ns, end_ns)`.
#[derive(Clone, Debug, PartialEq)]
pub struct RollupQuery {
    pub service: String,
    pub operation: Option<String>,
    pub kind: Option<CallKind>,
    pub start_ns: u64,
    pub end_ns: u64,
}

impl RollupQuery {
    /// The `WHERE` clause and its parameters: the primary key's order, so that the index
    /// finds the rows.
    fn filter(&self) -> (&'static str, Vec<rusqlite::types::Value>) {
        let kinds = match self.kind {
            Some(kind) => [kind.code(), kind.code()],
            None => [CallKind::Entry.code(), CallKind::Client.code()],
        };
        let mut values: Vec<rusqlite::types::Value> = vec![
            self.service.clone().into(),
            kinds[0].into(),
            kinds[1].into(),
            clamp(self.start_ns).into(),
            clamp(self.end_ns).into(),
        ];
        match &self.operation {
            Some(operation) => {
                values.push(operation.clone().into());
                ("service = ?1 AND operation = ?6 AND kind IN (?2, ?3) AND start_ns >= ?4 AND start_ns < ?5", values)
            }
            None => ("service = ?1 AND kind IN (?2, ?3) AND start_ns >= ?4 AND start_ns < ?5", values),
        }
    }
}

/// Calls `visit` with each stored rollup of the query, its operation and its kind.
fn each(
    connection: &Connection,
    query: &RollupQuery,
    mut visit: impl FnMut(&str, CallKind, Rollup),
) -> rusqlite::Result<()> {
    let (filter, values) = query.filter();
    let mut statement = connection.prepare_cached(&format!(
        "SELECT operation, kind, start_ns, width_ns, requests, errors, sketch, slowest_ns, slowest_trace, slowest_span
         FROM rollups WHERE {filter}"
    ))?;
    let mut rows = statement.query(rusqlite::params_from_iter(values))?;
    while let Some(row) = rows.next()? {
        let Some(kind) = CallKind::from_code(row.get(1)?) else { continue };
        let (start_ns, width_ns) = (row.get::<_, i64>(2)?.max(0) as u64, row.get::<_, i64>(3)?.max(0) as u64);
        let rollup = read_counts(row, 4, start_ns, width_ns)?;
        visit(row.get_ref(0)?.as_str()?, kind, rollup);
    }
    Ok(())
}

/// The requests of each kind the query finds, read from the counts alone.
fn requests_by_kind(connection: &Connection, query: &RollupQuery) -> rusqlite::Result<Vec<(CallKind, u64)>> {
    let (filter, values) = query.filter();
    let mut statement =
        connection.prepare_cached(&format!("SELECT kind, sum(requests) FROM rollups WHERE {filter} GROUP BY kind"))?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        Ok((CallKind::from_code(row.get(0)?), row.get::<_, i64>(1)?.max(0) as u64))
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.into_iter().filter_map(|(k, n)| Some((k?, n))).collect())
}

/// The widest bucket among the query's rollups (an hour where they were compacted).
fn widest(connection: &Connection, query: &RollupQuery) -> rusqlite::Result<Option<u64>> {
    let (filter, values) = query.filter();
    connection
        .prepare_cached(&format!("SELECT max(width_ns) FROM rollups WHERE {filter}"))?
        .query_row(rusqlite::params_from_iter(values), |row| row.get::<_, Option<i64>>(0))
        .map(|width| width.map(|w| w.max(0) as u64))
}

/// The rollups' reading side, for trends and what builds on them (alerts, baselines).
impl Store {
    /// Keep rollups this long (default [`DEFAULT_RETENTION`]), whatever becomes of the
    /// traces they count.
    pub fn keep_rollups_for(&self, max_age: Duration) {
        *lock(&self.rollup_retention) = max_age;
    }

    /// Calls `visit` with each stored rollup the query finds (a minute's or an hour's, in
    /// no particular order), with its operation and kind.
    pub fn each_rollup(&self, query: &RollupQuery, visit: impl FnMut(&str, CallKind, Rollup)) -> Result<()> {
        each(&lock(&self.reader), query, visit).map_err(db_error(&self.path))
    }

    /// The query's rollups merged into buckets `bucket_ns` wide (see [`Buckets`]).
    pub fn rollups_per_bucket(&self, query: &RollupQuery, bucket_ns: u64) -> Result<Vec<Rollup>> {
        let mut buckets = Buckets::new(query.start_ns, query.end_ns, bucket_ns);
        self.each_rollup(query, |_, _, rollup| buckets.add(&rollup))?;
        Ok(buckets.into_rollups())
    }

    /// The query's rollups merged into one.
    pub fn rollup_total(&self, query: &RollupQuery) -> Result<Rollup> {
        let mut total = Rollup::new(query.start_ns, query.end_ns.saturating_sub(query.start_ns));
        self.each_rollup(query, |_, _, rollup| total.merge(&rollup))?;
        Ok(total)
    }

    /// The services with rollups, for completion.
    pub fn rollup_services(&self) -> Result<Vec<String>> {
        let reader = lock(&self.reader);
        super::schema::strings(&reader, "SELECT DISTINCT service FROM rollups ORDER BY service", params![])
            .map_err(db_error(&self.path))
    }

    /// A service's operations with rollups, for completion.
    pub fn rollup_operations(&self, service: &str) -> Result<Vec<String>> {
        let reader = lock(&self.reader);
        super::schema::strings(
            &reader,
            "SELECT DISTINCT operation FROM rollups WHERE service = ?1 ORDER BY operation",
            params![service],
        )
        .map_err(db_error(&self.path))
    }

    /// The trend a request asks for: of one operation (as an entry span when the service
    /// has it as one, else as a call out), or of every entry operation of the service
    /// summed, with each operation's totals to look at next. `None` when the store has
    /// no request of it in the range.
    pub fn trend(&self, request: &TrendRequest) -> Result<Option<Trend>> {
        let (start_ns, end_ns) = (request.start_ns, request.end_ns);
        let range = RollupQuery {
            service: request.service.clone(),
            operation: request.operation.clone(),
            kind: None,
            start_ns,
            end_ns,
        };
        let reader = lock(&self.reader);
        let found = requests_by_kind(&reader, &range).map_err(db_error(&self.path))?;
        let Some(kind) = [CallKind::Entry, CallKind::Client].into_iter().find(|k| found.iter().any(|(f, _)| f == k))
        else {
            return Ok(None);
        };
        let subject = RollupQuery { kind: Some(kind), ..range.clone() };
        let stored_ns = widest(&reader, &subject).map_err(db_error(&self.path))?.unwrap_or(MINUTE_NS as u64);
        let bucket_ns = trends::bucket_width(end_ns.saturating_sub(start_ns), request.columns, stored_ns);
        let mut chart = Buckets::new(start_ns, end_ns, bucket_ns);
        let mut total = Rollup::new(start_ns, end_ns.saturating_sub(start_ns));
        // With no operation named, every operation's totals too, from the same rows.
        let mut operations: HashMap<(CallKind, String), Rollup> = HashMap::new();
        let summed = request.operation.is_none();
        each(&reader, if summed { &range } else { &subject }, |operation, of_kind, rollup| {
            if summed {
                let key = (of_kind, operation.to_string());
                operations
                    .entry(key)
                    .or_insert_with(|| Rollup::new(start_ns, end_ns.saturating_sub(start_ns)))
                    .merge(&rollup);
            }
            if of_kind == kind {
                chart.add(&rollup);
                total.merge(&rollup);
            }
        })
        .map_err(db_error(&self.path))?;
        let mut points: Vec<Point> = chart.into_rollups().iter().map(Point::of).collect();
        let mut total = Point::of(&total);
        for point in points.iter_mut().chain(std::iter::once(&mut total)) {
            if let Some(trace) = point.slowest_trace_id {
                point.slowest_stored =
                    super::schema::trace_bytes(&reader, trace).map_err(db_error(&self.path))?.is_some();
            }
        }
        drop(reader);
        let mut operations: Vec<OperationTotal> = operations
            .into_iter()
            .map(|((kind, operation), rollup)| OperationTotal { operation, kind, total: Point::of(&rollup) })
            .collect();
        operations.sort_by(|a, b| {
            (a.kind, std::cmp::Reverse(a.total.requests), &a.operation).cmp(&(
                b.kind,
                std::cmp::Reverse(b.total.requests),
                &b.operation,
            ))
        });
        Ok(Some(Trend {
            service: request.service.clone(),
            operation: request.operation.clone(),
            kind,
            start_ns: points.first().map_or(start_ns, |p| p.start_ns),
            end_ns,
            bucket_ns,
            points,
            total,
            operations,
        }))
    }

    /// Merges minutes into hours and drops rollups past their age limit, in steps of a
    /// turn each at the writer, which then forgets the rollups it wrote last.
    pub(super) fn maintain_rollups(&self, now_ns: u64) -> Result<()> {
        let max_age = *lock(&self.rollup_retention);
        for step in [Step::Compact, Step::Evict] {
            loop {
                let mut writer = self.writer.take();
                let more = match step {
                    Step::Compact => compact_step(&mut writer.connection, now_ns),
                    Step::Evict => evict_step(&writer.connection, max_age, now_ns),
                };
                writer.rollups.forget();
                drop(writer);
                if !more.map_err(db_error(&self.path))? {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};

    use super::*;
    use crate::store::Retention;

    const NOW: u64 = 1_800_000_000_000_000_000;
    const MS: u64 = 1_000_000;
    const DAY: u64 = 24 * HOUR_NS as u64;

    /// Span `n` of its own trace: `kind` (OTLP), a root or not, `ago` before NOW, `ms` long.
    fn span(n: u64, kind: i32, root: bool, ago: u64, ms: u64, error: bool) -> ProtoSpan {
        ProtoSpan {
            trace_id: u128::from(n + 1).to_be_bytes().to_vec(),
            span_id: (n + 1).to_be_bytes().to_vec(),
            parent_span_id: if root { Vec::new() } else { 9_999u64.to_be_bytes().to_vec() },
            name: match kind {
                3 => "SELECT orders".into(),
                1 => "render".into(),
                _ => "POST /checkout".into(),
            },
            kind,
            start_time_unix_nano: NOW - ago,
            end_time_unix_nano: NOW - ago + ms * MS,
            status: error.then(|| Status { code: 2, message: "boom".into() }),
            ..Default::default()
        }
    }

    fn batch(spans: Vec<ProtoSpan>) -> Vec<ResourceSpans> {
        let name = KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue { value: Some(any_value::Value::StringValue("shop".into())) }),
            ..Default::default()
        };
        vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![name], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }]
    }

    fn store(name: &str) -> (Store, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("vitals-rollups-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("traces.db");
        (Store::open(&path, Retention::default()).unwrap(), dir)
    }

    fn query(operation: &str, kind: CallKind) -> RollupQuery {
        RollupQuery {
            service: "shop".into(),
            operation: Some(operation.into()),
            kind: Some(kind),
            start_ns: NOW - 100 * DAY,
            end_ns: NOW + DAY,
        }
    }

    /// 100 requests (10 … 1000 ms, every 10th failed) 3 days ago, 50 more 30 minutes
    /// ago, each with a database call; render spans inside, which are not counted.
    fn requests() -> Vec<ResourceSpans> {
        let mut spans = Vec::new();
        for n in 0..150u64 {
            let ago = if n < 100 { 3 * DAY } else { 30 * 60_000 * MS };
            spans.push(span(n, 2, false, ago, (n % 100 + 1) * 10, n % 10 == 0));
            spans.push(span(1000 + n, 3, false, ago, 2, false));
            spans.push(span(2000 + n, 1, false, ago, 1, false));
        }
        batch(spans)
    }

    #[test]
    fn requests_and_calls_are_rolled_up_per_minute_then_per_hour_with_percentiles_and_the_slowest() {
        let (store, dir) = store("ingest");
        store.ingest(requests(), NOW).unwrap();
        let total = store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        assert_eq!((total.requests, total.errors), (150, 15));
        // 10 … 500 ms twice, 510 … 1000 ms once: the 95th percentile (rank 141 of 150) is 920 ms.
        let p95 = total.latency.quantile(0.95).unwrap() as f64;
        let exact = 920.0 * MS as f64;
        assert!((p95 - exact).abs() <= exact * crate::analysis::sketch::RELATIVE_ERROR, "{p95}");
        assert_eq!(total.slowest.unwrap().duration_ns, 1000 * MS);
        let calls = store.rollup_total(&query("SELECT orders", CallKind::Client)).unwrap();
        assert_eq!(calls.requests, 150);
        assert_eq!(store.rollup_total(&query("render", CallKind::Entry)).unwrap().requests, 0, "internal spans");

        let mut widths = Vec::new();
        store
            .each_rollup(&query("POST /checkout", CallKind::Entry), |_, _, r| widths.push((r.width_ns, r.requests)))
            .unwrap();
        widths.sort();
        assert_eq!(widths, [(MINUTE_NS as u64, 50), (HOUR_NS as u64, 100)], "old hours per hour, recent per minute");

        // Per day: the old requests in one bucket, the recent ones in another.
        let mut days = query("POST /checkout", CallKind::Entry);
        (days.start_ns, days.end_ns) = (NOW - 4 * DAY, NOW);
        let per_day: Vec<u64> = store.rollups_per_bucket(&days, DAY).unwrap().iter().map(|r| r.requests).collect();
        assert_eq!(per_day.iter().sum::<u64>(), 150);
        assert_eq!(per_day.iter().filter(|&&n| n > 0).count(), 2, "{per_day:?}");

        // A retried batch counts once; the store's services and operations are offered.
        store.ingest(requests(), NOW).unwrap();
        assert_eq!(store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap().requests, 150);
        assert_eq!(store.rollup_services().unwrap(), ["shop"]);
        assert_eq!(store.rollup_operations("shop").unwrap(), ["POST /checkout", "SELECT orders"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn minutes_merge_into_hours_after_a_day_and_rollups_outlive_the_traces_until_their_own_limit() {
        let (store, dir) = store("retention");
        store.ingest(requests(), NOW).unwrap();
        let before = store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        // Two days on: every trace is past the 24 hours traces are kept.
        let later = NOW + 2 * DAY;
        assert_eq!(store.enforce_retention(later).unwrap(), 450);
        assert_eq!(store.stats().unwrap().spans, 0);
        let mut rows = Vec::new();
        store.each_rollup(&query("POST /checkout", CallKind::Entry), |_, _, r| rows.push(r)).unwrap();
        assert!(rows.iter().all(|r| r.width_ns == HOUR_NS as u64), "compacted");
        let after = store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        assert_eq!((after.requests, after.errors), (before.requests, before.errors));
        assert_eq!(after.latency.quantile(0.5), before.latency.quantile(0.5), "merged, not approximated again");
        assert_eq!(after.slowest, before.slowest);

        // Kept for 4 days: the requests of 5 days before `later` go, those of 2 days stay.
        store.keep_rollups_for(Duration::from_secs(4 * 24 * 3600));
        store.enforce_retention(later).unwrap();
        let kept = store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        assert_eq!(kept.requests, 50);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn two_processes_adding_to_the_same_bucket_count_every_request() {
        // Each store remembers the rows it wrote; the other's writes make them stale.
        let (first, dir) = store("two-writers");
        let second = Store::open(first.path(), Retention::default()).unwrap();
        for n in 0..6 {
            let writer = if n % 2 == 0 { &first } else { &second };
            writer.ingest(batch(vec![span(n, 2, true, 30 * 60_000 * MS, 10 + n, false)]), NOW).unwrap();
        }
        let total = first.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        assert_eq!((total.requests, total.latency.count()), (6, 6));
        assert_eq!(total.slowest.unwrap().duration_ns, 15 * MS);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_store_from_before_rollups_has_them_rebuilt_from_its_spans() {
        let (store, dir) = store("migrate");
        store.ingest(requests(), NOW).unwrap();
        let path = store.path().to_path_buf();
        drop(store);
        let old = Connection::open(&path).unwrap();
        old.execute_batch("DROP TABLE rollups; PRAGMA user_version = 3;").unwrap();
        drop(old);
        let store = Store::open(&path, Retention::default()).unwrap();
        let total = store.rollup_total(&query("POST /checkout", CallKind::Entry)).unwrap();
        assert_eq!((total.requests, total.errors), (150, 15));
        assert_eq!(total.slowest.unwrap().duration_ns, 1000 * MS);
        assert_eq!(store.rollup_total(&query("SELECT orders", CallKind::Client)).unwrap().requests, 150);
        let _ = std::fs::remove_dir_all(dir);
    }
}
