//! The OTLP/HTTP receiver: `POST /v1/traces`, as every OpenTelemetry SDK exports by
//! default, written into the [`Store`].
//!
//! Per the OTLP specification: protobuf or JSON bodies, optionally gzip-compressed; the
//! answer is an `ExportTraceServiceResponse` in the request's encoding, with
//! `partial_success` naming spans that were refused and why; 400 for undecodable bodies,
//! 413 past the size limit, 415 for other content types and encodings, 408 for a body
//! that does not arrive in time, and 503 with `Retry-After` when batches arrive faster
//! than they can be committed or the memory budget is spent. A 200 means the batch is on
//! disk.
//!
//! What a request may cost is bounded before it is spent: the headers are checked before
//! the body is read, the body is read (and decompressed) under a running limit, and all
//! requests in flight share one memory budget ([`budget`]) that also counts what decoding
//! will allocate ([`decoded_size`]). Connections are bounded in time and number by the
//! [`server`] the receiver runs on.

mod body;
pub mod budget;
pub mod decoded_size;
pub mod server;
pub mod supervisor;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tokio::sync::Semaphore;

pub use body::Encoding;
use body::{Compression, Refusal};
use budget::MemoryBudget;
use server::ConnectionLimits;

use crate::query::now_ns;
use crate::store::Store;

/// How much the receiver takes on before it refuses.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest body accepted, compressed or not.
    pub max_body: usize,
    /// Batches being decoded or committed at once; past it, senders are told to retry.
    pub max_queued_batches: usize,
    /// The memory all requests in flight may hold together. Clones share it: give every
    /// receiver of a process a clone of one `Limits`.
    pub memory: MemoryBudget,
}

/// The largest body by default: SDKs send batches of ~512 spans, a few hundred KB.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;
/// The memory budget of a process's receivers by default.
pub const DEFAULT_MEMORY: usize = 128 << 20;

impl Default for Limits {
    /// 16 MiB bodies, 16 batches in flight, 128 MiB for all requests in flight.
    fn default() -> Self {
        Limits { max_body: DEFAULT_MAX_BODY, max_queued_batches: 16, memory: MemoryBudget::new(DEFAULT_MEMORY) }
    }
}

/// What the receiver has seen, for status views.
#[derive(Debug, Default)]
pub struct Counters {
    pub batches: AtomicU64,
    pub spans: AtomicU64,
    pub rejected_batches: AtomicU64,
    pub last_batch_ns: AtomicU64,
    pub last_rejection: std::sync::Mutex<Option<String>>,
}

struct Receiver {
    store: Arc<Store>,
    limits: Limits,
    queue: Semaphore,
    counters: Arc<Counters>,
}

pub fn router(store: Arc<Store>, limits: Limits, counters: Arc<Counters>) -> Router {
    let queue = Semaphore::new(limits.max_queued_batches);
    let receiver = Arc::new(Receiver { store, limits, queue, counters });
    // The body is read by hand (no size-limit layer), so that refusals carry an OTLP status.
    Router::new().route("/v1/traces", post(export)).with_state(receiver)
}

