//! `vitals mcp` driven by a real MCP client: the Python `mcp` package's stdio client
//! (tests/mcp/client.py), which launches the server, negotiates the protocol, lists the
//! tools and calls them in one session. The workloads have known answers: the HotROD
//! captures with their manifests (../shared/fixtures) through `--provider file`, and
//! traffic the OpenTelemetry Python SDK sends into `vitals serve`, read through
//! `--provider otlp --db`. The client needs `VITALS_MCP_PYTHON` (tests/run provides it).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{TempDir, serve, shared_fixtures};
use serde_json::{Value, json};

const NEEDS_CLIENT: &str = "VITALS_MCP_PYTHON: a Python with the mcp package (tests/run sets it)";

/// The masked timeout: the proxy reports the error, frontend POST used up its 15 s.
const MASKED_TIMEOUT: &str = "3e241b731fcf87976a3d50f5a7cc4d94";
/// The 13 serial GetDriver calls under `be56eec6f3678130`.
const N_PLUS_ONE: &str = "ea6db5d7b317ca1a5e2c4e0e7cea53ce";
const SIBLING_ERRORS: &str = "7c4f1a90b3e84d2f9a6c5e8017b3d264";
/// The same dispatch with the route calls run one after another (`-W 1`) and overlapping (`-W 3`).
const FULL_SERIAL: &str = "fe65c5beefbe4e96119efbba3da07e99";
const FULL_CONCURRENT: &str = "1a4e4a7b270e9f2a0f716e3ee115218a";

/// What one client session saw.
struct Session {
    protocol: String,
    server: Value,
    instructions: String,
    tools: Vec<Value>,
    results: Vec<Value>,
}

impl Session {
    /// The structured answer of call `i`, which must have succeeded.
    fn answer(&self, i: usize) -> &Value {
        let result = &self.results[i];
        assert_eq!(result["is_error"], false, "call {i} failed: {result}");
        let text: Value = serde_json::from_str(result["text"].as_str().unwrap()).unwrap();
        assert_eq!(text, result["structured"], "call {i}: the text content is the structured content as JSON");
        &result["structured"]
    }

    /// The message of call `i`, which must have been a tool error.
    fn error(&self, i: usize) -> &str {
        let result = &self.results[i];
        assert_eq!(result["is_error"], true, "call {i} did not fail: {result}");
        result["text"].as_str().unwrap()
    }
}

/// Runs the client in `mode` against `vitals mcp ARGS` (started in `cwd`, its log under
/// `state`), making `calls` (`[[tool, arguments], …]`) in order.
fn session(mode: &str, args: &[&str], cwd: &Path, state: &Path, calls: Value) -> Session {
    let python = std::env::var("VITALS_MCP_PYTHON").expect(NEEDS_CLIENT);
    let client = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let mut child = Command::new(python)
        .arg(client)
        .arg(mode)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_vitals"))
        .arg("mcp")
        .args(args)
        .current_dir(cwd)
        .env("XDG_STATE_HOME", state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the MCP client");
    child.stdin.take().unwrap().write_all(calls.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "the client failed: {}", String::from_utf8_lossy(&output.stderr));
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    Session {
        protocol: out["protocol"].as_str().unwrap().to_string(),
        server: out["server"].clone(),
        instructions: out["instructions"].as_str().unwrap_or_default().to_string(),
        tools: out["tools"].as_array().unwrap().clone(),
        results: out["results"].as_array().unwrap().clone(),
    }
}

fn hotrod() -> String {
    shared_fixtures().join("jaeger-hotrod").display().to_string()
}

/// A session on the HotROD captures through the file provider (`name` keeps each test's
/// state apart).
fn on_hotrod(name: &str, mode: &str, calls: Value) -> Session {
    let state = TempDir::new(name);
    session(mode, &["--provider", "file", "--endpoint", &hotrod()], &state.0, &state.0, calls)
}

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|item| item[key].as_str().unwrap().to_string()).collect()
}

