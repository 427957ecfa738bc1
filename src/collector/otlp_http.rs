//! OTLP/HTTP: `POST /v1/traces`, as every OpenTelemetry SDK can export.
//!
//! Per the OTLP specification: protobuf or JSON bodies, optionally gzip-compressed; the
//! answer is an `ExportTraceServiceResponse` in the request's encoding, with
//! `partial_success` naming spans that were refused and why; 400 for undecodable bodies,
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
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use prost::Message;

use super::body::{self, Compression, Encoding, Payload};
use super::{Endpoint, Received, Refusal};
use crate::store::IngestReport;

pub(super) fn router(endpoint: Arc<Endpoint>) -> Router {
    // The body is read by hand (no size-limit layer), so that refusals carry an OTLP status.
    Router::new().route("/v1/traces", post(export)).with_state(endpoint)
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
async fn export(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
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
    let received = Received { bytes, compression, payload: Payload::Otlp(encoding) };
    match endpoint.take(received, reservation).await {
        Ok(report) => success(encoding, answer(&report)),
        Err(refusal) => refuse(&endpoint, encoding, refusal),
    }
}

/// The OTLP answer to a stored batch: partial success when the store refused spans.
pub(super) fn answer(report: &IngestReport) -> ExportTraceServiceResponse {
    let partial_success = (report.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: report.rejected as i64,
        error_message: report.reasons.join("; "),
    });
    ExportTraceServiceResponse { partial_success }
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
