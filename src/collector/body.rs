//! Turning an OTLP/HTTP request body into OTLP messages: the content type decides the
//! encoding, `Content-Encoding: gzip` is undone under the same size limit as the raw
//! body, so a small compressed bomb is refused like a large body.

use std::io::Read;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;

use crate::formats::otlp_json;

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

/// Why a batch was refused, mapped to its HTTP status by the receiver.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    /// 413: past the size limit, compressed or not.
    TooLarge { limit: usize },
    /// 400: not OTLP in the declared encoding.
    Undecodable(String),
    /// 503: the store could not take it now.
    Unavailable(String),
}

/// Decompresses when asked to, never past `limit` bytes.
pub fn decompress(body: &[u8], content_encoding: Option<&str>, limit: usize) -> Result<Vec<u8>, Refusal> {
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()) {
        None => Ok(body.to_vec()),
        Some(e) if e.is_empty() || e == "identity" => Ok(body.to_vec()),
        Some(e) if e == "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(body)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Refusal::Undecodable(format!("the gzip body is damaged: {e}")))?;
            if out.len() > limit {
                return Err(Refusal::TooLarge { limit });
            }
            Ok(out)
        }
        Some(other) => Err(Refusal::Undecodable(format!("unsupported Content-Encoding {other:?} (use gzip or none)"))),
    }
}

pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Vec<ResourceSpans>, Refusal> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map(|request| request.resource_spans)
            .map_err(|e| Refusal::Undecodable(format!("not a valid ExportTraceServiceRequest: {e}"))),
        Encoding::Json => otlp_json::decode_resource_spans(bytes).map_err(|e| Refusal::Undecodable(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_is_undone_within_the_limit_and_a_bomb_is_too_large() {
        assert_eq!(decompress(&gzip(b"hello"), Some("gzip"), 100).unwrap(), b"hello");
        let bomb = gzip(&vec![0u8; 10_000_000]);
        assert!(bomb.len() < 20_000);
        assert_eq!(decompress(&bomb, Some("gzip"), 1_000_000), Err(Refusal::TooLarge { limit: 1_000_000 }));
        assert!(matches!(decompress(b"not gzip", Some("gzip"), 100), Err(Refusal::Undecodable(_))));
        assert!(matches!(decompress(b"x", Some("br"), 100), Err(Refusal::Undecodable(_))));
    }

    #[test]
    fn content_types_are_read_with_parameters() {
        assert_eq!(Encoding::from_content_type("application/json; charset=utf-8"), Some(Encoding::Json));
        assert_eq!(Encoding::from_content_type("application/x-protobuf"), Some(Encoding::Protobuf));
        assert_eq!(Encoding::from_content_type("text/plain"), None);
    }
}
