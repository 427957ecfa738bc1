//! Inputs built to break Vitals: the fuzzers' minimized finds (`../shared/fixtures/hostile`)
//! and traces at the edges of what a 64-bit time holds. Each decodes with a warning (or is
//! refused with a clear error), goes through the tree, every analysis and every view at
//! several widths with overflow checks on, and shows no impossible number.

use std::path::{Path, PathBuf};

use vitals::analysis::dependencies::parse_dependencies;
use vitals::analysis::service_map::ServiceMap;
use vitals::formats;
use vitals::model::{MAX_SPAN_NS, Trace};

mod common;
use common::shared_fixtures;

#[path = "support/exercise.rs"]
mod exercise;

/// From a window too narrow for anything to the widest a float gets.
const WIDTHS: [usize; 6] = [1, 20, 40, 80, 120, 200];

/// The longest duration drawn anywhere, in days: words that read `30d`, `2d12h` or
/// `213503d23h` (durations under two days are drawn in hours or less). Ages (`5d ago`)
/// are not durations: traces may lie centuries apart.
fn longest_days(text: &str) -> Option<u64> {
    let days_of = |word: &str| {
        let (days, rest) = word.split_once('d')?;
        let hours = rest.strip_suffix('h').unwrap_or(rest);
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (digits(days) && (rest.is_empty() || (digits(hours) && rest.ends_with('h'))))
            .then(|| days.parse().unwrap_or(u64::MAX))
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let durations = words.iter().enumerate().filter(|(i, _)| words.get(i + 1) != Some(&"ago"));
    durations.flat_map(|(_, word)| word.split(|c: char| !c.is_alphanumeric())).filter_map(days_of).max()
}

/// Fails naming the drawing that shows a duration longer than any span may last.
fn assert_no_impossible_duration(drawn: &exercise::Drawn, what: &str) {
    let limit_days = MAX_SPAN_NS / 86_400_000_000_000;
    for text in &drawn.texts {
        if let Some(days) = longest_days(text) {
            assert!(days <= limit_days, "{what} shows {days} days:\n{text}");
        }
    }
}

fn files_in(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_none_or(|e| e != "md"))
        .collect();
    files.sort();
    files
}

fn hostile_files() -> Vec<PathBuf> {
    let files = files_in(&shared_fixtures().join("hostile"));
    assert!(files.len() >= 7, "the hostile inputs are there: {files:?}");
    files
}

#[test]
fn these_tests_run_with_overflow_checks_on() {
    // Without them an overflow passes as a wrapped number (Cargo.toml's profiles).
    let largest = std::hint::black_box(u64::MAX);
    assert!(std::panic::catch_unwind(|| largest + 1).is_err(), "overflow checks are off");
}

#[test]
fn the_longest_day_count_is_read_from_drawn_text() {
    assert_eq!(longest_days("total 213503d23h, max 2d12h"), Some(213503));
    assert_eq!(longest_days("12.3ms 3d · 2d (5d) 700d ago"), Some(5));
    assert_eq!(longest_days("GET /2dogs id 7d8e 5d423585b4c 63d48 36h"), None);
}

#[test]
fn every_hostile_input_decodes_and_goes_through_everything_without_impossible_numbers() {
    for path in hostile_files() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let traces = formats::decode(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!traces.is_empty(), "{name} holds traces");
        let warned: Vec<&String> = traces.iter().flat_map(|t| &t.warnings).collect();
        assert!(
            warned.iter().any(|w| w.contains("longer than 30 days") || w.contains("before")),
            "{name} says what was impossible: {warned:?}"
        );
        let drawn = exercise::everything(&traces, &WIDTHS);
        assert_no_impossible_duration(&drawn, &name);
    }
}

#[test]
fn the_span_statistics_of_the_fuzzed_jaeger_input_add_up() {
    // Its total read 10µs and its max 307445734m33s in a release build.
    let bytes = std::fs::read(shared_fixtures().join("hostile/jaeger-12426-8662.min.json")).unwrap();
    let trace = formats::decode(&bytes).unwrap().remove(0);
    let text = vitals::render::render_trace(&trace, &vitals::render::Picture::new(vitals::render::View::Stats, 120))
        .plain_text();
    let row = text.lines().find(|l| l.starts_with("unknown ")).expect("a row for the service");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[1..6], ["2", "10.0µs", "5.00µs", "0ns", "10.0µs"], "count, total, avg, min, max:\n{text}");
    assert!(text.contains("1 span lasts longer than 30 days, shown as taking no time"), "{text}");
}

