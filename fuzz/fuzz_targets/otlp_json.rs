//! OTLP JSON (SDK exports; Jaeger api/v3 and Tempo envelopes): what decodes goes through
//! the tree, every analysis and every view.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::decode_and_exercise(bytes, vitals::formats::otlp_json::decode));
