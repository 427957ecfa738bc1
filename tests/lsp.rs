//! `vitals lsp` driven by a language client over stdio, on a project whose trace has known
//! answers (the project of tests/nvim/spec/annotate_spec.lua): its spans name their code
//! with container paths, old and new attribute names, a path that needs a mapping and a
//! function alone, and it holds an N+1 of six queries.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::lsp::Lsp;
use serde_json::{Value, json};

struct Project {
    dir: PathBuf,
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Project {
    fn new(name: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("vitals-lsp-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["shop", "lib", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let write = |path: &str, count: usize, extra: &[(usize, &str)]| {
            let lines: Vec<String> = (1..=count)
                .map(|i| extra.iter().find(|(n, _)| *n == i).map_or(format!("# line {i}"), |(_, t)| t.to_string()))
                .collect();
            std::fs::write(dir.join(path), lines.join("\n") + "\n").unwrap();
        };
        write("shop/orders.py", 30, &[(12, "    return checkout(cart)")]);
        write("shop/cart.py", 10, &[]);
        write("shop/users.py", 12, &[(7, "def load_user(user_id):")]);
        write("lib/pricing.py", 6, &[]);
        let tags = |pairs: &[(&str, Value)]| -> Value {
            pairs
                .iter()
                .map(|(key, value)| {
                    let kind = if value.is_number() { "int64" } else { "string" };
                    json!({ "key": key, "type": kind, "value": value })
                })
                .collect()
        };
        let span = |id: &str, parent: Option<&str>, name: &str, start_ms: u64, ms: u64, tags: Value| {
            json!({
                "traceID": "c0ffee", "spanID": id, "operationName": name, "processID": "p1",
                "references": parent.map(|p| json!([{ "refType": "CHILD_OF", "spanID": p }])).unwrap_or(json!([])),
                "startTime": 1_700_000_000_000_000u64 + start_ms * 1000, "duration": ms * 1000, "tags": tags,
            })
        };
        let mut spans = vec![
            span(
                "1",
                None,
                "GET /checkout",
                0,
                100,
                tags(&[("code.file.path", json!("/app/shop/orders.py")), ("code.line.number", json!(12))]),
            ),
            span(
                "2",
                Some("1"),
                "load_cart",
                1,
                30,
                tags(&[("code.filepath", json!("/srv/shop/cart.py")), ("code.lineno", json!(5))]),
            ),
            span(
                "3",
                Some("1"),
                "load_user",
                32,
                3,
                tags(&[("code.function", json!("load_user")), ("code.namespace", json!("shop.users"))]),
            ),
            span(
                "4",
                Some("1"),
                "price",
                36,
                8,
                tags(&[("code.file.path", json!("/build/x/lib/pricing.py")), ("code.line.number", json!(3))]),
            ),
        ];
        for i in 1..=6u64 {
            let statement = format!("SELECT * FROM items WHERE order_id = {i}");
            spans.push(span(
                &(10 + i).to_string(),
                Some("1"),
                "SELECT",
                45 + i * 8,
                6,
                tags(&[("db.system", json!("postgresql")), ("db.statement", json!(statement))]),
            ));
        }
        let trace = json!({ "data": [{ "traceID": "c0ffee", "spans": spans, "processes": { "p1": { "serviceName": "web" } } }] });
        std::fs::write(dir.join("trace.json"), trace.to_string()).unwrap();
        Project { dir }
    }

    /// The plugin's options for this project, as a Neovim user would write them.
    fn options(&self) -> Value {
        json!({
            "trace_provider": "file",
            "trace_endpoint": self.dir.join("trace.json"),
            "path_mappings": { "/build/x/": format!("{}/", self.dir.display()) },
            "enable_auto_tracing": true,
        })
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn start(&self, options: Value) -> Lsp {
        let mut lsp = Lsp::start(&self.dir.join("home"));
        let result = lsp.initialize(&self.dir, options);
        assert_eq!(result["serverInfo"]["name"], "vitals");
        lsp
    }
}

/// The (0-based line, severity, code, message) of each diagnostic.
fn summary(diagnostics: &[Value]) -> Vec<(u64, u64, String, String)> {
    let mut out: Vec<_> = diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d["source"], "vitals");
            (
                d["range"]["start"]["line"].as_u64().unwrap(),
                d["severity"].as_u64().unwrap(),
                d["code"].as_str().unwrap().to_string(),
                d["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

const ERROR: u64 = 1;
const WARNING: u64 = 2;
const INFORMATION: u64 = 3;
const HINT: u64 = 4;

#[test]
fn opening_a_file_gives_its_diagnostics_on_the_right_lines_with_the_badges_severities() {
    let project = Project::new("diagnostics");
    let mut lsp = project.start(project.options());
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let diagnostics = lsp.diagnostics(&orders);
    let found = summary(&diagnostics);
    assert_eq!(
        found,
        vec![
            (11, ERROR, "timing".into(), "p95 100ms · 100% of GET /checkout · 1 call".into()),
            (11, WARNING, "n_plus_one".into(), "N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)".into()),
        ],
        "100% of the request is an error badge, the N+1 a warning"
    );
    assert_eq!(diagnostics[0]["range"]["start"]["character"], 4, "from the first character that is not blank");
    assert_eq!(diagnostics[0]["range"]["end"]["character"], 25, "to the end of the line");

    let cart = lsp.open(&project.path("shop/cart.py"), "python");
    assert_eq!(
        summary(&lsp.diagnostics(&cart)),
        vec![(4, WARNING, "timing".into(), "p95 30.0ms · 30% of GET /checkout · 1 call".into())],
        "/srv/shop/cart.py by its suffix"
    );
    let users = lsp.open(&project.path("shop/users.py"), "python");
    let by_function = summary(&lsp.diagnostics(&users));
    assert_eq!((by_function[0].0, by_function[0].1), (6, HINT), "found by its function; 3% is under the threshold");
    let pricing = lsp.open(&project.path("lib/pricing.py"), "python");
    let mapped = summary(&lsp.diagnostics(&pricing));
    assert_eq!((mapped[0].0, mapped[0].1), (2, INFORMATION), "mapped; 8% is over the 5% threshold: {mapped:?}");
    assert!(mapped[0].3.contains("8% of GET /checkout"), "{mapped:?}");

    assert_eq!(lsp.request("shutdown", Value::Null), Value::Null);
    lsp.notify("exit", Value::Null);
    assert_eq!(lsp.exit_status(Duration::from_secs(10)).code(), Some(0), "shutdown then exit is a clean exit");
}

/// A span that says what it allocated gives its line a memory diagnostic and the same
/// `▣` text Neovim writes, in the inlay hint.
#[test]
fn a_line_whose_span_allocates_says_how_much_in_a_diagnostic_and_its_inlay_hint() {
    let project = Project::new("memory");
    let file = project.path("trace.json");
    let mut trace: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let load_cart = trace["data"][0]["spans"].as_array_mut().unwrap().iter_mut().find(|s| s["spanID"] == "2").unwrap();
    let allocated = json!({ "key": "memory.allocated", "type": "int64", "value": 12_400_000 });
    load_cart["tags"].as_array_mut().unwrap().push(allocated);
    std::fs::write(&file, trace.to_string()).unwrap();
    let mut lsp = Lsp::start(&project.dir.join("home"));
    let refreshes = json!({ "workspace": { "inlayHint": { "refreshSupport": true } } });
    lsp.initialize_with(&project.dir, project.options(), refreshes);
    let cart = lsp.open(&project.path("shop/cart.py"), "python");
    assert_eq!(
        summary(&lsp.diagnostics(&cart)),
        vec![
            (4, WARNING, "timing".into(), "p95 30.0ms · 30% of GET /checkout · 1 call".into()),
            (4, HINT, "memory".into(), "12.4 MB per request · p95 12.4 MB".into()),
        ]
    );
    let range = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 10, "character": 0 } });
    let hints = lsp.request("textDocument/inlayHint", json!({ "textDocument": { "uri": cart }, "range": range }));
    assert_eq!(
        hints[0]["label"], "⏱ p95 30.0ms · 30% of GET /checkout · 1 call  ▣ 12.4 MB per request · p95 12.4 MB",
        "{hints}"
    );
}

/// Inlay hints at the end of the annotated lines, with the text Neovim writes there; the
/// hover and the code actions of an annotated line.
#[test]
fn inlay_hints_and_hover_on_an_annotated_line() {
    let project = Project::new("hints");
    let mut lsp = Lsp::start(&project.dir.join("home"));
    let refreshes = json!({ "workspace": { "inlayHint": { "refreshSupport": true } } });
    lsp.initialize_with(&project.dir, project.options(), refreshes);
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    lsp.diagnostics(&orders);
    lsp.wait_for("workspace/inlayHint/refresh", |_| true);
    let range = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 30, "character": 0 } });
    let hints = lsp.request("textDocument/inlayHint", json!({ "textDocument": { "uri": orders }, "range": range }));
    let hints = hints.as_array().unwrap();
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert_eq!(hints[0]["position"], json!({ "line": 11, "character": 25 }), "at the end of line 12");
    assert_eq!(
        hints[0]["label"],
        "⏱ p95 100ms · 100% of GET /checkout · 1 call  ⚠ N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)"
    );
    let outside = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 5, "character": 0 } });
    let none = lsp.request("textDocument/inlayHint", json!({ "textDocument": { "uri": orders }, "range": outside }));
    assert_eq!(none, json!([]), "only the lines asked for");

    let at = |line: u64| json!({ "textDocument": { "uri": orders }, "position": { "line": line, "character": 6 } });
    let hover = lsp.request("textDocument/hover", at(11));
    assert_eq!(hover["contents"]["kind"], "markdown");
    let text = hover["contents"]["value"].as_str().unwrap();
    for expected in [
        "**p95 100ms · 100% of GET /checkout · 1 call**",
        "**N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)**",
        "6× SELECT * FROM items WHERE order_id = ? one after another under GET /checkout",
        "- *Suggestion:* load items for all 6 in one query: WHERE order_id IN (…)",
        "Slowest of the one trace through here:",
        "```text\n",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from the hover:\n{text}");
    }
    let flame = |text: &str| text.split("```text\n").nth(1).unwrap().split("\n```").next().unwrap().to_string();
    let block = flame(text);
    let rows: Vec<&str> = block.lines().collect();
    assert!(rows.len() <= 24, "{} rows:\n{block}", rows.len());
    assert!(rows.iter().all(|r| r.chars().count() <= 76), "a row wider than Helix's popup at 80 columns:\n{block}");
    assert!(block.contains("web: GET /checkout") && block.contains("load_cart"), "the flame graph's bars:\n{block}");
    assert_eq!(lsp.request("textDocument/hover", at(3)), Value::Null, "nothing to say on a line without annotations");
    // A wide terminal: up to Helix's widest popup, with room for the queries' names.
    let mut wide = project.options();
    wide["hover_width"] = json!(118);
    lsp.notify("workspace/didChangeConfiguration", json!({ "settings": wide }));
    lsp.diagnostics(&orders);
    let hover = lsp.request("textDocument/hover", at(11));
    let block = flame(hover["contents"]["value"].as_str().unwrap());
    assert!(block.lines().all(|r| r.chars().count() <= 118), "a row wider than Helix's popup:\n{block}");
    assert!(block.lines().any(|r| r.chars().count() > 76), "drawn wider:\n{block}");
    assert!(block.contains("SELECT"), "the queries have room for their names:\n{block}");

    let on = |line: u64| {
        let range = json!({ "start": { "line": line, "character": 0 }, "end": { "line": line, "character": 0 } });
        json!({ "textDocument": { "uri": orders }, "range": range, "context": { "diagnostics": [] } })
    };
    let actions = lsp.request("textDocument/codeAction", on(11));
    let titles: Vec<&str> = actions.as_array().unwrap().iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert_eq!(
        titles,
        [
            "Open the slowest trace through here (web: GET /checkout, 100ms)",
            "Open the 6 calls in the worst trace: N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)",
            "Analyze service web",
            "Service map of web",
        ],
        "no list of the traces through here when there is one"
    );
    assert_eq!(actions[2]["command"]["command"], "vitals.analyze");
    assert_eq!(actions[2]["command"]["arguments"], json!(["web"]));
    assert_eq!(
        (&actions[3]["command"]["command"], &actions[3]["command"]["arguments"]),
        (&json!("vitals.map"), &json!(["web"]))
    );
    let command = &actions[1]["command"];
    assert_eq!(command["command"], "vitals.trace");
    let arguments = command["arguments"].as_array().unwrap();
    assert_eq!(arguments.len(), 7, "the trace and its six queries: {arguments:?}");
    assert_eq!(arguments[0], "00000000000000000000000000c0ffee");
    let run = json!({ "command": "vitals.trace", "arguments": arguments });
    assert_eq!(lsp.request("workspace/executeCommand", run), Value::Null);
    let (path, _) = shown_document(&mut lsp);
    assert!(path.ends_with("trace-00000000000000000000000000c0ffee.txt"), "{}", path.display());
    assert_eq!(lsp.request("textDocument/codeAction", on(3)), json!([]), "no actions on a line without annotations");
}

