//! `vitals regressions` end to end: requests sent by the real OpenTelemetry Python SDK
//! into `vitals serve`, then read back from the store (and through its Jaeger query API).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Serve, TempDir, serve};

/// Runs `tests/otel/{script}` with `args` against the server's OTLP/HTTP receiver.
fn send(server: &Serve, script: &str, args: &[&str]) {
    let python = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel").join(script);
    let sent = Command::new(python).arg(script).arg(&server.otlp_url).args(args).output().expect("run the SDK sender");
    assert!(sent.status.success(), "the sender failed: {}", String::from_utf8_lossy(&sent.stderr));
}

/// `vitals regressions --provider otlp --db DB --service SERVICE …`: its output.
fn regressions(db: &Path, service: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["regressions", "--provider", "otlp", "--db"])
        .arg(db)
        .args(["--service", service])
        .args(extra)
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn the_last_hour_against_the_hour_before_finds_the_regression_and_the_improvement() {
    let dir = TempDir::new("regressions");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    send(&server, "send_regression.py", &[]);
    let run = |extra: &[&str]| regressions(&db, "web", extra);
    let report = json(&run(&["--json"]));
    let verdict = |op: &str| {
        let change = report["operations"].as_array().unwrap().iter().find(|c| c["operation"] == op).unwrap();
        (change["latency"].as_str().unwrap().to_string(), change["errors"].as_str().unwrap().to_string())
    };
    assert_eq!(verdict("GET /cart").0, "regression");
    assert_eq!(verdict("POST /pay"), ("improvement".to_string(), "regression".to_string()));
    assert_eq!(verdict("GET /home").0, "no_change");
    assert_eq!(verdict("GET /rare").0, "not_enough_data");
    assert_eq!(report["overall"]["baseline"]["count"], 567);
    assert_eq!(report["operations"][0]["operation"], "GET /cart", "regressions first");
    assert_eq!(report["basis"], serde_json::json!({ "by": "latest", "by_default": true }));
    assert_eq!(report["summary"]["slower"], serde_json::json!(["GET /cart"]));
    assert_eq!(report["overall"]["latency"], "regression", "the service's verdict is its operations'");

    let people = run(&[]);
    for expected in [
        "Baseline P95 = 459ms, Current P95 = 642ms, +40%, regression (p < 0.001, n = 200/200)",
        "Baseline P95 = 459ms, Current P95 = 284ms, −38%, improvement (p < 0.001, n = 212/198)",
        "errors 1.4% → 10.1% (up, significant)",
        "GET /rare  Baseline P95 = 228ms, Current P95 = 684ms, n = 5/5: too few requests to tell",
    ] {
        assert!(people.contains(expected), "missing {expected:?} in\n{people}");
    }

    // Around a moment: an hour before and after "1h ago" is the same split.
    let around: serde_json::Value = serde_json::from_str(&run(&["--at", "1h", "--json"])).unwrap();
    assert_eq!(around["overall"]["current"]["count"], 553);
    // Explicit ranges: the current hour against itself shows no change.
    let same: serde_json::Value =
        serde_json::from_str(&run(&["--baseline", "1h..now", "--current", "1h..now", "--json"])).unwrap();
    assert_eq!(same["overall"]["latency"], "no_change");
}

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn the_newest_version_is_compared_with_the_one_before_it_by_default() {
    let dir = TempDir::new("regressions-versions");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    send(&server, "send_versions.py", &[]);

    let report = json(&regressions(&db, "shop", &["--json"]));
    assert_eq!(
        report["basis"],
        serde_json::json!({ "by": "versions", "attribute": "service.version", "baseline": "1.0.0", "current": "1.1.0" })
    );
    assert_eq!(report["summary"]["slower"], serde_json::json!(["POST /checkout"]));
    assert_eq!(report["overall"]["latency"], "regression");
    assert_eq!(
        (report["overall"]["baseline"]["count"].as_u64(), report["overall"]["current"]["count"].as_u64()),
        (Some(660), Some(660))
    );
    let people = regressions(&db, "shop", &[]);
    for expected in [
        "baseline version 1.0.0 (",
        "vs current version 1.1.0 (",
        "✖ regression  slower: POST /checkout P95 +33% (p < 0.001)",
    ] {
        assert!(people.contains(expected), "missing {expected:?} in\n{people}");
    }

    // Two versions by name; a window instead compares the latest traffic.
    let picked = json(&regressions(&db, "shop", &["--version", "0.9.0..1.1.0", "--json"]));
    assert_eq!(
        (picked["basis"]["baseline"].as_str(), picked["summary"]["faster"][0].as_str()),
        (Some("0.9.0"), Some("POST /checkout"))
    );
    let windows = json(&regressions(&db, "shop", &["--window", "8m", "--json"]));
    assert_eq!(windows["basis"]["by"], "latest");
    assert_eq!(
        windows["seen"],
        serde_json::json!({ "baseline": ["1.0.0"], "current": ["1.1.0"] }),
        "each window names its versions"
    );

    // Through the Jaeger query API, which keeps no list of versions: read from the traces.
    let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["regressions", "--provider", "jaeger", "--endpoint", &server.query_url, "--service", "shop", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let over_jaeger = json(&String::from_utf8_lossy(&output.stdout));
    assert_eq!(over_jaeger["basis"], report["basis"]);
    let micros =
        |report: &serde_json::Value, side: &str, edge: &str| report["windows"][side][edge].as_u64().unwrap() / 1_000;
    for (side, edge) in
        [("baseline", "start_ns"), ("baseline", "end_ns"), ("current", "start_ns"), ("current", "end_ns")]
    {
        // Jaeger's times are microseconds.
        assert_eq!(
            micros(&over_jaeger, side, edge),
            micros(&report, side, edge),
            "the versions' whole time, not the newest traces'"
        );
    }
    assert_eq!(over_jaeger["summary"], report["summary"]);
}

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn two_runs_minutes_apart_hours_ago_are_compared_by_default() {
    let dir = TempDir::new("regressions-runs");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    // One process, so no version and no restart between the runs; five hours ago, so
    // the last two hours hold nothing.
    send(&server, "send_regression.py", &["runs", "5"]);
    let report = json(&regressions(&db, "web", &["--json"]));
    assert_eq!(report["basis"]["by"], "latest");
    let gap = report["windows"]["gap_ns"].as_u64().expect("split into runs");
    assert!((300_000_000_000..320_000_000_000).contains(&gap), "{gap}");
    let cart = &report["operations"][0];
    assert_eq!((cart["operation"].as_str(), cart["latency"].as_str()), (Some("GET /cart"), Some("regression")));
    assert_eq!((cart["baseline"]["count"].as_u64(), cart["current"]["count"].as_u64()), (Some(82), Some(82)));
}

/// `vitals trends SERVICE --db DB …` at `width` columns: its output.
fn trends(db: &Path, service: &str, width: &str, extra: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["trends", service, "--db"])
        .arg(db)
        .args(["--width", width])
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn trends_mark_each_version_where_it_was_first_seen() {
    let dir = TempDir::new("trends-versions");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let sent_between = (unix_now_ns(), {
        send(&server, "send_versions.py", &[]);
        unix_now_ns()
    });
    for width in ["80", "200"] {
        let drawn = trends(&db, "shop", width, &["--range", "1h"]);
        let lines: Vec<&str> = drawn.lines().collect();
        let axis = lines.iter().position(|l| l.ends_with("UTC")).unwrap_or_else(|| panic!("no axis:\n{drawn}"));
        let markers = lines[axis + 2];
        // Three releases ten minutes apart: a marker each, under the axis, with its label
        // where the next leaves room (at 80 columns they stand 5 apart: cut short).
        assert_eq!(markers.matches('▲').count(), 3, "{width} columns:\n{drawn}");
        let labels: &[&str] =
            if width == "80" { &["▲0.…", "▲1.…", "▲1.1.0"] } else { &["▲0.9.0", "▲1.0.0", "▲1.1.0"] };
        for label in labels {
            assert!(markers.contains(label), "{label} at {width} columns:\n{drawn}");
        }
        assert!(lines.iter().all(|l| l.chars().count() <= width.parse().unwrap()), "fits {width}:\n{drawn}");
    }
    // Over a week at 80 columns the releases share a 3-hour bucket (two, when the clock puts
    // a bucket's edge between them): a marker per bucket, the last naming the newest, with
    // no room for the others' labels.
    let week = trends(&db, "shop", "80", &[]);
    assert!(week.contains("in 3h buckets"), "{week}");
    let expected: Vec<String> = [sent_between.0, sent_between.1]
        .iter()
        .map(|&now| format!("{}1.1.0", "▲".repeat(release_buckets(now))))
        .collect();
    assert!(week.lines().any(|l| expected.iter().any(|e| l.trim() == e)), "one of {expected:?} in:\n{week}");
}

fn unix_now_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

/// How many UTC-aligned 3-hour buckets the releases of `send_versions.py` fall in (first
/// seen 50, 40 and 30 minutes before the `now` it ran at).
fn release_buckets(now_ns: u64) -> usize {
    const MINUTE_NS: u64 = 60_000_000_000;
    let bucket = |minutes_ago: u64| (now_ns - minutes_ago * MINUTE_NS) / (180 * MINUTE_NS);
    let mut buckets: Vec<u64> = [50, 40, 30].map(bucket).to_vec();
    buckets.dedup();
    buckets.len()
}

/// `vitals baseline ARGS… --db DB`: its output.
fn baseline(db: &Path, args: &[&str]) -> String {
    let output =
        Command::new(env!("CARGO_BIN_EXE_vitals")).arg("baseline").args(args).arg("--db").arg(db).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn a_saved_baseline_outlives_a_restart_and_names_the_regression_of_the_next_release() {
    let dir = TempDir::new("regressions-baseline");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    send(&server, "send_versions.py", &["1.0.0"]);
    // Named after the newest version by default.
    let saved = json(&baseline(&db, &["save", "shop", "--json"]));
    assert_eq!((saved["service"].as_str(), saved["name"].as_str()), (Some("shop"), Some("1.0.0")));
    assert_eq!(saved["operations"], serde_json::json!({ "GET /home": 400, "GET /cart": 200, "POST /checkout": 60 }));
    drop(server);

    // Another process, the store opened anew: the baseline is still there.
    let server = serve(&db);
    send(&server, "send_versions.py", &["1.1.0"]);
    let listed = baseline(&db, &["list"]);
    assert!(listed.lines().any(|l| l.starts_with("shop") && l.contains("1.0.0") && l.ends_with("660")), "{listed}");

    // The newest release's traffic (its 5 minutes) against the saved numbers.
    let report = json(&regressions(&db, "shop", &["--baseline", "1.0.0", "--window", "8m", "--json"]));
    assert_eq!(report["basis"]["by"], "baseline");
    assert_eq!(report["basis"]["name"], "1.0.0");
    assert_eq!(report["summary"]["slower"], serde_json::json!(["POST /checkout"]));
    assert_eq!(report["overall"]["latency"], "regression");
    let home = report["operations"].as_array().unwrap().iter().find(|c| c["operation"] == "GET /home").unwrap();
    assert_eq!((home["latency"].as_str(), home["current"]["count"].as_u64()), (Some("no_change"), Some(400)));
    let people = regressions(&db, "shop", &["--baseline", "1.0.0", "--window", "8m"]);
    // The sketches' percentiles are within 1 %: +32 % for the 33 % slower release.
    for expected in
        ["baseline \"1.0.0\" saved ", "POST /checkout  Baseline P95 = 481ms, Current P95 = 636ms, +32%, regression"]
    {
        assert!(people.contains(expected), "missing {expected:?} in\n{people}");
    }

    // A name that is not saved says which are; deleted, it is gone.
    let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["regressions", "--provider", "otlp", "--db"])
        .arg(&db)
        .args(["--service", "shop", "--baseline", "0.9.0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).contains("shop has no saved baseline \"0.9.0\": it has 1.0.0"));
    baseline(&db, &["delete", "shop", "1.0.0"]);
    assert!(baseline(&db, &["list", "shop"]).starts_with("No saved baselines"));
}