#[test]
#[ignore = "needs the Python mcp package in VITALS_MCP_PYTHON; tests/run provides it"]
fn a_client_of_the_initialize_handshake_lists_every_tool_with_a_described_input_schema() {
    let s = on_hotrod("mcp-list", "legacy", json!([]));
    assert_eq!(s.protocol, "2025-11-25", "the handshake of the 2025 revisions, as today's clients speak it");
    assert_eq!(s.server["name"], "vitals");
    assert!(s.instructions.contains("file ") && s.instructions.contains("jaeger-hotrod"), "{}", s.instructions);
    let names: Vec<&str> = s.tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "analyze_service",
            "code_hotspots",
            "compare_traces",
            "critical_path",
            "get_trace",
            "regressions",
            "root_cause",
            "search_traces",
            "service_map"
        ]
    );
    for tool in &s.tools {
        let name = &tool["name"];
        assert!(tool["description"].as_str().unwrap().len() > 80, "{name} is described");
        assert_eq!(tool["annotations"]["readOnlyHint"], true, "{name} only reads");
        let schema = &tool["inputSchema"];
        assert_eq!(schema["type"], "object", "{name}");
        assert_eq!(schema["additionalProperties"], false, "{name}: a misspelt argument is refused, not ignored");
        let properties = schema["properties"].as_object().unwrap();
        assert!(!properties.is_empty(), "{name} takes arguments");
        for (argument, property) in properties {
            assert!(property["description"].as_str().is_some_and(|d| d.len() > 10), "{name}.{argument} is described");
        }
    }
    let schema = |name: &str| s.tools.iter().find(|t| t["name"] == name).unwrap()["inputSchema"].clone();
    assert_eq!(schema("root_cause")["required"], json!(["trace_id"]));
    assert_eq!(schema("compare_traces")["required"], json!(["before", "after"]));
    assert_eq!(schema("code_hotspots")["required"], json!(["path"]));
    assert!(schema("search_traces").get("required").is_none(), "a search needs nothing");
    assert!(schema("search_traces")["properties"]["limit"]["type"].to_string().contains("integer"));
}

