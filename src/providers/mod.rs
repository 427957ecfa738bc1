//! Trace backends behind one trait, so every command works the same on each of them.

pub mod baselines;
pub mod file;
mod http;
pub mod jaeger;
pub mod links;
pub mod otlp;
pub mod regressions;
pub mod span_cap;
mod tags;
pub mod tempo;
mod traceql;
pub mod trends;
pub mod versions;
pub mod windows;
pub mod zipkin;

use std::sync::Arc;

use async_trait::async_trait;

use crate::analysis::TraceSummary;
use crate::analysis::dependencies::ServiceCall;
use crate::analysis::service_map::{ServiceMap, Thresholds};
use crate::config::{ProviderConfig, ProviderKind};
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId, VersionSeen};
use crate::query::{SearchQuery, now_ns, span_has_tag};
use crate::store::{LinkFrom, Store};

#[async_trait]
pub trait TraceProvider: Send + Sync {
    /// "jaeger at http://localhost:16686": how errors and status lines name the backend.
    fn describe(&self) -> String;
    async fn services(&self) -> Result<Vec<String>>;
    async fn operations(&self, service: &str) -> Result<Vec<String>>;
    /// Traces that have a span matching the query, newest first, each whole. Shared,
    /// because callers cache them and a store may already hold them assembled.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>>;
    /// A search's result list, newest first: by default the whole traces of [`search`],
    /// summarized. A backend whose search answers with only the matching spans of each
    /// trace (Tempo's span sets) lists those instead, saying so in each summary, and
    /// leaves the whole trace to be fetched when one is opened.
    ///
    /// [`search`]: TraceProvider::search
    async fn search_list(&self, query: &SearchQuery) -> Result<Vec<Listed>> {
        Ok(self.search(query).await?.into_iter().map(Listed::whole).collect())
    }
    async fn trace(&self, id: &str) -> Result<Arc<Trace>>;
    /// Attribute names to offer when completing a `key=value` filter for `service`, most
    /// used first: by default those of the service's recent traces (backends with a tag
    /// API answer from it instead).
    async fn tag_keys(&self, service: &str) -> Result<Vec<String>> {
        Ok(tags::keys(&self.search(&tags::recent(service)).await?, service))
    }
    /// Values of the attribute `key` to offer for `service`, most used first: by default
    /// those of the service's recent traces.
    async fn tag_values(&self, service: &str, key: &str) -> Result<Vec<String>> {
        Ok(tags::values(&self.search(&tags::recent(service)).await?, service, key))
    }
    /// The versions of `service` (its deployments: `service.version`, else `deployment.id`,
    /// else the start-ups of `service.instance.id`) with when each was first and last seen,
    /// oldest first. By default read from the service's traces, newest first and pages
    /// further back until an older version shows (see [`versions::from_traces`]); the
    /// embedded store answers from every span it has received.
    async fn versions(&self, service: &str) -> Result<Vec<VersionSeen>> {
        versions::from_traces(self, service, now_ns()).await
    }
    /// Calls between services in `[end − lookback, end]` (µs) as the backend keeps them,
    /// for backends with a dependency list (Jaeger); none for the others.
    async fn dependencies(&self, _end_us: u64, _lookback_us: u64) -> Result<Vec<ServiceCall>> {
        Ok(Vec::new())
    }
    /// The service map of every trace with a span in `[start_ns, end_ns]`, for backends
    /// that can go through all of them (the embedded store); `None` for the others, whose
    /// map is drawn from searches.
    async fn service_map(&self, _start_ns: u64, _end_ns: u64, _thresholds: &Thresholds) -> Result<Option<ServiceMap>> {
        Ok(None)
    }
    /// The spans of other traces that link to a span of trace `id` (at most `limit`): the
    /// way back along span links (producer → its consumers), which only a store that
    /// indexes links can answer without a scan (the embedded store); none for the others,
    /// whose links are followed forwards from the linking span (see [`links`]).
    async fn linking_to(&self, _id: TraceId, _limit: usize) -> Result<Vec<LinkFrom>> {
        Ok(Vec::new())
    }
    /// The embedded store behind the provider, for what only it keeps (the rollups of
    /// trends); `None` for the backends, which keep no such history.
    fn embedded_store(&self) -> Option<Arc<Store>> {
        None
    }
}

