//! Keeping the store bounded: the oldest traces and logs go, by when they arrived, once
//! they are older than the age limit or the store holds more span and log data than the
//! size limit.
//!
//! Eviction runs as data arrives (after every chunk a batch is written in) and now and
//! then for age, in steps of at most [`STEP_SPANS`] spans, each a transaction in a turn of
//! its own at the writer: the size limit holds to within a chunk, and a batch waits for
//! one step, never for a whole eviction (evicting once a minute let a 5 MiB store reach
//! 8.6 MiB and held the writer for 2.5 s). A trace larger than a step goes over several;
//! it is gone from the index once its last span is.
//!
//! The pages that eviction frees are reused by the next batches, so the file stops
//! growing; in stores made with `auto_vacuum = INCREMENTAL` (every store since it was
//! introduced), [`reclaim`] also gives free pages beyond a small reserve back to the
//! disk, so the file follows the data down.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::{links, logs, schema, versions};
use crate::model::TraceId;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_bytes: u64,
}

impl Default for Retention {
    /// 24 hours and 1 GiB.
    fn default() -> Self {
        Retention { max_age: Duration::from_secs(24 * 3600), max_bytes: 1 << 30 }
    }
}

/// The most spans one eviction step deletes: about as long at the writer as a chunk of a
/// batch.
pub const STEP_SPANS: usize = 2048;
/// How far below the size limit (at most; a 16th of it for small limits) eviction goes.
const SLACK_BYTES: i64 = 4 << 20;
/// How many of the oldest traces one step looks at.
const STEP_TRACES: usize = 64;
/// Free pages kept for the next batches rather than given back to the disk: a 16th of
/// the size limit, between these bounds (64 KiB and 1 MiB of 4 KiB pages).
const RESERVE_PAGES: (i64, i64) = (16, 256);
/// The most pages one [`reclaim`] step moves.
const RECLAIM_PAGES: i64 = 1024;

/// What one eviction step did.
#[derive(Debug, Default)]
pub struct Step {
    /// Spans deleted.
    pub spans: usize,
    /// Log records deleted.
    pub logs: usize,
    /// Traces whose last span went.
    pub evicted: Vec<TraceId>,
    /// Whether the store may still be past a limit: another step is due.
    pub more: bool,
}