#[test]
#[ignore = "needs the Python mcp package in VITALS_MCP_PYTHON; tests/run provides it"]
fn the_hotrod_captures_answer_with_their_known_findings() {
    let s = on_hotrod(
        "mcp-hotrod",
        "auto",
        json!([
            ["search_traces", { "service": "driver" }],
            ["get_trace", { "trace_id": N_PLUS_ONE }],
            ["get_trace", { "trace_id": N_PLUS_ONE, "span_id": "be56eec6f3678130" }],
            ["critical_path", { "trace_id": MASKED_TIMEOUT }],
            ["analyze_service", { "service": "driver" }],
            ["analyze_service", { "service": "frontend" }],
            ["root_cause", { "trace_id": MASKED_TIMEOUT }],
            ["root_cause", { "trace_id": SIBLING_ERRORS }],
            ["compare_traces", { "before": FULL_CONCURRENT, "after": FULL_SERIAL }],
            ["service_map", {}],
            ["service_map", { "service": "driver" }],
            ["regressions", { "service": "frontend" }],
            ["search_traces", {}],
            ["get_trace", { "trace_id": N_PLUS_ONE, "attributes": true }],
        ]),
    );
    assert_eq!(s.protocol, "2026-07-28", "the newest revision, by discovery");
    for (i, result) in s.results.iter().enumerate() {
        let size = result["text"].as_str().unwrap().len();
        assert!(size < 24_000, "answer {i} is small: {size} bytes");
    }

    // search_traces: the traces the driver takes part in, newest first.
    let found = s.answer(0);
    assert_eq!(found["provider"], format!("file {}", hotrod()));
    assert_eq!(ids(&found["traces"], "trace_id"), [FULL_SERIAL, FULL_CONCURRENT, N_PLUS_ONE]);
    assert_eq!(found["traces"][2]["span_count"], 16);
    assert_eq!(found["traces"][2]["root_operation"], "GET /dispatch");

    // get_trace: the compact summary, and one span in full.
    let trace = s.answer(1);
    assert_eq!(trace["root"]["service"], "frontend");
    assert_eq!((trace["span_count"].as_u64(), trace["duration_ms"].as_f64()), (Some(16), Some(1684.896)));
    assert_eq!(trace["services"], json!(["frontend", "driver", "redis-manual"]));
    assert_eq!(trace["critical_path"]["items"][0]["span_id"], "86740e648b8e485e");
    assert!(trace["slowest_spans"]["items"][0]["self_ms"].as_f64().unwrap() > 1400.0);
    let failed = &trace["errors"]["items"];
    assert!(failed.as_array().unwrap().iter().all(|e| e["operation"] == "GetDriver" && e["reason"].is_string()));
    assert!(trace.get("spans").is_none(), "attributes only when asked");
    let span = s.answer(2);
    assert_eq!(span["operation"], "driver.DriverService/FindNearest");
    assert_eq!(span["attributes"]["server.port"], 8082);
    assert!(ids(&span["events"], "name").contains(&"Retrying GetDriver after error".to_string()));

    // critical_path: frontend POST held the masked request for its whole 15 s.
    let path = s.answer(3);
    assert_eq!(path["by_span"]["items"][0]["span_id"], "909a94f934468e91");
    assert!(path["by_span"]["items"][0]["on_path_ms"].as_f64().unwrap() > 15_000.0);
    assert_eq!(path["sections"]["items"][0]["from_ms"], 0.0, "in time order");

    // analyze_service: the N+1 of the manifest, with its evidence and spans.
    let driver = s.answer(4);
    let n_plus_one = |analysis: &Value| -> Vec<Value> {
        analysis["findings"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "n_plus_one")
            .cloned()
            .collect()
    };
    let manifest = n_plus_one(driver).into_iter().find(|f| f["parent_span_id"] == "be56eec6f3678130").unwrap();
    assert_eq!(
        (manifest["service"].as_str(), manifest["operation"].as_str()),
        (Some("redis-manual"), Some("GetDriver"))
    );
    assert_eq!(manifest["count"], 13);
    assert_eq!(manifest["trace_id"], N_PLUS_ONE);
    assert_eq!(manifest["traces"][0]["span_ids"].as_array().unwrap().len(), 13, "the 13 calls are cited");
    assert!(manifest["message"].as_str().unwrap().contains("13×"), "{}", manifest["message"]);
    assert!(!manifest["suggestion"].as_str().unwrap().is_empty());
    // The route calls: an N+1 run serially (-W 1), a fan-out when they overlap (-W 3), and
    // the trimmed near miss is no N+1 at all.
    let frontend = n_plus_one(s.answer(5));
    let parents: Vec<&str> = frontend.iter().map(|f| f["parent_span_id"].as_str().unwrap()).collect();
    assert!(parents.contains(&"9c3834fb5a6fea99"), "{parents:?}");
    assert!(!parents.contains(&"97e1247531a58678") && !parents.contains(&"f3b8606bd90ad122"), "{parents:?}");

    // root_cause: the locus of the masked timeout is frontend POST, which reports no error.
    let masked = s.answer(6);
    assert_eq!(masked["failed"], true);
    assert_eq!(masked["error"]["origin"]["span_id"], "909a94f934468e91");
    assert_eq!(
        (masked["error"]["origin"]["service"].as_str(), masked["error"]["timed_out"].as_bool()),
        (Some("frontend"), Some(true))
    );
    assert_eq!(ids(&masked["error"]["chain"], "span_id"), ["909a94f934468e91", "fb403de242b50b18", "247a43490cfe60cd"]);
    assert_eq!(masked["error"]["reported_by"], "frontend-proxy POST");
    assert!(masked["summary"].as_str().unwrap().contains("frontend POST"), "{}", masked["summary"]);
    let siblings = s.answer(7);
    assert_eq!(siblings["error"]["origin"]["span_id"], "d4e5f60718293a4b", "the earlier of two failed siblings");
    assert_eq!(siblings["error"]["reason"], "payment declined: card processor rejected transaction");

    // compare_traces: the serial route calls made the same dispatch slower.
    let diff = s.answer(8);
    assert_eq!(
        (diff["before"]["trace_id"].as_str(), diff["after"]["trace_id"].as_str()),
        (Some(FULL_CONCURRENT), Some(FULL_SERIAL))
    );
    assert!((diff["delta_ms"].as_f64().unwrap() - 422.968).abs() < 0.01, "{}", diff["delta_ms"]);
    let routes = diff["changes"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["path"] == json!(["frontend: GET /dispatch", "frontend: HTTP GET", "route: GET /route"]))
        .unwrap();
    assert_eq!((routes["count_before"].as_u64(), routes["count_after"].as_u64()), (Some(10), Some(10)));
    assert!(routes["after_ms"].as_f64() > routes["before_ms"].as_f64() && routes["example_after"].is_string());

    // service_map: the driver's calls into Redis, failed ones included; one service's neighbours.
    let map = s.answer(9);
    let call =
        map["calls"].as_array().unwrap().iter().find(|c| c["from"] == "driver" && c["to"] == "redis-manual").unwrap();
    assert_eq!((call["calls"].as_u64(), call["errors"].as_u64()), (Some(41), Some(9)));
    assert_eq!(map["traces"], 6);
    let around = s.answer(10);
    assert_eq!(ids(&around["services"], "name"), ["driver", "frontend", "redis-manual"]);
    assert_eq!(around["calls"].as_array().unwrap().len(), 2);

    // regressions: the latest hour holds two dispatches, too few to tell, and it says so,
    // citing the slowest.
    let regressions = s.answer(11);
    assert_eq!(regressions["overall"]["latency"], "not_enough_data");
    assert!(regressions["overall"]["summary"].as_str().unwrap().contains("n = 0/2: too few requests to tell"));
    assert_eq!(regressions["overall"]["slowest"][0], FULL_SERIAL);

    // search_traces without a service: the slowest recent traces of every service.
    let slowest = s.answer(12);
    assert_eq!(slowest["traces"][0]["trace_id"], MASKED_TIMEOUT);
    assert_eq!(slowest["traces"].as_array().unwrap().len(), 6);

    // get_trace with attributes: every span, parents first.
    let full = s.answer(13);
    let spans = full["spans"]["items"].as_array().unwrap();
    assert_eq!(spans.len(), 16);
    assert_eq!(spans[0]["span_id"], full["root"]["span_id"]);
    assert!(spans.iter().any(|s| s["attributes"]["rpc.method"] == "driver.DriverService/FindNearest"));
}

