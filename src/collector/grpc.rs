//! OTLP/gRPC: `opentelemetry.proto.collector.trace.v1.TraceService/Export` (and
//! `logs.v1.LogsService/Export`), the default of most SDKs and of the Collector's `otlp`
//! exporter, over HTTP/2 on the [`server`].
//!
//! The one message of the call is read, decompressed (`grpc-encoding: gzip`, as the
//! Collector sends by default) and decoded by the same code as OTLP/HTTP's, under the same
//! size limit and the same memory budget, and answered once the batch is committed, with
//! the same partial success. tonic's server is not used for this: it reads a message whole
//! and undoes its gzip before a handler sees it, where the budget cannot bound what that
//! allocates (a 200 KB gzip body inflates to the size limit, for each of hundreds of
//! streams at once). tonic gives the statuses and `tonic-types` their `RetryInfo`.
//!
//! Refusals follow the OTLP specification: `INVALID_ARGUMENT` for a message that does not
//! decode, `RESOURCE_EXHAUSTED` for one past the size limit (not to be retried) or when
//! the memory budget is spent (with `RetryInfo`: retry), `UNAVAILABLE` with `RetryInfo`
//! when the queue of batches being committed is full or the store fails.
//!
//! [`server`]: super::server

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::body::{self, Compression, Encoding};
use super::budget::Reservation;
use super::{Endpoint, Received, Refusal, Signal, otlp_http};

/// The method's path.
pub(super) const EXPORT: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The logs method's path.
pub(super) const EXPORT_LOGS: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";
/// A message's prefix: its compressed flag and its length (big-endian u32).
const PREFIX: usize = 5;
/// How long a sender is told to wait before retrying a batch refused for now.
const RETRY_DELAY: Duration = Duration::from_secs(1);
/// The encodings a request may come in, as senders are told.
const ACCEPTED_ENCODINGS: &str = "identity,gzip";

pub(super) fn router(endpoint: Arc<Endpoint>) -> Router {
    Router::new()
        .route(EXPORT, post(|state, request| export(state, request, Signal::Traces)))
        .route(EXPORT_LOGS, post(|state, request| export(state, request, Signal::Logs)))
        .fallback(unknown_method)
        .with_state(endpoint)
}

async fn unknown_method(request: Request) -> Response {
    let path = request.uri().path();
    let why = format!("{path} is not a method of this server; it receives {EXPORT} and {EXPORT_LOGS}");
    answer_status(Status::unimplemented(why))
}

async fn export(State(endpoint): State<Arc<Endpoint>>, request: Request, signal: Signal) -> Response {
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !is_grpc(content_type) {
        // What gRPC prescribes for a request that is not gRPC: an HTTP status.
        let why = format!("Content-Type {content_type:?} is not gRPC; this port receives OTLP/gRPC");
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, why).into_response();
    }
    let compression = match grpc_encoding(&parts.headers) {
        Ok(compression) => compression,
        Err(refusal) => return refuse(&endpoint, refusal),
    };
    let mut reservation = endpoint.reserve();
    let message = match read_message(body, endpoint.limits().max_body, &mut reservation).await {
        Ok(message) => message,
        Err(refusal) => return refuse(&endpoint, refusal),
    };
    let compression = match (message.compressed, compression) {
        (false, _) => Compression::None,
        (true, Compression::Gzip) => Compression::Gzip,
        (true, Compression::None) => {
            let why = "the message is marked compressed but the call names no grpc-encoding".to_string();
            return refuse(&endpoint, Refusal::Undecodable(why));
        }
    };
    let received = Received { bytes: message.bytes, compression, payload: signal.payload(Encoding::Protobuf) };
    match endpoint.take(received, reservation).await {
        Ok(report) => reply(otlp_http::answer(signal, &report)),
        Err(refusal) => refuse(&endpoint, refusal),
    }
}

/// `application/grpc`, `application/grpc+proto`.
fn is_grpc(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/grpc" || essence == "application/grpc+proto"
}

fn grpc_encoding(headers: &HeaderMap) -> Result<Compression, Refusal> {
    let encoding = headers.get("grpc-encoding").map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    match encoding.as_deref() {
        None | Some("" | "identity") => Ok(Compression::None),
        Some("gzip") => Ok(Compression::Gzip),
        Some(other) => {
            Err(Refusal::Unsupported(format!("grpc-encoding {other:?} is not supported; send gzip or identity")))
        }
    }
}

/// The call's message as it arrived.
struct Message {
    bytes: Vec<u8>,
    compressed: bool,
}

