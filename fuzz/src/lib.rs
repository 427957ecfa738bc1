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
