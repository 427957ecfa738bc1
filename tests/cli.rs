//! The terminal commands as a user runs them, including the README's quick start.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

mod common;
use common::TempDir;
use common::otlp::{now_ns, request_of, service, text};

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
    assert!(stdout.contains("━ critical path: 1.60s of 1.60s"), "the legend names the mark:\n{stdout}");
    let drawing = stdout.split("critical path marked:").nth(1).unwrap_or_default();
    let marked_rows = drawing.lines().filter(|l| l.contains("━━") && !l.contains("critical path")).count();
    assert!(marked_rows >= 2, "the critical path is visible without colour:\n{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh temporary directory for a `vitals demo` run, and the demo folders left in it.
struct DemoTmp(std::path::PathBuf);

impl DemoTmp {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("vitals-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        DemoTmp(dir)
    }

    fn demo(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vitals"));
        command.arg("demo").args(args).env("TMPDIR", &self.0);
        command
    }

    fn left_behind(&self) -> Vec<String> {
        std::fs::read_dir(&self.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
    }
}

impl Drop for DemoTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_demo_removes_its_folder_when_it_ends_and_when_it_fails() {
    let tmp = DemoTmp::new("demo-ends");
    let output = tmp.demo(&["--width", "100"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}/vitals-demo-", tmp.0.display())), "the store was in TMPDIR: {stderr}");
    assert_eq!(tmp.left_behind(), Vec::<String>::new(), "nothing is left in the temporary directory");

    // A proxy nobody listens on: sending to the demo's own receiver fails.
    let output = tmp
        .demo(&["--width", "100"])
        .env("HTTP_PROXY", "http://127.0.0.1:1")
        .env("http_proxy", "http://127.0.0.1:1")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("could not send"), "{stderr}");
    assert_eq!(tmp.left_behind(), Vec::<String>::new(), "nothing is left after an error either");
}

#[cfg(unix)]
#[test]
fn the_demo_removes_its_folder_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let tmp = DemoTmp::new("demo-interrupted");
    // A drawing far larger than a pipe holds, into a pipe nobody reads: the demo cannot
    // finish by itself, so it is still running (blocked on its output) when interrupted.
    let mut child = tmp.demo(&["--width", "100000"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let folder = first.split(" into ").nth(1).and_then(|p| std::path::Path::new(p.trim()).parent()).unwrap();
    assert!(folder.is_dir(), "the demo made its folder: {first}");
    let killed = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "Ctrl-C ends the demo as a shell expects: {status:?}");
    assert!(status.signal().is_none());
    assert_eq!(tmp.left_behind(), Vec::<String>::new(), "Ctrl-C leaves nothing in the temporary directory");
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

#[test]
fn export_writes_traces_from_a_provider_to_one_file_that_view_draws_as_the_backend_did() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("shared.json");
    let file = file.to_str().unwrap();
    let provider = ["--provider", "file", "--endpoint", "samples/shop-traces.json"];
    let (slow, failed) = ("c7a2ea20b2f14c942e05319acb5c7427", "14a0f9e77f1b103cdf1582b0eab477d2");
    let (ok, _, said) = vitals(&[&["export", slow, failed, "-o", file][..], &provider].concat());
    assert!(ok && said.trim_end() == format!("Wrote {file} (2 traces, 45 spans)"), "{said}");
    for id in [slow, failed] {
        let drawn = |args: &[&str]| vitals(&[args, &["--view", "waterfall", "--width", "120"]].concat()).1;
        let from_backend = drawn(&[&["trace", id][..], &provider].concat());
        let from_file = drawn(&["view", file, "--trace", id]);
        assert!(from_backend.contains("frontend: POST /checkout"), "{from_backend}");
        assert_eq!(from_file, from_backend, "the exported trace draws as the backend's");
    }
    let (ok, _, refused) = vitals(&[&["export", slow, "-o", file][..], &provider].concat());
    assert!(!ok && refused.contains("exists: give another path"), "{refused}");
    let (ok, _, _) = vitals(&[&["export", slow, "-o", file, "--force"][..], &provider].concat());
    assert!(ok, "--force replaces it");
    let (_, _, one) = vitals(&["view", file]);
    assert!(!one.contains("holds"), "one trace now: {one}");

    let (ok, jaeger, warned) =
        vitals(&[&["export", slow, "--format", "jaeger-json", "-o", "-"][..], &provider].concat());
    assert!(
        ok && jaeger.starts_with("{") && jaeger.contains("\"traceID\": \"c7a2ea20b2f14c942e05319acb5c7427\""),
        "{jaeger}"
    );
    assert!(warned.contains("Jaeger JSON keeps times in microseconds"), "{warned}");
    let (ok, _, missing) = vitals(&[&["export", "0badc0de"][..], &provider].concat());
    assert!(!ok && missing.starts_with("vitals: ") && missing.contains("0badc0de"), "{missing}");
}

#[test]
fn analyze_json_keeps_the_contract_over_a_folder_of_captures() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/jaeger-hotrod");
    assert!(folder.is_dir(), "this test reads the HotROD captures in {}; it is missing", folder.display());
    let (ok, stdout, stderr) = vitals(&["analyze", "--input", folder.to_str().unwrap(), "--json"]);
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let traces = report["traces"].as_array().unwrap();
    assert_eq!(traces.len(), 6, "one per capture");
    let hex = |v: &serde_json::Value, len: usize| {
        let text = v.as_str().unwrap();
        text.len() == len && text.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    for trace in traces {
        assert!(hex(&trace["trace_id"], 32), "{}", trace["trace_id"]);
        assert!(trace["duration_us"].as_u64().unwrap() > 0);
        let first = &trace["critical_path"][0];
        assert!(hex(&first["span_id"], 16) && first["end_us"].as_u64() > first["start_us"].as_u64(), "{first}");
    }
    let findings = report["findings"].as_array().unwrap();
    let n_plus_one = findings
        .iter()
        .find(|f| f["kind"] == "n_plus_one" && f["trace_id"] == "ea6db5d7b317ca1a5e2c4e0e7cea53ce")
        .expect("the positive capture's N+1");
    assert_eq!(
        (n_plus_one["count"].as_u64(), n_plus_one["parent_span_id"].as_str()),
        (Some(13), Some("be56eec6f3678130"))
    );
    assert_eq!(n_plus_one["span_ids"].as_array().unwrap().len(), 13);
    for key in ["service", "operation", "total_us", "message", "suggestion", "code"] {
        assert!(n_plus_one.get(key).is_some(), "findings carry {key}: {n_plus_one}");
    }
    // One finding per problem: the grouping beside the worst occurrence's fields.
    let occurrences = n_plus_one["traces"].as_array().unwrap();
    assert_eq!(occurrences[0]["trace_id"], n_plus_one["trace_id"], "the worst trace first");
    assert_eq!(occurrences.len() as u64, n_plus_one["occurrences"].as_u64().unwrap());
    assert_eq!(n_plus_one["root_operation"], "GET /dispatch");
    assert_eq!(n_plus_one["requests"], 4, "four captures are GET /dispatch requests");
    assert!(occurrences.iter().all(|o| o["span_ids"].as_array().unwrap().len() == 13 && hex(&o["trace_id"], 32)));
    let impact: u64 = occurrences.iter().map(|o| o["total_us"].as_u64().unwrap()).sum();
    assert_eq!(n_plus_one["impact_us"].as_u64(), Some(impact));
    assert!(n_plus_one["each_us"].as_u64().unwrap() > 0 && n_plus_one["p95_us"].as_u64().unwrap() > 0);
    let impacts: Vec<u64> = findings.iter().map(|f| f["impact_us"].as_u64().unwrap()).collect();
    assert!(impacts.windows(2).all(|w| w[0] >= w[1]), "costliest first: {impacts:?}");
    let origin = findings
        .iter()
        .find(|f| f["kind"] == "error_root_cause" && f["trace_id"] == "7c4f1a90b3e84d2f9a6c5e8017b3d264")
        .unwrap();
    assert_eq!(origin["span_ids"][0], "d4e5f60718293a4b");
    let hot = report["hot_functions"].as_array().unwrap();
    assert!(!hot.is_empty() && hot.len() <= 10);
    assert!(hot.windows(2).all(|w| w[0]["self_us"].as_u64() >= w[1]["self_us"].as_u64()), "hottest first");

    let (ok, people, _) = vitals(&["analyze", "--input", folder.to_str().unwrap(), "--service", "redis-manual"]);
    assert!(ok && people.contains("N+1") && people.contains("fetch all 13 in one round trip"), "{people}");
    let (ok, _, stderr) = vitals(&["analyze", "--input", folder.to_str().unwrap(), "--service", "nobody"]);
    assert!(!ok && stderr.contains("nobody"), "{stderr}");
}

#[test]
fn flame_merges_a_services_traces_into_call_paths_by_self_time() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/jaeger-hotrod");
    assert!(folder.is_dir(), "this test reads the HotROD captures in {}; it is missing", folder.display());
    let input = folder.to_str().unwrap();
    let (ok, stdout, stderr) = vitals(&["flame", "--input", input, "--service", "driver", "--json"]);
    assert!(ok, "{stderr}");
    let flame: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(flame["traces"], 3, "three captures reach driver");
    let nodes = flame["nodes"].as_array().unwrap();
    let total = nodes[0]["total_ns"].as_u64().unwrap();
    let self_sum: u64 = nodes.iter().map(|n| n["self_ns"].as_u64().unwrap()).sum();
    assert_eq!(self_sum, total, "widths add up: every node's self time is counted once");
    let get_driver = nodes.iter().find(|n| n["operation"] == "GetDriver").unwrap();
    assert_eq!(get_driver["count"], 39, "13 GetDriver calls in each of the three captures");
    assert_eq!(nodes[get_driver["parent"].as_u64().unwrap() as usize]["service"], "driver");
    assert_eq!(get_driver["example"]["trace_id"].as_str().unwrap().len(), 32);
    assert!(nodes.iter().all(|n| n["service"] != "frontend"), "callers of driver are not part of its profile");

    let (ok, people, _) = vitals(&["flame", "--input", input, "--service", "driver", "--width", "100"]);
    assert!(ok && people.contains("redis-manual: GetDriver") && people.contains("Most self time"), "{people}");
}

/// Three `GET /export` requests of `api` as OTLP JSON: the handler (api/views.py:7)
/// allocates 1 MB, its `serialize` child (api/export.py:21) `mb[i]` MB.
fn allocating_requests(mb: [u64; 3]) -> String {
    let attr = |key: &str, value: serde_json::Value| serde_json::json!({ "key": key, "value": value });
    let spans: Vec<serde_json::Value> = mb
        .iter()
        .enumerate()
        .flat_map(|(i, mb)| {
            let trace = format!("{:032x}", 0xe0 + i);
            let start = 1_700_000_000_000_000_000u64 + i as u64 * 1_000_000_000;
            [
                serde_json::json!({"traceId": trace, "spanId": "00000000000000a1", "name": "GET /export", "kind": 2,
                  "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 90_000_000).to_string(),
                  "attributes": [attr("code.file.path", serde_json::json!({"stringValue": "api/views.py"})), attr("code.line.number", serde_json::json!({"intValue": "7"})),
                                 attr("memory.allocated", serde_json::json!({"intValue": "1000000"}))]}),
                serde_json::json!({"traceId": trace, "spanId": "00000000000000b2", "parentSpanId": "00000000000000a1", "name": "serialize",
                  "startTimeUnixNano": (start + 1_000).to_string(), "endTimeUnixNano": (start + 50_000_000).to_string(),
                  "attributes": [attr("code.filepath", serde_json::json!({"stringValue": "api/export.py"})), attr("code.lineno", serde_json::json!({"intValue": "21"})),
                                 attr("memory.allocated", serde_json::json!({"intValue": (mb * 1_000_000).to_string()}))]}),
            ]
        })
        .collect();
    let service = attr("service.name", serde_json::json!({ "stringValue": "api" }));
    serde_json::json!({"resourceSpans": [{"resource": {"attributes": [service]}, "scopeSpans": [{"spans": spans}]}]})
        .to_string()
}

#[test]
fn flame_memory_weighs_call_paths_by_allocated_bytes_and_lists_the_code_that_allocates() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("allocations.json");
    std::fs::write(&input, allocating_requests([10, 20, 60])).unwrap();
    let input = input.to_str().unwrap();
    let (ok, stdout, stderr) = vitals(&["flame", "--input", input, "--service", "api", "--memory", "--json"]);
    assert!(ok, "{stderr}");
    let flame: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(flame["weight"], "allocated");
    let nodes = flame["nodes"].as_array().unwrap();
    assert_eq!(nodes[0]["total_allocated_bytes"], 93_000_000u64, "3 × 1 MB + 10 + 20 + 60 MB");
    let serialize = nodes.iter().find(|n| n["operation"] == "serialize").unwrap();
    assert_eq!(serialize["allocated_bytes"], 90_000_000u64);
    assert_eq!(serialize["example"]["trace_id"], format!("{:032x}", 0xe2), "the request that allocated most");

    let (ok, people, _) = vitals(&["flame", "--input", input, "--service", "api", "--memory", "--width", "100"]);
    assert!(ok && people.contains("3 traces · 93.0 MB allocated"), "{people}");
    let code = people.lines().skip_while(|l| *l != "Most allocating code").collect::<Vec<_>>();
    assert_eq!(code.get(1).map(|l| l.trim_end()), Some("  per request      p95  code"), "{people}");
    assert_eq!(code.get(2).map(|l| l.trim_end()), Some("      30.0 MB  60.0 MB  api/export.py:21"), "{people}");
    assert_eq!(code.get(3).map(|l| l.trim_end()), Some("      1.00 MB  1.00 MB  api/views.py:7"), "{people}");
    let (_, by_time, _) = vitals(&["flame", "--input", input, "--service", "api", "--width", "100"]);
    assert!(by_time.contains("Most self time") && !by_time.contains("allocat"), "time is the default: {by_time}");
}

