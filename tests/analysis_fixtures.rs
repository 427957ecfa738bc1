//! The analyses against real traces with known answers: Jaeger UI's critical-path cases
//! and the HotROD captures with their manifests (../shared/fixtures).

use serde_json::Value;
use vitals::analysis::critical_path::critical_path;
use vitals::analysis::findings::{Finding, FindingKind};
use vitals::analysis::report::{Options, analyze};
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
            .map(|s| (trace.spans[s.span].display_id().to_string(), s.start_ns / 1000, s.end_ns / 1000))
            .collect();
        assert_eq!(actual, expected, "case{n} of {}", cases.display());
        checked += 1;
    }
    assert_eq!(checked, 9);
}

fn hotrod(name: &str) -> (Value, vitals::analysis::report::Report) {
    let manifest = json(&format!("jaeger-hotrod/{name}.manifest.json"));
    let traces = formats::decode(&read_shared(&format!("jaeger-hotrod/{name}.json"))).unwrap();
    assert_eq!(traces.len(), 1, "{name} holds one trace");
    assert_eq!(traces[0].id.to_string(), manifest["trace_id"].as_str().unwrap(), "{name}");
    let mut report = analyze(&traces, &Options::default());
    vitals::render::findings::explain_report(&mut report);
    (manifest, report)
}

#[test]
fn every_hotrod_manifest_gets_its_n_plus_one_verdict() {
    let names = ["n_plus_one_positive", "n_plus_one_near_miss", "n_plus_one_full_serial", "n_plus_one_full_concurrent"];
    for name in names {
        let (manifest, report) = hotrod(name);
        let expected = &manifest["expected"];
        let about_the_group: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.kind == FindingKind::NPlusOne)
            .filter(|f| f.parent_span_id.as_deref() == expected["parent_span_id"].as_str())
            .filter(|f| f.service.as_str() == expected["service"] && f.operation.as_str() == expected["operation"])
            .collect();
        let present = manifest["pattern_present"].as_bool().unwrap();
        assert_eq!(!about_the_group.is_empty(), present, "{name}: {:#?}", report.findings);
        if let Some(found) = about_the_group.first() {
            assert!(found.count >= 5 && found.count <= expected["siblings"].as_u64().unwrap() as usize, "{name}");
            assert!(found.message.starts_with("N+1:"), "{}", found.message);
            assert!(!found.suggestion.is_empty());
        }
    }
}

#[test]
fn the_serial_getdriver_calls_inside_the_concurrent_trace_are_an_n_plus_one() {
    let (_, report) = hotrod("n_plus_one_full_concurrent");
    let get_driver = report
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::NPlusOne && f.operation == "GetDriver")
        .expect("the 13 GetDriver calls are found");
    assert_eq!((get_driver.count, get_driver.service.as_str()), (13, "redis-manual"));
    assert_eq!(get_driver.parent_span_id.as_deref(), Some("1538e9b90f608783"));
    assert!(get_driver.suggestion.contains("one round trip"), "{}", get_driver.suggestion);
    assert_eq!(
        report.findings.iter().filter(|f| f.kind == FindingKind::NPlusOne).count(),
        1,
        "the overlapping route calls are a fan-out: {:#?}",
        report.findings
    );
}

#[test]
fn both_error_fixtures_name_the_span_where_the_error_originates() {
    for name in ["error_timeout_masked", "sibling_errors"] {
        let (manifest, report) = hotrod(name);
        let expected = &manifest["expected"];
        let causes: Vec<&Finding> = report.findings.iter().filter(|f| f.kind == FindingKind::ErrorRootCause).collect();
        assert_eq!(causes.len(), 1, "{name}: {causes:#?}");
        assert_eq!(causes[0].span_ids[0], expected["locus_span_id"].as_str().unwrap(), "{name}");
        assert_eq!(causes[0].service.as_str(), expected["locus_service"], "{name}");
        assert_eq!(causes[0].operation.as_str(), expected["locus_operation"], "{name}");
        assert_eq!(report.findings[0].kind, FindingKind::ErrorRootCause, "errors come first");
    }
    let (_, masked) = hotrod("error_timeout_masked");
    assert!(masked.findings[0].message.contains("time budget"), "{}", masked.findings[0].message);
    let (_, siblings) = hotrod("sibling_errors");
    assert!(siblings.findings[0].message.contains("declined"), "{}", siblings.findings[0].message);
}
