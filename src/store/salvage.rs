//! `vitals store repair`: what can still be read of a store goes into a new file, which
//! takes the store's place; the old file is kept beside it under a timestamped name.
//!
//! Traces are read one by one, each through the index by its id, so a damaged page loses
//! the traces stored on it and no others; their ids come from every table that has them
//! (`traces`, `trace_parts`, `spans`), each read as far as it can be. Salvaged spans are
//! ingested into the new store as batches, which rebuilds its index, totals and list of
//! operations; traces keep when they arrived, so retention treats them as before. A file
//! whose header SQLite no longer recognizes is read through a copy with the header
//! rebuilt.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use rusqlite::{Connection, ErrorCode};

use super::check::open_existing;
use super::damage::store_error;
use super::ingest::CHUNK_SPANS;
use super::{Retention, Store, schema};
use crate::error::{Error, Result};
use crate::model::TraceId;
use crate::query::now_ns;

/// What a repair saved, and where the old file went.
#[derive(Debug)]
pub struct Salvaged {
    pub traces: u64,
    pub spans: u64,
    /// Traces known by their id whose spans could not be read at all.
    pub lost_traces: u64,
    /// Traces saved with some of their spans missing.
    pub partial_traces: u64,
    /// The old file, kept.
    pub aside: PathBuf,
}

/// Salvages the store at `path` into a new file that takes its place. Refuses while
/// another process has the store open: it would go on writing to the old file.
pub fn repair(path: &Path) -> Result<Salvaged> {
    let source = open_existing(path)?;
    refuse_if_in_use(&source, path)?;
    let building = sibling(path, ".repairing");
    let stand_in = sibling(path, ".repairing-source");
    remove_files(&building);
    remove_files(&stand_in);
    let salvaged = readable_source(source, path, &stand_in).and_then(|source| salvage_into(&source, &building));
    remove_files(&stand_in);
    let salvaged = salvaged.inspect_err(|_| remove_files(&building))?;
    let stamp = timestamp();
    let aside = (1..)
        .map(|n| {
            sibling(path, &format!(".before-repair-{stamp}{}", if n == 1 { String::new() } else { format!("-{n}") }))
        })
        .find(|aside| !aside.exists())
        .unwrap_or_else(|| sibling(path, ".before-repair"));
    move_files(path, &aside)?;
    move_files(&building, path)?;
    Ok(Salvaged { aside, ..salvaged })
}

/// The file to read from: the store itself, or when SQLite does not recognize it as a
/// database (its header is damaged), a copy at `stand_in` with the header rebuilt.
fn readable_source(source: Connection, path: &Path, stand_in: &Path) -> Result<Connection> {
    allow_short_file(&source, path)?;
    match source.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())) {
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) => {
            drop(source);
            copy_with_rebuilt_header(path, stand_in)?;
            let copy = open_existing(stand_in)?;
            allow_short_file(&copy, stand_in)?;
            Ok(copy)
        }
        _ => Ok(source),
    }
}

/// Without it SQLite refuses a file shorter than its header says (a truncated file)
/// outright, even the pages it has. Nothing here writes the schema.
fn allow_short_file(source: &Connection, path: &Path) -> Result<()> {
    source.pragma_update(None, "writable_schema", true).map_err(|e| store_error(path, &e))
}

/// Copies the file to `stand_in` with the 100 bytes of header SQLite reads first written
/// as SQLite writes them for a Vitals store (4 KiB pages, UTF-8, as many pages as the file
/// holds, no free-page list); the pages, the first one's schema included, stay as they
/// were. A store whose header alone was overwritten reads whole again.
fn copy_with_rebuilt_header(path: &Path, stand_in: &Path) -> Result<()> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    std::fs::copy(path, stand_in).map_err(io)?;
    let pages = std::fs::metadata(stand_in).map_err(io)?.len() / 4096;
    let mut header = [0u8; 100];
    header[..16].copy_from_slice(b"SQLite format 3\0");
    let mut put = |at: usize, value: u32| header[at..at + 4].copy_from_slice(&value.to_be_bytes());
    put(16, 0x1000_0101); // page size 4096; legacy file format for reading and writing
    put(20, 0x0040_2020); // no reserved bytes; payload fractions 64, 32, 32
    put(24, 1); // change counter
    put(28, pages.min(u64::from(u32::MAX)) as u32); // pages in the file
    put(40, 1); // schema cookie
    put(44, 4); // schema format
    put(56, 1); // UTF-8
    put(92, 1); // the page count is valid for change 1
    put(96, 3_045_000); // written by SQLite 3.45
    let mut file = std::fs::OpenOptions::new().write(true).open(stand_in).map_err(io)?;
    file.write_all(&header).map_err(io)
}

/// Leaving write-ahead logging needs the file to itself: that fails while another
/// connection has it open. (It also copies the log into the file, which makes the old
/// file whole on its own once it is moved aside.) A damaged file may not get that far,
/// and is repaired anyway.
fn refuse_if_in_use(source: &Connection, path: &Path) -> Result<()> {
    source.busy_timeout(Duration::ZERO).map_err(|e| store_error(path, &e))?;
    match source.pragma_update(None, "journal_mode", "DELETE") {
        Err(e) if matches!(e.sqlite_error_code(), Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)) => {
            Err(Error::Store {
                path: path.to_path_buf(),
                message: format!(
                    "The trace store {} is in use (by `vitals serve`, or a Neovim with the otlp provider); stop it and repair again",
                    path.display()
                ),
            })
        }
        _ => Ok(()),
    }
}