#[test]
#[ignore = "needs the Python mcp package in VITALS_MCP_PYTHON; tests/run provides it"]
fn bad_arguments_are_tool_errors_and_the_server_keeps_serving() {
    let s = on_hotrod(
        "mcp-bad",
        "auto",
        json!([
            ["get_trace", { "trace_id": "0123456789abcdef0123456789abcdef" }],
            ["root_cause", {}],
            ["search_traces", { "service": "driver", "limit": "many" }],
            ["analyze_service", { "servce": "driver" }],
            ["analyze_service", { "service": "nobody" }],
            ["compare_traces", { "before": N_PLUS_ONE, "after": "feedface" }],
            ["get_trace", { "trace_id": N_PLUS_ONE, "span_id": "0000000000000bad" }],
            ["service_map", { "service": "nobody" }],
            ["regressions", { "service": "frontend", "window": "soon" }],
            ["code_hotspots", { "path": "no/such/file.py" }],
            ["critical_path", { "trace_id": ["not", "a", "string"] }],
            ["no_such_tool", {}],
            ["analyze_service", {}],
            ["get_trace", { "trace_id": N_PLUS_ONE }],
        ]),
    );
    assert!(s.error(0).contains("trace 0123456789abcdef0123456789abcdef not found in file"), "{}", s.error(0));
    assert!(s.error(1).contains("missing field `trace_id`"), "{}", s.error(1));
    assert_eq!(s.error(2), "Bad argument limit: invalid type: string \"many\", expected usize");
    assert!(s.error(3).contains("unknown field `servce`, expected one of `service`"), "{}", s.error(3));
    assert!(
        s.error(4).starts_with("No traces of \"nobody\" in the last 1h; the services are: cart,"),
        "{}",
        s.error(4)
    );
    assert!(s.error(5).contains("trace feedface not found"), "{}", s.error(5));
    assert_eq!(s.error(6), format!("span 0000000000000bad not found in trace {N_PLUS_ONE}"));
    assert!(s.error(7).contains("No service \"nobody\" on the map") && s.error(7).contains("driver"), "{}", s.error(7));
    assert!(s.error(8).contains("soon"), "{}", s.error(8));
    assert!(s.error(9).starts_with("No file no/such/file.py in the project at"), "{}", s.error(9));
    assert!(s.error(10).starts_with("Bad argument trace_id: invalid type: sequence"), "{}", s.error(10));
    assert!(s.results[11]["protocol_error"].as_str().is_some_and(|e| e.contains("tool")), "{}", s.results[11]);
    assert_eq!(s.error(12), "Bad arguments: missing field `service`");
    assert_eq!(s.answer(13)["trace_id"], N_PLUS_ONE, "still serving after every bad call");
}