/// Deletes the spans of the oldest traces past the limits, at most [`STEP_SPANS`], in one
/// transaction; nothing when the store is within them.
pub fn step(connection: &mut Connection, retention: &Retention, now_ns: u64) -> rusqlite::Result<Step> {
    let Limits { cutoff, max_bytes } = Limits::new(retention, now_ns);
    // Once past the size limit, a step goes a little below it: the next batches then find
    // room without a step each.
    let goal_bytes = max_bytes - (max_bytes / 16).min(SLACK_BYTES);
    let tx = connection.transaction()?;
    if !past_limits(&tx, retention, now_ns)? {
        return Ok(Step::default());
    }
    let (stored, _) = schema::totals(&tx)?;
    let mut bytes = stored as i64;
    let oldest: Vec<(Vec<u8>, i64)> = {
        let mut statement =
            tx.prepare_cached("SELECT trace_id, received_ns FROM traces ORDER BY received_ns LIMIT ?1")?;
        let rows = statement.query_map(params![STEP_TRACES as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut step = Step::default();
    // Logs older than the age limit go; past the size limit, so do those that arrived no
    // later than the oldest trace (all of them when no trace is kept): logs and traces
    // leave in the order they came.
    let before = oldest.first().map_or(i64::MAX, |(_, received_ns)| received_ns.saturating_add(1));
    let eviction = logs::Eviction { cutoff, before, bytes, goal_bytes };
    let (deleted_logs, freed) = logs::evict(&tx, &eviction, STEP_SPANS)?;
    step.logs = deleted_logs;
    bytes -= freed;
    let more_logs = deleted_logs == STEP_SPANS;
    let mut past_limits = false;
    for (trace, received_ns) in &oldest {
        past_limits = *received_ns < cutoff || bytes > goal_bytes;
        let budget = STEP_SPANS - step.spans - step.logs;
        if !past_limits || budget == 0 {
            break;
        }
        let (spans, freed) = delete_spans(&tx, trace, budget)?;
        step.spans += spans;
        bytes -= freed;
        if spans < budget {
            tx.prepare_cached("DELETE FROM trace_parts WHERE trace_id = ?1")?.execute(params![trace])?;
            tx.prepare_cached("DELETE FROM traces WHERE trace_id = ?1")?.execute(params![trace])?;
            links::forget(&tx, trace)?;
            step.evicted.extend(TraceId::from_bytes(trace));
        } else {
            tx.prepare_cached("UPDATE traces SET bytes = max(bytes - ?2, 0) WHERE trace_id = ?1")?
                .execute(params![trace, freed])?;
        }
    }
    step.more = more_logs || past_limits && (step.spans + step.logs == STEP_SPANS || oldest.len() == STEP_TRACES);
    if step.spans + step.logs > 0 {
        schema::add_to_totals(&tx, bytes - stored as i64, -(step.spans as i64))?;
    }
    // An operation last seen before the oldest kept trace arrived has no spans left; a
    // version is remembered longer than its spans (see `versions::KEPT`).
    if !step.evicted.is_empty() {
        tx.execute(
            "DELETE FROM operations WHERE last_seen_ns < coalesce((SELECT min(received_ns) FROM traces), ?1)",
            params![i64::MAX],
        )?;
        versions::forget_before(&tx, now_ns.saturating_sub(versions::KEPT.as_nanos() as u64))?;
    }
    tx.commit()?;
    Ok(step)
}

/// The limits as the columns hold them: the oldest time of arrival kept, the most span
/// data.
struct Limits {
    cutoff: i64,
    max_bytes: i64,
}

impl Limits {
    fn new(retention: &Retention, now_ns: u64) -> Limits {
        let cutoff = now_ns.saturating_sub(retention.max_age.as_nanos().min(u64::MAX as u128) as u64);
        Limits {
            cutoff: cutoff.min(i64::MAX as u64) as i64,
            max_bytes: retention.max_bytes.min(i64::MAX as u64) as i64,
        }
    }
}

/// Whether the store holds more span and log data than the limit, or a trace or log older
/// than it: three lookups, cheap enough for every chunk a batch is written in.
pub fn past_limits(connection: &Connection, retention: &Retention, now_ns: u64) -> rusqlite::Result<bool> {
    let limits = Limits::new(retention, now_ns);
    let (bytes, _) = schema::totals(connection)?;
    let oldest_ns: Option<i64> =
        connection.prepare_cached("SELECT min(received_ns) FROM traces")?.query_row([], |row| row.get(0))?;
    let oldest_log_ns = logs::oldest_received(connection)?;
    Ok(bytes as i64 > limits.max_bytes
        || oldest_ns.is_some_and(|oldest| oldest < limits.cutoff)
        || oldest_log_ns.is_some_and(|oldest| oldest < limits.cutoff))
}

/// Deletes up to `limit` spans of a trace; how many, and their bytes.
fn delete_spans(tx: &rusqlite::Transaction, trace: &[u8], limit: usize) -> rusqlite::Result<(usize, i64)> {
    let mut statement = tx.prepare_cached(
        "DELETE FROM spans WHERE trace_id = ?1
         AND span_id IN (SELECT span_id FROM spans WHERE trace_id = ?1 LIMIT ?2)
         RETURNING length(body)",
    )?;
    let mut rows = statement.query(params![trace, limit as i64])?;
    let (mut spans, mut bytes) = (0, 0);
    while let Some(row) = rows.next()? {
        spans += 1;
        bytes += row.get::<_, i64>(0)?;
    }
    Ok((spans, bytes))
}

/// Gives up to [`RECLAIM_PAGES`] free pages beyond the reserve back to the disk (in a
/// store with incremental auto-vacuum); whether more remain to give.
pub fn reclaim(connection: &Connection, retention: &Retention) -> rusqlite::Result<bool> {
    let pragma = |name: &str| connection.pragma_query_value(None, name, |row| row.get::<_, i64>(0));
    if pragma("auto_vacuum")? != 2 {
        return Ok(false);
    }
    let pages_in_limit = retention.max_bytes.min(i64::MAX as u64) as i64 / pragma("page_size")?.max(512);
    let reserve = (pages_in_limit / 16).clamp(RESERVE_PAGES.0, RESERVE_PAGES.1);
    let surplus = pragma("freelist_count")? - reserve;
    if surplus <= 0 {
        return Ok(false);
    }
    let pages = surplus.min(RECLAIM_PAGES);
    // Each row of the result is a page moved; they all have to be stepped through.
    let mut statement = connection.prepare(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(surplus > pages)
}
