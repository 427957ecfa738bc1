//! OTLP JSON logs (`POST /v1/logs`): what decodes is listed as :VitalsLogs lists it and drawn
//! as a span's log lines, its stack frames parsed.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| vitals_fuzz::decode_logs_and_draw(bytes));
