//! Bringing a store file written by an earlier version to the current layout, once, when
//! it is opened: users keep the traces they collected.
//!
//! Version 1 (files without a `user_version`) indexed attributes in `span_tags`, a row and
//! an index entry for each trace and attribute value, plus indexes of spans by service and
//! by operation: together more disk than the spans. Version 2 sums each service's spans of
//! a trace up in `trace_parts` (see [`super::parts`]) and lists `operations`, both built
//! here from the stored spans. Version 3 adds the running `totals` of span data and spans,
//! summed up once here. Version 4 lists each service's `versions`, read here from the
//! stored spans and their resources (see [`super::versions::fill_from_spans`]). Version 5
//! keeps the `rollups` of trends, rebuilt here from the stored spans (see
//! [`super::rollups::rebuild`]). Version 7 indexes span links both ways, filled here from the
//! stored spans (see [`super::links::fill_from_spans`]). Version 8 keeps log records in a
//! table of their own (see [`super::logs`]), created here empty.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::ingest::part_keys;
use super::parts::{Part, operation_key};
use super::schema::{self, VERSION, resource};
use super::versions;
use super::{links, rollups};
use crate::formats::otlp::convert_attributes;
use crate::query::now_ns;

/// Creates the tables of a new file, migrates an old one, and refuses a newer one.
pub fn to_current(connection: &Connection) -> rusqlite::Result<()> {
    if version(connection)? == VERSION {
        return Ok(());
    }
    // One connection migrates; another opening the file meanwhile waits and finds it done.
    let tx = Transaction::new_unchecked(connection, TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    match found {
        VERSION => {}
        0 if has_table(&tx, "span_tags")? => from_version_1(&tx)?,
        0 | 2..=7 => schema::create(&tx)?,
        newer => {
            return Err(rusqlite::Error::InvalidParameterName(format!(
                "the file has layout version {newer}, newer than this vitals ({VERSION}) knows; update vitals"
            )));
        }
    }
    if found < 4 {
        versions::fill_from_spans(&tx)?;
    }
    if found < 5 {
        rollups::rebuild(&tx, now_ns())?;
    }
    if found < 7 {
        links::fill_from_spans(&tx)?;
    }
    tx.commit()
}

fn version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.pragma_query_value(None, "user_version", |row| row.get(0))
}

fn has_table(connection: &Connection, name: &str) -> rusqlite::Result<bool> {
    connection.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |row| {
        row.get::<_, i64>(0).map(|n| n > 0)
    })
}

fn from_version_1(tx: &Transaction) -> rusqlite::Result<()> {
    schema::create(tx)?;
    let mut resources: HashMap<i64, Vec<u32>> = HashMap::new();
    let mut current: Option<(Vec<u8>, String, Part)> = None;
    {
        let mut spans = tx.prepare(
            "SELECT trace_id, service, operation, resource_id, start_ns, duration_ns, body FROM spans
             ORDER BY trace_id, service",
        )?;
        let mut rows = spans.query([])?;
        while let Some(row) = rows.next()? {
            let (trace, service, operation): (Vec<u8>, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
            let (resource_id, start, duration): (i64, i64, i64) = (row.get(3)?, row.get(4)?, row.get(5)?);
            let (start, duration) = (start.max(0) as u64, duration.max(0) as u64);
            let attributes = ProtoSpan::decode(row.get_ref(6)?.as_blob()?).map(|s| s.attributes).unwrap_or_default();
            let mut keys = part_keys(&service, &convert_attributes(attributes));
            keys.push(operation_key(&service, &operation));
            let shared = match resources.entry(resource_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => {
                    slot.insert(part_keys(&service, &convert_attributes(resource(tx, resource_id)?.attributes)))
                }
            };
            keys.extend_from_slice(shared);
            match &mut current {
                Some((t, s, part)) if *t == trace && *s == service => part.add(start, duration, &keys),
                _ => {
                    if let Some((t, s, part)) = current.take() {
                        schema::insert_part(tx, &s, &t, &part)?;
                    }
                    let mut part = Part::new(start, duration);
                    part.add(start, duration, &keys);
                    current = Some((trace, service, part));
                }
            }
        }
    }
    if let Some((t, s, part)) = current {
        schema::insert_part(tx, &s, &t, &part)?;
    }
    tx.execute_batch(
        "INSERT OR IGNORE INTO operations (service, operation, last_seen_ns)
             SELECT spans.service, spans.operation, max(traces.received_ns) FROM spans
             JOIN traces ON traces.trace_id = spans.trace_id GROUP BY spans.service, spans.operation;
         DROP TABLE span_tags;
         DROP INDEX IF EXISTS spans_by_service;
         DROP INDEX IF EXISTS spans_by_operation;",
    )
}
