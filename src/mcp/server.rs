//! The tools: each reads its arguments, calls the core (the provider, [`crate::session`]
//! and [`crate::analysis`], as the other front doors do) and answers with what
//! [`super::answers`] makes of the result. A core error becomes a tool error (`isError`)
//! with the core's message, which is written for people and reads as well to an assistant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rmcp::handler::server::common::{FromContextPart, schema_for_input, schema_for_type};
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, JsonObject, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::answers;
use crate::analysis::compare::compare;
use crate::analysis::critical_path::critical_path;
use crate::analysis::self_times;
use crate::analysis::service_map::Thresholds;
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::TraceProvider;
use crate::providers::file::read_regular;
use crate::providers::regressions::{RegressionArgs, RegressionSettings, regressions};
use crate::query::{SearchArgs, now_ns};
use crate::session::paths::FileMatcher;
use crate::session::{AnalyzeSettings, Annotated, annotate, off_thread, search, service_map};

/// The most search results an answer lists.
const MAX_RESULTS: usize = 100;
/// The largest source file `code_hotspots` reads.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// The MCP server: one provider for its whole life, as the flags configured it.
pub struct Vitals {
    /// The provider, or why there is none (every tool then says so).
    provider: std::result::Result<Arc<dyn TraceProvider>, String>,
    analyze: AnalyzeSettings,
    /// The project whose files `code_hotspots` reads.
    root: PathBuf,
    path_mappings: BTreeMap<String, String>,
}

impl Vitals {
    pub fn new(
        provider: Result<Arc<dyn TraceProvider>>,
        analyze: AnalyzeSettings,
        root: PathBuf,
        path_mappings: BTreeMap<String, String>,
    ) -> Self {
        Vitals { provider: provider.map_err(|e| e.to_string()), analyze, root, path_mappings }
    }

    fn provider(&self) -> Result<&dyn TraceProvider> {
        self.provider.as_deref().map_err(|e| Error::invalid(format!("Vitals has no trace provider: {e}")))
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let id = id.trim();
        if id.is_empty() {
            return Err(Error::invalid("Which trace? Give a trace id (hex), as search_traces lists them"));
        }
        self.provider()?.trace(id).await
    }

    /// The analysis settings, with a call's own lookback and limit.
    fn settings(&self, lookback: Option<String>, limit: Option<usize>) -> AnalyzeSettings {
        AnalyzeSettings {
            lookback: lookback.filter(|l| !l.trim().is_empty()).unwrap_or_else(|| self.analyze.lookback.clone()),
            limit: limit.filter(|&l| l > 0).unwrap_or(self.analyze.limit),
            ..self.analyze.clone()
        }
    }

    /// The error for a service with no traces: which services there are.
    async fn no_traces_of(&self, service: &str, lookback: &str) -> Error {
        let known = match self.provider() {
            Ok(provider) => provider.services().await.unwrap_or_default(),
            Err(e) => return e,
        };
        match known.is_empty() {
            true => Error::invalid(format!("No traces of {service:?} in the last {lookback}, and no services at all")),
            false => Error::invalid(format!(
                "No traces of {service:?} in the last {lookback}; the services are: {}",
                known.join(", ")
            )),
        }
    }
}

/// A tool's answer: the value as structured content (and as JSON text, for clients that
/// read only text), or the error as a tool error.
fn answer<T: Serialize>(result: Result<T>) -> CallToolResult {
    match result.and_then(|v| to_json(&v)) {
        Ok(value) => CallToolResult::structured(value),
        Err(e) => {
            tracing::info!("tool error: {e}");
            CallToolResult::error(vec![ContentBlock::text(e.to_string())])
        }
    }
}

/// A tool's arguments, or what is wrong with them: a tool error naming the argument
/// (`limit: invalid type: string "many", expected usize`), which the assistant can
/// correct, rather than a protocol error.
pub struct Args<T>(Result<T>);

