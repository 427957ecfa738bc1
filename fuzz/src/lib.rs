//! What the fuzz targets share: whatever a decoder accepts goes through the tree, every
//! analysis and every view (the same ground as `tests/hostile_inputs.rs`, whose driver is
//! included here), with overflow checks on.

#[path = "../../tests/support/exercise.rs"]
pub mod exercise;

use vitals::analysis::dependencies::parse_dependencies;
use vitals::analysis::service_map::ServiceMap;
use vitals::error::Result;
use vitals::model::Trace;

/// One width per input, picked by its length, so that every width is tried without
/// drawing each input five times.
const WIDTHS: [usize; 5] = [1, 40, 80, 120, 200];

fn width_for(bytes: &[u8]) -> usize {
    WIDTHS[bytes.len() % WIDTHS.len()]
}

/// Decodes `bytes`; traces go through everything, and an error must say what it is.
pub fn decode_and_exercise(bytes: &[u8], decode: fn(&[u8]) -> Result<Vec<Trace>>) {
    match decode(bytes) {
        Ok(traces) => {
            exercise::everything(&traces, &[width_for(bytes)]);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// Reads a Jaeger dependency list; the service map made of it is drawn in every view.
pub fn parse_dependencies_and_draw(bytes: &[u8]) {
    if let Ok(calls) = parse_dependencies(bytes) {
        let map = ServiceMap::from_dependencies(&calls);
        exercise::service_map_views(&map, &[width_for(bytes)], &mut exercise::Drawn::default());
    }
}

/// One span the fuzzed log records are attached to, so that they are drawn as a span's log
/// lines (exceptions' stack frames parsed) as well as listed as :VitalsLogs lists them.
const LOGS_SPAN: &[u8] =
    br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"charge",
"startTimeUnixNano":"1764662400000000000","endTimeUnixNano":"1764662400005000000"}]}]}]}"#;

/// Reads OTLP JSON logs (`POST /v1/logs`); what decodes is listed and drawn under a span at
/// the input's width, and an error must say what it is.
pub fn decode_logs_and_draw(bytes: &[u8]) {
    use vitals::formats::otlp_logs::{decode_resource_logs, log_record};
    let resources = match decode_resource_logs(bytes) {
        Ok(resources) => resources,
        Err(error) => return assert!(!error.to_string().is_empty()),
    };
    let mut logs: Vec<_> = resources
        .into_iter()
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .map(|record| log_record("shop", record))
        .collect();
    let width = width_for(bytes);
    vitals::render::logs::list(&logs, width, 0);
    let trace = vitals::formats::otlp_json::decode(LOGS_SPAN).unwrap().remove(0);
    for log in &mut logs {
        (log.trace_id, log.span_id) = (Some(trace.id), Some(trace.spans[0].span_id));
    }
    for root in trace.tree.roots() {
        vitals::render::logs::of_span(&trace, root, true, &logs, None, width);
    }
}
