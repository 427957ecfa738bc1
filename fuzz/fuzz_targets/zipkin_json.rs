//! Zipkin v2 JSON (the Zipkin API's answers and files, the Zipkin receiver's bodies):
//! what decodes goes through the tree, every analysis and every view.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::decode_and_exercise(bytes, vitals::formats::zipkin::decode));
