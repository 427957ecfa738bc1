//! The language server's memory with its receivers running (issue 13: under 60 MB): a
//! `vitals lsp` on the default `otlp` provider, idle, then after receiving traces over
//! OTLP/HTTP and publishing the diagnostics of a 10,000-line file they annotate. Reads the
//! process's resident and peak memory from /proc (Linux). `cargo bench --bench lsp_memory`.

#[allow(dead_code)]
#[path = "../tests/common/lsp.rs"]
mod lsp;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

const TRACES: u64 = 200;
const SPANS_PER_TRACE: u64 = 100;
const LINES: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks what there is: nothing to list.
    }
    let dir = std::env::temp_dir().join(format!("vitals-lsp-memory-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let text: String = (1..=LINES).map(|i| format!("    line_{i} = compute({i})\n")).collect();
    std::fs::write(dir.join("src/big.py"), &text).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();

    let mut server = lsp::Lsp::start(&dir.join("home"));
    let options = json!({
        "receivers": { "otlp_http": format!("127.0.0.1:{port}"), "otlp_grpc": false, "zipkin": false },
        "enable_auto_tracing": true,
        "auto_tracing": { "interval_ms": 500 },
    });
    server.initialize(&dir, options);
    let uri = server.open(&dir.join("src/big.py"), "python");
    wait_for_receiver(port);
    let idle = memory(server.pid());

    for trace in 0..TRACES {
        post(port, &batch(trace));
    }
    let diagnostics = server.diagnostics(&uri);
    let after = memory(server.pid());
    println!(
        "vitals lsp, otlp provider with its receivers: idle {:.1} MB resident; after {TRACES} traces ({} spans) \
         received and {} diagnostics of a {LINES}-line file published: {:.1} MB resident, {:.1} MB peak (goal < 60 MB)",
        idle.0,
        TRACES * SPANS_PER_TRACE,
        diagnostics.len(),
        after.0,
        after.1,
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// (resident, peak) in MB, from /proc/PID/status.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux's /proc");
    let kb = |key: &str| -> f64 {
        let line = status.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in /proc"));
        line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap()
    };
    (kb("VmRSS:") / 1024.0, kb("VmHWM:") / 1024.0)
}

/// Waits until the server's OTLP/HTTP receiver takes connections.
fn wait_for_receiver(port: u16) {
    for _ in 0..300 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the receiver never listened on {port}");
}

/// One request of `src/big.py`: a handler span and its steps, each at a line of the file.
fn batch(trace: u64) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let start = now - 60_000_000_000 + trace * 1_000_000;
    let trace_id = format!("{:032x}", 0xfeed_0000 + trace);
    let attribute = |key: &str, value: Value| json!({ "key": key, "value": value });
    let spans: Vec<Value> = (0..SPANS_PER_TRACE)
        .map(|i| {
            let (begin, end) = match i {
                0 => (start, start + 50_000_000),
                _ => (start + i * 400_000, start + i * 400_000 + 300_000 + (i % 7) * 10_000),
            };
            json!({
                "traceId": trace_id,
                "spanId": format!("{:016x}", i + 1),
                "parentSpanId": if i == 0 { String::new() } else { format!("{:016x}", 1) },
                "name": if i == 0 { "GET /big".to_string() } else { format!("step {}", i % 40) },
                "kind": if i == 0 { 2 } else { 1 },
                "startTimeUnixNano": begin.to_string(),
                "endTimeUnixNano": end.to_string(),
                "attributes": [
                    attribute("code.file.path", json!({ "stringValue": "/app/src/big.py" })),
                    attribute("code.line.number", json!({ "intValue": ((i * 97 + trace) % LINES as u64 + 1).to_string() })),
                ],
            })
        })
        .collect();
    json!({ "resourceSpans": [{
        "resource": { "attributes": [attribute("service.name", json!({ "stringValue": "big" }))] },
        "scopeSpans": [{ "spans": spans }],
    }] })
}

/// POSTs an OTLP/JSON request and checks it was taken.
fn post(port: u16, body: &Value) {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "the receiver refused a batch: {answer}");
}
