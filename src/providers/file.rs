//! Traces from a file, or from every trace file in a folder, in any format Vitals reads.
//! Read afresh on each request, so a user can drop new files in while Vitals runs.
//!
//! A folder of traces is untrusted: anything may be named `*.json` in it. Only regular
//! files are read (a FIFO would block forever, `/dev/zero` never ends), each up to a size
//! cap, and only files inside the folder: a symlink that leads out of it is skipped with a
//! warning. The path the user gave may itself be a symlink; that is their choice.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use std::sync::Arc;

use async_trait::async_trait;

use super::{TraceProvider, matches, newest_first, refuse_traceql};
use crate::config::DEFAULT_MAX_RESPONSE;
use crate::error::{Error, Result};
use crate::formats;
use crate::model::{Trace, TraceId};
use crate::query::SearchQuery;

pub struct FileProvider {
    path: PathBuf,
    max_file_bytes: u64,
}

impl FileProvider {
    /// Traces from `path`, reading at most `max_file_bytes` of any one file.
    pub fn new(path: impl Into<PathBuf>, max_file_bytes: u64) -> Self {
        FileProvider { path: path.into(), max_file_bytes }
    }

    async fn load(&self) -> Result<Vec<Trace>> {
        let (path, limit) = (self.path.clone(), self.max_file_bytes);
        tokio::task::spawn_blocking(move || load_path_within(&path, limit))
            .await
            .map_err(|e| Error::invalid(format!("reading traces stopped: {e}")))?
    }
}

/// [`load_path_within`] with the default size cap, for the terminal commands.
pub fn load_path(path: &Path) -> Result<Vec<Trace>> {
    load_path_within(path, DEFAULT_MAX_RESPONSE)
}

/// Reads one file, or every `.json`, `.pb` and `.otlp` file of a folder, each of at most
/// `max_file_bytes`. In a folder, a file that cannot be read or decoded is skipped with a
/// log line, so one bad file does not hide the others; a single file that cannot be read
/// or decoded is an error.
pub fn load_path_within(path: &Path, max_file_bytes: u64) -> Result<Vec<Trace>> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if !path.is_dir() {
        let bytes = read_regular(path, max_file_bytes)?;
        return formats::decode(&bytes).map_err(|e| Error::invalid(format!("{}: {e}", path.display())));
    }
    let folder = path.canonicalize().map_err(io)?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json" || ext == "pb" || ext == "otlp"))
        .filter(|p| !p.to_string_lossy().ends_with(".manifest.json"))
        .collect();
    files.sort();
    let mut traces = Vec::new();
    for file in files {
        match read_entry(&folder, &file, max_file_bytes).and_then(|b| formats::decode(&b)) {
            Ok(found) => traces.extend(found),
            Err(e) => tracing::warn!("skipping {}: {e}", file.display()),
        }
    }
    Ok(traces)
}

/// Reads `entry` of `folder` (canonical) when it really lies inside it, its symlinks
/// resolved; the file is opened without following a symlink, so one swapped in after
/// the check is refused too.
fn read_entry(folder: &Path, entry: &Path, limit: u64) -> Result<Vec<u8>> {
    let io = |source| Error::Io { path: entry.to_path_buf(), source };
    let real = entry.canonicalize().map_err(io)?;
    if !real.starts_with(folder) {
        return Err(io(std::io::Error::other(format!(
            "it links to {}, outside the folder {}",
            real.display(),
            folder.display()
        ))));
    }
    read_file(&real, limit, Follow::No)
}

/// Reads a regular file of at most `limit` bytes, following symlinks (the path is the
/// user's own choice): a FIFO, a device or a socket is refused without blocking on it.
pub(crate) fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>> {
    read_file(path, limit, Follow::Yes)
}

#[derive(PartialEq)]
enum Follow {
    Yes,
    No,
}

fn read_file(path: &Path, limit: u64, follow: Follow) -> Result<Vec<u8>> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    let file = open_without_blocking(path, follow).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if !metadata.is_file() {
        return Err(io(std::io::Error::other(format!("it is {}, not a regular file", kind_of(&metadata)))));
    }
    let too_large = || Error::TooLarge { what: format!("{} holds", path.display()), limit };
    if metadata.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // One byte past the limit tells a file that grew while it was read.
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Opens for reading with `O_NONBLOCK`, so opening a FIFO returns at once instead of
/// waiting for a writer (regular files ignore the flag), and with `O_NOFOLLOW` when a
/// symlink must not be followed.
#[cfg(unix)]
fn open_without_blocking(path: &Path, follow: Follow) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let nofollow = if follow == Follow::No { libc::O_NOFOLLOW } else { 0 };
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK | nofollow).open(path)
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path, _follow: Follow) -> std::io::Result<File> {
    File::open(path)
}

/// "a FIFO", "a character device", …: what a path that is not a regular file is.
fn kind_of(metadata: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = metadata.file_type();
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() || kind.is_block_device() {
            return "a device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if metadata.is_dir() { "a folder" } else { "something else" }
}

#[async_trait]
impl TraceProvider for FileProvider {
    fn describe(&self) -> String {
        format!("file {}", self.path.display())
    }

    async fn services(&self) -> Result<Vec<String>> {
        let mut services: Vec<String> =
            self.load().await?.iter().flat_map(|t| t.spans.iter().map(|s| s.service().to_string())).collect();
        services.sort();
        services.dedup();
        Ok(services)
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        let mut operations: Vec<String> = self
            .load()
            .await?
            .iter()
            .flat_map(|t| t.spans.iter().filter(|s| s.service() == service).map(|s| s.operation.to_string()))
            .collect();
        operations.sort();
        operations.dedup();
        Ok(operations)
    }

    /// Files are recordings: they are searched whole, so the time range does not apply.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        refuse_traceql(query, "The file provider")?;
        let query = SearchQuery { time_range_us: None, ..query.clone() };
        let traces = self.load().await?.into_iter().filter(|t| matches(t, &query)).collect();
        Ok(newest_first(traces, query.limit))
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let (wanted, _) = TraceId::from_text(id.trim());
        self.load()
            .await?
            .into_iter()
            .find(|t| t.id == wanted)
            .map(Arc::new)
            .ok_or_else(|| Error::NotFound { what: format!("trace {id}"), source_name: self.describe() })
    }
}
