//! The terminal front door: `vitals view`, `vitals search`, `vitals trace`, `vitals tail`
//! and the rest. Output goes to stdout here, and only here; every other front door keeps
//! stdout for its protocol.

mod analyze;
mod args;
mod baseline;
mod demo;
mod diff;
mod export;
mod flame;
mod map;
mod on_alert;
mod regressions;
mod serve;
mod store;
mod tail;
mod trends;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

pub use args::{Cli, Command, McpFlags, ProviderFlags};

use crate::analysis::TraceSummary;
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::providers::links::{Bounds, linked_traces};
use crate::providers::{self, file::load_path};
use crate::query::{SearchArgs, now_ns};
use crate::render::{self, Picture, StyledLine, View, ansi, summary_line};

/// Runs a terminal command; errors go to stderr and make the exit status 1.
pub fn run(command: Command) -> ExitCode {
    let outcome = match command {
        Command::View { file, view, width, trace, span, critical_path } => {
            view_file(&file, Drawn { view, width, critical_path }, trace.as_deref(), span.as_deref())
        }
        Command::Search { provider, search, json } => block_on(search_command(provider, search.into(), json)),
        Command::Export { provider, ids, format, output, force, linked } => {
            block_on(export::export(provider, ids, format, output, export::Written { force, linked }))
        }
        Command::Trace { provider, id, view, width, critical_path } => {
            block_on(trace_command(provider, id, Drawn { view, width, critical_path }))
        }
        Command::Transaction { provider, id, depth, max_traces, width } => {
            block_on(transaction_command(provider, id, Bounds { depth, max_traces }, width))
        }
        Command::Logs { provider, words, width } => block_on(logs_command(provider, words, width)),
        Command::Analyze(flags) => analyze::analyze(flags),
        Command::Flame(flags) => flame::flame(flags),
        Command::Diff(flags) => block_on(diff::diff(flags)),
        Command::Regressions(flags) => block_on(regressions::regressions(flags)),
        Command::Trends(flags) => block_on(trends::trends(flags)),
        Command::Baseline(flags) => block_on(baseline::baseline(flags)),
        Command::Map(flags) => map::map(flags),
        Command::Tail(flags) => block_on(tail::tail(flags)),
        Command::Serve(flags) => block_on(serve::serve(flags)),
        Command::Demo(flags) => block_on(demo::demo(flags)),
        Command::Store(flags) => return store::run(flags),
        Command::Nvim | Command::Lsp | Command::Mcp(_) => {
            unreachable!("the editor front doors are not terminal commands")
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vitals: {e}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(future: impl Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::invalid(format!("cannot start the async runtime: {e}")))?
        .block_on(future)
}

/// How the terminal commands were asked to draw a trace; the width defaults to the
/// terminal's.
struct Drawn {
    pub view: View,
    pub width: Option<usize>,
    pub critical_path: bool,
}

fn view_file(path: &Path, drawn: Drawn, trace_id: Option<&str>, span: Option<&str>) -> Result<()> {
    let traces = load_path(path)?;
    let trace = pick_trace(traces, trace_id, path)?;
    print_trace(&trace, drawn, span)
}

/// The traces of a file or folder, only those `service` takes part in when given.
fn load_traces_of(path: &Path, service: Option<&str>) -> Result<Vec<Trace>> {
    let mut traces = load_path(path)?;
    if let Some(service) = service {
        traces.retain(|t| t.spans.iter().any(|s| s.service() == service));
        if traces.is_empty() {
            return Err(Error::invalid(format!("no trace in {} involves the service {service:?}", path.display())));
        }
    }
    Ok(traces)
}

/// The trace a user asked for, or the first; the others are named on stderr.
fn pick_trace(traces: Vec<Trace>, wanted: Option<&str>, path: &Path) -> Result<Trace> {
    let count = traces.len();
    match wanted {
        Some(id) => {
            let (wanted, _) = crate::model::TraceId::from_text(id);
            traces
                .into_iter()
                .find(|t| t.id == wanted)
                .ok_or_else(|| Error::NotFound { what: format!("trace {id}"), source_name: path.display().to_string() })
        }
        None => {
            if count > 1 {
                eprintln!("{} holds {count} traces; showing the first (pick another with --trace ID):", path.display());
                let summaries: Vec<TraceSummary> = traces.iter().map(TraceSummary::of).collect();
                for (trace, label) in
                    traces.iter().zip(summary_line::lines(&summaries, now_ns(), terminal_width().saturating_sub(2)))
                {
                    eprintln!("  {label}");
                    eprintln!("    {}", trace.id);
                }
            }
            traces.into_iter().next().ok_or_else(|| Error::invalid(format!("{} holds no traces", path.display())))
        }
    }
}

fn print_trace(trace: &Trace, drawn: Drawn, span: Option<&str>) -> Result<()> {
    let width = drawn.width.unwrap_or_else(terminal_width);
    let rendered = match span {
        Some(id) => {
            let index = trace.find_span(id).ok_or_else(|| Error::NotFound {
                what: format!("span {id}"),
                source_name: format!("trace {}", trace.id),
            })?;
            render::detail::render(trace, index, &[], width).rendered
        }
        None => render::render_trace(
            trace,
            &Picture { critical_path: drawn.critical_path, ..Picture::new(drawn.view, width) },
        ),
    };
    print_lines(&rendered.lines)
}

/// Styled lines on stdout: coloured on a terminal, plain text into a pipe or file.
fn print_lines(lines: &[StyledLine]) -> Result<()> {
    write_stdout(&ansi::to_terminal(lines, std::io::stdout().is_terminal()))
}

/// One value as pretty JSON on stdout (the `--json` of every command), written as it is
/// serialized: a big report or comparison is never held as text too.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .and_then(|()| out.write_all(b"\n").and_then(|()| out.flush()).map_err(serde_json::Error::io));
    match written {
        // A closed pipe (`vitals analyze --json … | head`) is not an error worth reporting.
        Err(e) if !e.is_io() => Err(Error::invalid(e.to_string())),
        _ => Ok(()),
    }
}

/// Leaves `value` to the end of the process instead of freeing it: the command is done
/// with it and exits next, and the system takes the memory back at once, while freeing a
/// decoded trace piece by piece costs more than a tenth of a second at 100,000 spans.
fn keep_until_exit<T>(value: T) {
    std::mem::forget(value);
}

pub(super) fn terminal_width() -> usize {
    terminal_size::terminal_size().map(|(w, _)| w.0 as usize).unwrap_or(120)
}

fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`vitals view … | head`) is not an error worth reporting.
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
    Ok(())
}

