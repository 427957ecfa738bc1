//! `vitals demo`: the embedded default end to end in one command. Starts a receiver and a
//! store, sends a demo shop's traces to it over OTLP/HTTP as an application's SDK would,
//! then searches the store and draws the slowest trace.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use prost::Message;

use super::args::DemoFlags;
use super::{Drawn, print_trace, write_stdout};
use crate::analysis::TraceSummary;
use crate::collector::server::ConnectionLimits;
use crate::collector::{self, Counters, Intake, Limits, Protocol};
use crate::error::{Error, Result};
use crate::formats::{self, otlp_encode};
use crate::providers::TraceProvider;
use crate::providers::otlp::OtlpProvider;
use crate::query::{SearchQuery, now_ns};
use crate::render::{View, summary_line};
use crate::store::{Retention, Store};

/// The demo shop's traces (the repository's `samples/shop-traces.json`), built in so the
/// demo works from an installed binary too.
const SAMPLE: &[u8] = include_bytes!("../../samples/shop-traces.json");

pub async fn demo(flags: DemoFlags) -> Result<()> {
    // Bound before the store, so dropped after it: the folder goes once the store is closed.
    let (path, _folder) = match flags.db {
        Some(db) => (db, None),
        None => {
            let folder = DemoFolder::new()?;
            (folder.path.join("traces.db"), Some(folder))
        }
    };
    let store = Arc::new(Store::open(&path, Retention::default())?);
    let listener = collector::bind(([127, 0, 0, 1], 0).into())
        .await
        .map_err(|e| Error::invalid(format!("cannot open a local port for the demo receiver: {e}")))?;
    let url = format!("http://{}/v1/traces", listener.local_addr().map_err(|e| Error::invalid(e.to_string()))?);
    let intake = Intake::new(Arc::clone(&store), Limits::default());
    let counters = Arc::new(Counters::default());
    tokio::spawn(
        async move { intake.serve(Protocol::OtlpHttp, listener, counters, ConnectionLimits::default()).await },
    );
    eprintln!("vitals demo: receiving OTLP/HTTP on {url} into {}", path.display());

    // Move the recorded shop traffic to the last minutes, then send it trace by trace.
    let traces = formats::decode(SAMPLE)?;
    let newest_end = traces.iter().map(|t| t.end_ns()).max().unwrap_or(0);
    let shift = now_ns() as i128 - newest_end as i128 - 1_000_000_000;
    let client = reqwest::Client::new();
    for trace in &traces {
        let body = otlp_encode::export_request(std::slice::from_ref(trace), shift).encode_to_vec();
        let response = client
            .post(&url)
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await
            .map_err(|e| Error::invalid(format!("the demo could not send to its receiver: {e}")))?;
        if !response.status().is_success() {
            return Err(Error::invalid(format!("the receiver refused a demo trace: {}", response.status())));
        }
    }
    let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    eprintln!("sent {} traces ({spans} spans) of a demo shop as OTLP/HTTP protobuf; all acknowledged\n", traces.len());

    let provider = OtlpProvider::new(store);
    let found = provider.search(&SearchQuery::new("frontend")).await?;
    let now = now_ns();
    let mut listing = String::from("Traces of frontend in the store, newest first:\n");
    let summaries: Vec<TraceSummary> = found.iter().map(|t| TraceSummary::of(t)).collect();
    for (trace, label) in
        found.iter().zip(summary_line::lines(&summaries, now, super::terminal_width().saturating_sub(36)))
    {
        listing.push_str(&format!("  {}  {label}\n", trace.id));
    }
    listing.push_str("\nThe slowest, as a flame graph with its critical path marked:\n\n");
    write_stdout(&listing)?;
    let slowest =
        found.iter().max_by_key(|t| t.duration_ns()).ok_or_else(|| Error::invalid("the demo found no traces"))?;
    print_trace(slowest, Drawn { view: View::Flame, width: flags.width, critical_path: true }, None)?;
    eprintln!(
        "\nNext: in Neovim the plugin receives OTLP/gRPC on 127.0.0.1:4317 and OTLP/HTTP on\n\
         127.0.0.1:4318 by itself (or run `vitals serve`); your application's OpenTelemetry\n\
         exporter sends there by default. Then use :VitalsSearch."
    );
    Ok(())
}

/// The demo's store folder, `vitals-demo-<pid>` in the temporary directory, removed
/// however the demo ends: when it returns or fails (drop), and on Ctrl-C or SIGTERM, by a
/// task that removes it and exits, because the main thread may be blocked writing to a
/// pipe nobody reads.
struct DemoFolder {
    path: PathBuf,
}

impl DemoFolder {
    fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("vitals-demo-{}", std::process::id()));
        // Listening before the folder exists: a signal at any later moment finds it.
        let interrupted = interruption()
            .map_err(|e| Error::invalid(format!("cannot listen for Ctrl-C to clean up after the demo: {e}")))?;
        let removed = path.clone();
        tokio::spawn(async move {
            let code = interrupted.await;
            let _ = std::fs::remove_dir_all(&removed);
            std::process::exit(code);
        });
        Ok(DemoFolder { path })
    }
}

impl Drop for DemoFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Listens for Ctrl-C (and SIGTERM) from now on; resolves to the exit status a shell
/// expects after that signal.
fn interruption() -> std::io::Result<impl Future<Output = i32>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (mut interrupt, mut terminate) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => 130,
                _ = terminate.recv() => 143,
            }
        })
    }
    #[cfg(not(unix))]
    {
        let mut interrupt = tokio::signal::windows::ctrl_c()?;
        Ok(async move {
            interrupt.recv().await;
            130
        })
    }
}