#[test]
fn diff_compares_two_trace_files_structure_and_latency() {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/jaeger-hotrod");
    assert!(folder.is_dir(), "this test reads the HotROD captures in {}; it is missing", folder.display());
    let file = |name: &str| folder.join(name).display().to_string();
    let (positive, near_miss) = (file("n_plus_one_positive.json"), file("n_plus_one_near_miss.json"));
    let (ok, stdout, stderr) = vitals(&["diff", &positive, &near_miss, "--json"]);
    assert!(ok, "{stderr}");
    let diff: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(diff["before"]["trace_id"], "ea6db5d7b317ca1a5e2c4e0e7cea53ce");
    let nodes = diff["nodes"].as_array().unwrap();
    let get_driver = nodes.iter().find(|n| n["operation"] == "GetDriver").unwrap();
    assert_eq!((&get_driver["change"], &get_driver["before"]["count"]), (&"removed".into(), &13.into()));
    assert!(get_driver["after"].is_null());
    let http = nodes.iter().find(|n| n["operation"] == "HTTP GET").unwrap();
    assert_eq!((&http["change"], &http["after"]["count"]), (&"added".into(), &11.into()));
    let root = nodes.iter().find(|n| n["operation"] == "GET /dispatch").unwrap();
    let (before, after) =
        (root["before"]["duration_ns"].as_i64().unwrap(), root["after"]["duration_ns"].as_i64().unwrap());
    assert_eq!(root["delta_ns"].as_i64().unwrap(), after - before);

    let (ok, people, _) = vitals(&["diff", &positive, &positive, "--width", "100"]);
    assert!(ok && people.contains("Δ 0") && people.contains("Structure: 0 paths changed"), "{people}");
    let (ok, _, stderr) = vitals(&["diff", &positive, "no-such-trace", "--provider", "file", "--endpoint", &positive]);
    assert!(!ok && stderr.contains("no-such-trace"), "{stderr}");
}

