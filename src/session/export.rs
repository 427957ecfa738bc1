//! Sharing traces as files: where an export goes (`vitals-<trace id>.json` unless told),
//! writing it without overwriting anything unasked, and the traces a user opened from a
//! file, which count for this editor's annotations as if the backend had them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};

/// Traces opened from files kept per editor; the oldest go first beyond it.
const MAX_IMPORTED: usize = 1000;

/// The file an export of `ids` goes to: `path` (relative to `dir`), or
/// `vitals-<first trace id>.json` in `dir` when no path is given.
pub fn export_path(dir: &Path, path: Option<&str>, ids: &[TraceId]) -> PathBuf {
    match path.map(str::trim).filter(|p| !p.is_empty()) {
        Some(path) => dir.join(path),
        None => dir.join(format!("vitals-{}.json", ids.first().map(TraceId::to_string).unwrap_or_default())),
    }
}

/// Writes `bytes` to a new file at `path`; an existing file is left alone (and said, the
/// path relative to `dir` when inside, to fit one line) unless `overwrite`.
pub fn write_file(path: &Path, bytes: &[u8], overwrite: bool, dir: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if overwrite {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            Error::invalid(format!("{} exists: give another path", path.strip_prefix(dir).unwrap_or(path).display()))
        }
        _ => io(e),
    })?;
    file.write_all(bytes).map_err(io)
}

/// What an export says when it is done, the file first (a line cut to fit still names
/// it): `Wrote PATH (12 spans)`, `Wrote PATH (3 traces, 40 spans)`, the path relative to
/// `dir` when it is inside.
pub fn exported(traces: &[Arc<Trace>], path: &Path, dir: &Path) -> String {
    let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    let spans = format!("{spans} span{}", crate::render::units::plural(spans));
    let path = path.strip_prefix(dir).unwrap_or(path).display();
    match traces.len() {
        1 => format!("Wrote {path} ({spans})"),
        n => format!("Wrote {path} ({n} traces, {spans})"),
    }
}

/// The traces opened from files, newest last.
#[derive(Default)]
pub struct Imported {
    traces: Vec<Arc<Trace>>,
}

impl Imported {
    /// Keeps `traces` (a trace opened again replaces its older copy).
    pub fn add(&mut self, traces: &[Arc<Trace>]) {
        self.traces.retain(|old| !traces.iter().any(|new| new.id == old.id));
        self.traces.extend(traces.iter().cloned());
        let excess = self.traces.len().saturating_sub(MAX_IMPORTED);
        self.traces.drain(..excess);
    }

    pub fn get(&self, id: &TraceId) -> Option<Arc<Trace>> {
        self.traces.iter().find(|t| t.id == *id).cloned()
    }

    /// The opened traces `services` take part in (all of them when none are named).
    pub fn of_services(&self, services: &[String]) -> Vec<Arc<Trace>> {
        self.traces
            .iter()
            .filter(|t| services.is_empty() || t.spans.iter().any(|s| services.iter().any(|n| n == s.service())))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_goes_to_a_named_file_and_never_over_an_existing_one_unasked() {
        let dir = tempfile::tempdir().unwrap();
        let id = TraceId(0x4bf9);
        let path = export_path(dir.path(), None, &[id]);
        assert_eq!(path, dir.path().join(format!("vitals-{id}.json")));
        assert_eq!(export_path(dir.path(), Some("out/a.json"), &[id]), dir.path().join("out/a.json"));
        write_file(&path, b"first", false, dir.path()).unwrap();
        let refused = write_file(&path, b"second", false, dir.path()).unwrap_err().to_string();
        assert_eq!(refused, format!("vitals-{id}.json exists: give another path"));
        assert_eq!(std::fs::read(&path).unwrap(), b"first", "not overwritten");
        write_file(&path, b"second", true, dir.path()).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }
}