/// Reads the call's one length-prefixed message. Its declared length is checked against
/// `limit` and reserved as soon as its prefix arrives, as a `Content-Length` is, so that a
/// message too large or too large for the budget now is refused before its bytes come.
async fn read_message(mut body: Body, limit: usize, reservation: &mut Reservation) -> Result<Message, Refusal> {
    let mut prefix = Vec::with_capacity(PREFIX);
    let mut bytes = Vec::new();
    let mut length = None;
    while let Some(mut data) = body::next_data(&mut body).await? {
        let expected = match length {
            Some(expected) => expected,
            None => {
                let head = data.split_to((PREFIX - prefix.len()).min(data.len()));
                prefix.extend_from_slice(&head);
                let Some(declared) = declared_length(&prefix) else { continue };
                if declared > limit {
                    return Err(Refusal::TooLarge { limit });
                }
                reservation.grow(declared)?;
                bytes.reserve_exact(declared);
                *length.insert(declared)
            }
        };
        if bytes.len() + data.len() > expected {
            return Err(Refusal::Undecodable("Export takes one message; more followed it".to_string()));
        }
        bytes.extend_from_slice(&data);
    }
    match length {
        Some(expected) if bytes.len() == expected => {}
        Some(expected) => {
            let why = format!("the message ended after {} of its {expected} bytes", bytes.len());
            return Err(Refusal::Undecodable(why));
        }
        None => return Err(Refusal::Undecodable("the call carries no message".to_string())),
    }
    let compressed = match prefix[0] {
        0 => false,
        1 => true,
        flag => return Err(Refusal::Undecodable(format!("the message's compressed flag is {flag}, not 0 or 1"))),
    };
    Ok(Message { bytes, compressed })
}

fn declared_length(prefix: &[u8]) -> Option<usize> {
    let length: [u8; 4] = prefix.get(1..PREFIX)?.try_into().ok()?;
    Some(u32::from_be_bytes(length) as usize)
}

/// A successful call: the response message, then `grpc-status: 0` in the trailers.
fn reply(encoded: Vec<u8>) -> Response {
    let mut framed = Vec::with_capacity(PREFIX + encoded.len());
    framed.push(0);
    framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    framed.extend_from_slice(&encoded);
    let mut trailers = HeaderMap::new();
    trailers.insert(HeaderName::from_static("grpc-status"), HeaderValue::from_static("0"));
    let body = Full::new(Bytes::from(framed)).with_trailers(async move { Some(Ok(trailers)) });
    let mut response = Response::new(Body::new(body));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    with_accepted_encodings(response)
}

/// Answers a refused call with its status, and `RetryInfo` where retrying can succeed.
fn refuse(endpoint: &Endpoint, refusal: Refusal) -> Response {
    let code = match &refusal {
        Refusal::TooLarge { .. } | Refusal::TooLargeToDecode { .. } | Refusal::Busy { .. } => Code::ResourceExhausted,
        Refusal::QueueFull | Refusal::Unavailable(_) => Code::Unavailable,
        Refusal::TimedOut => Code::DeadlineExceeded,
        Refusal::Unsupported(_) => Code::Unimplemented,
        Refusal::Undecodable(_) => Code::InvalidArgument,
        Refusal::Damaged(_) | Refusal::Failed(_) => Code::Internal,
    };
    endpoint.refused(&refusal, code_name(code));
    let status = match refusal.is_transient() {
        true => Status::with_error_details(code, refusal.message(), ErrorDetails::with_retry_info(Some(RETRY_DELAY))),
        false => Status::new(code, refusal.message()),
    };
    answer_status(status)
}

/// A refusal as gRPC sends it: the status in the headers of an empty response.
fn answer_status(status: Status) -> Response {
    with_accepted_encodings(status.into_http::<Body>())
}

fn with_accepted_encodings(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(HeaderName::from_static("grpc-accept-encoding"), HeaderValue::from_static(ACCEPTED_ENCODINGS));
    response
}

/// `RESOURCE_EXHAUSTED`: a code as the gRPC specification and logs spell it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::Unavailable => "UNAVAILABLE",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        _ => "INTERNAL",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types_and_encodings_are_recognized() {
        assert!(is_grpc("application/grpc") && is_grpc("application/grpc+proto; charset=utf-8"));
        assert!(!is_grpc("application/grpc+json") && !is_grpc("application/x-protobuf"));
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_encoding(&headers), Ok(Compression::None));
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        assert_eq!(grpc_encoding(&headers), Ok(Compression::Gzip));
        headers.insert("grpc-encoding", HeaderValue::from_static("zstd"));
        assert!(matches!(grpc_encoding(&headers), Err(Refusal::Unsupported(_))));
    }

    #[test]
    fn the_prefix_declares_the_length() {
        assert_eq!(declared_length(&[0, 0, 0, 1, 2]), Some(258));
        assert_eq!(declared_length(&[1, 0, 0]), None);
    }
}
