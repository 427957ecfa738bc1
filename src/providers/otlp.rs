//! The embedded default: traces received over OTLP and kept in the local [`Store`].
//! Same semantics as the Jaeger provider, with no network in between.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;

use super::{TraceProvider, refuse_traceql};
use crate::analysis::service_map::{MapBuilder, ServiceMap, Thresholds};
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId, VersionSeen};
use crate::query::SearchQuery;
use crate::store::{LinkFrom, Retention, Store};

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

    /// Runs a store call off the async threads (see [`on_store`]).
    async fn blocking<T: Send + 'static>(&self, call: impl FnOnce(&Store) -> Result<T> + Send + 'static) -> Result<T> {
        on_store(Arc::clone(&self.store), call).await
    }
}

/// Runs a call on the embedded store on the blocking pool, off the async threads: SQLite
/// blocks. Whatever reads or writes the store from async code goes through here.
pub async fn on_store<T: Send + 'static>(
    store: Arc<Store>,
    call: impl FnOnce(&Store) -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .map_err(|e| Error::Internal(format!("the trace store task failed: {e}")))?
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

    async fn versions(&self, service: &str) -> Result<Vec<VersionSeen>> {
        let service = service.to_string();
        self.blocking(move |store| store.versions(&service)).await
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        refuse_traceql(query, "The trace store")?;
        let query = query.clone();
        self.blocking(move |store| store.search(&query)).await
    }

    async fn service_map(&self, start_ns: u64, end_ns: u64, thresholds: &Thresholds) -> Result<Option<ServiceMap>> {
        let thresholds = *thresholds;
        self.blocking(move |store| {
            let mut map = MapBuilder::default();
            store.for_each_trace(start_ns, end_ns, |trace| map.add(trace))?;
            Ok(Some(map.finish(&[], &thresholds)))
        })
        .await
    }

    async fn linking_to(&self, id: TraceId, limit: usize) -> Result<Vec<LinkFrom>> {
        self.blocking(move |store| store.linking_to(id, limit)).await
    }

    fn embedded_store(&self) -> Option<Arc<Store>> {
        Some(Arc::clone(&self.store))
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let text = id.trim().to_string();
        let wanted = TraceId::from_hex(&text)
            .ok_or_else(|| Error::invalid(format!("{text:?} is not a trace id (32 hex digits)")))?;
        let found = self.blocking(move |store| store.trace(wanted)).await?;
        found.ok_or_else(|| Error::NotFound { what: format!("trace {id}"), source_name: self.describe() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;
    use crate::formats::otlp_encode::export_request;

    /// Request `n`: web calls api, which queries postgres.
    fn request(n: u128) -> Trace {
        let drawn =
            trace(&[(1, 0, "web", "GET /", 0, 100), (2, 1, "api", "Get", 5, 80), (3, 2, "api", "SELECT", 10, 20)])
                .attr(3, "db.system", "postgresql")
                .done();
        let spans = drawn.spans.into_iter().map(|span| crate::model::Span { trace_id: TraceId(n), ..span }).collect();
        Trace::from_spans(TraceId(n), spans)
    }

    #[tokio::test]
    async fn the_map_of_the_embedded_store_counts_every_trace_in_the_window() {
        let path = std::env::temp_dir().join(format!("vitals-otlp-map-{}.db", std::process::id()));
        let store = Arc::new(Store::open(&path, Retention::default()).unwrap());
        // More requests than any search limit, in several batches.
        for batch in (1..=120).collect::<Vec<u128>>().chunks(25) {
            let traces: Vec<Trace> = batch.iter().map(|&n| request(n)).collect();
            store.ingest(export_request(&traces, 0).resource_spans, 1).unwrap();
        }
        let provider = OtlpProvider::new(Arc::clone(&store));
        let map = provider.service_map(0, u64::MAX, &Thresholds::default()).await.unwrap().expect("a map of all");
        let node = |name: &str| &map.services[map.index(name).unwrap()];
        assert_eq!((node("web").requests, node("api").requests), (120, 120), "every stored request");
        let calls = |from: &str, to: &str| map.edge(map.index(from).unwrap(), map.index(to).unwrap()).unwrap().calls;
        assert_eq!((calls("web", "api"), calls("api", "postgresql")), (120, 120));
        assert_eq!(map.basis.traces, 120);
        assert_eq!(map.basis.per_service_limit, None, "not a sample");
        let before = provider.service_map(0, 500_000_000, &Thresholds::default()).await.unwrap().unwrap();
        assert!(before.services.is_empty(), "nothing started before the window ends");
        drop((provider, store));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
