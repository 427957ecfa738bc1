//! The versions of each service (its deployments, see [`crate::model::deployment`]) with
//! when each was first and last seen: the start of its earliest and latest span.
//!
//! Written in the transaction that stores the spans, once for each resource a chunk
//! holds (resources are few: a process sends one), so that asking for a service's
//! versions never walks its spans. Kept longer than the spans (a comparison names the
//! deployment before the current one, trends mark deployments), up to [`KEPT`].

use std::collections::HashMap;
use std::time::Duration;

use rusqlite::{Connection, Transaction, params};

use super::schema::{clamp, resource};
use crate::formats::otlp::convert_resource;
use crate::model::{Deployment, DeploymentKey, VersionSeen};

/// How long a version is remembered after it was last seen.
pub const KEPT: Duration = Duration::from_secs(90 * 24 * 3600);

const TABLE: &str = "
CREATE TABLE IF NOT EXISTS versions (
    service TEXT NOT NULL,
    attribute TEXT NOT NULL,
    version TEXT NOT NULL,
    first_seen_ns INTEGER NOT NULL,
    last_seen_ns INTEGER NOT NULL,
    PRIMARY KEY (service, attribute, version)
) WITHOUT ROWID;
";

pub fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(TABLE)
}

/// Records that `service` ran `deployment` from `first_ns` to `last_ns` (span starts).
pub fn saw(
    tx: &Transaction,
    service: &str,
    deployment: &Deployment,
    first_ns: u64,
    last_ns: u64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO versions (service, attribute, version, first_seen_ns, last_seen_ns) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (service, attribute, version) DO UPDATE SET
             first_seen_ns = min(first_seen_ns, excluded.first_seen_ns),
             last_seen_ns = max(last_seen_ns, excluded.last_seen_ns)",
    )?
    .execute(params![service, deployment.key.attribute(), deployment.version, clamp(first_ns), clamp(last_ns)])?;
    Ok(())
}

/// The versions of `service`, oldest first (by when each was first seen).
pub fn of_service(connection: &Connection, service: &str) -> rusqlite::Result<Vec<VersionSeen>> {
    let mut statement = connection.prepare_cached(
        "SELECT attribute, version, first_seen_ns, last_seen_ns FROM versions WHERE service = ?1
         ORDER BY first_seen_ns, last_seen_ns, version",
    )?;
    let rows = statement.query_map(params![service], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, i64>(2)?, row.get::<_, i64>(3)?))
    })?;
    let mut versions = Vec::new();
    for row in rows {
        let (attribute, version, first, last) = row?;
        // A key a later vitals wrote is left for that vitals.
        if let Some(key) = DeploymentKey::from_attribute(&attribute) {
            versions.push(VersionSeen {
                key,
                version,
                first_seen_ns: first.max(0) as u64,
                last_seen_ns: last.max(0) as u64,
            });
        }
    }
    Ok(versions)
}

/// Forgets the versions last seen before `cutoff_ns`.
pub fn forget_before(tx: &Transaction, cutoff_ns: u64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM versions WHERE last_seen_ns < ?1")?.execute(params![clamp(cutoff_ns)])?;
    Ok(())
}

