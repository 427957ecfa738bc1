//! Decoders from bytes into the trace model. Pure functions: no I/O, no global state.
//!
//! [`decode`] recognizes the format by itself, so every front door (files, HTTP bodies,
//! pasted text) accepts whatever a user has at hand.

pub mod export;
mod grouping;
pub mod jaeger;
pub mod jaeger_encode;
mod lenient;
pub mod otlp;
pub mod otlp_encode;
pub mod otlp_json;
pub mod otlp_logs;
pub mod zipkin;

use crate::error::{Error, Result};
use crate::model::Trace;

/// The formats Vitals reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Jaeger's query API v1 JSON and Jaeger UI's trace downloads.
    JaegerJson,
    /// OTLP JSON, including Jaeger api/v3 and Tempo envelopes.
    OtlpJson,
    /// OTLP protobuf (`ExportTraceServiceRequest` / `TracesData`).
    OtlpProtobuf,
    /// Zipkin v2 JSON span arrays.
    ZipkinJson,
}

/// Guesses the format from the first bytes: JSON documents are told apart by their
/// top-level keys, anything else is taken for protobuf.
pub fn sniff(bytes: &[u8]) -> Format {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if !matches!(first, Some(b'{') | Some(b'[')) {
        return Format::OtlpProtobuf;
    }
    let head = &bytes[..bytes.len().min(4096)];
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    let otlp = [&b"\"resourceSpans\""[..], b"\"resource_spans\"", b"\"batches\"", b"\"result\"", b"\"scopeSpans\""];
    if otlp.iter().any(|key| has(key)) {
        Format::OtlpJson
    } else if zipkin::looks_like(head) {
        Format::ZipkinJson
    } else {
        Format::JaegerJson
    }
}

/// Decodes any supported format into traces, one per trace id.
pub fn decode(bytes: &[u8]) -> Result<Vec<Trace>> {
    match sniff(bytes) {
        Format::JaegerJson => jaeger::decode(bytes),
        Format::OtlpJson => otlp_json::decode(bytes),
        Format::OtlpProtobuf => otlp::decode_protobuf(bytes),
        Format::ZipkinJson => zipkin::decode(bytes),
    }
}

/// Parses JSON quickly and, only when that fails, parses again with path tracking so the
/// error can say where in the document the problem is.
///
/// A document that is UTF-8 throughout is parsed as text: one scan of the whole of it is
/// far cheaper than serde_json checking each string it reads on its own (a call per
/// string, millions in a big trace). Any other document is parsed as bytes, so its error
/// still names the string where the encoding breaks.
pub(crate) fn parse_json<'de, T: serde::Deserialize<'de>>(bytes: &'de [u8], format: &'static str) -> Result<T> {
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    };
    parsed.map_err(|fast_error| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => {
                let path = e.path().to_string();
                let place =
                    if path.is_empty() || path == "." { "the top level".to_string() } else { format!("`{path}`") };
                Error::decode(format, format!("at {place}: {}", e.inner()))
            }
            Ok(_) => Error::decode(format, fast_error.to_string()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_tells_the_formats_apart() {
        assert_eq!(sniff(br#"{"data":[{"traceID":"1"}]}"#), Format::JaegerJson);
        assert_eq!(sniff(br#"  [{"traceID":"1","spanID":"2"}]"#), Format::JaegerJson);
        assert_eq!(sniff(br#"{"resourceSpans":[]}"#), Format::OtlpJson);
        assert_eq!(sniff(br#"{"batches":[]}"#), Format::OtlpJson);
        assert_eq!(sniff(&[0x0a, 0x02, 0x0a, 0x00]), Format::OtlpProtobuf);
        assert_eq!(sniff(br#"[{"traceId":"1","id":"2","localEndpoint":{}}]"#), Format::ZipkinJson);
        assert_eq!(sniff(br#"[[{"traceId":"1","id":"2"}]]"#), Format::ZipkinJson);
    }

    #[test]
    fn garbage_is_an_error_in_every_format() {
        for bytes in [&b"{"[..], b"[1,2", b"\x0a\xff\xff\xff", b"{\"resourceSpans\": 7}", b"null"] {
            assert!(decode(bytes).is_err(), "{:?} decoded", String::from_utf8_lossy(bytes));
        }
    }
}
