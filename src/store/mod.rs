//! The embedded trace store: spans in a SQLite file (WAL), indexed for search by
//! service, operation, start time, duration and attribute, assembled into traces on demand.
//!
//! Each span is kept as its OTLP protobuf encoding plus the columns search needs, and
//! each distinct resource once. A batch is written in chunks of a transaction each (see
//! [`ingest`]): when [`Store::ingest`] returns, all of it is on disk and survives the
//! process being killed. Spans delivered twice (a retried export) are stored once. The
//! store keeps within its [`Retention`] limits as batches arrive (see [`retention`]).

mod arrivals;
mod baselines;
mod check;
mod checkpoint;
mod damage;
mod group;
mod ingest;
mod links;
mod logs;
mod migrate;
mod parts;
mod retention;
mod rollups;
mod salvage;
mod schema;
mod search;
mod turns;
mod versions;
mod wire;

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use lru::LruCache;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use rusqlite::{Connection, params};

use arrivals::Arrivals;
pub use arrivals::{ANNOUNCED_BATCHES, Touched};
pub use check::{LISTED_PROBLEMS, Verdict, check};
use checkpoint::Checkpointer;
pub use damage::what_to_do;
use group::{Job, Queue};
use ingest::PreparedBatch;
pub use links::LinkFrom;
pub use retention::Retention;
pub use rollups::{DEFAULT_RETENTION as DEFAULT_ROLLUP_RETENTION, RollupQuery};
pub use salvage::{Salvaged, repair};
use turns::Turns;

use crate::error::{Error, Result};
use crate::formats::otlp;
use crate::model::{LogRecord, Trace, TraceId, VersionSeen};
use crate::query::{LogQuery, SearchQuery};

/// Assembled traces kept in memory, so that reopening one is instant…
const CACHED_TRACES: usize = 128;
/// …unless they are this large: a few traces of a million spans would hold gigabytes.
const CACHED_SPANS_AT_MOST: u64 = 100_000;
/// The spans of one trace the store assembles by default (see [`Store::limit_spans`]).
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;

pub struct Store {
    path: PathBuf,
    writer: Arc<Turns<Writer>>,
    /// Chunks waiting for the writer, written together (see [`group`]).
    queue: Queue,
    /// Keeps the write-ahead log small (see [`checkpoint`]); held to be stopped on drop.
    _checkpointer: Checkpointer,
    reader: Mutex<Connection>,
    /// Assembled traces with the span bytes they were assembled from: another process
    /// may add spans to a trace, and a changed byte count says the copy is stale.
    cache: Mutex<LruCache<TraceId, (Arc<Trace>, u64)>>,
    retention: Retention,
    evictions: Mutex<Evictions>,
    /// The spans of one trace it assembles at most (a larger trace is cut), and the
    /// setting a user raises to see more, for the warning of a cut trace.
    max_spans: Mutex<(usize, &'static str)>,
    /// Tells the live tail which traces each committed batch touched.
    arrivals: Arrivals,
    /// How long rollups are kept (see [`rollups`]).
    rollup_retention: Mutex<std::time::Duration>,
}

struct Writer {
    connection: Connection,
    /// Resource ids by the hash of their encoding, so known resources cost no query.
    resources: HashMap<u64, i64>,
    /// The rollups this connection wrote last, so that the next batch adds to them
    /// without reading them back (see [`rollups::Written`]).
    rollups: rollups::Written,
}

/// A trace batch read into rows, ready to store, without the writer.
pub struct PreparedSpans(PreparedBatch);

impl PreparedSpans {
    /// The rows of an OTLP/protobuf `ExportTraceServiceRequest`, read in place (see
    /// [`wire`]); `None` when prost must decode it, for it is malformed or in a shape the
    /// in-place reading leaves to prost.
    pub fn from_protobuf(request: &[u8]) -> Option<PreparedSpans> {
        wire::prepare(request).map(PreparedSpans)
    }
}

/// What became of a batch.
#[derive(Debug, Default, PartialEq)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: usize,
    /// Why spans were rejected (the first few distinct reasons).
    pub reasons: Vec<String>,
}