/// Layout 4: the versions of the spans a file already holds, read once from its
/// resources and the span times of each (one pass over the spans).
pub fn fill_from_spans(tx: &Transaction) -> rusqlite::Result<()> {
    create(tx)?;
    let mut by_resource: Vec<(String, i64, i64, i64)> = Vec::new();
    {
        let mut statement = tx.prepare(
            "SELECT service, resource_id, min(start_ns), max(start_ns) FROM spans GROUP BY service, resource_id",
        )?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            by_resource.push((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
        }
    }
    let mut deployments: HashMap<i64, Option<Deployment>> = HashMap::new();
    for (service, resource_id, first, last) in by_resource {
        let deployment = match deployments.get(&resource_id) {
            Some(known) => known.clone(),
            None => {
                let found = convert_resource(resource(tx, resource_id)?.attributes).deployment();
                deployments.insert(resource_id, found.clone());
                found
            }
        };
        if let Some(deployment) = deployment {
            saw(tx, &service, &deployment, first.max(0) as u64, last.max(0) as u64)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan};

    use super::super::{Retention, Store};
    use super::*;

    const S: u64 = 1_000_000_000;
    const START: u64 = 1_800_000_000 * S;

    fn kv(key: &str, value: &str) -> KeyValue {
        let value = Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) });
        KeyValue { key: key.into(), value, ..Default::default() }
    }

    /// `spans` one-second spans of `service` from `from_s` on, one a second, sent by a
    /// process with these resource attributes.
    fn batch(service: &str, attributes: &[(&str, &str)], trace: u8, from_s: u64, spans: u64) -> Vec<ResourceSpans> {
        let mut resource = vec![kv("service.name", service)];
        resource.extend(attributes.iter().map(|(k, v)| kv(k, v)));
        let spans = (0..spans)
            .map(|i| ProtoSpan {
                trace_id: [[trace; 8], (i + 1).to_be_bytes()].concat(),
                span_id: (i + 1).to_be_bytes().to_vec(),
                name: "GET /".into(),
                start_time_unix_nano: START + (from_s + i) * S,
                end_time_unix_nano: START + (from_s + i + 1) * S,
                ..Default::default()
            })
            .collect();
        vec![ResourceSpans {
            resource: Some(ProtoResource { attributes: resource, ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }]
    }

    fn version(key: DeploymentKey, version: &str, first_s: u64, last_s: u64) -> VersionSeen {
        VersionSeen {
            key,
            version: version.into(),
            first_seen_ns: START + first_s * S,
            last_seen_ns: START + last_s * S,
        }
    }

    fn temp_store(name: &str) -> (std::path::PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("vitals-versions-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("traces.db"), Retention::default()).unwrap();
        (dir, store)
    }

    #[test]
    fn each_version_is_recorded_with_when_it_was_first_and_last_seen() {
        let (dir, store) = temp_store("ingest");
        let v1 = [("service.version", "1.0.0"), ("service.instance.id", "a")];
        store.ingest(batch("web", &v1, 1, 0, 30), START).unwrap();
        store.ingest(batch("web", &v1, 2, 100, 5), START).unwrap();
        store.ingest(batch("web", &[("service.version", "1.1.0")], 3, 300, 10), START).unwrap();
        store.ingest(batch("api", &[("deployment.id", "d-7")], 4, 50, 2), START).unwrap();
        store.ingest(batch("api", &[("host.name", "box")], 5, 60, 2), START).unwrap();
        // A retried export changes nothing.
        store.ingest(batch("web", &v1, 1, 0, 30), START).unwrap();
        assert_eq!(
            store.versions("web").unwrap(),
            [
                version(DeploymentKey::ServiceVersion, "1.0.0", 0, 104),
                version(DeploymentKey::ServiceVersion, "1.1.0", 300, 309)
            ]
        );
        assert_eq!(store.versions("api").unwrap(), [version(DeploymentKey::DeploymentId, "d-7", 50, 51)]);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn versions_outlive_their_spans_up_to_the_time_they_are_kept() {
        let (dir, store) = temp_store("kept");
        store.ingest(batch("web", &[("service.version", "1.0.0")], 1, 0, 5), START).unwrap();
        let day = 24 * 3600 * S;
        store.enforce_retention(START + 2 * day).unwrap();
        assert_eq!(store.stats().unwrap().spans, 0, "the spans are gone after a day");
        assert_eq!(store.versions("web").unwrap().len(), 1, "the version is remembered");
        store.ingest(batch("web", &[("service.version", "1.1.0")], 2, 0, 5), START + 91 * day).unwrap();
        store.enforce_retention(START + 93 * day).unwrap();
        assert!(
            store.versions("web").unwrap().is_empty(),
            "forgotten {} days after it was last seen",
            KEPT.as_secs() / 86400
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_store_of_the_previous_layout_gets_its_versions_from_its_spans() {
        let (dir, store) = temp_store("migrate");
        store.ingest(batch("web", &[("service.version", "1.0.0")], 1, 0, 20), START).unwrap();
        store.ingest(batch("web", &[("service.version", "1.1.0")], 2, 60, 20), START).unwrap();
        store.ingest(batch("worker", &[("service.instance.id", "run-1")], 3, 10, 3), START).unwrap();
        drop(store);
        // Back to layout 3: no versions table.
        let old = Connection::open(dir.join("traces.db")).unwrap();
        old.execute_batch("DROP TABLE versions; PRAGMA user_version = 3;").unwrap();
        drop(old);

        let store = Store::open(&dir.join("traces.db"), Retention::default()).unwrap();
        assert_eq!(
            store.versions("web").unwrap(),
            [
                version(DeploymentKey::ServiceVersion, "1.0.0", 0, 19),
                version(DeploymentKey::ServiceVersion, "1.1.0", 60, 79)
            ]
        );
        assert_eq!(store.versions("worker").unwrap(), [version(DeploymentKey::InstanceId, "run-1", 10, 12)]);
        let layout: i64 = Connection::open(dir.join("traces.db"))
            .unwrap()
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(layout, super::super::schema::VERSION);
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }
}