impl<S, T: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Args<T> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> std::result::Result<Self, rmcp::ErrorData> {
        let arguments = serde_json::Value::Object(context.arguments.take().unwrap_or_default());
        let read = serde_path_to_error::deserialize(arguments).map_err(|e| {
            let path = e.path().to_string();
            match path.as_str() {
                "." => Error::invalid(format!("Bad arguments: {}", e.inner())),
                _ => Error::invalid(format!("Bad argument {path}: {}", e.inner())),
            }
        });
        Ok(Args(read))
    }
}

/// The input schema of a tool taking `T`, derived from its type and doc comments.
fn schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_input::<T>().unwrap_or_else(|_| schema_for_type::<T>())
}

/// An answer as JSON, for the tools whose answer takes more than one shape.
fn to_json(value: &impl Serialize) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("the answer could not be written: {e}")))
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchTraces {
    /// The service whose traces to find (one of its spans must match). Leave it out for
    /// the slowest recent traces of every service.
    pub service: Option<String>,
    /// Only traces with a span of this operation (span name) of the service, e.g. "GET /cart".
    pub operation: Option<String>,
    /// Span attributes that must match, each "key=value", all on the same span, e.g.
    /// ["http.route=/cart", "error=true"].
    #[serde(default)]
    pub filters: Vec<String>,
    /// Only spans at least this long, e.g. "250ms", "1.5s".
    pub min_duration: Option<String>,
    /// Only spans at most this long.
    pub max_duration: Option<String>,
    /// How far back to look, e.g. "30m", "6h" (default: 1h).
    pub lookback: Option<String>,
    /// How many traces at most (default: 20, at most 100).
    pub limit: Option<usize>,
    /// A TraceQL query instead of service, operation, filters and durations (Tempo only),
    /// e.g. "{ span.http.route = \"/cart\" && duration > 1s }".
    pub traceql: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetTrace {
    /// The trace id (hex), as search_traces lists it.
    pub trace_id: String,
    /// Also list every span with its attributes and events (large; at most 200 spans).
    #[serde(default)]
    pub attributes: bool,
    /// Answer with this one span in full (attributes, events, links) instead.
    pub span_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceArg {
    /// The trace id (hex), as search_traces lists it.
    pub trace_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompareTraces {
    /// The trace to compare from (hex id), e.g. a fast or older request.
    pub before: String,
    /// The trace to compare with it (hex id), e.g. a slow or newer request.
    pub after: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeService {
    /// The service whose recent traces to analyze.
    pub service: String,
    /// How far back to look, e.g. "30m", "6h" (default: the server's --lookback, 1h).
    pub lookback: Option<String>,
    /// How many of its most recent traces to analyze (default: the server's --limit, 50).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regressions {
    /// The service whose requests (its entry spans) to compare.
    pub service: String,
    /// Length of each window, e.g. "1h": the latest traffic (windows ending at the newest
    /// request) even when the service has versions. By default the newest version is
    /// compared with the one before it, else the latest hour of traffic with the hour before.
    pub window: Option<String>,
    /// Two versions to compare, "A..B" (baseline, then current), e.g. "1.4.0..1.5.0".
    pub version: Option<String>,
    /// Compare the window before this moment with the window after it (a deploy):
    /// RFC 3339, "now", or how long ago ("90m").
    pub at: Option<String>,
    /// Explicit baseline range "FROM..TO" (with current), e.g. "3h..2h".
    pub baseline: Option<String>,
    /// Explicit current range "FROM..TO" (with baseline), e.g. "1h..now".
    pub current: Option<String>,
    /// Fewer requests than this in either window give no verdict (default: 20).
    pub min_samples: Option<usize>,
    /// How many traces to fetch (default: 2000).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceMapArgs {
    /// Only this service, its callers and its callees.
    pub service: Option<String>,
    /// How far back to look (default: the server's --lookback, 1h).
    pub lookback: Option<String>,
    /// How many of each service's most recent traces to draw it from when the backend
    /// cannot go through them all (default: the server's --limit, 50).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeHotspots {
    /// A file of the project: relative to the project's root (where vitals mcp runs, or
    /// its --root) or absolute, e.g. "shop/orders.py".
    pub path: String,
    /// Only the traces of these services (default: every service).
    #[serde(default)]
    pub services: Vec<String>,
    /// How far back to look (default: the server's --lookback, 1h).
    pub lookback: Option<String>,
    /// How many of each service's most recent traces to analyze (default: the server's --limit, 50).
    pub limit: Option<usize>,
}

#[tool_router]
impl Vitals {
    #[tool(
        description = "Find traces: of a service (filtered by operation, span attributes, duration) or, without a service, the slowest recent traces of every service. Lists each trace's id, root, start, duration, span and error counts and services.",
        input_schema = schema::<SearchTraces>(),
        annotations(read_only_hint = true)
    )]
    async fn search_traces(&self, Args(args): Args<SearchTraces>) -> CallToolResult {
        answer(async { self.search_traces_of(args?).await }.await)
    }

    #[tool(
        description = "A trace in brief: its root, duration, services, span count, the spans on its critical path, the slowest spans by self time and the failed spans, with their ids. Set attributes for every span's attributes and events, or span_id for one span in full.",
        input_schema = schema::<GetTrace>(),
        annotations(read_only_hint = true)
    )]
    async fn get_trace(&self, Args(args): Args<GetTrace>) -> CallToolResult {
        answer(async { self.trace_of(args?).await }.await)
    }

    #[tool(
        description = "The critical path of a trace (the chain of work that decided how long it took, as Jaeger UI draws it): each span's time on the path, longest first, and the path in time order.",
        input_schema = schema::<TraceArg>(),
        annotations(read_only_hint = true)
    )]
    async fn critical_path(&self, Args(args): Args<TraceArg>) -> CallToolResult {
        answer(async { self.critical_path_of(&args?.trace_id).await }.await)
    }

    #[tool(
        description = "Analyze a service's recent traces: N+1 queries, slow queries, repeated and sequential calls, error root causes, bottlenecks and dominant self time, each with its evidence, a suggestion and the traces and spans it was seen in, costliest first; also the hottest functions.",
        input_schema = schema::<AnalyzeService>(),
        annotations(read_only_hint = true)
    )]
    async fn analyze_service(&self, Args(args): Args<AnalyzeService>) -> CallToolResult {
        answer(async { self.analysis_of(args?).await }.await)
    }

    #[tool(
        description = "Why a trace failed or was slow: the span where its error originates (following the failing chain down, including a call that used up its caller's time budget and was given up on: a timeout reported upstream), the critical path, and the other problems found in it.",
        input_schema = schema::<TraceArg>(),
        annotations(read_only_hint = true)
    )]
    async fn root_cause(&self, Args(args): Args<TraceArg>) -> CallToolResult {
        answer(async { self.root_cause_of(&args?.trace_id).await }.await)
    }

    #[tool(
        description = "Compare two traces of the same kind of request: which call paths were added, removed, ran more or fewer times, or got notably slower or faster, the largest change first, with example span ids in each trace.",
        input_schema = schema::<CompareTraces>(),
        annotations(read_only_hint = true)
    )]
    async fn compare_traces(&self, Args(args): Args<CompareTraces>) -> CallToolResult {
        answer(
            async {
                let args = args?;
                self.comparison_of(&args.before, &args.after).await
            }
            .await,
        )
    }

    #[tool(
        description = "Compare a service's requests in a baseline window with a current window, overall and per operation: P50/P95/P99, error rate, throughput, and whether the change is significant (Mann-Whitney U), with the slowest current request's trace and span ids.",
        input_schema = schema::<Regressions>(),
        annotations(read_only_hint = true)
    )]
    async fn regressions(&self, Args(args): Args<Regressions>) -> CallToolResult {
        answer(async { self.regressions_of(args?).await }.await)
    }

    #[tool(
        description = "The service dependency map of recent traces: each service's health, requests, errors and P95, uninstrumented dependencies (databases, peers), who calls whom how often, and the bottleneck; or only one service's callers and callees.",
        input_schema = schema::<ServiceMapArgs>(),
        annotations(read_only_hint = true)
    )]
    async fn service_map(&self, Args(args): Args<ServiceMapArgs>) -> CallToolResult {
        answer(async { self.map_of(args?).await }.await)
    }

    #[tool(
        description = "What recent traces say about the lines of one source file, as the editor annotates them: each line's cost (P95, share of the request, calls) and the findings made there (N+1, slow query, error origin), with the traces and spans behind them.",
        input_schema = schema::<CodeHotspots>(),
        annotations(read_only_hint = true)
    )]
    async fn code_hotspots(&self, Args(args): Args<CodeHotspots>) -> CallToolResult {
        answer(async { self.hotspots_of(args?).await }.await)
    }
}

