//! `vitals regressions` end to end: two hours of requests sent by the real OpenTelemetry
//! Python SDK into `vitals serve`, then read back from the store.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{TempDir, serve};

#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn the_last_hour_against_the_hour_before_finds_the_regression_and_the_improvement() {
    let python = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let dir = TempDir::new("regressions");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel/send_regression.py");
    let sent = Command::new(python).arg(script).arg(&server.otlp_url).output().expect("run the SDK sender");
    assert!(sent.status.success(), "the sender failed: {}", String::from_utf8_lossy(&sent.stderr));

    let run = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["regressions", "--provider", "otlp", "--db"])
            .arg(&db)
            .args(["--service", "web"])
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let report: serde_json::Value = serde_json::from_str(&run(&["--json"])).unwrap();
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
