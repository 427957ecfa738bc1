//! `vitals store check`: whether a store file is sound, by SQLite's integrity check and by
//! decoding every stored span, without changing it.

use std::path::Path;

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, OpenFlags};

use super::damage::{is_damage, store_error};
use super::schema::BUSY_TIMEOUT;
use crate::error::{Error, Result};

/// The most problems SQLite's integrity check lists.
pub const LISTED_PROBLEMS: usize = 20;

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Healthy {
        spans: u64,
        traces: u64,
    },
    /// What was found wrong, first problems first.
    Damaged {
        problems: Vec<String>,
    },
}

/// Checks the store at `path`. An error means it could not be checked (no such file,
/// another process holding it locked), not that it is damaged.
pub fn check(path: &Path) -> Result<Verdict> {
    let connection = open_existing(path)?;
    let problems = match problems(&connection) {
        Ok(problems) => problems,
        Err(e) if is_damage(&e) => vec![e.to_string()],
        Err(e) => return Err(store_error(path, &e)),
    };
    if !problems.is_empty() {
        return Ok(Verdict::Damaged { problems });
    }
    let count = |table: &str| {
        connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get::<_, i64>(0).map(|n| n as u64))
    };
    let counted = count("spans").and_then(|spans| Ok((spans, count("traces")?)));
    Ok(match counted {
        Ok((spans, traces)) => Verdict::Healthy { spans, traces },
        Err(e) => Verdict::Damaged { problems: vec![e.to_string()] },
    })
}

/// Opens a store file as it is: never created, its layout not migrated.
pub fn open_existing(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Error::invalid(format!("There is no trace store at {}", path.display())));
    }
    let connection =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .map_err(|e| store_error(path, &e))?;
    connection.busy_timeout(BUSY_TIMEOUT).map_err(|e| store_error(path, &e))?;
    Ok(connection)
}

/// SQLite's integrity check, then whether every span decodes.
fn problems(connection: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut statement = connection.prepare(&format!("PRAGMA integrity_check({LISTED_PROBLEMS})"))?;
    let found: Vec<String> = statement.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
    if found != ["ok"] {
        // A problem may span lines, the first under a heading naming the database.
        let lines = found.iter().flat_map(|problem| problem.lines());
        return Ok(lines.filter(|line| !line.starts_with("*** in database")).map(str::to_string).collect());
    }
    let has_spans: i64 = connection.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'spans'",
        [],
        |row| row.get(0),
    )?;
    if has_spans == 0 {
        return Ok(vec!["it has no spans table: it is a SQLite file, but not a Vitals trace store".into()]);
    }
    let mut bodies = connection.prepare("SELECT body FROM spans")?;
    let mut rows = bodies.query([])?;
    let mut undecodable = 0;
    while let Some(row) = rows.next()? {
        undecodable += usize::from(ProtoSpan::decode(row.get_ref(0)?.as_blob()?).is_err());
    }
    Ok(match undecodable {
        0 => Vec::new(),
        1 => vec!["1 stored span cannot be decoded".to_string()],
        n => vec![format!("{n} stored spans cannot be decoded")],
    })
}
