//! Jaeger JSON (query API v1 responses, Jaeger UI downloads, bare span arrays): what
//! decodes goes through the tree, every analysis and every view.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::decode_and_exercise(bytes, vitals::formats::jaeger::decode));
