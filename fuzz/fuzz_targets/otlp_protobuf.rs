//! OTLP protobuf (`ExportTraceServiceRequest`, which `TracesData` shares its wire format
//! with): what decodes goes through the tree, every analysis and every view.
#![no_main]

use vitals::formats::otlp::decode_protobuf;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::decode_and_exercise(bytes, decode_protobuf));
