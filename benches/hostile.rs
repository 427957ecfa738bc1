//! Issue 11's numbers: the memory of a real `vitals serve` (release build, file limit
//! 1024) while it is attacked, and whether it still acknowledges a good batch in time.
//! For ten seconds, at once:
//!
//! - 1,100 idle connections are held open (more than its file limit allows);
//! - 16 clients each send 1 GiB chunked bodies, one after another;
//! - another client sends 60 MiB of protobuf in ~300 KB of gzip, again and again;
//! - a good 512-span batch is sent every 200 ms and must be acknowledged within 1 s.
//!
//! It prints the peak RSS of the server (goal: under 300 MB), the answers each kind of
//! client got, and the good batches' worst latency.
//!
//!     cargo bench --bench hostile

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const ATTACK: Duration = Duration::from_secs(10);
const IDLE_CONNECTIONS: usize = 1_100;
const BIG_CLIENTS: usize = 16;
const MIB: usize = 1 << 20;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// A 512-span batch as an SDK sends it.
fn good_batch(n: u64) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let spans = (0..512u64)
        .map(|i| Span {
            trace_id: ((u128::from(n) << 32) | (u128::from(i / 16) + 1)).to_be_bytes().to_vec(),
            span_id: ((n << 32) | (i + 1)).to_be_bytes().to_vec(),
            name: format!("GET /api/items/{}", i % 12),
            kind: 2,
            start_time_unix_nano: now - 1_000_000_000 + i * 1000,
            end_time_unix_nano: now - 999_000_000 + i * 1000,
            attributes: vec![text("http.route", "/api/items/{id}"), text("enduser.id", &format!("user-{i}"))],
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "checkout")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// 60 MiB of valid protobuf (one span over and over) in about 300 KB of gzip.
fn gzip_bomb() -> Vec<u8> {
    fn field(number: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        prost::encoding::encode_varint(content.len() as u64, &mut out);
        out.extend_from_slice(content);
        out
    }
    let request = ExportTraceServiceRequest::decode(good_batch(0).as_slice()).unwrap();
    let span = field(2, &request.resource_spans[0].scope_spans[0].spans[0].encode_to_vec());
    let body = field(1, &field(2, &span.repeat(60 * MIB / span.len())));
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&body).unwrap();
    encoder.finish().unwrap()
}

fn memory_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse().ok())
        .unwrap_or(0)
}

/// The status of the answer on `stream`, or 0 when the connection closed without one.
fn status_of(stream: &mut TcpStream) -> u16 {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n") && head.len() < 64 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return 0,
        }
    }
    String::from_utf8_lossy(&head).split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// Sends one 1 GiB chunked body; returns the status and the MiB sent when it came.
