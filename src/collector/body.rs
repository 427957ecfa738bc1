//! Turning a request body into OTLP messages without ever holding more than the limits
//! allow, for every receiver: the body is read under a running size limit, gzip is undone
//! under the same limit, and every byte held (the body, its decompression, the bound of
//! its decoded form) is first reserved from the memory budget. A refusal stops reading at
//! once.

use std::io::Read;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::logs::v1::ResourceLogs;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

use super::budget::{Reservation, Shortfall};
use super::decoded_size;
use super::refusal::Refusal;
use super::server::BodyTimedOut;
use crate::formats::{otlp_encode, otlp_json, otlp_logs, zipkin};
use crate::store::PreparedSpans;

/// The smallest buffer a body of unknown length starts with.
const FIRST_CAPACITY: usize = 64 << 10;
/// How much is decompressed between two checks of the limit and the budget.
const INFLATE_STEP: usize = 256 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    /// Reads the `Content-Type` header; parameters such as `charset` are ignored.
    pub fn from_content_type(value: &str) -> Option<Encoding> {
        match value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "application/x-protobuf" | "application/protobuf" => Some(Encoding::Protobuf),
            "application/json" => Some(Encoding::Json),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// The body's `Content-Encoding`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

impl Compression {
    pub fn from_content_encoding(value: Option<&str>) -> Result<Compression, Refusal> {
        match value.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
            None | Some("" | "identity") => Ok(Compression::None),
            Some("gzip") => Ok(Compression::Gzip),
            Some(other) => {
                Err(Refusal::Unsupported(format!("Content-Encoding {other:?} is not supported; send gzip or none")))
            }
        }
    }
}

impl From<Shortfall> for Refusal {
    fn from(shortfall: Shortfall) -> Refusal {
        match shortfall {
            Shortfall::Exhausted { budget } => Refusal::Busy { budget },
            Shortfall::NeverFits { largest } => Refusal::TooLarge { limit: largest },
        }
    }
}

/// What a received body holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// An OTLP `ExportTraceServiceRequest`.
    Otlp(Encoding),
    /// An OTLP `ExportLogsServiceRequest`.
    OtlpLogs(Encoding),
    /// A Zipkin v2 JSON span array.
    ZipkinJson,
}

/// Reads the body, never past `limit` bytes. `declared` is its `Content-Length`, already
/// checked against the limit: it is reserved at once, so a body too large for the budget
/// now is refused before a byte of it is read.
pub async fn read(
    body: Body,
    declared: Option<usize>,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    let mut buffer = Vec::new();
    if let Some(length) = declared {
        reservation.grow(length)?;
        buffer.reserve_exact(length);
    }
    let mut body = body;
    while let Some(data) = next_data(&mut body).await? {
        append(&mut buffer, &data, limit, reservation)?;
    }
    Ok(buffer)
}

/// The next piece of the body's data, skipping other frames (trailers); `None` at its end.
pub async fn next_data(body: &mut Body) -> Result<Option<Bytes>, Refusal> {
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            if std::error::Error::source(&e).is_some_and(|s| s.is::<BodyTimedOut>()) {
                Refusal::TimedOut
            } else {
                Refusal::Undecodable(format!("the body could not be read: {e}"))
            }
        })?;
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// Appends to a buffer held under `limit`, reserving each growth of its capacity first.
pub fn append(buffer: &mut Vec<u8>, data: &[u8], limit: usize, reservation: &mut Reservation) -> Result<(), Refusal> {
    let needed = buffer.len() + data.len();
    if needed > limit {
        return Err(Refusal::TooLarge { limit });
    }
    if needed > buffer.capacity() {
        let capacity = needed.max(buffer.capacity() * 2).max(FIRST_CAPACITY).min(limit);
        reservation.grow(capacity - buffer.capacity())?;
        buffer.reserve_exact(capacity - buffer.len());
    }
    buffer.extend_from_slice(data);
    Ok(())
}

/// Undoes the body's compression, never past `limit` bytes; the compressed body is freed
/// (and its reservation given back) once it is undone.
pub fn decompress(
    body: Vec<u8>,
    compression: Compression,
    limit: usize,
    reservation: &mut Reservation,
) -> Result<Vec<u8>, Refusal> {
    match compression {
        Compression::None => Ok(body),
        Compression::Gzip => {
            let mut decoder = flate2::read::GzDecoder::new(body.as_slice());
            let mut out = Vec::new();
            let mut step = vec![0u8; INFLATE_STEP];
            reservation.grow(step.len())?;
            loop {
                let read = decoder
                    .read(&mut step)
                    .map_err(|e| Refusal::Undecodable(format!("the gzip body is damaged: {e}")))?;
                if read == 0 {
                    break;
                }
                append(&mut out, &step[..read], limit, reservation)?;
            }
            drop(decoder);
            reservation.shrink(step.capacity() + body.capacity());
            Ok(out)
        }
    }
}

