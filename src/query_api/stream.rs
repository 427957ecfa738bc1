//! Traces written out as Jaeger JSON piece by piece: a trace of a million spans is sent
//! as it is encoded, a span at a time, instead of becoming one JSON tree and one buffer
//! (which took 3.85 GB for a 1M-span trace). At most `max_spans` spans of a trace are
//! served; a larger trace is cut in tree order (its roots and whole subtrees first) and
//! says so in its `warnings`.

use std::io::{self, Write};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::formats::jaeger_encode::{self, Processes};
use crate::model::{Span, Trace};

/// How much is encoded before it is handed to the connection.
const CHUNK: usize = 64 << 10;
/// Chunks encoded ahead of the client.
const CHUNKS_AHEAD: usize = 4;

/// Jaeger's envelope `{"data": [trace, …], "total": n, …}`, streamed.
pub fn traces(traces: Vec<Arc<Trace>>, max_spans: usize) -> Response {
    let (sender, mut receiver) = mpsc::channel::<io::Result<Bytes>>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut out = Chunks { buffer: Vec::with_capacity(CHUNK), sender };
        let written = envelope(&mut out, &traces, max_spans).and_then(|()| out.send());
        if let Err(e) = written
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            // The client sees the response end in an error instead of a cut JSON.
            let _ = out.sender.blocking_send(Err(e));
        }
    });
    let body = Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn envelope(out: &mut Chunks, traces: &[Arc<Trace>], max_spans: usize) -> io::Result<()> {
    out.write_all(b"{\"data\":[")?;
    for (i, trace) in traces.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        trace_json(out, trace, max_spans)?;
    }
    write!(out, "],\"total\":{},\"limit\":0,\"offset\":0,\"errors\":null}}", traces.len())
}

/// One trace as `jaeger_encode::trace` writes it, span by span.
fn trace_json(out: &mut Chunks, trace: &Trace, max_spans: usize) -> io::Result<()> {
    // In tree order, from the root: a cut keeps the top of the tree whole.
    let cut = trace.spans.len() > max_spans;
    let served: Vec<&Span> = trace.tree.preorder().take(max_spans).map(|i| &trace.spans[i]).collect();
    let trace_id = trace.id.to_string();
    let processes = Processes::of(served.iter().copied());
    out.write_all(b"{\"traceID\":")?;
    serde_json::to_writer(&mut *out, &trace_id)?;
    out.write_all(b",\"spans\":[")?;
    let cut_warning = cut.then(|| {
        format!(
            "the trace has {} spans; the first {max_spans} in tree order are shown (the query API's limit, vitals serve --query-max-spans)",
            trace.spans.len()
        )
    });
    // Cut here or already by the store, the first span says so: Jaeger UI shows span warnings.
    let warnings: Vec<&String> = cut_warning.iter().chain(&trace.warnings).collect();
    for (i, span) in served.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        let mut json = jaeger_encode::span(&trace_id, span, &processes.id_of(span));
        if i == 0 && !warnings.is_empty() {
            json["warnings"] = serde_json::json!(warnings);
        }
        serde_json::to_writer(&mut *out, &json)?;
    }
    out.write_all(b"],\"processes\":")?;
    serde_json::to_writer(&mut *out, &processes.to_json())?;
    out.write_all(b",\"warnings\":")?;
    if warnings.is_empty() {
        out.write_all(b"null")?
    } else {
        serde_json::to_writer(&mut *out, &warnings)?
    }
    out.write_all(b"}")
}

/// Bytes gathered into chunks and handed to the response as each fills; the client going
/// away is a `BrokenPipe` that stops the encoding.
struct Chunks {
    buffer: Vec<u8>,
    sender: mpsc::Sender<io::Result<Bytes>>,
}

impl Chunks {
    fn send(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.sender
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
