//! Zipkin v2: `POST /api/v2/spans` with a JSON span array, as Zipkin's own clients (Brave,
//! zipkin-js, zipkin-go) and OpenTelemetry's Zipkin exporters send it; gzip accepted.
//!
//! The spans are decoded by the formats layer's Zipkin decoder (shared client/server span
//! ids, clock skew, annotations, endpoints) and stored as OTLP, through the same limits,
//! budget and queue as the OTLP receivers. Answers are Zipkin's: 202 once the batch is
//! committed, a plain-text reason otherwise (400, 413, 415, 408, or 503 with
//! `Retry-After`).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

use super::body::{self, Compression, Payload};
use super::{Endpoint, Received, Refusal};

pub(super) fn router(endpoint: Arc<Endpoint>) -> Router {
    Router::new().route("/api/v2/spans", post(spans)).with_state(endpoint)
}

async fn spans(State(endpoint): State<Arc<Endpoint>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let text = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Err(refusal) = check_content_type(text(header::CONTENT_TYPE)) {
        return refuse(&endpoint, refusal);
    }
    let compression = match Compression::from_content_encoding(text(header::CONTENT_ENCODING)) {
        Ok(compression) => compression,
        Err(refusal) => return refuse(&endpoint, refusal),
    };
    let max_body = endpoint.limits().max_body;
    let declared = text(header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max_body as u64) {
        return refuse(&endpoint, Refusal::TooLarge { limit: max_body });
    }
    let mut reservation = endpoint.reserve();
    let bytes = match body::read(body, declared.map(|l| l as usize), max_body, &mut reservation).await {
        Ok(bytes) => bytes,
        Err(refusal) => return refuse(&endpoint, refusal),
    };
    match endpoint.take(Received { bytes, compression, payload: Payload::ZipkinJson }, reservation).await {
        Ok(report) => {
            if report.rejected > 0 {
                // Zipkin's API has no partial success: the sender learns nothing more from a 400.
                tracing::warn!("Zipkin: {} spans refused: {}", report.rejected, report.reasons.join("; "));
            }
            StatusCode::ACCEPTED.into_response()
        }
        Err(refusal) => refuse(&endpoint, refusal),
    }
}

/// JSON, or no type at all (Zipkin takes JSON then); its protobuf encoding is not read.
fn check_content_type(value: Option<&str>) -> Result<(), Refusal> {
    let essence = value.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "" | "application/json" => Ok(()),
        _ => Err(Refusal::Unsupported(format!(
            "Content-Type {:?} is not supported; send Zipkin v2 JSON (application/json)",
            value.unwrap_or_default()
        ))),
    }
}

fn refuse(endpoint: &Endpoint, refusal: Refusal) -> Response {
    let status = refusal.http_status();
    endpoint.refused(&refusal, status.as_str());
    let mut response = (status, refusal.message()).into_response();
    if refusal.is_transient() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_or_no_type_is_read_and_protobuf_is_refused() {
        assert!(check_content_type(None).is_ok());
        assert!(check_content_type(Some("application/json; charset=utf-8")).is_ok());
        assert!(matches!(check_content_type(Some("application/x-protobuf")), Err(Refusal::Unsupported(_))));
    }
}
