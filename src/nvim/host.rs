//! The host's state and its answers to the plugin's calls.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures::FutureExt;
use nvim_rs::compat::tokio::Compat;
use nvim_rs::{Handler, Neovim};
use rmpv::Value;

use super::alerts::Alerts;
use super::links;
use super::maps::Maps;
use super::protocol::{
    self, AnalyzePayload, AnnotateParams, BaselineParams, BaselinePayload, CompareParams, Drawing, ExportParams,
    FlameItem, FlameParams, FlamePayload, LogListPayload, LogsParams, MapActionParams, MapParams, OpenFileParams,
    OpenTraceParams, OpenedFile, RecentParams, RegressionParams, SearchItem, SearchParams, ServiceParams,
    SpanLinksParams, TagParams, TransactionParams, TrendParams, TrendPayload, ViewActionParams, params, to_value,
};
use super::tails::{self, Tails};
use super::views::{Switch, Views};
use crate::analysis::TraceSummary;
use crate::analysis::aggregate::Weight;
use crate::analysis::baselines::Baseline;
use crate::analysis::compare::compare;
use crate::analysis::deployments::preferred;
use crate::analysis::hotspots::{TraceRef, hotspots};
use crate::analysis::report::{Options, analyze};
use crate::collector::supervisor::Role;
use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::model::{Trace, TraceId};
use crate::providers::links::{linked_traces, links_of_span};
use crate::providers::{self, TraceProvider, baselines, trends};
use crate::query::now_ns;
use crate::render::annotations::annotations;
use crate::render::findings::explain_report;
use crate::render::report;
use crate::render::units::plural;
use crate::render::{self, Picture, View, summary_line};
use crate::session::export::{export_path, exported, write_file};
use crate::session::{Annotated, Session, Settings, annotate_with, logs, off_thread, service_map, traces_of};
use crate::tail::{self, Filter, Source, Tail};

type Writer = Compat<tokio::fs::File>;

/// What `status` may be asked.
#[derive(serde::Deserialize)]
#[serde(default)]
struct StatusParams {
    receivers: bool,
}

impl Default for StatusParams {
    fn default() -> Self {
        StatusParams { receivers: true }
    }
}

#[derive(Clone)]
pub struct Host {
    state: Arc<Mutex<State>>,
}

struct State {
    session: Session,
    views: Views,
    maps: Maps,
    tails: Tails,
    alerts: Alerts,
}

impl Default for Host {
    fn default() -> Self {
        Host {
            state: Arc::new(Mutex::new(State {
                session: Session::default(),
                views: Views::default(),
                maps: Maps::default(),
                tails: Tails::default(),
                alerts: Alerts::default(),
            })),
        }
    }
}

#[async_trait]
impl Handler for Host {
    type Writer = Writer;

    /// Quick questions that never touch the network may be asked synchronously.
    async fn handle_request(&self, name: String, _args: Vec<Value>, _nvim: Neovim<Writer>) -> Result<Value, Value> {
        match name.as_str() {
            "version" => Ok(Value::from(env!("CARGO_PKG_VERSION"))),
            "log_file" => {
                Ok(crate::logging::log_file_path().map(|p| Value::from(p.display().to_string())).unwrap_or(Value::Nil))
            }
            _ => Err(Value::from(format!("unknown request {name:?}"))),
        }
    }

    /// Everything else: answered later through `_resolve`, so the editor never waits.
    /// Id 0 means the plugin wants no answer.
    async fn handle_notify(&self, name: String, args: Vec<Value>, nvim: Neovim<Writer>) {
        let (id, params) = protocol::split_args(args);
        let id = id.filter(|id| *id != 0);
        if name == "configure" {
            // Applied before the next message is read, so calls sent after it use it.
            let outcome = self.configure(params, &nvim);
            if let Some(id) = id {
                tokio::spawn(async move { resolve(&nvim, id, outcome).await });
            }
            return;
        }
        let host = self.clone();
        tokio::spawn(async move {
            let outcome = AssertUnwindSafe(host.dispatch(&name, params, &nvim)).catch_unwind().await;
            let outcome = outcome
                .unwrap_or_else(|_| Err(Error::invalid(format!("internal error while handling {name}; see the log"))));
            if let Err(e) = &outcome {
                tracing::warn!(method = name, "{e}");
            }
            if let Some(id) = id {
                resolve(&nvim, id, outcome).await;
            }
        });
    }
}

