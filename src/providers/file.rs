//! Traces from a file, or from every trace file in a folder, in any format Vitals reads.
//! Read afresh on each request, so a user can drop new files in while Vitals runs.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use async_trait::async_trait;

use super::{TraceProvider, matches, newest_first};
use crate::error::{Error, Result};
use crate::formats;
use crate::model::{Trace, TraceId};
use crate::query::SearchQuery;

pub struct FileProvider {
    path: PathBuf,
}

impl FileProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileProvider { path: path.into() }
    }

    async fn load(&self) -> Result<Vec<Trace>> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || load_path(&path))
            .await
            .map_err(|e| Error::invalid(format!("reading traces stopped: {e}")))?
    }
}

/// Reads one file, or every `.json`, `.pb` and `.otlp` file of a folder. In a folder, a
/// file that cannot be decoded is skipped with a log line, so one bad file does not hide
/// the others; a single file that cannot be decoded is an error.
pub fn load_path(path: &Path) -> Result<Vec<Trace>> {
    let io = |source| Error::Io { path: path.to_path_buf(), source };
    if !path.is_dir() {
        let bytes = std::fs::read(path).map_err(io)?;
        return formats::decode(&bytes).map_err(|e| Error::invalid(format!("{}: {e}", path.display())));
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(io)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "json" || ext == "pb" || ext == "otlp"))
        .filter(|p| !p.to_string_lossy().ends_with(".manifest.json"))
        .collect();
    files.sort();
    let mut traces = Vec::new();
    for file in files {
        match std::fs::read(&file)
            .map_err(|source| Error::Io { path: file.clone(), source })
            .and_then(|b| formats::decode(&b))
        {
            Ok(found) => traces.extend(found),
            Err(e) => tracing::warn!("skipping {}: {e}", file.display()),
        }
    }
    Ok(traces)
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
            .flat_map(|t| t.spans.iter().filter(|s| s.service() == service).map(|s| s.operation.clone()))
            .collect();
        operations.sort();
        operations.dedup();
        Ok(operations)
    }

    /// Files are recordings: they are searched whole, so the time range does not apply.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
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