#[test]
fn bad_settings_are_an_error_message_and_the_server_keeps_serving_until_stdin_ends() {
    let project = Project::new("settings");
    let mut bad = project.options();
    bad["timeout_ms"] = json!("soon");
    let mut lsp = project.start(bad);
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(message["message"].as_str().unwrap().starts_with("Vitals option timeout_ms: invalid type"), "{message}");

    let typo = json!({ "vitals": { "trace_providr": "file" } });
    lsp.notify("workspace/didChangeConfiguration", json!({ "settings": typo }));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert_eq!(message["message"], "Unknown Vitals option trace_providr: see :help vitals-options or the README");

    // A dead backend: the error the Neovim plugin shows.
    let dead =
        json!({ "trace_provider": "jaeger", "trace_endpoint": "http://127.0.0.1:9", "enable_auto_tracing": true });
    lsp.notify("workspace/didChangeConfiguration", json!({ "settings": dead }));
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(
        message["message"].as_str().unwrap().starts_with("Failed to connect to jaeger at http://127.0.0.1:9"),
        "{message}"
    );

    // Good settings again: the open document gets its diagnostics.
    lsp.notify("workspace/didChangeConfiguration", json!({ "settings": project.options() }));
    assert_eq!(lsp.diagnostics(&orders).len(), 2);

    lsp.close_stdin();
    assert_eq!(lsp.exit_status(Duration::from_secs(10)).code(), Some(0), "the end of stdin ends the server");
}