async fn resolve(nvim: &Neovim<Writer>, id: u64, outcome: Result<Value>) {
    let (err, result) = match outcome {
        Ok(value) => (Value::Nil, value),
        Err(e) => (Value::from(e.to_string()), Value::Nil),
    };
    let call = nvim.exec_lua("require('vitals.client')._resolve(...)", vec![Value::from(id), err, result]);
    if let Err(e) = call.await {
        tracing::warn!("could not deliver the answer to request {id}: {e}");
    }
}

impl Host {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn provider(&self) -> Result<Arc<dyn TraceProvider>> {
        self.state().session.provider()
    }

    /// Takes new provider settings (the plugin's options, read by the schema every front
    /// door shares).
    fn configure(&self, raw: Value, nvim: &Neovim<Writer>) -> Result<Value> {
        let Settings { provider, receivers, alerts, .. } = params(raw)?;
        let mut state = self.state();
        let described = state.session.configure(provider, receivers)?;
        // A wrong rule is said, and leaves the provider configured.
        let rules = crate::alerts::Rule::all(&alerts);
        let store = state.session.embedded().map(|(_, store)| store);
        state.alerts.restart(rules.as_ref().cloned().unwrap_or_default(), store, nvim.clone());
        rules.map(|_| Value::from(described))
    }

    /// The status view; `{ receivers = false }` leaves the receivers out (health shows
    /// them as checks of their own).
    fn status(&self, raw: Value) -> Result<Value> {
        let StatusParams { receivers: with_receivers } = params(raw)?;
        let snapshot = self.state().session.status();
        let report = snapshot.report(with_receivers)?;
        to_value(&Drawing::new("Vitals status".to_string(), &render::status::render(&report, now_ns())))
    }

