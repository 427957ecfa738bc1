//! Jaeger's `/api/dependencies` answers: what parses is drawn as a service map in every view.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::parse_dependencies_and_draw(bytes));