#[test]
fn without_auto_tracing_nothing_is_fetched_and_a_closed_file_loses_its_diagnostics() {
    let project = Project::new("manual");
    let mut options = project.options();
    options["enable_auto_tracing"] = json!(false);
    let mut lsp = project.start(options);
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let hover = json!({ "textDocument": { "uri": orders }, "position": { "line": 11, "character": 0 } });
    assert_eq!(lsp.request("textDocument/hover", hover), Value::Null);
    assert!(lsp.kept().iter().all(|m| m["method"] != "textDocument/publishDiagnostics"), "{:?}", lsp.kept());

    lsp.notify("workspace/didChangeConfiguration", json!({ "settings": project.options() }));
    assert_eq!(lsp.diagnostics(&orders).len(), 2, "turned on: the open file is annotated");
    lsp.notify("textDocument/didClose", json!({ "textDocument": { "uri": orders } }));
    let cleared = lsp.wait_for("textDocument/publishDiagnostics", |p| p["uri"] == orders.as_str());
    assert_eq!(cleared["diagnostics"], json!([]));
    lsp.notify("exit", Value::Null);
    assert_eq!(lsp.exit_status(Duration::from_secs(10)).code(), Some(1), "exit without shutdown, as the protocol says");
}

/// A client that pulls diagnostics (and can be told to pull again) gets them only that way:
/// a client that got both would show each twice.
#[test]
fn a_client_that_pulls_diagnostics_is_told_to_pull_again_when_they_change_and_gets_no_pushes() {
    let project = Project::new("pull");
    let mut lsp = Lsp::start(&project.dir.join("home"));
    let pulls =
        json!({ "textDocument": { "diagnostic": {} }, "workspace": { "diagnostics": { "refreshSupport": true } } });
    let result = lsp.initialize_with(&project.dir, project.options(), pulls);
    assert_eq!(result["capabilities"]["diagnosticProvider"]["identifier"], "vitals");
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let pull = json!({ "textDocument": { "uri": orders } });
    lsp.request("textDocument/diagnostic", pull.clone());
    lsp.wait_for("workspace/diagnostic/refresh", |_| true);
    let report = lsp.request("textDocument/diagnostic", pull);
    assert_eq!(report["kind"], "full");
    let found = summary(report["items"].as_array().unwrap());
    let kinds: Vec<(u64, u64, &str)> = found.iter().map(|d| (d.0, d.1, d.2.as_str())).collect();
    assert_eq!(kinds, vec![(11, ERROR, "timing"), (11, WARNING, "n_plus_one")]);
    assert!(lsp.kept().iter().all(|m| m["method"] != "textDocument/publishDiagnostics"), "{:#?}", lsp.kept());
}