    async fn dispatch(&self, name: &str, raw: Value, nvim: &Neovim<Writer>) -> Result<Value> {
        match name {
            "test_connection" => {
                let provider = match raw.is_nil() {
                    true => self.provider()?,
                    false => providers::from_config(&params::<ProviderConfig>(raw)?)?,
                };
                let services = provider.services().await?;
                Ok(Value::from(format!(
                    "Connected to {}: {} service{}",
                    provider.describe(),
                    services.len(),
                    plural(services.len())
                )))
            }
            "services" => to_value(&self.provider()?.services().await?),
            "status" => self.status(raw),
            "receiver_checks" => {
                let statuses = self.state().session.embedded().map(|(statuses, _)| statuses).unwrap_or_default();
                to_value(&render::status::checks(&statuses, now_ns()))
            }
            "operations" => {
                let ServiceParams { service } = params(raw)?;
                to_value(&self.provider()?.operations(&service).await?)
            }
            "tag_keys" => {
                let TagParams { service, .. } = params(raw)?;
                to_value(&self.provider()?.tag_keys(&service).await?)
            }
            "tag_values" => {
                let TagParams { service, key } = params(raw)?;
                to_value(&self.provider()?.tag_values(&service, &key).await?)
            }
            "search" => self.search(params(raw)?).await,
            "open_trace" => self.open_trace(params(raw)?).await,
            "view_action" => self.view_action(params(raw)?),
            "transaction" => self.transaction(params(raw)?).await,
            "span_links" => self.span_links(params(raw)?).await,
            "logs" => self.logs(params(raw)?).await,
            "analyze" => self.analyze(params(raw)?).await,
            "annotations" => self.annotations(params(raw)?).await,
            "flame" => self.flame(params(raw)?).await,
            "export" => self.export(params(raw)?).await,
            "open_file" => self.open_file(params(raw)?).await,
            "compare" => self.compare(params(raw)?).await,
            "service_map" => self.service_map(params(raw)?).await,
            "map_action" => {
                let MapActionParams { map_id, action, service } = params(raw)?;
                to_value(&self.state().maps.act(map_id, &action, &service)?)
            }
            "close_map" => {
                let MapActionParams { map_id, .. } = params(raw)?;
                self.state().maps.close(map_id);
                Ok(Value::Nil)
            }
            "regressions" => self.regressions(params(raw)?).await,
            "versions" => self.versions(params(raw)?).await,
            "tail_open" => self.tail_open(params(raw)?, nvim),
            "tail_action" => self.state().tails.act(params(raw)?),
            "tail_close" => {
                let tails::ActionParams { tail_id, .. } = params(raw)?;
                self.state().tails.close(tail_id);
                Ok(Value::Nil)
            }
            "alerts" => self.state().alerts.list(params(raw)?),
            "trends" => self.trends(params(raw)?).await,
            "baseline" => self.baseline(params(raw)?).await,
            "baseline_names" => {
                let ServiceParams { service } = params(raw)?;
                let saved = baselines::list(&*self.provider()?, &service).await?;
                to_value(&saved.into_iter().map(|b| b.name).collect::<Vec<_>>())
            }
            "trend_services" => {
                let store = trends::store_of(&*self.provider()?)?;
                to_value(&off_thread(move || store.rollup_services()).await??)
            }
            "trend_operations" => {
                let ServiceParams { service } = params(raw)?;
                let store = trends::store_of(&*self.provider()?)?;
                to_value(&off_thread(move || store.rollup_operations(&service)).await??)
            }
            "close_view" => {
                let ViewActionParams { view_id, .. } = params(raw)?;
                self.state().views.close(view_id);
                Ok(Value::Nil)
            }
            _ => Err(Error::invalid(format!(
                "the host does not know the call {name:?}; is the plugin newer than the binary?"
            ))),
        }
    }

    async fn search(&self, p: SearchParams) -> Result<Value> {
        let query = p.args.to_query()?;
        let listed = self.provider()?.search_list(&query).await?;
        // Only whole traces are kept for opening; the others are fetched when opened.
        let (summaries, traces): (Vec<TraceSummary>, Vec<Option<Arc<Trace>>>) =
            listed.into_iter().map(|l| (l.summary, l.trace)).unzip();
        let labels = summary_line::lines(&summaries, now_ns(), p.width.max(40));
        let items: Vec<SearchItem> = summaries
            .into_iter()
            .zip(labels)
            .map(|(summary, label)| SearchItem {
                label,
                trace_id: summary.trace_id,
                duration_ns: summary.duration_ns,
                error_count: summary.error_count,
            })
            .collect();
        let mut state = self.state();
        for trace in traces.into_iter().flatten() {
            state.session.remember(trace);
        }
        to_value(&items)
    }

