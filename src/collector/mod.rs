//! The OTLP/HTTP receiver: `POST /v1/traces`, as every OpenTelemetry SDK exports by
//! default, written into the [`Store`].
//!
//! Per the OTLP specification: protobuf or JSON bodies, optionally gzip-compressed; the
//! answer is an `ExportTraceServiceResponse` in the request's encoding, with
//! `partial_success` naming spans that were refused and why; 400 for undecodable bodies,
//! 413 past the size limit, 415 for other content types, and 503 with `Retry-After` when
//! batches arrive faster than they can be committed. A 200 means the batch is on disk.
//! Connections are bounded in time and number by the [`server`] the receiver runs on.

mod body;
pub mod server;
pub mod supervisor;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;
use tokio::sync::Semaphore;

pub use body::Encoding;
use body::Refusal;

use crate::providers::query::now_ns;
use crate::store::Store;

/// How much the receiver takes on before it refuses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Largest body accepted, compressed or not.
    pub max_body: usize,
    /// Batches being decoded or committed at once; past it, senders are told to retry.
    pub max_queued_batches: usize,
}

impl Default for Limits {
    /// 64 MiB bodies, 16 batches in flight.
    fn default() -> Self {
        Limits { max_body: 64 << 20, max_queued_batches: 16 }
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
    max_body: usize,
    queue: Semaphore,
    counters: Arc<Counters>,
}

pub fn router(store: Arc<Store>, limits: Limits, counters: Arc<Counters>) -> Router {
    let receiver = Arc::new(Receiver {
        store,
        max_body: limits.max_body,
        queue: Semaphore::new(limits.max_queued_batches),
        counters,
    });
    Router::new()
        .route("/v1/traces", post(export))
        // The limit is checked by hand, so that the 413 carries an OTLP status body.
        .layer(DefaultBodyLimit::disable())
        .with_state(receiver)
}

/// Serves on an already bound listener, with the default connection limits, until the
/// task is dropped.
pub async fn serve(listener: tokio::net::TcpListener, router: Router) -> std::io::Result<()> {
    server::serve(listener, router, server::ConnectionLimits::default()).await
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

async fn export(State(receiver): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        return receiver.refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Encoding::Json,
            format!("Content-Type {content_type:?} is not supported; send application/x-protobuf or application/json"),
        );
    };
    if body.len() > receiver.max_body {
        return receiver.refuse(StatusCode::PAYLOAD_TOO_LARGE, encoding, too_large(receiver.max_body));
    }
    let Ok(_permit) = receiver.queue.try_acquire() else {
        let mut response =
            receiver.refuse(StatusCode::SERVICE_UNAVAILABLE, encoding, "the trace store is busy; retry shortly".into());
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    let encoding_header = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_string);
    let max_body = receiver.max_body;
    let store = Arc::clone(&receiver.store);
    // Decompression, decoding and the commit are blocking work.
    let outcome = tokio::task::spawn_blocking(move || {
        let bytes = body::decompress(&body, encoding_header.as_deref(), max_body)?;
        let batch = body::decode(&bytes, encoding)?;
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
        Ok(Err(Refusal::TooLarge { limit })) => {
            receiver.refuse(StatusCode::PAYLOAD_TOO_LARGE, encoding, too_large(limit))
        }
        Ok(Err(Refusal::Unavailable(why))) => receiver.refuse(StatusCode::SERVICE_UNAVAILABLE, encoding, why),
        Ok(Err(Refusal::Undecodable(why))) => receiver.refuse(StatusCode::BAD_REQUEST, encoding, why),
        Err(e) => receiver.refuse(StatusCode::INTERNAL_SERVER_ERROR, encoding, format!("the receiver failed: {e}")),
    }
}

fn too_large(limit: usize) -> String {
    format!("the body is larger than {} MiB (after decompression too)", limit >> 20)
}

impl Receiver {
    fn refuse(&self, status: StatusCode, encoding: Encoding, message: String) -> Response {
        tracing::warn!(status = status.as_u16(), "refused a batch: {message}");
        self.counters.rejected_batches.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.counters.last_rejection.lock() {
            *last = Some(format!("{}: {message}", status.as_u16()));
        }
        let code = if status == StatusCode::SERVICE_UNAVAILABLE { 14 } else { 3 }; // UNAVAILABLE, INVALID_ARGUMENT
        let body = match encoding {
            Encoding::Protobuf => RpcStatus { code, message }.encode_to_vec(),
            Encoding::Json => serde_json::json!({ "code": code, "message": message }).to_string().into_bytes(),
        };
        (status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
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
