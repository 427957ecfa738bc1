//! Bodies that would cost `vitals serve` its memory, sent over raw TCP: too large,
//! compressed bombs, more big requests than the memory budget holds. Each is refused
//! without being held (the server's peak memory is read from /proc), and a good batch is
//! still acknowledged meanwhile.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

mod common;
use common::otlp::{gzip, now_ns, request_of, service, text};
use common::raw::{address, connect, export_head, peak_memory_mb, read_answer};
use common::{TempDir, serve, serve_with};

const MIB: usize = 1 << 20;

/// A batch as an SDK sends it: `spans` spans of one trace with a few attributes.
fn batch(trace: u64, spans: u64) -> Vec<u8> {
    let start = now_ns() - 1_000_000_000;
    let spans = (1..=spans)
        .map(|i| Span {
            trace_id: u128::from(trace).to_be_bytes().to_vec(),
            span_id: i.to_be_bytes().to_vec(),
            parent_span_id: if i == 1 { Vec::new() } else { 1u64.to_be_bytes().to_vec() },
            name: format!("op{}", i % 12),
            start_time_unix_nano: start + i * 1000,
            end_time_unix_nano: start + 1_000_000,
            attributes: vec![text("http.route", "/api/items/{id}"), text("enduser.id", &format!("user-{i}"))],
            ..Default::default()
        })
        .collect();
    request_of(Some(service("shop")), spans).encode_to_vec()
}

async fn post(url: &str, body: Vec<u8>, encoding: Option<&str>) -> reqwest::Result<(u16, Option<String>)> {
    let mut request = reqwest::Client::new()
        .post(url)
        .timeout(Duration::from_secs(10))
        .header("content-type", "application/x-protobuf")
        .body(body);
    if let Some(encoding) = encoding {
        request = request.header("content-encoding", encoding);
    }
    let response = request.send().await?;
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
    Ok((response.status().as_u16(), retry_after))
}

/// A valid `ExportTraceServiceRequest` of `size` bytes: the same span over and over, so
/// that it compresses about 200 to 1.
fn repetitive_request(size: usize) -> Vec<u8> {
    fn field(number: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3) | 2];
        prost::encoding::encode_varint(content.len() as u64, &mut out);
        out.extend_from_slice(content);
        out
    }
    let one = ExportTraceServiceRequest::decode(batch(1, 1).as_slice()).unwrap();
    let span = one.resource_spans[0].scope_spans[0].spans[0].encode_to_vec();
    let framed = field(2, &span);
    let scope = framed.repeat(size / framed.len());
    let resource = field(2, &scope);
    field(1, &resource)
}

#[tokio::test]
async fn a_chunked_body_past_the_limit_is_refused_before_it_is_all_sent_and_never_held() {
    let dir = TempDir::new("limits-chunked");
    let server = serve(&dir.0.join("traces.db"));
    let mut stream = connect(&address(&server.otlp_url));
    stream.write_all(export_head("application/x-protobuf", "Transfer-Encoding: chunked").as_bytes()).unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (mut stream, sent) = (stream.try_clone().unwrap(), Arc::clone(&sent));
        std::thread::spawn(move || {
            let chunk = [format!("{MIB:x}\r\n").into_bytes(), vec![0x0a; MIB], b"\r\n".to_vec()].concat();
            for _ in 0..256 {
                if stream.write_all(&chunk).is_err() {
                    return;
                }
                sent.fetch_add(MIB, Ordering::SeqCst);
            }
        })
    };
    let answer = read_answer(&mut stream).expect("an answer while the body is still coming");
    let sent_when_answered = sent.load(Ordering::SeqCst);
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(answer.body.contains("16 MiB"), "the refusal names the limit: {answer:?}");
    assert!(sent_when_answered < 64 * MIB, "answered after {} MiB of 256", sent_when_answered / MIB);
    drop(stream);
    writer.join().unwrap();
    let peak = peak_memory_mb(server.child.id());
    assert!(peak < 150.0, "vitals serve held {peak:.0} MB for a body it refused at 16 MiB");
}

#[tokio::test]
async fn a_body_declared_too_large_or_of_a_type_it_cannot_read_is_refused_before_any_of_it_arrives() {
    let dir = TempDir::new("limits-declared");
    let server = serve(&dir.0.join("traces.db"));
    let cases = [
        (export_head("application/x-protobuf", "Content-Length: 10000000000"), 413),
        (export_head("text/plain", "Content-Length: 1073741824"), 415),
        (export_head("application/x-protobuf", "Content-Length: 1000\r\nContent-Encoding: br"), 415),
    ];
    for (request, expected) in cases {
        let mut stream = connect(&address(&server.otlp_url));
        stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let answer = read_answer(&mut stream).unwrap_or_else(|| panic!("no answer without the body to {request:?}"));
        assert_eq!(answer.status, expected, "{answer:?}");
        assert!(!answer.body.is_empty(), "a refusal says why");
    }
    assert_eq!(post(&server.otlp_url, batch(1, 3), None).await.unwrap().0, 200);
}

#[tokio::test]
async fn gzip_bombs_are_refused_at_the_limit_without_being_decoded() {
    let dir = TempDir::new("limits-bomb");
    let server = serve(&dir.0.join("traces.db"));
    let bomb = gzip(&repetitive_request(60 * MIB));
    assert!(bomb.len() < MIB, "60 MiB of protobuf in {} KB of gzip", bomb.len() >> 10);
    let senders: Vec<_> = (0..4).map(|_| tokio::spawn(post_owned(server.otlp_url.clone(), bomb.clone()))).collect();
    for sender in senders {
        let (status, retry_after) = sender.await.unwrap();
        assert!(
            status == 413 || (status == 503 && retry_after.is_some()),
            "a bomb is too large (or, when others hold the memory, to be retried): {status}"
        );
    }
    assert_eq!(post(&server.otlp_url, batch(2, 512), None).await.unwrap().0, 200);
    let peak = peak_memory_mb(server.child.id());
    assert!(peak < 200.0, "vitals serve held {peak:.0} MB for four bombs it refused");
}

async fn post_owned(url: String, body: Vec<u8>) -> (u16, Option<String>) {
    post(&url, body, Some("gzip")).await.unwrap()
}

#[tokio::test]
async fn when_big_requests_spend_the_memory_budget_they_are_told_to_retry_and_a_small_batch_still_goes_through() {
    let dir = TempDir::new("limits-budget");
    let server = serve_with(&dir.0.join("traces.db"), &["--max-memory", "64MiB"]);
    let address = address(&server.otlp_url);
    // Six 15 MiB bodies, declared and begun, never finished: 64 MiB hold three of them.
    let mut big: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut stream = connect(&address);
            let declared = format!("Content-Length: {}", 15 * MIB);
            stream.write_all(export_head("application/x-protobuf", &declared).as_bytes()).unwrap();
            stream.write_all(&vec![0x0a; MIB]).unwrap();
            stream
        })
        .collect();
    let mut refused = 0;
    for stream in &mut big {
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        if let Some(answer) = read_answer(stream) {
            assert_eq!(answer.status, 503, "{answer:?}");
            assert_eq!(answer.header("retry-after"), Some("1"), "{answer:?}");
            assert!(answer.body.contains("memory"), "{answer:?}");
            refused += 1;
        }
    }
    assert_eq!(refused, 3, "three of six big requests fit in the budget, the others are told to retry");
    let started = Instant::now();
    assert_eq!(post(&server.otlp_url, batch(3, 512), None).await.unwrap().0, 200);
    assert!(started.elapsed() < Duration::from_secs(5), "the small batch waited {:?}", started.elapsed());
}