fn salvage_into(source: &Connection, building: &Path) -> Result<Salvaged> {
    let unlimited = Retention { max_age: Duration::MAX, max_bytes: u64::MAX };
    let target = Store::open(building, unlimited)?;
    let mut salvaged = Salvaged { traces: 0, spans: 0, lost_traces: 0, partial_traces: 0, aside: PathBuf::new() };
    let mut resources = Resources::default();
    let mut batch = Batch::default();
    for (id, received_ns) in known_traces(source) {
        let mut rows = Vec::new();
        let read = schema::each_trace_row(source, id, |row| rows.push(row));
        let rows_read = rows.len();
        let mut spans = Vec::with_capacity(rows_read);
        let mut services = HashMap::new();
        for row in rows {
            services.insert(row.resource_id, row.service.clone());
            let resource_id = row.resource_id;
            spans.extend(row.into_proto(id).ok().map(|span| (resource_id, span)));
        }
        let whole = read.is_ok() && spans.len() == rows_read;
        if spans.is_empty() {
            salvaged.lost_traces += 1;
            continue;
        }
        salvaged.traces += 1;
        salvaged.spans += spans.len() as u64;
        salvaged.partial_traces += u64::from(!whole);
        let count = spans.len();
        let grouped = schema::by_resource(spans, |id| Ok(resources.get(source, id, &services[&id])))
            .map_err(|e| store_error(building, &e))?;
        batch.add(&target, grouped, count, received_ns.unwrap_or_else(now_ns))?;
    }
    batch.flush(&target)?;
    Ok(salvaged)
}

/// Every trace id the file still knows, with when it arrived where that is known; oldest
/// first, those of unknown age last.
fn known_traces(source: &Connection) -> Vec<(TraceId, Option<u64>)> {
    let mut known: HashMap<Vec<u8>, Option<u64>> = HashMap::new();
    read_as_far_as_possible(source, "SELECT trace_id, received_ns FROM traces", |row| {
        known.insert(row.get(0)?, Some(row.get::<_, i64>(1)?.max(0) as u64));
        Ok(())
    });
    for sql in ["SELECT DISTINCT trace_id FROM trace_parts", "SELECT DISTINCT trace_id FROM spans"] {
        read_as_far_as_possible(source, sql, |row| {
            known.entry(row.get(0)?).or_insert(None);
            Ok(())
        });
    }
    let mut ordered: BTreeMap<(u64, Vec<u8>), TraceId> = BTreeMap::new();
    for (bytes, received_ns) in known {
        if let Some(id) = TraceId::from_bytes(&bytes) {
            ordered.insert((received_ns.unwrap_or(u64::MAX), bytes), id);
        }
    }
    ordered.into_iter().map(|((received_ns, _), id)| (id, (received_ns != u64::MAX).then_some(received_ns))).collect()
}

/// Visits the rows of a query until the end or the first error (a damaged page, a table
/// an older layout lacks).
fn read_as_far_as_possible(
    source: &Connection,
    sql: &str,
    mut visit: impl FnMut(&rusqlite::Row) -> rusqlite::Result<()>,
) {
    let outcome = (|| {
        let mut statement = source.prepare(sql)?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            visit(row)?;
        }
        Ok::<_, rusqlite::Error>(())
    })();
    if let Err(e) = outcome {
        tracing::info!("store repair: {sql} stopped: {e}");
    }
}

/// The resources of the old file by id, read once each. One that cannot be read becomes a
/// resource naming only its service (from its spans' column), so its spans keep it.
#[derive(Default)]
struct Resources(HashMap<i64, ProtoResource>);

impl Resources {
    fn get(&mut self, source: &Connection, id: i64, service: &str) -> ProtoResource {
        self.0
            .entry(id)
            .or_insert_with(|| {
                let mut resource = schema::resource(source, id).unwrap_or_default();
                if !resource.attributes.iter().any(|a| a.key == "service.name") {
                    resource.attributes.push(KeyValue {
                        key: "service.name".into(),
                        value: Some(AnyValue { value: Some(any_value::Value::StringValue(service.into())) }),
                        ..Default::default()
                    });
                }
                resource
            })
            .clone()
    }
}

/// Salvaged traces that arrived together, gathered into batches of about a chunk.
#[derive(Default)]
struct Batch {
    resource_spans: Vec<ResourceSpans>,
    spans: usize,
    received_ns: u64,
}

impl Batch {
    fn add(&mut self, target: &Store, trace: Vec<ResourceSpans>, spans: usize, received_ns: u64) -> Result<()> {
        if received_ns != self.received_ns || self.spans + spans > CHUNK_SPANS {
            self.flush(target)?;
        }
        self.received_ns = received_ns;
        self.spans += spans;
        self.resource_spans.extend(trace);
        Ok(())
    }

    fn flush(&mut self, target: &Store) -> Result<()> {
        if !self.resource_spans.is_empty() {
            target.ingest(std::mem::take(&mut self.resource_spans), self.received_ns)?;
        }
        self.spans = 0;
        Ok(())
    }
}

/// `traces.db` → `traces.db{suffix}`, in the same folder.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The database and what SQLite keeps beside it.
fn files(path: &Path) -> [PathBuf; 3] {
    [path.to_path_buf(), sibling(path, "-wal"), sibling(path, "-shm")]
}

fn remove_files(path: &Path) {
    for file in files(path) {
        let _ = std::fs::remove_file(file);
    }
}

/// Moves a database with its log and index, those of them that exist.
fn move_files(from: &Path, to: &Path) -> Result<()> {
    for (from, to) in files(from).into_iter().zip(files(to)) {
        match std::fs::rename(&from, &to) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::Store {
                    message: format!("Cannot move {} to {}: {e}", from.display(), to.display()),
                    path: from,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// `20251201T220613Z`: now, in UTC, as a file name can hold it.
fn timestamp() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}
