//! OTLP/HTTP: `POST /v1/traces` and `POST /v1/logs`, as every OpenTelemetry SDK can export.
//!
//! Per the OTLP specification: protobuf or JSON bodies, optionally gzip-compressed; the
//! answer is an `ExportTraceServiceResponse` (`ExportLogsServiceResponse`) in the
//! request's encoding, with `partial_success` naming spans (records) that were refused and why; 400 for undecodable bodies,
//! 413 past the size limit, 415 for other content types and encodings, 408 for a body
//! that does not arrive in time, and 503 with `Retry-After` when batches arrive faster
//! than they can be committed or the memory budget is spent. A 200 means the batch is on
//! disk.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;

use super::body::{self, Compression, Encoding};
use super::{Endpoint, Received, Refusal, Signal};
use crate::store::IngestReport;

pub(super) fn router(endpoint: Arc<Endpoint>) -> Router {
    // The body is read by hand (no size-limit layer), so that refusals carry an OTLP status.
    Router::new()
        .route("/v1/traces", post(|state, request| export(state, request, Signal::Traces)))
        .route("/v1/logs", post(|state, request| export(state, request, Signal::Logs)))
        .with_state(endpoint)
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
async fn export(State(endpoint): State<Arc<Endpoint>>, request: Request, signal: Signal) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let content_type = header_text(headers, header::CONTENT_TYPE).unwrap_or_default();
    let Some(encoding) = Encoding::from_content_type(content_type) else {
        let why =
            format!("Content-Type {content_type:?} is not supported; send application/x-protobuf or application/json");
        return refuse(&endpoint, Encoding::Json, Refusal::Unsupported(why));
    };
    let compression = match Compression::from_content_encoding(header_text(headers, header::CONTENT_ENCODING)) {
        Ok(compression) => compression,
        Err(refusal) => return refuse(&endpoint, encoding, refusal),
    };
    let max_body = endpoint.limits().max_body;
    let declared = header_text(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body as u64) {
        return refuse(&endpoint, encoding, Refusal::TooLarge { limit: max_body });
    }
    let mut reservation = endpoint.reserve();
    let bytes = match body::read(body, declared.map(|l| l as usize), max_body, &mut reservation).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refuse(&endpoint, encoding, refusal),
    };
    let received = Received { bytes, compression, payload: signal.payload(encoding) };
    match endpoint.take(received, reservation).await {
        Ok(report) => success(encoding, signal, &report),
        Err(refusal) => refuse(&endpoint, encoding, refusal),
    }
}

/// The OTLP answer to a stored batch, protobuf-encoded: partial success when the store
/// refused spans (records).
pub(super) fn answer(signal: Signal, report: &IngestReport) -> Vec<u8> {
    let rejected = (report.rejected > 0).then(|| (report.rejected as i64, report.reasons.join("; ")));
    match signal {
        Signal::Traces => ExportTraceServiceResponse {
            partial_success: rejected
                .map(|(rejected_spans, error_message)| ExportTracePartialSuccess { rejected_spans, error_message }),
        }
        .encode_to_vec(),
        Signal::Logs => ExportLogsServiceResponse {
            partial_success: rejected.map(|(rejected_log_records, error_message)| ExportLogsPartialSuccess {
                rejected_log_records,
                error_message,
            }),
        }
        .encode_to_vec(),
    }
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers a refused batch with its status, an OTLP `Status` body saying why, and
/// `Retry-After` where retrying can succeed.
fn refuse(endpoint: &Endpoint, encoding: Encoding, refusal: Refusal) -> Response {
    let status = refusal.http_status();
    endpoint.refused(&refusal, status.as_str());
    // The gRPC code the OTLP `Status` carries.
    let code = match refusal {
        Refusal::Busy { .. } => 8,                          // RESOURCE_EXHAUSTED
        Refusal::QueueFull | Refusal::Unavailable(_) => 14, // UNAVAILABLE
        Refusal::TimedOut => 4,                             // DEADLINE_EXCEEDED
        Refusal::Damaged(_) | Refusal::Failed(_) => 13,     // INTERNAL
        _ => 3,                                             // INVALID_ARGUMENT
    };
    let message = refusal.message();
    let body = match encoding {
        Encoding::Protobuf => RpcStatus { code, message }.encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code, "message": message }).to_string().into_bytes(),
    };
    let mut response = (status, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response();
    if refusal.is_transient() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn success(encoding: Encoding, signal: Signal, report: &IngestReport) -> Response {
    let body = match encoding {
        Encoding::Protobuf => answer(signal, report),
        Encoding::Json if report.rejected == 0 => b"{}".to_vec(),
        Encoding::Json => {
            let rejected = match signal {
                Signal::Traces => "rejectedSpans",
                Signal::Logs => "rejectedLogRecords",
            };
            serde_json::json!({
                "partialSuccess": { rejected: report.rejected.to_string(), "errorMessage": report.reasons.join("; ") }
            })
            .to_string()
            .into_bytes()
        }
    };
    (StatusCode::OK, [(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
}