#[tool_handler]
impl ServerHandler for Vitals {
    fn get_info(&self) -> ServerConfig {
        let source = match &self.provider {
            Ok(provider) => provider.describe(),
            Err(e) => format!("no provider ({e})"),
        };
        let vitals = Implementation::new("vitals", env!("CARGO_PKG_VERSION"));
        let capabilities = ServerCapabilities::builder().enable_tools().build();
        ServerConfig::new(capabilities).with_server_info(vitals).with_instructions(format!(
            "Vitals analyzes distributed traces from {source}. Start with search_traces, analyze_service or \
             service_map; every answer cites trace and span ids to pass to get_trace, critical_path, root_cause \
             and compare_traces. code_hotspots tells what the traces say about a source file's lines."
        ))
    }
}

/// The bodies of the tools.
impl Vitals {
    async fn search_traces_of(&self, args: SearchTraces) -> Result<answers::Found> {
        let search_args = SearchArgs {
            service: args.service.unwrap_or_default(),
            operation: args.operation,
            tags: args.filters,
            min_duration: args.min_duration,
            max_duration: args.max_duration,
            limit: Some(args.limit.unwrap_or(crate::query::DEFAULT_LIMIT).clamp(1, MAX_RESULTS)),
            lookback: args.lookback,
            traceql: args.traceql,
        };
        let provider = self.provider()?;
        let (_, mut found) = search(provider, &search_args).await?;
        found.truncate(MAX_RESULTS);
        Ok(answers::Found {
            provider: provider.describe(),
            traces: found.into_iter().map(answers::TraceRow::from).collect(),
        })
    }