#[test]
fn map_draws_every_service_and_edge_of_the_large_dependency_graph_once() {
    let large =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/jaeger-ui/dependencies/large.json");
    assert!(large.is_file(), "this test reads {}; it is missing", large.display());
    let large = large.to_str().unwrap();
    let (ok, stdout, stderr) = vitals(&["map", "--dependencies", large, "--json"]);
    assert!(ok, "{stderr}");
    let map: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((map["services"].as_array().unwrap().len(), map["edges"].as_array().unwrap().len()), (1238, 4271));

    let (ok, tree, _) = vitals(&["map", "--dependencies", large]);
    assert!(ok);
    let edge_lines = tree.lines().filter(|l| l.contains("├─ ") || l.contains("└─ ")).count();
    assert_eq!(edge_lines, 4271, "each call drawn once, under its caller, cycles not followed");
    let drawn: std::collections::HashSet<&str> = tree
        .lines()
        .filter_map(|l| l.trim_start_matches(['…', '│', '├', '└', '─', ' ']).split_whitespace().next())
        .collect();
    for service in map["services"].as_array().unwrap() {
        assert!(drawn.contains(service["name"].as_str().unwrap()), "{} is missing", service["name"]);
    }

    let (ok, callers, _) = vitals(&["map", "--input", "samples/shop-traces.json", "--callers", "postgres"]);
    assert!(ok);
    let direct: Vec<&str> = callers
        .lines()
        .filter(|l| l.starts_with("├─ ") || l.starts_with("└─ "))
        .map(|l| l[6..].split_whitespace().next().unwrap())
        .collect();
    assert_eq!(direct, ["cart", "frontend", "inventory"], "exactly postgres's callers\n{callers}");
    let (ok, order, _) = vitals(&["map", "--input", "samples/shop-traces.json", "--migration"]);
    let steps: Vec<&str> = order.lines().filter_map(|l| l.trim_start().split_once(". ")).map(|(_, s)| s).collect();
    assert_eq!(
        steps,
        ["kafka orders", "payment", "postgres", "redis", "cart", "inventory", "checkout", "frontend"],
        "the leaves first (the topic checkout publishes to among them), then what calls only them, each as far from the leaves in name order\n{order}"
    );
    assert!(ok && order.contains("No cycles."), "{order}");
}