/// What a body decodes into: spans or log records, as OTLP messages, or spans read into
/// the store's rows in place.
pub enum Batch {
    Spans(Vec<ResourceSpans>),
    Prepared(PreparedSpans),
    Logs(Vec<ResourceLogs>),
}

/// Decodes the body into OTLP messages once the bound of what decoding allocates is
/// reserved. Zipkin spans go through the model (where shared span ids and clock skew are
/// undone) and come out as OTLP, the one form the store keeps.
pub fn decode(bytes: &[u8], payload: Payload, reservation: &mut Reservation) -> Result<Batch, Refusal> {
    let message = match payload {
        Payload::OtlpLogs(_) => "ExportLogsServiceRequest",
        Payload::Otlp(_) | Payload::ZipkinJson => "ExportTraceServiceRequest",
    };
    let invalid = |why: String| Refusal::Undecodable(format!("not a valid {message}: {why}"));
    let needed = match payload {
        Payload::Otlp(Encoding::Protobuf) => decoded_size::protobuf(bytes).map_err(|e| invalid(e.0.to_string()))?,
        Payload::OtlpLogs(Encoding::Protobuf) => {
            decoded_size::logs_protobuf(bytes).map_err(|e| invalid(e.0.to_string()))?
        }
        Payload::Otlp(Encoding::Json) | Payload::OtlpLogs(Encoding::Json) => decoded_size::json(bytes),
        Payload::ZipkinJson => decoded_size::zipkin_json(bytes),
    };
    reservation.grow(needed).map_err(|shortfall| match shortfall {
        Shortfall::NeverFits { largest } => Refusal::TooLargeToDecode { needed, largest },
        Shortfall::Exhausted { budget } => Refusal::Busy { budget },
    })?;
    let undecodable = |e: crate::error::Error| Refusal::Undecodable(e.to_string());
    match payload {
        // Prost decodes what is not read in place, and refuses it in its own words if malformed.
        Payload::Otlp(Encoding::Protobuf) => match PreparedSpans::from_protobuf(bytes) {
            Some(prepared) => Ok(Batch::Prepared(prepared)),
            None => ExportTraceServiceRequest::decode(bytes)
                .map(|request| Batch::Spans(request.resource_spans))
                .map_err(|e| invalid(e.to_string())),
        },
        Payload::Otlp(Encoding::Json) => otlp_json::decode_resource_spans(bytes).map(Batch::Spans).map_err(undecodable),
        Payload::OtlpLogs(Encoding::Protobuf) => ExportLogsServiceRequest::decode(bytes)
            .map(|request| Batch::Logs(request.resource_logs))
            .map_err(|e| invalid(e.to_string())),
        Payload::OtlpLogs(Encoding::Json) => {
            otlp_logs::decode_resource_logs(bytes).map(Batch::Logs).map_err(undecodable)
        }
        Payload::ZipkinJson => zipkin::decode(bytes)
            .map(|traces| Batch::Spans(otlp_encode::export_request(&traces, 0).resource_spans))
            .map_err(undecodable),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::budget::MemoryBudget;
    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_is_undone_within_the_limit_and_a_bomb_is_too_large() {
        let budget = MemoryBudget::new(1 << 30);
        let mut reservation = budget.reserve();
        assert_eq!(decompress(gzip(b"hello"), Compression::Gzip, 100, &mut reservation).unwrap(), b"hello");
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000);
        assert_eq!(
            decompress(bomb, Compression::Gzip, 1_000_000, &mut budget.reserve()),
            Err(Refusal::TooLarge { limit: 1_000_000 })
        );
        assert!(matches!(
            decompress(b"not gzip".to_vec(), Compression::Gzip, 100, &mut budget.reserve()),
            Err(Refusal::Undecodable(_))
        ));
        assert!(matches!(Compression::from_content_encoding(Some("br")), Err(Refusal::Unsupported(_))));
        assert_eq!(Compression::from_content_encoding(Some(" GZIP ")), Ok(Compression::Gzip));
    }

    #[test]
    fn decompressing_past_the_budget_is_busy_and_gives_the_budget_back() {
        let budget = MemoryBudget::new(64 << 20);
        let mut others = budget.reserve();
        others.grow(40 << 20).unwrap();
        let mut reservation = budget.reserve();
        let bomb = gzip(&vec![0u8; 32 << 20]);
        assert_eq!(
            decompress(bomb, Compression::Gzip, 32 << 20, &mut reservation),
            Err(Refusal::Busy { budget: 64 << 20 })
        );
        assert!(reservation.held() <= 16 << 20, "it stopped where the budget ended: {}", reservation.held());
        drop(reservation);
        assert_eq!(budget.used(), 40 << 20);
    }

    #[test]
    fn content_types_are_read_with_parameters() {
        assert_eq!(Encoding::from_content_type("application/json; charset=utf-8"), Some(Encoding::Json));
        assert_eq!(Encoding::from_content_type("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }
}
