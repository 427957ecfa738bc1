//! `vitals serve --alerts FILE --on-alert CMD`: requests sent over OTLP/HTTP get slower
//! than a rule allows, then fast again; the rule fires once and clears once, on stderr
//! and to the command (the alert as JSON on its stdin).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

mod common;
use common::otlp::{now_ns, request_of, service};
use common::{SERVE_ON_FREE_PORTS, Serve, TempDir};

/// `count` requests of `POST /checkout`, `ms` long each and ending now, traces from
/// `first` on.
fn requests(first: u64, count: u64, ms: u64) -> Vec<u8> {
    let now = now_ns();
    let spans = (first..first + count)
        .map(|trace| Span {
            trace_id: u128::from(trace).to_be_bytes().to_vec(),
            span_id: 1u64.to_be_bytes().to_vec(),
            name: "POST /checkout".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: now - ms * 1_000_000,
            end_time_unix_nano: now,
            ..Default::default()
        })
        .collect();
    request_of(Some(service("checkout")), spans).encode_to_vec()
}

/// `vitals serve` with `flags`, its stderr lines sent to the receiver returned.
fn serve(db: &std::path::Path, flags: &[&str]) -> (Serve, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--db"])
        .arg(db)
        .args(SERVE_ON_FREE_PORTS)
        .args(flags)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vitals serve");
    let (sender, lines) = mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let mut server = Serve {
        child,
        otlp_url: String::new(),
        grpc_url: String::new(),
        zipkin_url: String::new(),
        query_url: String::new(),
    };
    while server.otlp_url.is_empty() {
        let line = lines.recv_timeout(Duration::from_secs(20)).expect("vitals serve printed its OTLP/HTTP address");
        if line.contains("OTLP/HTTP") {
            server.otlp_url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
        }
    }
    (server, lines)
}

/// Stderr lines until one contains `text` (within 15 s), that line last.
fn until(lines: &mpsc::Receiver<String>, text: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| panic!("no {text:?} on stderr; saw {seen:#?}"));
        let found = line.contains(text);
        seen.push(line);
        if found {
            return seen;
        }
    }
}