/// The OpenTelemetry SDK sends two hours of `web` requests (GET /cart 40 % slower in the
/// last hour) and a shop whose `list_orders` (shop/orders.py:42) runs an N+1 into
/// `vitals serve`; the MCP server reads the store it fills.
#[test]
#[ignore = "needs the OpenTelemetry SDK and the mcp package in VITALS_OTEL_PYTHON and VITALS_MCP_PYTHON; tests/run provides them"]
fn the_store_the_sdk_filled_answers_regressions_and_code_hotspots() {
    let sdk = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let dir = TempDir::new("mcp-store");
    let db = dir.0.join("traces.db");
    let server = serve(&db);
    let send = |script: &str| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel").join(script);
        let sent = Command::new(&sdk).arg(script).arg(&server.otlp_url).output().expect("run the SDK sender");
        assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));
        String::from_utf8(sent.stdout).unwrap()
    };
    send("send_regression.py");
    let slowest_orders = send("send_shop.py").lines().next().unwrap().to_string();
    let project = dir.0.join("project");
    std::fs::create_dir_all(project.join("shop")).unwrap();
    let source: Vec<String> = (1..=90).map(|i| format!("# line {i}")).collect();
    std::fs::write(project.join("shop/orders.py"), source.join("\n")).unwrap();
    let state = dir.0.join("state");

    let db = db.display().to_string();
    let s = session(
        "auto",
        &["--provider", "otlp", "--db", &db],
        &project,
        &state,
        json!([
            ["regressions", { "service": "web" }],
            ["code_hotspots", { "path": "shop/orders.py", "services": ["orders"] }],
            ["code_hotspots", { "path": project.join("shop/orders.py").display().to_string() }],
        ]),
    );
    let report = s.answer(0);
    let cart =
        report["operations"]["items"].as_array().unwrap().iter().find(|c| c["operation"] == "GET /cart").unwrap();
    assert_eq!(cart["latency"], "regression");
    assert_eq!(cart["summary"], "Baseline P95 = 459ms, Current P95 = 642ms, +40%, regression (p < 0.001, n = 200/200)");
    assert_eq!(report["operations"]["items"][0]["operation"], "GET /cart", "regressions first");
    assert!(cart["slowest"][0].is_string() && cart["slowest"][1].is_string(), "the slowest request's trace and span");

    let hotspots = s.answer(1);
    let lines = hotspots["lines"]["items"].as_array().unwrap();
    let at_42 = lines.iter().find(|l| l["line"] == 42).expect("list_orders at line 42");
    assert_eq!(at_42["code"], "# line 42");
    let n_plus_one = at_42["annotations"].as_array().unwrap().iter().find(|a| a["kind"] == "n_plus_one").unwrap();
    assert_eq!(n_plus_one["message"], "N+1: 15× select sku, qty from order_items where … · 20/20 req · p95 45.0ms");
    assert_eq!(n_plus_one["traces"]["items"][0]["trace_id"], slowest_orders.as_str(), "the worst request first");
    assert_eq!(n_plus_one["traces"]["items"][0]["span_ids"].as_array().unwrap().len(), 15, "its 15 queries");
    assert_eq!(n_plus_one["traces"]["left_out"], 15, "20 requests, 5 cited");
    assert!(lines.iter().any(|l| l["line"] == 80), "place_order at line 80");
    assert_eq!(s.answer(2)["lines"], hotspots["lines"], "an absolute path names the same file");

    let log = std::fs::read_to_string(state.join("vitals/vitals.log")).expect("the server logs to its log file");
    assert!(log.contains("MCP server starting"), "{log}");
}

/// Whatever happens, stdout carries only MCP messages: a raw client, no SDK needed.
#[test]
fn stdout_carries_only_json_rpc_messages() {
    let state = TempDir::new("mcp-raw");
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["mcp", "--provider", "file", "--endpoint", "/nonexistent/traces"])
        .env("XDG_STATE_HOME", &state.0)
        .env("VITALS_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    let messages = [
        initialize,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search_traces", "arguments": {"service": "x"}}}),
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "get_trace", "arguments": {"trace_id": 7}}}),
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
    ];
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answers = Vec::new();
    for message in messages {
        writeln!(stdin, "{message}").unwrap();
        stdin.flush().unwrap();
        if message.get("id").is_some() {
            let line = lines.next().expect("an answer").unwrap();
            answers.push(serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")));
        }
    }
    drop(stdin);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert!(rest.is_empty(), "nothing more on stdout: {rest:?}");
    assert!(child.wait().unwrap().success(), "the server ends when its client does");
    assert!(answers.iter().all(|a| a["jsonrpc"] == "2.0"));
    assert_eq!(answers[0]["result"]["protocolVersion"], "2025-06-18", "the client's revision");
    let missing = &answers[1]["result"];
    assert_eq!(missing["isError"], true);
    assert!(missing["content"][0]["text"].as_str().unwrap().contains("/nonexistent/traces"), "{missing}");
    assert_eq!(answers[2]["result"]["isError"], true);
    assert_eq!(answers[3]["result"]["tools"].as_array().unwrap().len(), 9);
}