/// Jaeger JSON spans `(id, startTime µs, duration µs)` as written, numbers or strings.
fn jaeger(spans: &[(&str, &str, &str)]) -> Vec<Trace> {
    let spans: Vec<String> = spans
        .iter()
        .map(|(id, start, duration)| {
            format!(r#"{{"traceID":"1","spanID":"{id}","startTime":{start},"duration":{duration},"process":{{"serviceName":"svc-{id}"}},"references":[{{"refType":"CHILD_OF","spanID":"a"}}]}}"#)
        })
        .collect();
    formats::decode(format!("[{}]", spans.join(",")).as_bytes()).unwrap()
}

#[test]
fn traces_at_the_edges_of_time_go_through_everything() {
    let edges = [
        // The earliest and the latest starts, the longest span, and spans many years apart.
        vec![("a", "1", "2592000000000"), ("b", "9223372036854775", "2592000000000"), ("c", "0", "1")],
        // Values a u64 or an i64 cannot hold, negative ones, and strings.
        vec![("a", "18446744073709551615", "-1"), ("b", "\"-9223372036854775808\"", "\"99999999999999999999\"")],
        vec![("a", "1e300", "-1e300"), ("b", "1679437737490205", "9223372036854775807")],
    ];
    for spans in edges {
        let traces = jaeger(&spans);
        exercise::everything(&traces, &WIDTHS);
    }
    // Thousands of the longest spans: sums of durations pass what a u64 holds.
    let many: Vec<(String, String, String)> =
        (0..8_000).map(|i| (format!("s{i}"), "1679437737490205".to_string(), "2592000000000".to_string())).collect();
    let many: Vec<(&str, &str, &str)> = many.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    let traces = jaeger(&many);
    exercise::everything(&traces, &[80]);
}

#[test]
fn zipkin_spans_with_impossible_times_are_repaired_and_go_through_everything() {
    // A server sharing its client's id (its skew is corrected against the client), a
    // negative duration, a start no 64-bit time holds, and a 100-year span.
    let body = br#"[
        {"traceId":"1","id":"a","name":"get","kind":"CLIENT","timestamp":1679437737490205,"duration":1000,"localEndpoint":{"serviceName":"web"}},
        {"traceId":"1","id":"a","name":"get","kind":"SERVER","shared":true,"timestamp":9223372036854775807,"duration":"99999999999999999999","localEndpoint":{"serviceName":"api"}},
        {"traceId":"1","id":"b","parentId":"a","name":"back","timestamp":"18446744073709551615","duration":-5,"localEndpoint":{"serviceName":"db"},"annotations":[{"timestamp":-1,"value":"x"}]},
        {"traceId":"1","id":"d","parentId":"a","name":"back","timestamp":1679437737490300,"duration":-5,"localEndpoint":{"serviceName":"db"}},
        {"traceId":"1","id":"c","parentId":"a","name":"long","timestamp":1679437737490205,"duration":3153600000000000,"localEndpoint":{"serviceName":"db"}}
    ]"#;
    let traces = formats::zipkin::decode(body).expect("impossible times are repaired, not refused");
    let trace = &traces[0];
    assert!(trace.spans.iter().all(|s| s.duration_ns <= 30 * 24 * 3600 * 1_000_000_000), "no span over 30 days");
    let warnings = trace.warnings.join("\n");
    for repair in ["after 2262", "ends before it starts", "longer than 30 days"] {
        assert!(warnings.contains(repair), "the repair {repair:?} is told: {warnings}");
    }
    exercise::everything(&traces, &WIDTHS);
}

#[test]
fn every_input_the_fuzz_targets_found_goes_through_everything() {
    let found = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for folder in files_in(&found) {
        let target = folder.file_name().unwrap().to_string_lossy().to_string();
        for path in files_in(&folder) {
            let bytes = std::fs::read(&path).unwrap();
            let decoded = match target.as_str() {
                "jaeger_json" => formats::jaeger::decode(&bytes),
                "otlp_json" => formats::otlp_json::decode(&bytes),
                "otlp_protobuf" => formats::otlp::decode_protobuf(&bytes),
                "zipkin_json" => formats::zipkin::decode(&bytes),
                "dependencies" => {
                    if let Ok(calls) = parse_dependencies(&bytes) {
                        let map = ServiceMap::from_dependencies(&calls);
                        exercise::service_map_views(&map, &WIDTHS, &mut exercise::Drawn::default());
                    }
                    Ok(Vec::new())
                }
                other => panic!("fuzz/regressions/{other}: no fuzz target of that name"),
            };
            // (Their spans may lie centuries apart, each possible: a trace that long is
            // drawn as it is, so only the promises `everything` checks hold here.)
            if let Ok(traces) = decoded {
                exercise::everything(&traces, &WIDTHS);
            }
            replayed += 1;
        }
    }
    assert!(replayed > 0, "the fuzz targets' finds are in {}", found.display());
}

#[test]
fn a_dependency_list_with_the_largest_counts_draws_every_view() {
    let bytes = br#"{"data":[{"parent":"a","child":"b","callCount":18446744073709551615},
        {"parent":"b","child":"a","callCount":18446744073709551615},{"parent":"a","child":"a","callCount":1}]}"#;
    let map = ServiceMap::from_dependencies(&parse_dependencies(bytes).unwrap());
    let mut drawn = exercise::Drawn::default();
    exercise::service_map_views(&map, &WIDTHS, &mut drawn);
    assert!(drawn.texts.iter().any(|t| t.contains("18446744073709551615")), "{}", drawn.texts[0]);
}
