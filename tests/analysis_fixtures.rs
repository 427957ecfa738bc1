//! The analyses against real traces with known answers: Jaeger UI's critical-path cases
//! and the HotROD captures with their manifests (../shared/fixtures).

use serde_json::Value;
use vitals::analysis::critical_path::critical_path;
use vitals::formats;

mod common;
use common::{read_shared, shared_fixtures};

fn json(relative: &str) -> Value {
    serde_json::from_slice(&read_shared(relative)).unwrap()
}

#[test]
fn the_critical_path_matches_jaeger_ui_in_all_nine_cases() {
    let cases = shared_fixtures().join("jaeger-ui/critical-path");
    let mut checked = 0;
    for n in 1..=9 {
        let case = json(&format!("jaeger-ui/critical-path/case{n}.json"));
        let trace = formats::decode(&serde_json::to_vec(&case["trace"]).unwrap()).unwrap().remove(0);
        let expected: Vec<(String, u64, u64)> = case["criticalPathSections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let us = |key: &str| s[key].as_u64().unwrap();
                (s["spanID"].as_str().unwrap().to_string(), us("sectionStart"), us("sectionEnd"))
            })
            .collect();
        let actual: Vec<(String, u64, u64)> = critical_path(&trace)
            .iter()
            .map(|s| (trace.spans[s.span].display_id(), s.start_ns / 1000, s.end_ns / 1000))
            .collect();
        assert_eq!(actual, expected, "case{n} of {}", cases.display());
        checked += 1;
    }
    assert_eq!(checked, 9);
}
