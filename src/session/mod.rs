//! What every editor front door shares: the settings an editor sends, the connection to
//! the trace provider (for `otlp`, the embedded store and the receivers that fill it, with
//! their ports handed over between editors), the recently fetched traces, and the
//! annotations of the lines of code that recent traces ran.
//!
//! The Neovim host ([`crate::nvim`]) and the language server ([`crate::lsp`]) each hold a
//! [`Session`]; neither has a copy of what is here.

pub mod export;
pub mod logs;
pub mod paths;
pub mod settings;

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

pub use settings::{AnalyzeSettings, AutoTracing, MapSettings, ReceiverSettings, Settings};

use crate::analysis::TraceSummary;
use crate::analysis::hotspots::hotspots;
use crate::analysis::report::{Options, Report, analyze};
use crate::analysis::service_map::{ServiceMap, Thresholds};
use crate::collector::supervisor::{Addresses, ReceiverStatus, Receivers};
use crate::config::{ProviderConfig, ProviderKind};
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};
use crate::providers::otlp::OtlpProvider;
use crate::providers::{self, TraceProvider};
use crate::query::{DEFAULT_LIMIT, SearchArgs, now_ns, parse_duration};
use crate::render::annotations::{Annotation, annotations};
use crate::render::findings::explain_report;
use crate::render::status::StatusReport;
use crate::store::Store;

/// What an editor's host process starts with: logs to the log file (stdout belongs to the
/// editor's protocol), a panic in a request's task logged there (the request gets an
/// error that points to the log), and the runtime its work runs on; `None`, said on
/// stderr, when there is no runtime to be had.
pub fn start_host() -> Option<tokio::runtime::Runtime> {
    crate::logging::to_file();
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            crate::logging::say(format_args!("vitals: cannot start the async runtime: {e}"));
            None
        }
    }
}

/// Traces fetched recently, so that opening a search result or reopening a trace is instant.
const CACHED_TRACES: usize = 64;

/// One editor's connection to its traces.
pub struct Session {
    config: ProviderConfig,
    receivers: ReceiverSettings,
    provider: Option<Arc<dyn TraceProvider>>,
    /// With the `otlp` provider: the store, and the receivers that fill it.
    embedded: Option<Embedded>,
    traces: LruCache<TraceId, Arc<Trace>>,
    /// Traces opened from files (`:VitalsOpen`): found by id, and annotated with the
    /// backend's.
    imported: export::Imported,
}

struct Embedded {
    store_path: String,
    receivers: Receivers,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            config: ProviderConfig::default(),
            receivers: ReceiverSettings::default(),
            provider: None,
            embedded: None,
            traces: LruCache::new(NonZeroUsize::new(CACHED_TRACES).unwrap_or(NonZeroUsize::MIN)),
            imported: export::Imported::default(),
        }
    }
}

impl Session {
    /// The provider, connected on first use. Must run inside the Tokio runtime: the `otlp`
    /// provider starts its receivers there.
    pub fn provider(&mut self) -> Result<Arc<dyn TraceProvider>> {
        if let Some(provider) = &self.provider {
            return Ok(Arc::clone(provider));
        }
        let (config, receivers) = (self.config.clone(), self.receivers.clone());
        let provider = self.connect(&config, &receivers)?;
        self.provider = Some(Arc::clone(&provider));
        Ok(provider)
    }

    /// Takes new provider settings and connects; answers what it connected to. Settings
    /// that cannot work (a malformed URL) are kept anyway, so that every later call
    /// reports the problem instead of silently using the previous backend.
    pub fn configure(&mut self, config: ProviderConfig, receivers: ReceiverSettings) -> Result<String> {
        let provider = self.connect(&config, &receivers);
        self.config = config;
        self.receivers = receivers;
        self.provider = provider.as_ref().ok().cloned();
        // A trace fetched from the previous backend must not answer for this one.
        self.traces.clear();
        provider.map(|p| p.describe())
    }

    /// The provider for `config`; for `otlp`, with this editor's receivers.
    fn connect(&mut self, config: &ProviderConfig, receivers: &ReceiverSettings) -> Result<Arc<dyn TraceProvider>> {
        match config.kind {
            ProviderKind::Otlp => embed(&mut self.embedded, config, receiver_addresses(config, receivers)?),
            _ => {
                // Leaving `otlp` stops this editor's receivers, freeing the ports for others.
                self.embedded = None;
                providers::from_config(config)
            }
        }
    }

    /// The provider's name for status views, or why there is none.
    pub fn describe(&self) -> String {
        match &self.provider {
            Some(provider) => provider.describe(),
            None => format!("{:?} (not usable: see the last error)", self.config.kind).to_lowercase(),
        }
    }

    /// With the `otlp` provider: the receivers' statuses and the store they fill.
    pub fn embedded(&self) -> Option<(Vec<ReceiverStatus>, Arc<Store>)> {
        self.embedded.as_ref().map(|e| (e.receivers.statuses(), Arc::clone(e.receivers.store())))
    }