/// `[end − lookback, end]` in microseconds, for a search.
pub fn lookback_from(end_ns: u64, lookback: std::time::Duration) -> (u64, u64) {
    let lookback_ns = lookback.as_nanos().min(u64::MAX as u128) as u64;
    (end_ns.saturating_sub(lookback_ns) / 1_000, end_ns.div_ceil(1_000))
}

/// The provider `config` asks for, holding at most `config.max_spans` spans of a trace.
pub fn from_config(config: &ProviderConfig) -> Result<Arc<dyn TraceProvider>> {
    let provider: Arc<dyn TraceProvider> = match config.kind {
        ProviderKind::Jaeger => Arc::new(jaeger::JaegerProvider::new(config)?),
        ProviderKind::Tempo => Arc::new(tempo::TempoProvider::new(config)?),
        ProviderKind::Zipkin => Arc::new(zipkin::ZipkinProvider::new(config)?),
        ProviderKind::File => Arc::new(file::FileProvider::new(config.endpoint(), config.max_response)),
        ProviderKind::Otlp => {
            let provider = otlp::OtlpProvider::open(&config.store_path)?;
            provider.store().limit_spans(config.max_spans, "max_spans (--max-spans)");
            Arc::new(provider)
        }
    };
    Ok(capped(provider, config))
}

/// `provider` with the span cap of `config`; for providers not made by [`from_config`].
pub fn capped(provider: Arc<dyn TraceProvider>, config: &ProviderConfig) -> Arc<dyn TraceProvider> {
    Arc::new(span_cap::SpanCap::new(provider, config.max_spans))
}

/// One trace of a search's result list: what the list shows of it, and the trace itself
/// when the search returned it whole (else it is fetched by id when opened).
#[derive(Clone, Debug)]
pub struct Listed {
    pub summary: TraceSummary,
    pub trace: Option<Arc<Trace>>,
}

impl Listed {
    pub fn whole(trace: Arc<Trace>) -> Self {
        Listed { summary: TraceSummary::of(&trace), trace: Some(trace) }
    }
}

/// The error for a TraceQL query given to a backend that does not speak TraceQL.
fn refuse_traceql(query: &SearchQuery, backend: &str) -> Result<()> {
    match query.traceql {
        Some(_) => Err(Error::invalid(format!(
            "{backend} does not take TraceQL queries (only Tempo does): search by service, operation and key=value filters"
        ))),
        None => Ok(()),
    }
}

/// Newest first, then cut to the limit: the order every provider returns results in.
fn newest_first(mut traces: Vec<Trace>, limit: usize) -> Vec<Arc<Trace>> {
    traces.sort_by_key(|t| std::cmp::Reverse(t.start_ns()));
    traces.truncate(limit);
    traces.into_iter().map(Arc::new).collect()
}

/// Jaeger's search semantics, for providers that filter by themselves: a trace matches
/// when one of its spans has the service, the operation, every tag and a duration in range.
/// A query without a service (the live tail's, [`SearchArgs::to_filter`]) takes any.
///
/// [`SearchArgs::to_filter`]: crate::query::SearchArgs::to_filter
pub fn matches(trace: &Trace, query: &SearchQuery) -> bool {
    trace.spans.iter().any(|span| {
        (query.service.is_empty() || span.service() == query.service)
            && query.operation.as_ref().is_none_or(|op| span.operation == op)
            && query.min_duration_ns.is_none_or(|min| span.duration_ns >= min)
            && query.max_duration_ns.is_none_or(|max| span.duration_ns <= max)
            && query.tags.iter().all(|(key, value)| span_has_tag(span, key, value))
            && query.time_range_us.is_none_or(|(start, end)| (start..=end).contains(&(span.start_ns / 1_000)))
    })
}
