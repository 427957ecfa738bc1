//! The terminal commands as a user runs them, including the README's quick start.

use std::process::Command;

fn vitals(args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_vitals")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn the_quick_start_demo_receives_over_otlp_and_draws_the_slowest_trace() {
    let dir = std::env::temp_dir().join(format!("vitals-cli-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("traces.db");
    let (ok, stdout, stderr) = vitals(&["demo", "--width", "100", "--db", db.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("all acknowledged"), "{stderr}");
    let listed = stdout
        .lines()
        .filter(|l| l.starts_with("  ") && l[2..].split_whitespace().next().is_some_and(|id| id.len() == 32))
        .count();
    assert_eq!(listed, 5, "every demo trace is found in the store:\n{stdout}");
    assert!(stdout.contains("frontend: POST /checkout  1.60s · 26 spans"), "the slowest trace is drawn:\n{stdout}");
    assert!(!stdout.contains('\x1b'), "no colour when stdout is not a terminal");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn view_draws_a_file_as_flame_graph_waterfall_or_one_span() {
    let trace = ["--trace", "c7a2ea20b2f14c942e05319acb5c7427"];
    let (ok, flame, _) = vitals(&[&["view", "samples/shop-traces.json", "--width", "120"][..], &trace].concat());
    assert!(ok && flame.contains("payment: Charge  1.54s█"), "{flame}");
    let (ok, waterfall, _) =
        vitals(&[&["view", "samples/shop-traces.json", "--view", "waterfall"][..], &trace].concat());
    assert!(ok && waterfall.matches("postgres: SELECT items").count() == 12, "{waterfall}");
    let (ok, missing, stderr) = vitals(&["view", "samples/none.json"]);
    assert!(!ok && missing.is_empty() && stderr.starts_with("vitals: Cannot read samples/none.json"), "{stderr}");
}
