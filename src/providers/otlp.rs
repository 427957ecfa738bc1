//! The embedded default: traces received over OTLP and kept in the local [`Store`].
//! Same semantics as the Jaeger provider, with no network in between.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::TraceProvider;
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};
use crate::query::SearchQuery;
use crate::store::{Retention, Store};

pub struct OtlpProvider {
    store: Arc<Store>,
}

impl OtlpProvider {
    /// Opens the store at `path`, or at the default location when it is empty.
    pub fn open(path: &str) -> Result<Self> {
        let path = match path {
            "" => Store::default_path()
                .ok_or_else(|| Error::invalid("no data directory for the trace store; set store_path"))?,
            given => PathBuf::from(given),
        };
        Ok(OtlpProvider { store: Arc::new(Store::open(&path, Retention::default())?) })
    }

    pub fn new(store: Arc<Store>) -> Self {
        OtlpProvider { store }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Runs a store call off the async threads (SQLite blocks).
    async fn blocking<T: Send + 'static>(&self, call: impl FnOnce(&Store) -> Result<T> + Send + 'static) -> Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .map_err(|e| Error::invalid(format!("the trace store task failed: {e}")))?
    }
}

#[async_trait]
impl TraceProvider for OtlpProvider {
    fn describe(&self) -> String {
        format!("the trace store {}", self.store.path().display())
    }

    async fn services(&self) -> Result<Vec<String>> {
        self.blocking(|store| store.services()).await
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        let service = service.to_string();
        self.blocking(move |store| store.operations(&service)).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        let query = query.clone();
        self.blocking(move |store| store.search(&query)).await
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let text = id.trim().to_string();
        let wanted = TraceId::from_hex(&text)
            .ok_or_else(|| Error::invalid(format!("{text:?} is not a trace id (32 hex digits)")))?;
        let found = self.blocking(move |store| store.trace(wanted)).await?;
        found.ok_or_else(|| Error::NotFound { what: format!("trace {id}"), source_name: self.describe() })
    }
}