    /// A trace by id: from the cache, else from the provider (then cached).
    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let key = TraceId::from_text(id).0;
        let cached = self.state().session.cached_trace(&key);
        match cached {
            Some(trace) => Ok(trace),
            None => {
                let trace = self.provider()?.trace(id).await?;
                self.state().session.remember(Arc::clone(&trace));
                Ok(trace)
            }
        }
    }

    async fn open_trace(&self, p: OpenTraceParams) -> Result<Value> {
        let id = p.trace_id.trim();
        if id.is_empty() {
            return Err(Error::invalid(
                "Which trace? Give a trace id, e.g. :VitalsTrace 4bf92f3577b34da6a3ce929d0e0e4736",
            ));
        }
        let view = protocol::view_named(&p.view)?;
        let trace = self.trace(id).await?;
        let provider = self.provider()?;
        let linked_from = links::linked_spans(&*provider, &trace).await?;
        // A trace opens even when its logs cannot be read; the logs float says why.
        let (logs, note) = logs::of_trace(&*provider, trace.id)
            .await
            .unwrap_or_else(|e| (Vec::new(), Some(format!("The logs could not be read: {e}"))));
        let marked = p.marks.iter().filter_map(|m| trace.find_span(m)).collect();
        let picture = Picture { marked, linked_from, ..Picture::new(view, p.width.max(20)) };
        let mut state = self.state();
        let payload = state.views.open(trace, picture, p.span_id.trim());
        state.views.attach_logs(payload.view_id, logs, note)?;
        to_value(&payload)
    }

    /// `:VitalsTransaction`: the trace and every trace linked to it, stitched into one
    /// waterfall with the queue hand-offs between them.
    async fn transaction(&self, p: TransactionParams) -> Result<Value> {
        let id = p.trace_id.trim();
        if id.is_empty() {
            return Err(Error::invalid(
                "Which trace? Give a trace id, e.g. :VitalsTransaction 4bf92f3577b34da6a3ce929d0e0e4736",
            ));
        }
        let provider = self.provider()?;
        let linked = linked_traces(&*provider, id, p.bounds).await?;
        {
            let mut state = self.state();
            for trace in &linked.traces {
                state.session.remember(Arc::clone(trace));
            }
        }
        let transaction = off_thread(move || linked.stitch()).await?;
        let picture = Picture { handoffs: transaction.handoffs, ..Picture::new(View::Waterfall, p.width.max(20)) };
        let payload = self.state().views.open(Arc::new(transaction.trace), picture, "");
        to_value(&payload)
    }

    /// `l`: the spans linked to the span under the cursor, both ways.
    async fn span_links(&self, p: SpanLinksParams) -> Result<Value> {
        let Some((trace, span)) = self.state().views.span_at(p.view_id, p.line, p.col)? else {
            return Ok(Value::Nil);
        };
        let span = &trace.spans[span];
        let fetch = |id: TraceId| async move { self.trace(&id.to_string()).await };
        let linked = links_of_span(&*self.provider()?, span, links::MAX_LINKS, fetch).await?;
        to_value(&links::items(span, &linked, p.width.max(40)))
    }

    /// `:VitalsLogs [service] [filters]`: stored logs, newest first, with a trace or not.
    async fn logs(&self, p: LogsParams) -> Result<Value> {
        let query = crate::query::LogQuery::parse(&p.words, now_ns())?;
        let title = match query.service.as_str() {
            "" => "Logs".to_string(),
            service => format!("Logs: {service}"),
        };
        let found = logs::search(&*self.provider()?, query).await?;
        let (rendered, items) = render::logs::list(&found, p.width.max(40), p.utc_offset_s);
        to_value(&LogListPayload { drawing: Drawing::new(title, &rendered), items })
    }

    /// The service's most recent traces (kept in the cache for opening them later), or an
    /// error naming `command` when there are none.
    async fn recent_traces(&self, p: &RecentParams, command: &str) -> Result<Vec<Arc<Trace>>> {
        if p.service.trim().is_empty() {
            return Err(Error::invalid(format!("Which service? e.g. :{command} frontend")));
        }
        let traces = traces_of(&*self.provider()?, std::slice::from_ref(&p.service), &p.lookback, p.limit).await?;
        if traces.is_empty() {
            return Err(Error::invalid(format!("No traces of {} in the last {}", p.service, p.lookback)));
        }
        let mut state = self.state();
        for trace in &traces {
            state.session.remember(Arc::clone(trace));
        }
        Ok(traces)
    }

    /// Analyzes the service's recent traces off the editor's threads and draws the report.
    async fn analyze(&self, p: RecentParams) -> Result<Value> {
        let traces = self.recent_traces(&p, "VitalsAnalyze").await?;
        let title = format!("{}, last {}", p.service, p.lookback);
        let options = Options { slow_query_ns: p.slow_query_ms.saturating_mul(1_000_000) };
        let payload = off_thread(move || {
            let mut result = analyze(&traces, &options);
            explain_report(&mut result);
            let drawn = report::render(&result, &title, p.width.max(40));
            AnalyzePayload {
                drawing: Drawing::new(format!("Vitals analysis: {title}"), &drawn.rendered),
                items: drawn.items,
                annotations: Some(annotations(&result, &hotspots(traces.iter().map(|t| &**t)))),
            }
        })
        .await?;
        to_value(&payload)
    }

    /// What to write on the lines of code the recent traces of `services` ran (of every
    /// service the backend knows when none are named).
    async fn annotations(&self, p: AnnotateParams) -> Result<Value> {
        let imported = self.state().session.imported(&p.services);
        to_value(&annotate_with(&*self.provider()?, &p.services, &p.analyze, imported).await?.annotations)
    }

    /// Writes a trace to a file to share (never over an existing one); answers what it did.
    async fn export(&self, p: ExportParams) -> Result<Value> {
        let id = p.trace_id.trim();
        if id.is_empty() {
            return Err(Error::invalid("Which trace? Open one, or give its id: :VitalsExport {trace-id} [path]"));
        }
        // `:VitalsExport!`: the trace with every trace linked to it, as :VitalsTransaction
        // stitches them.
        let traces = match p.linked {
            Some(bounds) => linked_traces(&*self.provider()?, id, bounds).await?.traces,
            None => vec![self.trace(id).await?],
        };
        let cwd = std::path::PathBuf::from(&p.cwd);
        let ids: Vec<TraceId> = traces.iter().map(|t| t.id).collect();
        let path = export_path(&cwd, Some(&p.path), &ids);
        let message = exported(&traces, &path, &cwd);
        let format = p.format;
        off_thread(move || {
            write_file(&path, &crate::formats::export::encode(traces.iter().map(|t| &**t), format), false, &cwd)
        })
        .await??;
        Ok(Value::from(message))
    }

    /// Reads a trace file (any format Vitals reads); its traces open by id from now on and
    /// count for this editor's annotations. Answers them, with the annotations of every
    /// trace opened from files.
    async fn open_file(&self, p: OpenFileParams) -> Result<Value> {
        if p.path.trim().is_empty() {
            return Err(Error::invalid("Which file? e.g. :VitalsOpen vitals-4bf92f3577b34da6a3ce929d0e0e4736.json"));
        }
        let path = std::path::Path::new(&p.cwd).join(p.path.trim());
        let shown = path.display().to_string();
        let limit = crate::config::DEFAULT_MAX_RESPONSE;
        let read = off_thread(move || providers::file::load_path_within(&path, limit)).await??;
        if read.is_empty() {
            return Err(Error::invalid(format!("{shown} holds no traces")));
        }
        let traces: Vec<Arc<Trace>> = read.into_iter().map(Arc::new).collect();
        let imported = {
            let mut state = self.state();
            state.session.import(&traces);
            state.session.imported(&[])
        };
        let payload = off_thread(move || OpenedFile {
            traces: traces.iter().map(|t| TraceRef::of_trace(t)).collect(),
            annotations: Annotated::of(imported, &p.analyze).annotations,
        })
        .await?;
        to_value(&payload)
    }

    /// The service map of the last `lookback` (see [`crate::session::service_map`]).
    async fn service_map(&self, p: MapParams) -> Result<Value> {
        let map = service_map(&*self.provider()?, &p.lookback, p.limit, p.service_map.thresholds()).await?;
        let reuse = (p.map_id != 0).then_some(p.map_id);
        to_value(&self.state().maps.open(map, Some(p.service.trim()), reuse, p.width.max(40))?)
    }

    /// The aggregated flame graph of the service's recent traces, by self time or (a
    /// memory profile) by allocated bytes.
    async fn flame(&self, FlameParams { recent: p, weight }: FlameParams) -> Result<Value> {
        let traces = self.recent_traces(&p, "VitalsFlame").await?;
        let title = format!("{}, last {}", p.service, p.lookback);
        let payload = off_thread(move || {
            let traces = traces.iter().map(|t| &**t);
            let (flame, drawn) = render::aggregate::profile(traces, Some(&p.service), weight, &title, p.width.max(40));
            let items = drawn
                .targets
                .iter()
                .filter_map(|target| {
                    let example = flame.nodes[target.span].example?;
                    Some(FlameItem {
                        line: target.line,
                        start: target.start,
                        end: target.end,
                        trace_id: example.trace_id.to_string(),
                        span_id: example.span_id.to_string(),
                    })
                })
                .collect();
            let what = match weight {
                Weight::SelfTime => "flame graph",
                Weight::Allocated => "memory profile",
            };
            FlamePayload { drawing: Drawing::new(format!("Vitals {what}: {title}"), &drawn), items }
        })
        .await?;
        to_value(&payload)
    }

    /// The service's newest version against the one before, or its latest traffic
    /// against the traffic before it, or what the user asked for.
    async fn regressions(&self, p: RegressionParams) -> Result<Value> {
        if p.args.service.trim().is_empty() {
            return Err(Error::invalid("Which service? e.g. :VitalsRegressions frontend"));
        }
        let provider = self.provider()?;
        let report = providers::regressions::regressions(&*provider, &p.args, &p.settings, now_ns()).await?;
        let payload = off_thread(move || {
            let drawn = render::regressions::render(&report, p.width.max(40));
            let title = format!("Vitals regressions: {}", report.service);
            AnalyzePayload { drawing: Drawing::new(title, &drawn.rendered), items: drawn.items, annotations: None }
        })
        .await?;
        to_value(&payload)
    }

    /// The versions of a service, oldest first (of the attribute it is told apart by),
    /// for completing `--version`.
    async fn versions(&self, p: ServiceParams) -> Result<Value> {
        let versions = self.provider()?.versions(&p.service).await?;
        let names: Vec<&str> = preferred(&versions).into_iter().map(|v| v.version.as_str()).collect();
        to_value(&names)
    }

    /// Opens a live tail: pushed by the receivers with the embedded store (which is also
    /// read every `poll_ms` while another editor holds a receiver's port: what it receives
    /// is not pushed here), polled from a remote backend.
    fn tail_open(&self, p: tails::OpenParams, nvim: &Neovim<Writer>) -> Result<Value> {
        let filter = Filter::from_words(&p.words)?;
        let provider = self.provider()?;
        let poll = std::time::Duration::from_millis(p.poll_ms);
        let store = self.state().session.embedded().map(|(_, store)| store);
        let source = match store {
            Some(store) => {
                let host = self.clone();
                Source::pushed(store, poll, Arc::new(move || host.others_receive()))
            }
            None => Source::polled(provider, poll),
        };
        let options = tail::Options {
            max_rows: p.max_rows,
            slow_query_ns: p.slow_query_ms.saturating_mul(1_000_000),
            ..tail::Options::default()
        };
        let tail = Tail::start(source, filter, options)?;
        self.state().tails.open(tail, &p, nvim.clone())
    }

    /// Whether another process holds a port this editor's receivers want (so what arrives
    /// there reaches the store without this process knowing).
    fn others_receive(&self) -> bool {
        let receivers = self.state().session.embedded().map(|(receivers, _)| receivers).unwrap_or_default();
        receivers.iter().any(|r| matches!(r.role, Role::Waiting { .. }))
    }

    /// How a service's requests (or one operation's) moved over the range.
    async fn trends(&self, p: TrendParams) -> Result<Value> {
        let range = Some(p.range.trim()).filter(|r| !r.is_empty()).unwrap_or(trends::DEFAULT_RANGE).to_string();
        let width = p.width.max(40);
        let provider = self.provider()?;
        let columns = render::trends::chart_columns(width);
        let trend = trends::trend(&*provider, &p.service, Some(&p.operation), &range, columns, now_ns()).await?;
        let markers = trends::deploy_markers(&*provider, &p.service).await?;
        to_value(&off_thread(move || TrendPayload::of(&trend, &markers, &range, width)).await?)
    }

    /// Saves, lists or deletes saved baselines (see [`baselines`]).
    async fn baseline(&self, p: BaselineParams) -> Result<Value> {
        let provider = self.provider()?;
        let lines = |saved: &[Baseline]| render::baselines::render(saved).into_iter().map(|l| l.text).collect();
        let payload = match p.action.as_str() {
            "save" => {
                let window = Some(p.window.trim()).filter(|w| !w.is_empty()).unwrap_or("1h");
                let name = Some(p.name.trim()).filter(|n| !n.is_empty());
                let saved = baselines::save(&*provider, &p.service, name, window, now_ns()).await?;
                let message = format!(
                    "Saved the baseline {} of {} ({} requests); compare with :VitalsRegressions {} --baseline {}",
                    saved.name,
                    saved.service,
                    saved.requests(),
                    saved.service,
                    saved.name
                );
                BaselinePayload { message, lines: lines(std::slice::from_ref(&saved)) }
            }
            "list" => {
                let saved = baselines::list(&*provider, &p.service).await?;
                BaselinePayload {
                    message: format!("{} saved baseline{}", saved.len(), plural(saved.len())),
                    lines: lines(&saved),
                }
            }
            "delete" => {
                baselines::delete(&*provider, &p.service, &p.name).await?;
                let message = format!("Deleted the baseline {} of {}", p.name.trim(), p.service.trim());
                BaselinePayload { message, lines: Vec::new() }
            }
            other => return Err(Error::invalid(format!("{other:?}: use :VitalsBaseline save|list|delete"))),
        };
        to_value(&payload)
    }

    /// Two traces compared: structure, latency and the differential flame graph.
    async fn compare(&self, p: CompareParams) -> Result<Value> {
        let (a, b) = (p.a.trim(), p.b.trim());
        if a.is_empty() || b.is_empty() {
            return Err(Error::invalid("Which traces? e.g. :VitalsCompare {trace-a} {trace-b}"));
        }
        let (before, after) = futures::try_join!(self.trace(a), self.trace(b))?;
        let payload = off_thread(move || {
            let drawn = render::compare::render(&compare(&before, &after), p.width.max(60));
            AnalyzePayload {
                drawing: Drawing::new("Vitals comparison".to_string(), &drawn.rendered),
                items: drawn.items,
                annotations: None,
            }
        })
        .await?;
        to_value(&payload)
    }

    fn view_action(&self, p: ViewActionParams) -> Result<Value> {
        let mut state = self.state();
        match p.action.as_str() {
            "detail" => match state.views.detail(p.view_id, p.line, p.col, p.width)? {
                Some(drawing) => to_value(&drawing),
                None => Ok(Value::Nil),
            },
            "toggle" => to_value(&state.views.switch(p.view_id, Switch::Timeline)?),
            "critical_path" => to_value(&state.views.switch(p.view_id, Switch::CriticalPath)?),
            "network" => to_value(&state.views.switch(p.view_id, Switch::Toggle(View::Network))?),
            "stats" => to_value(&state.views.switch(p.view_id, Switch::Toggle(View::Stats))?),
            "resize" => to_value(&state.views.resize(p.view_id, p.width)?),
            "logs" | "logs_tree" => {
                match state.views.logs(p.view_id, p.line, p.col, p.width, p.action == "logs_tree")? {
                    Some(drawing) => to_value(&drawing),
                    None => Ok(Value::Nil),
                }
            }
            other => Err(Error::invalid(format!("unknown view action {other:?}"))),
        }
    }
}