/// The file a `window/showDocument` asks to show, and its text.
fn shown_document(lsp: &mut Lsp) -> (PathBuf, String) {
    let shown = lsp.wait_for("window/showDocument", |_| true);
    assert_eq!(shown["takeFocus"], true);
    let path = url::Url::parse(shown["uri"].as_str().unwrap()).unwrap().to_file_path().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

#[test]
fn workspace_commands_write_their_views_under_the_state_directory_and_show_them() {
    let project = Project::new("commands");
    let mut lsp = Lsp::start(&project.dir.join("home"));
    let result = lsp.initialize(&project.dir, project.options());
    let commands = json!([
        "vitals.trace",
        "vitals.traces",
        "vitals.search",
        "vitals.analyze",
        "vitals.map",
        "vitals.flame",
        "vitals.regressions",
        "vitals.compare",
        "vitals.status"
    ]);
    assert_eq!(result["capabilities"]["executeCommandProvider"]["commands"], commands);
    let run = |lsp: &mut Lsp, command: &str, arguments: Value| {
        let answer = lsp.request("workspace/executeCommand", json!({ "command": command, "arguments": arguments }));
        assert_eq!(answer, Value::Null);
    };
    let id = "00000000000000000000000000c0ffee";

    run(&mut lsp, "vitals.search", json!([]));
    let (path, text) = shown_document(&mut lsp);
    assert!(path.starts_with(project.path("home/state/vitals/views")), "{}", path.display());
    assert_eq!(path.file_name().unwrap(), "search.txt");
    assert!(text.starts_with("Vitals search: the slowest recent traces of every service\n"), "{text}");
    let line = text.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("no line for the trace:\n{text}"));
    assert!(line.contains("web: GET /checkout") && line.contains("100ms"), "{line}");

    // The words of :VitalsSearch: the service, a limit and attribute filters anywhere.
    run(&mut lsp, "vitals.search", json!(["db.system=postgresql", "web", "5"]));
    let (_, text) = shown_document(&mut lsp);
    assert!(text.starts_with("Vitals search: web\n"), "{text}");
    assert!(text.lines().any(|l| l.starts_with(id)), "its queries are postgresql's:\n{text}");
    run(&mut lsp, "vitals.search", json!(["web", "db.system=mysql"]));
    let (_, text) = shown_document(&mut lsp);
    assert!(!text.contains(id), "none of its spans is a mysql query:\n{text}");

    run(&mut lsp, "vitals.trace", json!([id]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("trace-{id}.txt"));
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("── ")).collect();
    assert_eq!(
        headings,
        [
            "── Flame graph (critical path marked ━) ──",
            "── Waterfall (critical path marked ━) ──",
            "── Network calls ──",
            "── Span statistics ──",
            "── Code (gf on a file:line opens it) ──"
        ]
    );
    assert!(
        text.contains("100ms  web: GET /checkout  /app/shop/orders.py:12"),
        "the code locations, longest first:\n{text}"
    );
    assert!(text.contains("SELECT * FROM items"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 120), "drawn 120 columns wide:\n{text}");

    run(&mut lsp, "vitals.analyze", json!(["web"]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "analyze-web.txt");
    assert!(text.starts_with("Vitals analysis: web, last 1h\n"), "{text}");
    assert!(text.contains("N+1") && text.contains("load items for all 6 in one query"), "{text}");

    run(&mut lsp, "vitals.flame", json!(["web"]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "flame-web.txt");
    assert!(text.starts_with("Vitals flame graph: web, last 1h\n"), "{text}");
    assert!(text.contains("GET /checkout") && text.contains("SELECT"), "{text}");

    run(&mut lsp, "vitals.compare", json!([id, id]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap().to_str().unwrap(), format!("compare-{id}-{id}.txt"));
    assert!(text.contains("Trace comparison") && text.contains("Structure: 0 paths changed"), "{text}");

    run(&mut lsp, "vitals.map", json!(["web"]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "map-web.txt");
    assert!(text.starts_with("Vitals service map: last 1h\n"), "{text}");
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("── ")).collect();
    assert_eq!(headings, ["── Calls from web ──", "── Callers of web ──", "── web ──"]);
    assert!(text.contains("postgresql"), "the database web calls, on the map:\n{text}");
    run(&mut lsp, "vitals.map", json!([]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "map.txt");
    assert!(text.contains("── Every service and its calls ──") && text.contains("── Migration order ──"), "{text}");
    run(&mut lsp, "vitals.map", json!(["nobody"]));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert_eq!(message["message"], "No service \"nobody\" on the map of the last 1h");

    // The words of :VitalsRegressions; one request is too few to tell, and the report says so.
    run(&mut lsp, "vitals.regressions", json!(["web", "30m"]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "regressions-web.txt");
    assert!(text.starts_with("Vitals regressions: web\n"), "{text}");
    assert!(text.contains("GET /checkout"), "the operation compared:\n{text}");
    run(&mut lsp, "vitals.regressions", json!(["web", "--bogus"]));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(message["message"].as_str().unwrap().starts_with("unknown option --bogus"), "{message}");

    run(&mut lsp, "vitals.status", json!([]));
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "status.txt");
    assert!(text.contains(&format!("file {}", project.path("trace.json").display())), "{text}");

    run(&mut lsp, "vitals.analyze", json!([]));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert_eq!(message["message"], "Which service? e.g. vitals.analyze frontend");
    run(&mut lsp, "vitals.trace", json!([]));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(message["message"].as_str().unwrap().starts_with("Which trace? Give a trace id"), "{message}");
    run(&mut lsp, "vitals.trace", json!(["feedbeef"]));
    let message = lsp.wait_for("window/showMessage", |p| p["type"] == 1);
    assert!(message["message"].as_str().unwrap().contains("feedbeef"), "{message}");
}

/// A command reports `$/progress` to a client that shows it, once the client has
/// accepted the token.
#[test]
fn a_command_reports_its_progress_to_a_client_that_shows_it() {
    let project = Project::new("progress");
    let mut lsp = Lsp::start(&project.dir.join("home"));
    lsp.initialize_with(&project.dir, project.options(), json!({ "window": { "workDoneProgress": true } }));
    let search = json!({ "command": "vitals.search", "arguments": [] });
    lsp.send(&json!({ "jsonrpc": "2.0", "id": 900, "method": "workspace/executeCommand", "params": search }));
    let create = lsp.wait_for_message("window/workDoneProgress/create", |_| true);
    let token = create["params"]["token"].clone();
    lsp.send(&json!({ "jsonrpc": "2.0", "id": create["id"], "result": null }));
    let begin = lsp.wait_for("$/progress", |p| p["value"]["kind"] == "begin");
    assert_eq!((&begin["token"], &begin["value"]["title"]), (&token, &json!("Vitals: vitals.search")));
    let end = lsp.wait_for("$/progress", |p| p["value"]["kind"] == "end");
    assert_eq!(end["token"], token);
    let (path, _) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "search.txt");
}

/// The first annotations of an open file report `$/progress` (later refreshes are quiet).
#[test]
fn the_first_annotations_report_their_progress() {
    let project = Project::new("first-progress");
    let mut lsp = Lsp::start(&project.dir.join("home"));
    lsp.initialize_with(&project.dir, project.options(), json!({ "window": { "workDoneProgress": true } }));
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let create = lsp.wait_for_message("window/workDoneProgress/create", |_| true);
    lsp.send(&json!({ "jsonrpc": "2.0", "id": create["id"], "result": null }));
    let begin = lsp.wait_for("$/progress", |p| p["value"]["kind"] == "begin");
    assert_eq!(begin["value"]["title"], "Vitals: analyzing recent traces");
    lsp.wait_for("$/progress", |p| p["value"]["kind"] == "end" && p["token"] == begin["token"]);
    assert_eq!(lsp.diagnostics(&orders).len(), 2);
}

/// A view's document links: in a list of traces, each id opens its trace (fetched when
/// the link is resolved); in a trace, each `file:line` of the project opens that file.
#[test]
fn a_list_of_the_traces_through_a_line_links_each_trace_and_a_trace_links_its_code() {
    let project = Project::new("links");
    // A second, slower request through the same lines.
    let first = std::fs::read_to_string(project.path("trace.json")).unwrap();
    let second = first.replace("c0ffee", "c0ffef").replace("\"duration\":100000", "\"duration\":150000");
    let mut traces: Value = serde_json::from_str(&first).unwrap();
    let other: Value = serde_json::from_str(&second).unwrap();
    traces["data"].as_array_mut().unwrap().push(other["data"][0].clone());
    std::fs::write(project.path("trace.json"), traces.to_string()).unwrap();
    let mut lsp = project.start(project.options());
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    lsp.diagnostics(&orders);
    let range = json!({ "start": { "line": 11, "character": 0 }, "end": { "line": 11, "character": 0 } });
    let on_line = json!({ "textDocument": { "uri": orders }, "range": range, "context": { "diagnostics": [] } });
    let actions = lsp.request("textDocument/codeAction", on_line);
    let list = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "List the 2 traces through here")
        .unwrap_or_else(|| panic!("no list among {actions:#}"));
    assert_eq!(list["command"]["command"], "vitals.traces");
    let run = json!({ "command": "vitals.traces", "arguments": list["command"]["arguments"] });
    assert_eq!(lsp.request("workspace/executeCommand", run), Value::Null);
    let (path, text) = shown_document(&mut lsp);
    assert_eq!(path.file_name().unwrap(), "traces.txt");
    let slow = "00000000000000000000000000c0ffef";
    let fast = "00000000000000000000000000c0ffee";
    let ids: Vec<&str> = text.lines().filter_map(|l| l.split_whitespace().next()).filter(|w| w.len() == 32).collect();
    assert_eq!(ids, [slow, fast], "slowest first:\n{text}");

    let list = lsp.open(&path, "text");
    let links = lsp.request("textDocument/documentLink", json!({ "textDocument": { "uri": list } }));
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 2, "{links:#?}");
    assert_eq!(links[0]["range"]["start"], json!({ "line": 2, "character": 0 }));
    assert_eq!(links[0]["range"]["end"], json!({ "line": 2, "character": 32 }));
    assert!(links[0].get("target").is_none(), "a trace is fetched only when its link is followed");
    let resolved = lsp.request("documentLink/resolve", links[0].clone());
    let target = url::Url::parse(resolved["target"].as_str().unwrap()).unwrap().to_file_path().unwrap();
    assert_eq!(target.file_name().unwrap().to_str().unwrap(), format!("trace-{slow}.txt"));
    let trace_text = std::fs::read_to_string(&target).unwrap();
    assert!(trace_text.contains("── Flame graph"), "{trace_text}");

    let trace = lsp.open(&target, "text");
    let links = lsp.request("textDocument/documentLink", json!({ "textDocument": { "uri": trace } }));
    let targets: Vec<&str> = links.as_array().unwrap().iter().filter_map(|l| l["target"].as_str()).collect();
    let uri = |path: &str, line: u32| format!("{}#L{line}", common::lsp::file_uri(&project.path(path)));
    for expected in [uri("shop/orders.py", 12), uri("shop/cart.py", 5), uri("lib/pricing.py", 3)] {
        assert!(targets.contains(&expected.as_str()), "no link to {expected} among {targets:#?}");
    }
    let line = trace_text.lines().position(|l| l.contains("/app/shop/orders.py:12")).unwrap();
    let link = links.as_array().unwrap().iter().find(|l| l["range"]["start"]["line"] == line).unwrap();
    let column = trace_text.lines().nth(line).unwrap().find("/app/shop/orders.py:12").unwrap();
    assert_eq!(link["range"]["start"]["character"], column, "the link is the path and its line");

    let own = lsp.open(&project.path("shop/orders.py"), "python");
    let none = lsp.request("textDocument/documentLink", json!({ "textDocument": { "uri": own } }));
    assert_eq!(none, json!([]), "the project's own files have no links of Vitals'");
}

/// A loopback port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// With the default `otlp` provider the server runs the Neovim host's receivers and store:
/// spans the OpenTelemetry Python SDK exports to it annotate the open file as they arrive
/// (auto tracing's interval), and an unchanged result is not published again. A second
/// server on the same store and port (a Helix beside a Neovim) waits for the port and
/// sees the same traces.
#[test]
#[ignore = "needs the OpenTelemetry Python SDK in VITALS_OTEL_PYTHON; tests/run provides it"]
fn spans_the_sdk_sends_to_the_embedded_receiver_annotate_the_open_file_as_they_arrive() {
    let python = std::env::var("VITALS_OTEL_PYTHON")
        .expect("VITALS_OTEL_PYTHON: a Python with the OpenTelemetry SDK (tests/run sets it)");
    let project = Project::new("otlp");
    let source: Vec<String> = (1..=90).map(|i| format!("# line {i}")).collect();
    std::fs::write(project.path("shop/orders.py"), source.join("\n")).unwrap();
    let port = free_port();
    let options = json!({
        "store_path": project.path("store.db"),
        "receivers": { "otlp_http": format!("127.0.0.1:{port}"), "otlp_grpc": false },
        "enable_auto_tracing": true,
        "auto_tracing": { "interval_ms": 300 },
    });
    let mut lsp = project.start(options.clone());
    let orders = lsp.open(&project.path("shop/orders.py"), "python");
    let mut beside = Lsp::start(&project.dir.join("home/beside"));
    beside.initialize(&project.dir, options);
    beside.open(&project.path("shop/orders.py"), "python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/otel/send_shop.py");
    let sent = std::process::Command::new(python)
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/v1/traces"))
        .output()
        .expect("run the SDK sender");
    assert!(sent.status.success(), "{}", String::from_utf8_lossy(&sent.stderr));

    // Refreshes during the export may have published part of the traffic; wait for all of it.
    let whole = |p: &Value| {
        let text = p["diagnostics"].to_string();
        p["uri"] == orders.as_str() && text.contains("20/20 req") && text.contains("5 calls")
    };
    let found = summary(lsp.wait_for("textDocument/publishDiagnostics", whole)["diagnostics"].as_array().unwrap());
    lsp.forget_kept();
    let seen_beside = beside.wait_for("textDocument/publishDiagnostics", whole);
    assert_eq!(summary(seen_beside["diagnostics"].as_array().unwrap()), found, "the server beside sees the same");
    assert_eq!(
        found,
        vec![
            (
                41,
                ERROR,
                "n_plus_one".into(),
                "N+1: 15× select sku, qty from order_items where … · 20/20 req · p95 45.0ms".into()
            ),
            (41, ERROR, "timing".into(), "p95 76.0ms · 53.5% of GET /orders · 20 calls".into()),
            (79, ERROR, "timing".into(), "p95 27.0ms · 49.1% of POST /checkout · 5 calls".into()),
            (79, INFORMATION, "dominant_self_time".into(), "self time · 5/5 req · p95 22.0ms".into()),
        ],
        "list_orders at line 42 with its N+1 in all 20 requests, place_order at line 80"
    );

    // Three more intervals with nothing new: nothing published again.
    std::thread::sleep(Duration::from_millis(1000));
    let range = json!({ "start": { "line": 0, "character": 0 }, "end": { "line": 90, "character": 0 } });
    lsp.request("textDocument/inlayHint", json!({ "textDocument": { "uri": orders }, "range": range }));
    let again = lsp.kept().iter().filter(|m| m["method"] == "textDocument/publishDiagnostics").count();
    assert_eq!(again, 0, "the same diagnostics were published again: {:#?}", lsp.kept());
}

/// A real Helix in tmux, killed when dropped.
struct Helix {
    session: String,
}

impl Drop for Helix {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Helix {
    fn screen(&self) -> String {
        let out = std::process::Command::new("tmux").args(["capture-pane", "-p", "-t", &self.session]).output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    /// Waits until the screen shows what `wanted` accepts; answers that screen.
    fn wait_for(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if wanted(&screen) {
                return screen;
            }
            assert!(std::time::Instant::now() < deadline, "Helix never showed {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn keys(&self, keys: &str) {
        let sent = std::process::Command::new("tmux").args(["send-keys", "-t", &self.session, keys]).output().unwrap();
        assert!(sent.status.success(), "tmux send-keys {keys}: {}", String::from_utf8_lossy(&sent.stderr));
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The Helix of the shared tools (`../shared/tools/helix/hx`) editing the project's
/// orders.py with `vitals lsp` registered for Python, inlay hints on: the hint is at the
/// end of line 12 on screen, `space k` shows the hover with the flame graph, and
/// `:lsp-workspace-command vitals.trace` opens the trace's views.
#[test]
fn helix_shows_the_hint_at_the_end_of_the_line_and_the_flame_graph_in_its_hover() {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/helix");
    if !shared.join("hx").is_file() {
        eprintln!(
            "SKIPPED: no Helix at {} (../shared is absent), so vitals lsp was not tried in Helix",
            shared.display()
        );
        return;
    }
    if std::process::Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("SKIPPED: tmux is not installed, so vitals lsp was not tried in Helix; install tmux to run it");
        return;
    }
    let project = Project::new("helix");
    let config = project.path("home/config/helix");
    std::fs::create_dir_all(&config).unwrap();
    let options = project.options();
    let mappings = format!("{{ \"/build/x/\" = {} }}", options["path_mappings"]["/build/x/"]);
    let languages = format!(
        "[language-server.vitals]\ncommand = {}\nargs = [\"lsp\"]\n\
         config = {{ trace_provider = \"file\", trace_endpoint = {}, path_mappings = {mappings}, enable_auto_tracing = true }}\n\n\
         [[language]]\nname = \"python\"\nlanguage-servers = [\"vitals\"]\n\n\
         [[language]]\nname = \"vitals-view\"\nscope = \"text.vitals\"\nfile-types = [{{ glob = \"vitals/views/*.txt\" }}]\nlanguage-servers = [\"vitals\"]\n",
        json!(env!("CARGO_BIN_EXE_vitals")),
        options["trace_endpoint"],
    );
    std::fs::write(config.join("languages.toml"), languages).unwrap();
    std::fs::write(config.join("config.toml"), "[editor.lsp]\ndisplay-inlay-hints = true\n").unwrap();
    let helix = Helix { session: format!("vitals-helix-{}", std::process::id()) };
    let command = format!(
        "env XDG_CONFIG_HOME={config} XDG_STATE_HOME={state} XDG_DATA_HOME={state} HELIX_RUNTIME={runtime} {hx} shop/orders.py",
        config = project.path("home/config").display(),
        state = project.path("home/state").display(),
        runtime = shared.join("runtime").display(),
        hx = shared.join("hx").display(),
    );
    let started = std::process::Command::new("tmux")
        .args(["new-session", "-d", "-s", &helix.session, "-x", "160", "-y", "60", "-c"])
        .arg(&project.dir)
        .arg(command)
        .status()
        .unwrap();
    assert!(started.success());

    let hint =
        "⏱ p95 100ms · 100% of GET /checkout · 1 call  ⚠ N+1: 6× SELECT * FROM items WHERE order_id = ? (36.0ms)";
    let screen = helix.wait_for("the inlay hint", |screen| screen.contains(hint));
    let row = screen.lines().find(|line| line.contains(hint)).unwrap();
    assert!(row.contains(&format!("12      return checkout(cart) {hint}")), "the hint ends line 12: {row:?}\n{screen}");
    assert!(row.starts_with('●'), "line 12's diagnostics mark the gutter: {row:?}");
    assert_eq!(screen.matches("⏱").count(), 1, "no other line has a hint:\n{screen}");

    helix.keys("12G");
    helix.keys("Space");
    helix.keys("k");
    let screen = helix.wait_for("the hover", |screen| screen.contains("Slowest of the one trace through here"));
    for expected in ["Suggestion: load items for all 6 in one query", "web: GET /checkout  100ms", "SELECT"] {
        assert!(screen.contains(expected), "{expected:?} is not in the hover:\n{screen}");
    }
    helix.keys("Escape");

    // Helix reads the command's arguments as JSON: the id is quoted.
    helix.keys(":lsp-workspace-command vitals.trace \"00000000000000000000000000c0ffee\"");
    helix.keys("Enter");
    let screen =
        helix.wait_for("the trace view", |screen| screen.contains("── Flame graph (critical path marked ━) ──"));
    assert!(screen.contains("views/trace-00000000000000000000000000c0ffee.txt"), "the file is open:\n{screen}");
    assert!(screen.contains("── Waterfall (critical path marked ━) ──"), "{screen}");

    // In the view, `gf` on a file:line opens the project's file (a document link).
    helix.keys("/orders.py:12");
    helix.keys("Enter");
    helix.keys("gf");
    let screen = helix.wait_for("orders.py opened from the trace", |screen| {
        screen.lines().any(|l| l.contains("shop/orders.py") && !l.contains("views/"))
            && screen.contains("return checkout(cart)")
    });
    assert!(!screen.contains("── Flame graph"), "{screen}");

    // In a search result, `gf` on a trace id fetches the trace and opens its view.
    helix.keys(":lsp-workspace-command vitals.search");
    helix.keys("Enter");
    helix.wait_for("the search result", |screen| screen.contains("views/search.txt"));
    helix.keys("/0c0ffee");
    helix.keys("Enter");
    helix.keys("gf");
    helix.wait_for("the trace opened from the search result", |screen| {
        screen.contains("views/trace-00000000000000000000000000c0ffee.txt") && !screen.contains("views/search.txt")
    });
    helix.keys(":qa!");
    helix.keys("Enter");
}