    /// What a status view needs, taken under the caller's lock; the store's numbers are
    /// read later by [`StatusSnapshot::report`], outside it.
    pub fn status(&self) -> StatusSnapshot {
        let (receivers, store) = match self.embedded() {
            Some((receivers, store)) => (receivers, Some(store)),
            None => (Vec::new(), None),
        };
        StatusSnapshot { provider: self.describe(), receivers, store }
    }

    /// A trace fetched recently, or opened from a file.
    pub fn cached_trace(&mut self, id: &TraceId) -> Option<Arc<Trace>> {
        self.traces.get(id).cloned().or_else(|| self.imported.get(id))
    }

    /// Keeps traces opened from a file for this session (they survive reconfiguring: they
    /// are no backend's).
    pub fn import(&mut self, traces: &[Arc<Trace>]) {
        self.imported.add(traces);
    }

    /// The traces opened from files that `services` take part in (all when none are named).
    pub fn imported(&self, services: &[String]) -> Vec<Arc<Trace>> {
        self.imported.of_services(services)
    }

    pub fn remember(&mut self, trace: Arc<Trace>) {
        self.traces.put(trace.id, trace);
    }
}

/// The provider, receivers and store a status view shows.
pub struct StatusSnapshot {
    provider: String,
    receivers: Vec<ReceiverStatus>,
    store: Option<Arc<Store>>,
}

impl StatusSnapshot {
    /// The status to draw, the store's numbers read now; the receivers left out unless
    /// `with_receivers` (Neovim's health shows them as checks of their own).
    pub fn report(self, with_receivers: bool) -> Result<StatusReport> {
        let store = self.store.map(|s| s.stats()).transpose()?;
        let receivers = if with_receivers { self.receivers } else { Vec::new() };
        Ok(StatusReport { provider: self.provider, receivers, store })
    }
}

/// Opens the store and starts (or keeps) the receivers for the `otlp` provider. A
/// receiver whose address did not change keeps running, so reconfiguring does not drop
/// its port.
fn embed(
    embedded: &mut Option<Embedded>,
    config: &ProviderConfig,
    addresses: Addresses,
) -> Result<Arc<dyn TraceProvider>> {
    if embedded.as_ref().is_some_and(|e| e.store_path != config.store_path) {
        *embedded = None;
    }
    let store = match embedded {
        Some(embedded) => {
            embedded.receivers.update(addresses);
            Arc::clone(embedded.receivers.store())
        }
        None => {
            let provider = OtlpProvider::open(&config.store_path)?;
            let store = Arc::clone(provider.store());
            let receivers = Receivers::start(Arc::clone(&store), addresses);
            *embedded = Some(Embedded { store_path: config.store_path.clone(), receivers });
            store
        }
    };
    store.limit_spans(config.max_spans, "max_spans");
    store.keep_rollups_for(
        parse_duration(&config.rollup_retention).map_err(|e| Error::invalid(format!("rollup_retention: {e}")))?,
    );
    Ok(providers::capped(Arc::new(OtlpProvider::new(store)), config))
}

/// Where the receivers listen: the `receivers` option, with `trace_endpoint` (when set)
/// for OTLP/HTTP, as before that option existed.
fn receiver_addresses(config: &ProviderConfig, settings: &ReceiverSettings) -> Result<Addresses> {
    let mut addresses = settings.receivers;
    if !config.endpoint.trim().is_empty() {
        addresses.otlp_http = config
            .endpoint
            .parse()
            .map_err(|e| Error::invalid(format!("trace_endpoint: {e} (to receive OTLP/HTTP on)")))?;
    }
    Ok(addresses)
}

/// The recent traces of `services` (of every service the backend knows when none are
/// named), each trace once.
pub async fn traces_of(
    provider: &dyn TraceProvider,
    services: &[String],
    lookback: &str,
    limit: usize,
) -> Result<Vec<Arc<Trace>>> {
    let services = match services.is_empty() {
        true => provider.services().await?,
        false => services.to_vec(),
    };
    let mut seen = HashSet::new();
    let mut traces: Vec<Arc<Trace>> = Vec::new();
    for service in services {
        let args = SearchArgs {
            service,
            limit: Some(limit.max(1)),
            lookback: Some(lookback.to_string()),
            ..SearchArgs::default()
        };
        for trace in provider.search(&args.to_query()?).await? {
            if seen.insert(trace.id) {
                traces.push(trace);
            }
        }
    }
    Ok(traces)
}