    async fn trace_of(&self, args: GetTrace) -> Result<serde_json::Value> {
        let trace = self.trace(&args.trace_id).await?;
        if let Some(span) = args.span_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            let index = trace.find_span(span).ok_or_else(|| Error::NotFound {
                what: format!("span {span}"),
                source_name: format!("trace {}", trace.id),
            })?;
            return to_json(&answers::FullSpan::of(&trace, index, trace.start_ns()));
        }
        off_thread(move || {
            let (sections, self_ns) = (critical_path(&trace), self_times(&trace));
            to_json(&answers::trace_overview(&trace, &sections, &self_ns, args.attributes))
        })
        .await?
    }

    async fn critical_path_of(&self, id: &str) -> Result<answers::CriticalPath> {
        let trace = self.trace(id).await?;
        off_thread(move || answers::critical_path(&trace, &critical_path(&trace))).await
    }

    async fn analysis_of(&self, args: AnalyzeService) -> Result<answers::Analysis> {
        let service = args.service.trim().to_string();
        if service.is_empty() {
            return Err(Error::invalid("Which service? e.g. analyze_service {\"service\": \"frontend\"}"));
        }
        let settings = self.settings(args.lookback, args.limit);
        let annotated = annotate(self.provider()?, std::slice::from_ref(&service), &settings).await?;
        if annotated.traces.is_empty() {
            return Err(self.no_traces_of(&service, &settings.lookback).await);
        }
        Ok(answers::analysis(&service, &settings.lookback, &annotated.report, &annotated.traces))
    }

    async fn root_cause_of(&self, id: &str) -> Result<answers::RootCause> {
        let trace = self.trace(id).await?;
        let settings = self.analyze.clone();
        off_thread(move || {
            let sections = critical_path(&trace);
            let annotated = Annotated::of(vec![Arc::clone(&trace)], &settings);
            answers::root_cause(&trace, &sections, &annotated.report)
        })
        .await
    }

    async fn comparison_of(&self, before: &str, after: &str) -> Result<answers::ComparisonAnswer> {
        let (before, after) = futures::try_join!(self.trace(before), self.trace(after))?;
        off_thread(move || answers::comparison(&compare(&before, &after))).await
    }

    /// The check `vitals regressions` and `:VitalsRegressions` make
    /// ([`providers::regressions::regressions`]).
    async fn regressions_of(&self, args: Regressions) -> Result<serde_json::Value> {
        let check = RegressionArgs {
            service: args.service,
            window: args.window,
            at: args.at,
            version: args.version,
            baseline: args.baseline,
            current: args.current,
        };
        let defaults = RegressionSettings::default();
        let settings = RegressionSettings {
            limit: args.limit.unwrap_or(defaults.limit),
            min_samples: args.min_samples.unwrap_or(defaults.min_samples),
            ..defaults
        };
        let report = regressions(self.provider()?, &check, &settings, now_ns()).await?;
        if report.overall.baseline.count + report.overall.current.count == 0 {
            return Err(Error::invalid(format!("No requests of {} to compare", report.service)));
        }
        to_json(&answers::regressions(&report))
    }

    async fn map_of(&self, args: ServiceMapArgs) -> Result<answers::MapAnswer> {
        let settings = self.settings(args.lookback, args.limit);
        let map = service_map(self.provider()?, &settings.lookback, settings.limit, Thresholds::default()).await?;
        let focus = match args.service.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(name) => Some(map.index(name).ok_or_else(|| {
                let names: Vec<&str> = map.services.iter().map(|s| s.name.as_str()).collect();
                Error::invalid(format!(
                    "No service {name:?} on the map of the last {}; it has: {}",
                    settings.lookback,
                    names.join(", ")
                ))
            })?),
        };
        Ok(answers::service_map(&map, &settings.lookback, focus))
    }

    async fn hotspots_of(&self, args: CodeHotspots) -> Result<answers::Hotspots> {
        let file = self.project_file(&args.path)?;
        let bytes = read_regular(&file, MAX_SOURCE_BYTES)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let settings = self.settings(args.lookback, args.limit);
        let annotated = annotate(self.provider()?, &args.services, &settings).await?;
        let (root, mappings) = (self.root.display().to_string(), self.path_mappings.clone());
        off_thread(move || {
            let lines: Vec<&str> = text.lines().collect();
            let matcher = FileMatcher::new(&file.display().to_string(), &root, &mappings);
            let placed = matcher.place(&annotated.annotations, &lines);
            answers::hotspots(&file, &lines, &placed, &annotated)
        })
        .await
    }

    /// A file of the project by the path an assistant gave: absolute, or under the root.
    fn project_file(&self, path: &str) -> Result<PathBuf> {
        let path = path.trim();
        if path.is_empty() {
            return Err(Error::invalid("Which file? Give its path, e.g. code_hotspots {\"path\": \"shop/orders.py\"}"));
        }
        let file = match Path::new(path).is_absolute() {
            true => PathBuf::from(path),
            false => self.root.join(path),
        };
        if !file.is_file() {
            return Err(Error::invalid(format!(
                "No file {path} in the project at {} (vitals mcp reads the project it runs in, or --root DIR)",
                self.root.display()
            )));
        }
        Ok(file)
    }
}
