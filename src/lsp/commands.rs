//! The workspace commands (`workspace/executeCommand`): each draws a view as a text file
//! under the state directory, which the server then shows with `window/showDocument`.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::analysis::TraceSummary;
use crate::analysis::{self, aggregate::Weight};
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::TraceProvider;
use crate::providers::regressions::{RegressionArgs, regressions};
use crate::query::{SearchArgs, now_ns};
use crate::render::{self, aggregate, compare, document, report, status};
use crate::session::{
    AnalyzeSettings, Annotated, Settings, StatusSnapshot, off_thread, search, service_map, traces_of,
};

/// The commands, as `executeCommandProvider` lists them (Helix's `:lsp-workspace-command`
/// offers these names).
pub const COMMANDS: &[&str] = &[
    "vitals.trace",
    "vitals.traces",
    "vitals.search",
    "vitals.analyze",
    "vitals.map",
    "vitals.flame",
    "vitals.regressions",
    "vitals.compare",
    "vitals.status",
];

/// The width views are drawn at: a file has no window to fit.
const WIDTH: usize = 120;

/// The most traces `vitals.traces` lists (each is fetched).
const MAX_LISTED: usize = 50;

/// A view to show: its file's name and its text.
pub struct View {
    pub name: String,
    pub text: String,
}

/// What a command asks of the server beyond its provider.
pub trait Context: Sync {
    /// A trace the server already holds.
    fn cached(&self, id: &str) -> Option<Arc<Trace>>;
    fn remember(&self, trace: Arc<Trace>);
    fn settings(&self) -> Settings;
    fn status(&self) -> StatusSnapshot;
}

pub async fn run(
    provider: &dyn TraceProvider,
    context: &dyn Context,
    command: &str,
    arguments: &[Value],
) -> Result<View> {
    match command {
        // `vitals.analyze {service}`: the report of the service's recent traces.
        "vitals.analyze" => {
            let (service, recent, settings) = recent_traces(provider, context, arguments, command).await?;
            let title = format!("{service}, last {}", settings.lookback);
            let annotated = off_thread(move || Annotated::of(recent, &settings)).await?;
            let drawn = report::render(&annotated.report, &title, WIDTH);
            let name = format!("analyze-{}.txt", file_safe(&service));
            Ok(View { name, text: format!("Vitals analysis: {title}\n\n{}", drawn.rendered.plain_text()) })
        }
        // `vitals.flame {service} [memory]`: the service's recent traces merged into one flame
        // graph, by self time or by allocated bytes.
        "vitals.flame" => {
            let weight = match arguments.get(1).map(text).as_deref().map(str::trim) {
                Some("memory") => Weight::Allocated,
                _ => Weight::SelfTime,
            };
            let (service, recent, settings) = recent_traces(provider, context, arguments, command).await?;
            let title = format!("{service}, last {}", settings.lookback);
            let drawn = {
                let (service, title) = (service.clone(), title.clone());
                off_thread(move || {
                    let traces = recent.iter().map(|t| &**t);
                    aggregate::profile(traces, Some(&service), weight, &title, WIDTH).1
                })
                .await?
            };
            let name = format!("flame-{}.txt", file_safe(&service));
            Ok(View { name, text: format!("Vitals flame graph: {title}\n\n{}", drawn.plain_text()) })
        }
        // `vitals.regressions [service] [window | --at TIME | --version A..B]`, as
        // :VitalsRegressions reads its words.
        "vitals.regressions" => {
            let words: Vec<String> = arguments.iter().map(text).collect();
            let args = RegressionArgs::from_words(&words)?;
            let report = regressions(provider, &args, &context.settings().regressions, now_ns()).await?;
            let drawn = off_thread(move || render::regressions::render(&report, WIDTH)).await?;
            let name = format!("regressions-{}.txt", file_safe(args.service.trim()));
            let title = format!("Vitals regressions: {}", args.service.trim());
            Ok(View { name, text: format!("{title}\n\n{}", drawn.rendered.plain_text()) })
        }
        // `vitals.compare {a} {b}`: two traces compared.
        "vitals.compare" => {
            let id = |i: usize| arguments.get(i).map(text).unwrap_or_default().trim().to_string();
            let (a, b) = (id(0), id(1));
            if a.is_empty() || b.is_empty() {
                return Err(Error::invalid("Which traces? e.g. vitals.compare {trace-a} {trace-b}"));
            }
            let (before, after) = futures::try_join!(trace(provider, context, &a), trace(provider, context, &b))?;
            let drawn =
                off_thread(move || compare::render(&analysis::compare::compare(&before, &after), WIDTH)).await?;
            let name = format!("compare-{}-{}.txt", file_safe(&a), file_safe(&b));
            Ok(View { name, text: format!("Vitals comparison\n\n{}", drawn.rendered.plain_text()) })
        }
        // `vitals.map [service]`: the service map of the `analyze` lookback.
        "vitals.map" => {
            let service = arguments.first().map(text).unwrap_or_default().trim().to_string();
            let settings = context.settings();
            let (lookback, limit) = (settings.analyze.lookback.clone(), settings.analyze.limit);
            let map = service_map(provider, &lookback, limit, settings.service_map.thresholds()).await?;
            let of =
                match service.as_str() {
                    "" => None,
                    name => Some(map.index(name).ok_or_else(|| {
                        Error::invalid(format!("No service {name:?} on the map of the last {lookback}"))
                    })?),
                };
            let text = off_thread(move || document::service_map(&map, of, WIDTH)).await?;
            let name = match service.as_str() {
                "" => "map.txt".to_string(),
                name => format!("map-{}.txt", file_safe(name)),
            };
            Ok(View { name, text: format!("Vitals service map: last {lookback}\n\n{text}") })
        }
        // `vitals.traces {id} {id} …`: a list of traces (those through a line of code), slowest first.
        "vitals.traces" => {
            let ids: Vec<String> =
                arguments.iter().map(|a| text(a).trim().to_string()).filter(|id| !id.is_empty()).collect();
            if ids.is_empty() {
                return Err(Error::invalid("Which traces? e.g. vitals.traces {trace-a} {trace-b}"));
            }
            let mut summaries = Vec::new();
            for id in ids.iter().take(MAX_LISTED) {
                summaries.push(TraceSummary::of(&*trace(provider, context, id).await?));
            }
            summaries.sort_by_key(|s| std::cmp::Reverse(s.duration_ns));
            let title = format!("Vitals: {} traces, slowest first", summaries.len());
            Ok(View { name: "traces.txt".to_string(), text: document::search(&title, &summaries, now_ns(), WIDTH) })
        }
        "vitals.status" => {
            let report = context.status().report(true)?;
            Ok(View { name: "status.txt".to_string(), text: status::render(&report, now_ns()).plain_text() })
        }
        // `vitals.trace {id} [span …]`
        "vitals.trace" => {
            let id = arguments.first().map(text).unwrap_or_default();
            let id = id.trim();
            if id.is_empty() {
                return Err(Error::invalid(
                    "Which trace? Give a trace id, e.g. vitals.trace 4bf92f3577b34da6a3ce929d0e0e4736",
                ));
            }
            let trace = trace(provider, context, id).await?;
            // Further arguments are spans to mark (the calls of an N+1).
            let marked: Vec<_> = arguments[1..].iter().filter_map(|span| trace.find_span(&text(span))).collect();
            Ok(View { name: format!("trace-{}.txt", file_safe(id)), text: document::trace(&trace, WIDTH, &marked) })
        }
        "vitals.search" => {
            let args = search_args(arguments)?;
            let (title, summaries) = search(provider, &args).await?;
            Ok(View { name: "search.txt".to_string(), text: document::search(&title, &summaries, now_ns(), WIDTH) })
        }
        other => Err(Error::invalid(format!("vitals lsp has no command {other:?}; it has {}", COMMANDS.join(", ")))),
    }
}