/// The traces a search asks for; without a service, the slowest recent traces of every
/// service the backend knows.
pub async fn search(provider: &dyn TraceProvider, args: &SearchArgs) -> Result<(String, Vec<TraceSummary>)> {
    if !args.service.trim().is_empty() || args.traceql.is_some() {
        let listed = provider.search_list(&args.to_query()?).await?;
        let title = format!("Vitals search: {}", args.service.trim());
        return Ok((title, listed.into_iter().map(|l| l.summary).collect()));
    }
    let limit = args.limit.unwrap_or(DEFAULT_LIMIT).max(1);
    let mut found: Vec<TraceSummary> = Vec::new();
    for service in provider.services().await? {
        let query = SearchArgs { service, ..args.clone() }.to_query()?;
        for listed in provider.search_list(&query).await? {
            if !found.iter().any(|s| s.trace_id == listed.summary.trace_id) {
                found.push(listed.summary);
            }
        }
    }
    found.sort_by_key(|s| std::cmp::Reverse(s.duration_ns));
    found.truncate(limit);
    Ok(("Vitals search: the slowest recent traces of every service".to_string(), found))
}

/// The annotations of some recent traces, with what they were drawn from: the report
/// (its findings explained: evidence and suggestion) and the traces themselves, for the
/// views that go deeper than a line's text (the language server's hover).
pub struct Annotated {
    pub annotations: Vec<Annotation>,
    pub report: Report,
    pub traces: Vec<Arc<Trace>>,
}

impl Annotated {
    /// Analyzes `traces` (CPU work: callers in a runtime run it on the blocking pool).
    pub fn of(traces: Vec<Arc<Trace>>, options: &AnalyzeSettings) -> Annotated {
        let analysis = Options { slow_query_ns: options.slow_query_ms.saturating_mul(1_000_000) };
        let mut report = analyze(&traces, &analysis);
        explain_report(&mut report);
        let annotations = annotations(&report, &hotspots(traces.iter().map(|t| &**t)));
        Annotated { annotations, report, traces }
    }

    /// The finding an annotation of a finding stands for.
    pub fn finding_of(&self, annotation: &Annotation) -> Option<&crate::analysis::findings::Finding> {
        self.report
            .findings
            .iter()
            .find(|f| f.kind.name() == annotation.kind && f.code.as_ref() == Some(&annotation.code))
    }

    pub fn trace(&self, id: &str) -> Option<&Arc<Trace>> {
        let id = TraceId::from_text(id).0;
        self.traces.iter().find(|t| t.id == id)
    }
}

/// What to write on the lines of code the recent traces of `services` ran (of every
/// service the backend knows when none are named). The analysis runs on the blocking
/// pool, so the caller's runtime keeps answering meanwhile.
pub async fn annotate(
    provider: &dyn TraceProvider,
    services: &[String],
    options: &AnalyzeSettings,
) -> Result<Annotated> {
    annotate_with(provider, services, options, Vec::new()).await
}

/// [`annotate`] with `imported` traces (opened from files) counted as well, each trace once.
pub async fn annotate_with(
    provider: &dyn TraceProvider,
    services: &[String],
    options: &AnalyzeSettings,
    imported: Vec<Arc<Trace>>,
) -> Result<Annotated> {
    let mut traces = traces_of(provider, services, &options.lookback, options.limit).await?;
    traces.retain(|t| !imported.iter().any(|i| i.id == t.id));
    traces.extend(imported);
    let options = options.clone();
    off_thread(move || Annotated::of(traces, &options)).await
}

/// The service map of the last `lookback`: of every trace in it when the provider can go
/// through them all (the embedded store), else of every service's recent traces (saying
/// so when a service had more than `limit`) with the backend's dependency counts.
pub async fn service_map(
    provider: &dyn TraceProvider,
    lookback: &str,
    limit: usize,
    thresholds: Thresholds,
) -> Result<ServiceMap> {
    let window = parse_duration(lookback)?;
    let end_ns = now_ns();
    let start_ns = end_ns.saturating_sub(window.as_nanos().min(u64::MAX as u128) as u64);
    if let Some(map) = provider.service_map(start_ns, end_ns, &thresholds).await? {
        return Ok(map);
    }
    let traces = traces_of(provider, &[], lookback, limit).await?;
    let dependencies = provider.dependencies(end_ns / 1000, window.as_micros().min(u64::MAX as u128) as u64).await?;
    let limit = limit.max(1);
    off_thread(move || {
        let mut map = ServiceMap::from_traces_and_dependencies(traces.iter().map(|t| &**t), &dependencies, &thresholds);
        // A service with `limit` traces may have had more than the search returned.
        let mut per_service: HashMap<&str, usize> = HashMap::new();
        for service in traces.iter().flat_map(|t| t.services()) {
            *per_service.entry(service).or_default() += 1;
        }
        if per_service.values().any(|&n| n >= limit) {
            map.basis.per_service_limit = Some(limit);
        }
        // The backend counted its calls over the whole lookback.
        if map.basis.calls_from_backend {
            map.window_ns = end_ns - start_ns;
        }
        map
    })
    .await
}

/// Runs CPU-bound work (an analysis, a drawing) on the blocking pool, so the front door
/// keeps answering meanwhile.
pub async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work).await.map_err(|e| Error::Internal(format!("the analysis failed: {e}")))
}
