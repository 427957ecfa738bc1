//! Keeping the store bounded: whole traces go, oldest received first, once they are
//! older than the age limit or the store holds more span data than the size limit.

use std::time::Duration;

use rusqlite::{Connection, params};

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

/// Evicts what is past the limits and returns the evicted trace ids.
pub fn enforce(connection: &mut Connection, retention: &Retention, now_ns: u64) -> rusqlite::Result<Vec<TraceId>> {
    let cutoff = now_ns.saturating_sub(retention.max_age.as_nanos().min(u64::MAX as u128) as u64) as i64;
    let tx = connection.transaction()?;
    let mut evict: Vec<Vec<u8>> = {
        let mut statement = tx.prepare("SELECT trace_id FROM traces WHERE received_ns < ?1")?;
        let rows = statement.query_map(params![cutoff], |row| row.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let total: i64 =
        tx.query_row("SELECT coalesce(sum(bytes), 0) FROM traces WHERE received_ns >= ?1", params![cutoff], |row| {
            row.get(0)
        })?;
    let mut excess = total - retention.max_bytes.min(i64::MAX as u64) as i64;
    if excess > 0 {
        let mut statement =
            tx.prepare("SELECT trace_id, bytes FROM traces WHERE received_ns >= ?1 ORDER BY received_ns")?;
        let mut rows = statement.query(params![cutoff])?;
        while excess > 0 {
            let Some(row) = rows.next()? else { break };
            evict.push(row.get(0)?);
            excess -= row.get::<_, i64>(1)?;
        }
    }
    for id in &evict {
        tx.execute("DELETE FROM spans WHERE trace_id = ?1", params![id])?;
        tx.execute("DELETE FROM trace_parts WHERE trace_id = ?1", params![id])?;
        tx.execute("DELETE FROM traces WHERE trace_id = ?1", params![id])?;
    }
    // An operation last seen before the oldest kept trace arrived has no spans left.
    if !evict.is_empty() {
        tx.execute(
            "DELETE FROM operations WHERE last_seen_ns < coalesce((SELECT min(received_ns) FROM traces), ?1)",
            params![i64::MAX],
        )?;
    }
    tx.commit()?;
    Ok(evict.iter().filter_map(|id| TraceId::from_bytes(id)).collect())
}