/// A trace by id: the one the server holds, else the provider's (then held).
async fn trace(provider: &dyn TraceProvider, context: &dyn Context, id: &str) -> Result<Arc<Trace>> {
    if let Some(trace) = context.cached(id) {
        return Ok(trace);
    }
    let trace = provider.trace(id).await?;
    context.remember(Arc::clone(&trace));
    Ok(trace)
}

/// The service a command names (its first argument) and its recent traces, as the
/// `analyze` option says, or the error that names the command.
async fn recent_traces(
    provider: &dyn TraceProvider,
    context: &dyn Context,
    arguments: &[Value],
    command: &str,
) -> Result<(String, Vec<Arc<Trace>>, AnalyzeSettings)> {
    let service = arguments.first().map(text).unwrap_or_default().trim().to_string();
    if service.is_empty() {
        return Err(Error::invalid(format!("Which service? e.g. {command} frontend")));
    }
    let settings = context.settings().analyze;
    let recent = traces_of(provider, std::slice::from_ref(&service), &settings.lookback, settings.limit).await?;
    if recent.is_empty() {
        return Err(Error::invalid(format!("No traces of {service} in the last {}", settings.lookback)));
    }
    Ok((service, recent, settings))
}

/// An argument as text: a string as it is, anything else as JSON.
fn text(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string())
}

/// A trace id as part of a file name: what is not a letter, digit, `-` or `_` becomes `_`.
fn file_safe(id: &str) -> String {
    id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// `vitals.search`'s arguments: one object (`{"service": "web", "min_duration": "1s"}`), or
/// the words of `:VitalsSearch` (`web GET 250ms 5 6h http.route=/cart error=true`).
fn search_args(arguments: &[Value]) -> Result<SearchArgs> {
    if let [object @ Value::Object(_)] = arguments {
        return serde_json::from_value(object.clone()).map_err(|e| {
            Error::invalid(format!("vitals.search: {e} (give service, operation, min_duration, limit, lookback)"))
        });
    }
    let words: Vec<String> = arguments.iter().map(text).collect();
    SearchArgs::from_words(&words).map_err(|e| Error::invalid(format!("vitals.search: {e}")))
}

/// Writes a view to its file under [`views_dir`].
pub fn write(view: &View) -> Result<PathBuf> {
    let path = views_dir()?.join(&view.name);
    std::fs::write(&path, &view.text).map_err(|source| Error::Io { path: path.clone(), source })?;
    Ok(path)
}

/// Where views are written: `views/` beside the log file, in the state directory.
pub fn views_dir() -> Result<PathBuf> {
    let log = crate::logging::log_file_path()
        .ok_or_else(|| Error::invalid("There is no state directory to write views in"))?;
    let dir = log.parent().map(|p| p.join("views")).unwrap_or_else(|| PathBuf::from("views"));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    Ok(dir)
}