async fn search_command(flags: ProviderFlags, args: SearchArgs, json: bool) -> Result<()> {
    let provider = providers::from_config(&flags.to_config())?;
    let query = args.to_query()?;
    let listed = provider.search_list(&query).await?;
    let summaries: Vec<TraceSummary> = listed.into_iter().map(|l| l.summary).collect();
    if json {
        return print_json(&summaries);
    }
    if summaries.is_empty() {
        let what = query.traceql.as_deref().map_or_else(|| format!("of {}", query.service), |q| format!("for {q}"));
        eprintln!("No traces {what} match in {}", provider.describe());
        return Ok(());
    }
    let labels = summary_line::lines(&summaries, now_ns(), terminal_width().saturating_sub(34));
    let lines: String = summaries.iter().zip(labels).map(|(s, label)| format!("{}  {label}\n", s.trace_id)).collect();
    write_stdout(&lines)
}

async fn transaction_command(flags: ProviderFlags, id: String, bounds: Bounds, width: Option<usize>) -> Result<()> {
    let provider = providers::from_config(&flags.to_config())?;
    let transaction = linked_traces(&*provider, &id, bounds).await?.stitch();
    let width = width.unwrap_or_else(terminal_width);
    let picture = Picture { handoffs: transaction.handoffs, ..Picture::new(View::Waterfall, width) };
    print_lines(&render::render_trace(&transaction.trace, &picture).lines)
}

async fn logs_command(flags: ProviderFlags, words: Vec<String>, width: Option<usize>) -> Result<()> {
    let provider = providers::from_config(&flags.to_config())?;
    let query = crate::query::LogQuery::parse(&words, crate::query::now_ns())?;
    let found = crate::session::logs::search(&*provider, query).await?;
    let width = width.unwrap_or_else(terminal_width);
    let (rendered, _) = render::logs::list(&found, width, tail::local_utc_offset());
    print_lines(&rendered.lines)
}

async fn trace_command(flags: ProviderFlags, id: String, drawn: Drawn) -> Result<()> {
    let provider = providers::from_config(&flags.to_config())?;
    let trace = provider.trace(&id).await?;
    print_trace(&trace, drawn, None)
}