/// A process killed when dropped (the test failing included).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An OTLP/HTTP export of request `trace` of `service_name`: `GET /orders` and, under it,
/// five queries one after another (an N+1), all ending just now.
fn orders_request(trace: u128, service_name: &str) -> Vec<u8> {
    let now = now_ns();
    let ms = 1_000_000;
    let span = |id: u64, parent: Option<u64>, name: &str, start: u64, end: u64| Span {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        name: name.into(),
        kind: if parent.is_some() { 3 } else { 2 },
        start_time_unix_nano: start,
        end_time_unix_nano: end,
        ..Default::default()
    };
    let mut spans = vec![span(1, None, "GET /orders", now - 60 * ms, now)];
    for i in 0..5u64 {
        let mut query = span(2 + i, Some(1), "SELECT", now - 55 * ms + i * 10 * ms, now - 48 * ms + i * 10 * ms);
        query.attributes = vec![
            text("db.system", "postgresql"),
            text("db.statement", &format!("SELECT * FROM items WHERE order_id = {i}")),
        ];
        spans.push(query);
    }
    request_of(Some(service(service_name)), spans).encode_to_vec()
}

#[tokio::test]
async fn tail_json_prints_a_line_per_trace_as_it_arrives_at_the_store_vitals_serve_fills() {
    let dir = TempDir::new("cli-tail");
    let db = dir.0.join("traces.db");
    let server = common::serve(&db);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["tail", "web", "--provider", "otlp", "--db"])
        .arg(&db)
        .args(["--interval", "200ms", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let _tail = Running(child);
    let said = BufReader::new(stderr).lines().next().unwrap().unwrap();
    assert!(said.starts_with("Following web, polling the trace store"), "{said}");
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let next_line = || -> serde_json::Value {
        let line = printed.recv_timeout(Duration::from_secs(10)).expect("a line for an arriving trace");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    let client = reqwest::Client::new();
    let send = |trace: u128, service: &str| {
        let request = client
            .post(&server.otlp_url)
            .header("content-type", "application/x-protobuf")
            .body(orders_request(trace, service))
            .send();
        async move { assert_eq!(request.await.unwrap().status(), 200) }
    };
    for (trace, service) in [(1, "web"), (2, "shop"), (3, "web")] {
        send(trace, service).await;
    }
    let (first, second) = (next_line(), next_line());
    assert_eq!(first["trace_id"], format!("{:032x}", 1), "{first}");
    assert_eq!(second["trace_id"], format!("{:032x}", 3), "the shop's trace is filtered out: {second}");
    assert_eq!((first["root_service"].as_str(), first["root_operation"].as_str()), (Some("web"), Some("GET /orders")));
    assert_eq!((first["span_count"].as_u64(), first["has_root"].as_bool()), (Some(6), Some(true)));
    let marks = first["marks"].as_array().unwrap();
    assert_eq!((marks[0]["kind"].as_str(), marks[0]["count"].as_u64()), (Some("n_plus_one"), Some(5)), "{first}");
    assert_eq!(marks[0]["span_ids"].as_array().unwrap().len(), 5);
    assert!(first["arrived_ns"].as_u64().unwrap() >= first["start_ns"].as_u64().unwrap());

    send(4, "web").await;
    assert_eq!(next_line()["trace_id"], format!("{:032x}", 4), "each trace once, as it arrives");
    assert!(printed.recv_timeout(Duration::from_millis(600)).is_err(), "nothing printed twice");
}

#[test]
fn trends_json_gives_each_bucket_and_the_services_operations_from_the_store() {
    let dir = std::env::temp_dir().join(format!("vitals-cli-trends-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("traces.db");
    let db = db.to_str().unwrap();
    // The demo shop's five requests, received over OTLP into the store.
    assert!(vitals(&["demo", "--width", "100", "--db", db]).0);

    let (ok, stdout, stderr) = vitals(&["trends", "frontend", "--db", db, "--range", "24h", "--json"]);
    assert!(ok, "{stderr}");
    let trend: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(trend["service"], "frontend");
    assert_eq!(trend["operation"], serde_json::Value::Null, "every entry operation, summed");
    assert_eq!(trend["total"]["requests"], 5);
    assert_eq!(trend["total"]["errors"], 1);
    let points = trend["points"].as_array().unwrap();
    assert_eq!(points.iter().map(|p| p["requests"].as_u64().unwrap()).sum::<u64>(), 5);
    let busy = points.iter().find(|p| p["requests"].as_u64() > Some(0)).unwrap();
    assert!(busy["p95_ns"].as_u64().is_some() && busy["slowest_stored"] == true, "{busy}");
    let end = trend["end_ns"].as_u64().unwrap();
    assert!(end - trend["start_ns"].as_u64().unwrap() >= 24 * 3600 * 1_000_000_000, "the whole range");
    let operations: Vec<(&str, &str, u64)> = trend["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["operation"].as_str().unwrap(), o["kind"].as_str().unwrap(), o["requests"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        operations,
        [("POST /checkout", "entry", 4), ("GET /products", "entry", 1), ("POST checkout/PlaceOrder", "client", 4)]
    );

    let (ok, stdout, stderr) = vitals(&["trends", "frontend", "POST /checkout", "--db", db, "--width", "90"]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("frontend · POST /checkout · last 7d in 3h buckets\n"), "{stdout}");
    for label in ["P50", "P95", "P99", "Errors", "Req/min"] {
        assert!(stdout.lines().any(|l| l.starts_with(label) && l.contains(" max ")), "{label}:\n{stdout}");
    }
    assert!(stdout.contains("Total    4 requests"), "{stdout}");

    let (ok, _, stderr) = vitals(&["trends", "shipping", "--db", db]);
    assert!(!ok);
    assert!(
        stderr.contains("No requests of shipping are stored (services with trends: cart, checkout, frontend,"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