fn send_big_body(address: &str) -> (u16, usize) {
    let Ok(mut stream) = TcpStream::connect(address) else { return (0, 0) };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let head = "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return (0, 0);
    }
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (mut stream, sent) = (stream.try_clone().unwrap(), Arc::clone(&sent));
        std::thread::spawn(move || {
            let chunk = [format!("{MIB:x}\r\n").into_bytes(), vec![0x0a; MIB], b"\r\n".to_vec()].concat();
            for _ in 0..1024 {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let status = status_of(&mut stream);
    let at = sent.load(Ordering::Relaxed);
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    (status, at)
}

#[derive(Default)]
struct Tally(Mutex<std::collections::BTreeMap<u16, usize>>);

impl Tally {
    fn add(&self, status: u16) {
        *self.0.lock().unwrap().entry(status).or_default() += 1;
    }

    fn show(&self) -> String {
        let counts = self.0.lock().unwrap();
        counts
            .iter()
            .map(|(s, n)| format!("{n}× {}", if *s == 0 { "closed".into() } else { s.to_string() }))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[tokio::main]
async fn main() {
    let dir = std::env::temp_dir().join(format!("vitals-hostile-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut server = Command::new("sh")
        .args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_vitals")])
        .args(["serve", "--otlp-http", "127.0.0.1:0", "--otlp-grpc", "off", "--zipkin", "off"])
        .args(["--query", "127.0.0.1:0", "--db"])
        .arg(dir.join("traces.db"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = server.id();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    // The addresses it prints, in order, skipping the store's line.
    let mut url = || {
        lines
            .by_ref()
            .map(Result::unwrap)
            .find_map(|line| line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string))
            .unwrap()
    };
    let (otlp_url, query_url) = (url(), url());
    std::thread::spawn(move || for _ in lines {});
    let address = otlp_url.trim_start_matches("http://").split('/').next().unwrap().to_string();
    let bomb = Arc::new(gzip_bomb());
    let baseline_mb = memory_kb(pid, "VmRSS:") / 1024;

    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..IDLE_CONNECTIONS).filter_map(|_| TcpStream::connect(&address).ok()).collect();
    let opened = idle.len();

    let attacking = Arc::new(AtomicBool::new(true));
    let big = Arc::new(Tally::default());
    let most_sent = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..BIG_CLIENTS)
        .map(|_| {
            let (address, attacking, big, most_sent) =
                (address.clone(), Arc::clone(&attacking), Arc::clone(&big), Arc::clone(&most_sent));
            std::thread::spawn(move || {
                while attacking.load(Ordering::Relaxed) {
                    let (status, sent) = send_big_body(&address);
                    big.add(status);
                    most_sent.fetch_max(sent, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let bombs = Arc::new(Tally::default());
    let bomber = {
        let (url, attacking, bombs, bomb) =
            (otlp_url.clone(), Arc::clone(&attacking), Arc::clone(&bombs), Arc::clone(&bomb));
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while attacking.load(Ordering::Relaxed) {
                let sent = client
                    .post(&url)
                    .header("content-type", "application/x-protobuf")
                    .header("content-encoding", "gzip")
                    .body(bomb.to_vec())
                    .send()
                    .await;
                bombs.add(sent.map_or(0, |r| r.status().as_u16()));
            }
        })
    };

    let client = reqwest::Client::new();
    let good = Tally::default();
    let mut latencies = Vec::new();
    let mut peak_rss_kb = 0;
    let mut n = 1;
    while started.elapsed() < ATTACK {
        let body = good_batch(n);
        n += 1;
        let sent_at = Instant::now();
        let answer = client
            .post(&otlp_url)
            .timeout(Duration::from_secs(10))
            .header("content-type", "application/x-protobuf")
            .body(body)
            .send()
            .await;
        latencies.push(sent_at.elapsed());
        good.add(answer.map_or(0, |r| r.status().as_u16()));
        peak_rss_kb = peak_rss_kb.max(memory_kb(pid, "VmRSS:"));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let query = client.get(format!("{query_url}/api/services")).timeout(Duration::from_secs(10)).send().await;
    attacking.store(false, Ordering::Relaxed);
    for attacker in attackers {
        let _ = attacker.join();
    }
    let _ = bomber.await;
    let still_open = idle
        .iter_mut()
        .map(|c| {
            let _ = c.set_nonblocking(true);
            matches!(c.read(&mut [0u8; 1]), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .filter(|open| *open)
        .count();
    let peak_mb = memory_kb(pid, "VmHWM:") / 1024;
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);

    latencies.sort();
    let worst = latencies.last().copied().unwrap_or_default();
    println!("vitals serve under attack for {ATTACK:?}, file limit 1024 (release build)");
    println!("  idle connections: {opened} opened, {still_open} still open at the end (the rest closed to make room)");
    println!(
        "  1 GiB chunked bodies from {BIG_CLIENTS} clients: {}; at most {} MiB sent before an answer",
        big.show(),
        most_sent.load(Ordering::Relaxed)
    );
    println!("  60 MiB-in-{} KB gzip bodies: {}", bomb.len() >> 10, bombs.show());
    println!(
        "  good 512-span batches: {} (median {:?}, worst {worst:?}; goal under 1 s)",
        good.show(),
        latencies[latencies.len() / 2]
    );
    println!("  query API during the attack: {}", query.map_or("no answer".into(), |r| r.status().to_string()));
    println!(
        "  peak RSS: {peak_mb} MB (idle {baseline_mb} MB, sampled peak {} MB; goal under 300 MB)",
        peak_rss_kb / 1024
    );
}