/// Serves on an already bound listener, with the default connection limits, until the
/// task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    server::serve(listener, router, ConnectionLimits::default()).await
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// `google.rpc.Status`, the body OTLP/HTTP prescribes for failures.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// Receives one batch. Everything that can be refused from the headers (content type,
/// encoding, declared length) is refused before a byte of the body is read.
async fn export(State(receiver): State<Arc<Receiver>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let content_type = header_text(headers, header::CONTENT_TYPE).unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        let why =
            format!("Content-Type {content_type:?} is not supported; send application/x-protobuf or application/json");
        return receiver.refuse(Encoding::Json, Refusal::Unsupported(why));
    };
    let compression = match Compression::from_content_encoding(header_text(headers, header::CONTENT_ENCODING)) {
        Ok(compression) => compression,
        Err(refusal) => return receiver.refuse(encoding, refusal),
    };
    let max_body = receiver.limits.max_body;
    let declared = header_text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body as u64) {
        return receiver.refuse(encoding, Refusal::TooLarge { limit: max_body });
    }
    let mut reservation = receiver.limits.memory.reserve();
    let raw = match body::read(body, declared.map(|l| l as usize), max_body, &mut reservation).await {
        Ok(raw) => raw,
        Err(refusal) => return receiver.refuse(encoding, refusal),
    };
    let Ok(_permit) = receiver.queue.try_acquire() else {
        return receiver.refuse(encoding, Refusal::Unavailable("the trace store is busy; retry shortly".into()));
    };
    let store = Arc::clone(&receiver.store);
    // Decompression, decoding and the commit are blocking work.
    let outcome = tokio::task::spawn_blocking(move || {
        let bytes = body::decompress(raw, compression, max_body, &mut reservation)?;
        let batch = body::decode(&bytes, encoding, &mut reservation)?;
        // The reservation of the bytes stays: it stands for the rows the store encodes.
        drop(bytes);
        store.ingest(batch, now_ns()).map_err(|e| Refusal::Unavailable(format!("storing failed: {e}")))
    })
    .await;
    match outcome {
        Ok(Ok(report)) => {
            let counters = &receiver.counters;
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters.spans.fetch_add(report.accepted as u64, Ordering::Relaxed);
            counters.last_batch_ns.store(now_ns(), Ordering::Relaxed);
            let partial_success = (report.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: report.rejected as i64,
                error_message: report.reasons.join("; "),
            });
            success(encoding, ExportTraceServiceResponse { partial_success })
        }
        Ok(Err(refusal)) => receiver.refuse(encoding, refusal),
        Err(e) => receiver.answer_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            encoding,
            13, // INTERNAL
            format!("the receiver failed: {e}"),
        ),
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64).replace(".0 ", " ")
}

impl Receiver {
    /// Answers a refused batch with its status, an OTLP `Status` body saying why, and
    /// `Retry-After` where retrying can succeed.
    fn refuse(&self, encoding: Encoding, refusal: Refusal) -> Response {
        // gRPC codes: INVALID_ARGUMENT, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE.
        let (status, code, message) = match refusal {
            Refusal::TooLarge { limit } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                3,
                format!("the body is larger than {} (after decompression too)", mib(limit)),
            ),
            Refusal::TooLargeToDecode { needed, largest } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                3,
                format!(
                    "decoding this batch would take up to {}, more than the {} one batch may hold; send smaller batches",
                    mib(needed),
                    mib(largest)
                ),
            ),
            Refusal::Busy => (
                StatusCode::SERVICE_UNAVAILABLE,
                8,
                format!(
                    "the receiver is at its memory limit ({} for batches in flight); retry shortly",
                    mib(self.limits.memory.total())
                ),
            ),
            Refusal::TimedOut => (StatusCode::REQUEST_TIMEOUT, 4, "the body did not arrive in time".to_string()),
            Refusal::Unsupported(why) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, 3, why),
            Refusal::Undecodable(why) => (StatusCode::BAD_REQUEST, 3, why),
            Refusal::Unavailable(why) => (StatusCode::SERVICE_UNAVAILABLE, 14, why),
        };
        self.answer_error(status, encoding, code, message)
    }

    fn answer_error(&self, status: StatusCode, encoding: Encoding, code: i32, message: String) -> Response {
        tracing::warn!(status = status.as_u16(), "refused a batch: {message}");
        self.counters.rejected_batches.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.counters.last_rejection.lock() {
            *last = Some(format!("{}: {message}", status.as_u16()));
        }
        let body = match encoding {
            Encoding::Protobuf => RpcStatus { code, message }.encode_to_vec(),
            Encoding::Json => serde_json::json!({ "code": code, "message": message }).to_string().into_bytes(),
        };
        let mut response = (status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

fn success(encoding: Encoding, response: ExportTraceServiceResponse) -> Response {
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json => match response.partial_success {
            Some(p) => serde_json::json!({
                "partialSuccess": { "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message }
            }),
            None => serde_json::json!({}),
        }
        .to_string()
        .into_bytes(),
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}
