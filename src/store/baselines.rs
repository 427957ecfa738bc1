//! Saved baselines (see [`crate::analysis::baselines`]): a service's numbers pinned under
//! a name, kept until deleted, whatever retention does to the traces and rollups they
//! were summed from. `baselines` holds one row per baseline, `baseline_operations` each
//! of its operations' counts and latency sketch.

use rusqlite::{Connection, params};

use super::rollups::RollupQuery;
use super::schema::clamp;
use super::{Store, db_error, lock};
use crate::analysis::baselines::Baseline;
use crate::analysis::regression::Window;
use crate::analysis::sketch::LatencySketch;
use crate::analysis::trends::{CallKind, Rollup};
use crate::error::Result;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS baselines (
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER NOT NULL,
    saved_ns INTEGER NOT NULL,
    PRIMARY KEY (service, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS baseline_operations (
    service TEXT NOT NULL,
    name TEXT NOT NULL,
    operation TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    sketch BLOB NOT NULL,
    PRIMARY KEY (service, name, operation)
) WITHOUT ROWID;
";

/// Creates the baselines' tables when they are missing.
pub fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(SCHEMA)
}

fn unsigned(n: i64) -> u64 {
    n.max(0) as u64
}

/// The operations of one saved baseline.
fn operations_of(connection: &Connection, service: &str, name: &str) -> rusqlite::Result<Vec<(String, Rollup)>> {
    let mut statement = connection.prepare_cached(
        "SELECT operation, requests, errors, sketch FROM baseline_operations WHERE service = ?1 AND name = ?2
         ORDER BY operation",
    )?;
    let rows = statement.query_map(params![service, name], |row| {
        let rollup = Rollup {
            requests: unsigned(row.get(1)?),
            errors: unsigned(row.get(2)?),
            // A damaged sketch reads as empty: the counts still hold.
            latency: LatencySketch::decode(row.get_ref(3)?.as_blob()?).unwrap_or_default(),
            ..Rollup::default()
        };
        Ok((row.get::<_, String>(0)?, rollup))
    })?;
    rows.collect()
}

/// The saved baselines (of `service`, or of every service), each with its operations.
fn saved(connection: &Connection, service: Option<&str>, name: Option<&str>) -> rusqlite::Result<Vec<Baseline>> {
    let mut statement = connection.prepare_cached(
        "SELECT service, name, start_ns, end_ns, saved_ns FROM baselines
         WHERE (?1 IS NULL OR service = ?1) AND (?2 IS NULL OR name = ?2) ORDER BY service, saved_ns, name",
    )?;
    let heads: Vec<(String, String, i64, i64, i64)> = statement
        .query_map(params![service, name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))?
        .collect::<rusqlite::Result<_>>()?;
    heads
        .into_iter()
        .map(|(service, name, start, end, saved)| {
            let operations = operations_of(connection, &service, &name)?;
            let window = Window { start_ns: unsigned(start), end_ns: unsigned(end) };
            Ok(Baseline { service, name, window, saved_ns: unsigned(saved), operations })
        })
        .collect()
}

impl Store {
    /// Each entry operation of `service` summed from its rollups over `window` (whose
    /// buckets start in it), busiest first: the numbers a baseline saves and a comparison
    /// with one reads.
    pub fn operation_totals(&self, service: &str, window: Window) -> Result<Vec<(String, Rollup)>> {
        let query = RollupQuery {
            service: service.to_string(),
            operation: None,
            kind: Some(CallKind::Entry),
            start_ns: window.start_ns,
            end_ns: window.end_ns,
        };
        let mut totals: Vec<(String, Rollup)> = Vec::new();
        self.each_rollup(&query, |operation, _, rollup| match totals.iter_mut().find(|(o, _)| o == operation) {
            Some((_, total)) => total.merge(&rollup),
            None => totals.push((operation.to_string(), rollup)),
        })?;
        totals.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then_with(|| a.0.cmp(&b.0)));
        Ok(totals)
    }

    /// The end of the newest bucket with a request of `service` (an entry span): where its
    /// latest traffic ends.
    pub fn newest_request_end(&self, service: &str) -> Result<Option<u64>> {
        let reader = lock(&self.reader);
        reader
            .prepare_cached("SELECT max(start_ns + width_ns) FROM rollups WHERE service = ?1 AND kind = ?2")
            .and_then(|mut s| s.query_row(params![service, CallKind::Entry.code()], |row| row.get::<_, Option<i64>>(0)))
            .map(|end| end.map(unsigned))
            .map_err(db_error(&self.path))
    }

    /// Saves `baseline`, replacing one of the same service and name.
    pub fn save_baseline(&self, baseline: &Baseline) -> Result<()> {
        let mut writer = self.writer.take();
        let write = |connection: &mut Connection| -> rusqlite::Result<()> {
            let tx = connection.transaction()?;
            let key = params![baseline.service, baseline.name];
            tx.execute("DELETE FROM baseline_operations WHERE service = ?1 AND name = ?2", key)?;
            tx.execute(
                "INSERT OR REPLACE INTO baselines (service, name, start_ns, end_ns, saved_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    baseline.service,
                    baseline.name,
                    clamp(baseline.window.start_ns),
                    clamp(baseline.window.end_ns),
                    clamp(baseline.saved_ns)
                ],
            )?;
            for (operation, rollup) in &baseline.operations {
                tx.execute(
                    "INSERT INTO baseline_operations (service, name, operation, requests, errors, sketch)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        baseline.service,
                        baseline.name,
                        operation,
                        clamp(rollup.requests),
                        clamp(rollup.errors),
                        rollup.latency.encode()
                    ],
                )?;
            }
            tx.commit()
        };
        write(&mut writer.connection).map_err(db_error(&self.path))
    }

    /// The saved baselines of `service` (or of every service), oldest first.
    pub fn baselines(&self, service: Option<&str>) -> Result<Vec<Baseline>> {
        saved(&lock(&self.reader), service, None).map_err(db_error(&self.path))
    }

    /// The baseline `name` of `service`, if saved.
    pub fn baseline(&self, service: &str, name: &str) -> Result<Option<Baseline>> {
        Ok(saved(&lock(&self.reader), Some(service), Some(name)).map_err(db_error(&self.path))?.into_iter().next())
    }

    /// Deletes the baseline `name` of `service`; whether there was one.
    pub fn delete_baseline(&self, service: &str, name: &str) -> Result<bool> {
        let mut writer = self.writer.take();
        let delete = |connection: &mut Connection| -> rusqlite::Result<usize> {
            let tx = connection.transaction()?;
            tx.execute("DELETE FROM baseline_operations WHERE service = ?1 AND name = ?2", params![service, name])?;
            let deleted =
                tx.execute("DELETE FROM baselines WHERE service = ?1 AND name = ?2", params![service, name])?;
            tx.commit()?;
            Ok(deleted)
        };
        let deleted = delete(&mut writer.connection).map_err(db_error(&self.path))?;
        Ok(deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SpanId, TraceId};
    use crate::store::Retention;

    #[test]
    fn a_file_of_the_previous_layout_gets_the_tables_and_a_baseline_outlives_reopening() {
        let dir = std::env::temp_dir().join(format!("vitals-baselines-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("traces.db");
        drop(Store::open(&path, Retention::default()).unwrap());
        // As layout 5 left it: no baselines' tables.
        let old = Connection::open(&path).unwrap();
        old.execute_batch("DROP TABLE baselines; DROP TABLE baseline_operations; PRAGMA user_version = 5;").unwrap();
        drop(old);

        let store = Store::open(&path, Retention::default()).unwrap();
        let mut rollup = Rollup::default();
        for ms in 1..=50 {
            rollup.add(ms * 1_000_000, ms % 10 == 0, TraceId(1), SpanId(ms));
        }
        let window = Window { start_ns: 1_000, end_ns: 2_000 };
        let baseline = Baseline {
            service: "shop".into(),
            name: "1.4.0".into(),
            window,
            saved_ns: 3_000,
            operations: vec![("GET /cart".into(), rollup)],
        };
        store.save_baseline(&baseline).unwrap();
        drop(store);

        let store = Store::open(&path, Retention::default()).unwrap();
        let saved = store.baseline("shop", "1.4.0").unwrap().expect("kept");
        assert_eq!((saved.window, saved.saved_ns, saved.requests()), (window, 3_000, 50));
        let (operation, kept) = &saved.operations[0];
        assert_eq!((operation.as_str(), kept.errors), ("GET /cart", 5));
        assert_eq!(kept.latency.quantile(0.5), baseline.operations[0].1.latency.quantile(0.5), "the sketch whole");
        assert_eq!(store.baselines(None).unwrap().len(), 1);
        assert!(store.delete_baseline("shop", "1.4.0").unwrap());
        assert!(!store.delete_baseline("shop", "1.4.0").unwrap());
        assert!(store.baselines(Some("shop")).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