#[tokio::test]
async fn a_rule_fires_once_when_requests_get_slow_and_clears_once_when_they_are_fast_again() {
    let dir = TempDir::new("serve-alerts");
    let rules = dir.0.join("alerts.toml");
    std::fs::write(
        &rules,
        "[[alerts]]\nservice = \"checkout\"\noperation = \"POST /checkout\"\np95 = \"500ms\"\nwindow = \"5m\"\n",
    )
    .unwrap();
    let told = dir.0.join("told.jsonl");
    let command = format!("cat >> '{}'; echo >> '{}'", told.display(), told.display());
    let (server, lines) =
        serve(&dir.0.join("traces.db"), &["--alerts", rules.to_str().unwrap(), "--on-alert", &command]);
    until(&lines, "watching 1 alert rule (checkout POST /checkout)");
    let client = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        client.post(&server.otlp_url).header("content-type", "application/x-protobuf").body(body).send()
    };
    assert_eq!(post(requests(1, 40, 100)).await.unwrap().status(), 200);
    // Slower requests: 10 of 50 are slow, the P95 is theirs.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(post(requests(1000, 10, 900)).await.unwrap().status(), 200);
    let fired = until(&lines, "fired");
    let fired = fired.last().unwrap();
    let p95: f64 = fired
        .strip_prefix("vitals: alert checkout POST /checkout fired: p95 ")
        .and_then(|rest| rest.split_once("ms over 500ms"))
        .and_then(|(ms, _)| ms.parse().ok())
        .unwrap_or_else(|| panic!("{fired}"));
    assert!((891.0..=909.0).contains(&p95), "900 ms within the sketch's 1 %: {fired}");
    assert!(
        fired.contains("over 500ms (last 5m, 50 requests); slowest trace 000000000000000000000000000003e8"),
        "{fired}"
    );
    // Fast again: 10 slow of 450 is under 5 %, the P95 is a fast one.
    assert_eq!(post(requests(2000, 400, 100)).await.unwrap().status(), 200);
    let between = until(&lines, "cleared");
    assert!(!between.iter().any(|l| l.contains("fired")), "fired once: {between:#?}");
    let cleared = between.last().unwrap();
    assert!(cleared.starts_with("vitals: alert checkout POST /checkout cleared: p95 1"), "{cleared}");
    assert!(cleared.contains("under 500ms again (last 5m, 450 requests)"), "{cleared}");
    // More fast traffic changes nothing.
    assert_eq!(post(requests(3000, 10, 100)).await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later: Vec<String> = lines.try_iter().collect();
    assert!(!later.iter().any(|l| l.contains("alert")), "cleared once: {later:#?}");
    // The command was told both, as JSON.
    let deadline = Instant::now() + Duration::from_secs(10);
    let told = loop {
        let text = std::fs::read_to_string(&told).unwrap_or_default();
        if text.lines().count() >= 2 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let told: Vec<serde_json::Value> = told.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(told.len(), 2, "{told:#?}");
    assert_eq!(told[0]["status"], "firing");
    assert_eq!(
        (&told[0]["rule"], &told[0]["service"], &told[0]["operation"]),
        (&"checkout POST /checkout".into(), &"checkout".into(), &"POST /checkout".into())
    );
    assert_eq!((&told[0]["measure"], &told[0]["threshold"]), (&"p95".into(), &500.0.into()));
    let value = told[0]["value"].as_f64().unwrap();
    assert!((891.0..=909.0).contains(&value), "900 ms within the sketch's 1 %: {value}");
    assert_eq!(told[0]["trace_id"], "000000000000000000000000000003e8");
    assert_eq!(told[1]["status"], "clear");
    assert!(told[1]["value"].as_f64().unwrap() < 102.0);
}

#[tokio::test]
async fn a_failing_command_is_printed_and_serve_goes_on() {
    let dir = TempDir::new("serve-alerts-failing");
    let rules = dir.0.join("alerts.json");
    std::fs::write(&rules, r#"[{ "service": "checkout", "error_rate": 0.5, "name": "checkout errors" }]"#).unwrap();
    let (mut server, lines) =
        serve(&dir.0.join("traces.db"), &["--alerts", rules.to_str().unwrap(), "--on-alert", "exit 3"]);
    let mut failing = request_of(Some(service("checkout")), Vec::new());
    let now = now_ns();
    failing.resource_spans[0].scope_spans[0].spans = (1..=4u64)
        .map(|trace| Span {
            trace_id: u128::from(trace).to_be_bytes().to_vec(),
            span_id: 1u64.to_be_bytes().to_vec(),
            name: "GET /cart".into(),
            start_time_unix_nano: now - 1_000_000,
            end_time_unix_nano: now,
            status: Some(opentelemetry_proto::tonic::trace::v1::Status { code: 2, ..Default::default() }),
            ..Default::default()
        })
        .collect();
    let client = reqwest::Client::new();
    let post = client.post(&server.otlp_url).header("content-type", "application/x-protobuf");
    assert_eq!(post.body(failing.encode_to_vec()).send().await.unwrap().status(), 200);
    let fired = until(&lines, "fired");
    assert!(fired.last().unwrap().contains("alert checkout errors fired: error rate 100% over 50%"), "{fired:#?}");
    let failed = until(&lines, "--on-alert command");
    assert!(failed.last().unwrap().contains("ended with exit status: 3 (alert checkout errors)"), "{failed:#?}");
    assert!(server.child.try_wait().unwrap().is_none(), "vitals serve still runs");
}

#[test]
fn a_wrong_rule_stops_serve_before_it_listens_naming_the_rule() {
    let dir = TempDir::new("serve-alerts-wrong");
    let rules = dir.0.join("alerts.toml");
    std::fs::write(&rules, "[[alerts]]\nservice = \"checkout\"\np95 = \"500ms\"\n\n[[alerts]]\nservice = \"cart\"\n")
        .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--db"])
        .arg(dir.0.join("traces.db"))
        .args(SERVE_ON_FREE_PORTS)
        .args(["--alerts", rules.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("alert rule 2: give at least one of p50, p95, p99 or error_rate"), "{stderr}");
    assert!(!stderr.contains("receiving"), "stopped before listening: {stderr}");
}