#[derive(Debug, Default, PartialEq, serde::Serialize)]
pub struct StoreStats {
    pub path: String,
    pub spans: u64,
    pub traces: u64,
    /// On disk: the database file, and its write-ahead log (committed batches not yet
    /// copied into the database).
    pub database_bytes: u64,
    pub wal_bytes: u64,
    /// When the oldest kept trace arrived, and how long traces are kept.
    pub oldest_received_ns: Option<u64>,
    pub retention_ns: u64,
    /// The span data stored (what the size limit counts), and the limit.
    pub span_bytes: u64,
    pub max_span_bytes: u64,
    /// Traces this process evicted since it opened the store.
    pub evicted_traces: u64,
    /// Log records stored (see [`logs`]).
    pub logs: u64,
}

fn db_error(path: &Path) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| damage::store_error(path, &e)
}

impl Store {
    /// `traces.db` in the user's data directory (`~/.local/share/vitals` on Linux).
    pub fn default_path() -> Option<PathBuf> {
        directories::ProjectDirs::from("", "", "vitals").map(|d| d.data_dir().join("traces.db"))
    }

    pub fn open(path: &Path, retention: Retention) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        }
        let mut writer = schema::open(path).map_err(db_error(path))?;
        let mut checkpointer = Checkpointer::watching(path, &mut writer).map_err(db_error(path))?;
        let reader = schema::open(path).map_err(db_error(path))?;
        let writer = Arc::new(Turns::new(Writer {
            connection: writer,
            resources: HashMap::new(),
            rollups: rollups::Written::default(),
        }));
        checkpointer.start(Arc::clone(&writer));
        Ok(Store {
            path: path.to_path_buf(),
            _checkpointer: checkpointer,
            writer,
            queue: Queue::default(),
            reader: Mutex::new(reader),
            cache: Mutex::new(LruCache::new(NonZeroUsize::new(CACHED_TRACES).unwrap_or(NonZeroUsize::MIN))),
            retention,
            evictions: Mutex::new(Evictions::default()),
            max_spans: Mutex::new((DEFAULT_MAX_SPANS, "max_spans")),
            arrivals: Arrivals::default(),
            rollup_retention: Mutex::new(rollups::DEFAULT_RETENTION),
        })
    }

    /// At most `max_spans` spans of one trace are read and assembled: a larger trace is cut
    /// to the spans nearest its root and says so (naming `setting`, what the user raises to
    /// see more), so that opening it never costs memory in proportion to its size.
    pub fn limit_spans(&self, max_spans: usize, setting: &'static str) {
        *lock(&self.max_spans) = (max_spans.max(1), setting);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stores a batch; when this returns, all of it is committed. Spans with invalid ids
    /// are rejected and the rest kept; the report says how many and why. The batch is
    /// encoded for storage before the writer is taken, so that batches arriving together
    /// prepare in parallel, and written in chunks, so that a large batch lets the batches
    /// that arrive meanwhile through (see [`ingest`]); the chunks of batches waiting for
    /// the writer together share one transaction (see [`group`]).
    pub fn ingest(&self, batch: Vec<ResourceSpans>, received_ns: u64) -> Result<IngestReport> {
        self.ingest_prepared(PreparedSpans(PreparedBatch::new(batch)), received_ns)
    }

    /// Stores a batch prepared from its protobuf encoding, as [`Store::ingest`] does.
    pub fn ingest_prepared(&self, batch: PreparedSpans, received_ns: u64) -> Result<IngestReport> {
        let PreparedSpans(mut prepared) = batch;
        let touched = self.arrivals.touched_by(&prepared);
        let report = prepared.take_report();
        let prepared = Arc::new(prepared);
        for chunk in prepared.chunks() {
            let job = Job::new(Arc::clone(&prepared), chunk, received_ns);
            self.queue.push(&job);
            let mut writer = self.writer.take();
            if job.is_committed() {
                // An earlier turn wrote it with its own (see [`group`]).
                continue;
            }
            let group = self.queue.take_all(&job);
            let past_limits = match ingest::write_group(&group, &mut writer, &self.retention) {
                Ok(past_limits) => {
                    group.iter().for_each(|job| job.mark_committed());
                    past_limits
                }
                Err(e) if group.len() == 1 => return Err(db_error(&self.path)(e)),
                Err(_) => {
                    // The others try again in their own turns; this one alone, now.
                    self.queue.put_back(group, &job);
                    ingest::write_group(std::slice::from_ref(&job), &mut writer, &self.retention)
                        .map_err(db_error(&self.path))?
                }
            };
            drop(writer);
            // The chunk is committed whatever becomes of this: the batch is not refused
            // (and sent again) for it, and the next batch tries again.
            if let Err(e) = past_limits.then(|| self.keep_within_limits(received_ns)).transpose() {
                tracing::warn!("retention failed: {e}");
            }
        }
        if let Some(traces) = touched {
            self.arrivals.announce(traces);
        }
        Ok(report)
    }

    /// Stores a batch of log records; when this returns, all of it is committed. Records
    /// with invalid ids are rejected and the rest kept, as spans are in [`Store::ingest`];
    /// records delivered twice are stored once. Logs count towards the same retention.
    pub fn ingest_logs(&self, batch: Vec<ResourceLogs>, received_ns: u64) -> Result<IngestReport> {
        let prepared = logs::PreparedLogs::new(batch);
        for chunk in prepared.chunks() {
            let mut writer = self.writer.take();
            let past_limits = (|| {
                let tx = writer.connection.transaction()?;
                prepared.write(&tx, chunk, received_ns)?;
                let past_limits = retention::past_limits(&tx, &self.retention, received_ns)?;
                tx.commit()?;
                Ok(past_limits)
            })()
            .map_err(db_error(&self.path))?;
            drop(writer);
            if let Err(e) = past_limits.then(|| self.keep_within_limits(received_ns)).transpose() {
                tracing::warn!("retention failed: {e}");
            }
        }
        Ok(prepared.report())
    }

    /// The stored logs of a trace, by time: those the application logged inside its spans.
    pub fn trace_logs(&self, id: TraceId) -> Result<Vec<LogRecord>> {
        logs::of_trace(&lock(&self.reader), id).map_err(db_error(&self.path))
    }

    /// Stored logs, newest first, with or without a trace (`:VitalsLogs`).
    pub fn search_logs(&self, query: &LogQuery) -> Result<Vec<LogRecord>> {
        logs::search(&lock(&self.reader), query).map_err(db_error(&self.path))
    }

    /// Hears, once each batch is committed, which traces it touched (see [`arrivals`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Touched> {
        self.arrivals.subscribe()
    }

    pub fn services(&self) -> Result<Vec<String>> {
        let reader = lock(&self.reader);
        schema::strings(&reader, "SELECT DISTINCT service FROM operations ORDER BY service", params![])
            .map_err(db_error(&self.path))
    }

    pub fn operations(&self, service: &str) -> Result<Vec<String>> {
        let reader = lock(&self.reader);
        schema::strings(
            &reader,
            "SELECT operation FROM operations WHERE service = ?1 ORDER BY operation",
            params![service],
        )
        .map_err(db_error(&self.path))
    }

    /// The versions of `service` (its deployments) with when each was first and last seen,
    /// oldest first; see [`versions`].
    pub fn versions(&self, service: &str) -> Result<Vec<VersionSeen>> {
        versions::of_service(&lock(&self.reader), service).map_err(db_error(&self.path))
    }

    /// Traces with a span matching the query, newest first. Walks the matching spans
    /// newest first through the index and stops at `limit` distinct traces.
    pub fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        let (start_us, end_us) = query.range_or_recent();
        let ids = {
            let reader = lock(&self.reader);
            search::matching_traces(&reader, query, start_us.saturating_mul(1000), end_us.saturating_mul(1000))
                .map_err(db_error(&self.path))?
        };
        let mut traces = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(trace) = self.trace(id)? {
                traces.push(trace);
            }
        }
        Ok(traces)
    }

    /// The whole trace, from the cache while it is current, else assembled from its spans.
    pub fn trace(&self, id: TraceId) -> Result<Option<Arc<Trace>>> {
        let (max_spans, setting) = *lock(&self.max_spans);
        let (bytes, count, rows) = {
            let reader = lock(&self.reader);
            let Some(bytes) = schema::trace_bytes(&reader, id).map_err(db_error(&self.path))? else {
                return Ok(None);
            };
            if let Some((trace, cached_bytes)) = lock(&self.cache).get(&id)
                && *cached_bytes == bytes
            {
                return Ok(Some(Arc::clone(trace)));
            }
            let count = schema::trace_span_count(&reader, id).map_err(db_error(&self.path))?;
            let rows = match count > max_spans as u64 {
                true => self.nearest_root_rows(&reader, id, max_spans)?,
                false => schema::trace_rows(&reader, id).map_err(db_error(&self.path))?,
            };
            (bytes, count, rows)
        };
        let mut trace = self.assemble(id, rows)?;
        let cut = count > trace.spans.len() as u64;
        if cut {
            trace.warnings.push(format!(
                "the trace has {count} spans; the {} nearest its root are shown: raise {setting} to see all",
                trace.spans.len()
            ));
        }
        let trace = Arc::new(trace);
        // A cut copy depends on the limit of the moment, and a huge one on nobody's memory.
        if !cut && count <= CACHED_SPANS_AT_MOST {
            lock(&self.cache).put(id, (Arc::clone(&trace), bytes));
        }
        Ok(Some(trace))
    }

    /// The stored rows of the `max_spans` spans of a trace nearest its roots (by depth, then
    /// start time; every kept span's parent is kept), in two passes over its rows: the
    /// first keeps only each span's id, parent and start (a few dozen bytes a span), the
    /// second the chosen rows. A trace of millions of spans is never held whole.
    fn nearest_root_rows(&self, reader: &Connection, id: TraceId, max_spans: usize) -> Result<Vec<schema::SpanRow>> {
        let mut links: Vec<(Vec<u8>, Vec<u8>, u64)> = Vec::new();
        let mut undecodable = None;
        schema::each_trace_row(reader, id, |row| {
            let start = row.start_ns;
            let span_id = row.span_id.clone();
            match row.into_proto(id) {
                Ok(span) => links.push((span_id, span.parent_span_id, start)),
                Err(e) => undecodable = Some(e),
            }
        })
        .map_err(db_error(&self.path))?;
        if let Some(e) = undecodable {
            return Err(damage::damaged(&self.path, &format!("a stored span of trace {id} cannot be decoded: {e}")));
        }
        let index: HashMap<&[u8], usize> = links.iter().enumerate().map(|(i, l)| (l.0.as_slice(), i)).collect();
        let mut depth: Vec<Option<usize>> = vec![None; links.len()];
        for start in 0..links.len() {
            // Up to a span whose depth is known (or a root), then back down; a cycle of
            // parents stops at the first repeat.
            let mut path = vec![start];
            let mut seen = std::collections::HashSet::from([start]);
            let mut base = 0;
            while depth[*path.last().unwrap_or(&start)].is_none() {
                let at = *path.last().unwrap_or(&start);
                match index.get(links[at].1.as_slice()).filter(|&&p| p != at) {
                    Some(&parent) if depth[parent].is_some() => {
                        base = depth[parent].unwrap_or(0) + 1;
                        break;
                    }
                    Some(&parent) if seen.insert(parent) => path.push(parent),
                    _ => break,
                }
            }
            for (steps, &span) in path.iter().rev().enumerate() {
                if depth[span].is_none() {
                    depth[span] = Some(base + steps);
                }
            }
        }
        let mut order: Vec<usize> = (0..links.len()).collect();
        order.sort_by_key(|&i| (depth[i].unwrap_or(0), links[i].2));
        let kept: std::collections::HashSet<Vec<u8>> =
            order.into_iter().take(max_spans).map(|i| std::mem::take(&mut links[i].0)).collect();
        drop(links);
        let mut rows = Vec::with_capacity(kept.len());
        schema::each_trace_row(reader, id, |row| {
            if kept.contains(&row.span_id) {
                rows.push(row);
            }
        })
        .map_err(db_error(&self.path))?;
        Ok(rows)
    }

    fn assemble(&self, id: TraceId, rows: Vec<schema::SpanRow>) -> Result<Trace> {
        let mut spans = Vec::with_capacity(rows.len());
        for row in rows {
            let resource_id = row.resource_id;
            let span = row.into_proto(id).map_err(|e| {
                damage::damaged(&self.path, &format!("a stored span of trace {id} cannot be decoded: {e}"))
            })?;
            spans.push((resource_id, span));
        }
        let reader = lock(&self.reader);
        let resource_spans =
            schema::by_resource(spans, |resource| schema::resource(&reader, resource)).map_err(db_error(&self.path))?;
        drop(reader);
        let spans = otlp::spans_from_resource_spans(resource_spans, "stored OTLP")?;
        Ok(Trace::from_spans(id, spans))
    }

    /// Calls `visit` with every trace that has a span started in `[start_ns, end_ns]`, one
    /// at a time (the whole set may not fit in memory), and returns how many there were.
    /// For counts over everything, such as the service map; the cache is left alone.
    pub fn for_each_trace(&self, start_ns: u64, end_ns: u64, mut visit: impl FnMut(&Trace)) -> Result<usize> {
        let ids = {
            let reader = lock(&self.reader);
            schema::trace_ids_between(&reader, start_ns, end_ns).map_err(db_error(&self.path))?
        };
        let mut visited = 0;
        for id in ids {
            let rows = schema::trace_rows(&lock(&self.reader), id).map_err(db_error(&self.path))?;
            if rows.is_empty() {
                continue; // evicted meanwhile
            }
            visit(&self.assemble(id, rows)?);
            visited += 1;
        }
        Ok(visited)
    }

    /// The spans of other traces that link to a span of trace `id` (at most `limit`),
    /// from the index of links: no scan.
    pub fn linking_to(&self, id: TraceId, limit: usize) -> Result<Vec<LinkFrom>> {
        let reader = lock(&self.reader);
        links::linking_to(&reader, id, limit).map_err(db_error(&self.path))
    }

    pub fn stats(&self) -> Result<StoreStats> {
        let reader = lock(&self.reader);
        let (span_bytes, spans) = schema::totals(&reader).map_err(db_error(&self.path))?;
        let traces = reader
            .query_row("SELECT count(*) FROM traces", [], |row| row.get::<_, i64>(0))
            .map_err(db_error(&self.path))?
            .max(0) as u64;
        let size = |suffix: &str| {
            let mut path = self.path.clone().into_os_string();
            path.push(suffix);
            std::fs::metadata(path).map_or(0, |m| m.len())
        };
        let oldest: Option<i64> = reader
            .query_row("SELECT min(received_ns) FROM traces", [], |row| row.get(0))
            .map_err(db_error(&self.path))?;
        Ok(StoreStats {
            path: self.path.display().to_string(),
            spans,
            traces,
            database_bytes: size(""),
            wal_bytes: size("-wal"),
            oldest_received_ns: oldest.map(|ns| ns.max(0) as u64),
            retention_ns: self.retention.max_age.as_nanos().min(u64::MAX as u128) as u64,
            span_bytes,
            max_span_bytes: self.retention.max_bytes,
            evicted_traces: lock(&self.evictions).traces,
            logs: logs::count(&reader).map_err(db_error(&self.path))?,
        })
    }

    /// Evicts what is past the age and size limits (see [`retention`]) and returns how
    /// many traces went. Batches keep the size limit as they arrive; this is for age, when
    /// none arrive. Rollups outlive the traces: they are compacted and kept by their own
    /// limit (see [`rollups`]).
    pub fn enforce_retention(&self, now_ns: u64) -> Result<usize> {
        let evicted = self.keep_within_limits(now_ns)?;
        self.maintain_rollups(now_ns)?;
        Ok(evicted)
    }

    /// Evicts in steps until the store is within its limits, then gives the pages that
    /// freed beyond a reserve back to the disk, also in steps.
    fn keep_within_limits(&self, now_ns: u64) -> Result<usize> {
        let (mut evicted, mut deleted) = (0, 0);
        loop {
            let mut writer = self.writer.take();
            let step =
                retention::step(&mut writer.connection, &self.retention, now_ns).map_err(db_error(&self.path))?;
            drop(writer);
            if step.spans == 0 && step.logs == 0 && step.evicted.is_empty() {
                break;
            }
            evicted += step.evicted.len();
            deleted += step.spans + step.logs;
            let mut cache = lock(&self.cache);
            for id in &step.evicted {
                cache.pop(id);
            }
            drop(cache);
            lock(&self.evictions).record(&step);
            if !step.more {
                break;
            }
        }
        if deleted > 0 {
            while retention::reclaim(&self.writer.take().connection, &self.retention).map_err(db_error(&self.path))? {}
            let so_far = lock(&self.evictions);
            tracing::debug!(
                "retention evicted {evicted} traces ({deleted} spans); since opening {} traces, {} spans, at most {} spans a step",
                so_far.traces,
                so_far.spans,
                so_far.largest_step
            );
        }
        Ok(evicted)
    }
}

/// What retention evicted since the store was opened.
#[derive(Debug, Default)]
struct Evictions {
    traces: u64,
    spans: u64,
    /// The most spans one step deleted.
    largest_step: usize,
}

impl Evictions {
    fn record(&mut self, step: &retention::Step) {
        self.traces += step.evicted.len() as u64;
        self.spans += step.spans as u64;
        self.largest_step = self.largest_step.max(step.spans);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
