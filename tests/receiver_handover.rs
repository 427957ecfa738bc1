//! Two editors on one store: the first receives, the second reads the same store and
//! takes the port over when the first goes away; nothing is lost or counted twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use vitals::collector::supervisor::{Receiver, Role};
use vitals::model::TraceId;
use vitals::store::{Retention, Store};

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn export(trace: u8, spans: u8) -> Vec<u8> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let spans = (1..=spans)
        .map(|i| Span {
            trace_id: [vec![0; 15], vec![trace]].concat(),
            span_id: vec![0, 0, 0, 0, 0, 0, 0, i],
            name: format!("op{i}"),
            start_time_unix_nano: now,
            end_time_unix_nano: now + 1_000,
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

async fn send(address: SocketAddr, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{address}/v1/traces"))
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

async fn wait_for_role(receiver: &Receiver, want: fn(&Role) -> bool) {
    let started = Instant::now();
    while !want(&receiver.status().role) {
        assert!(started.elapsed() < Duration::from_secs(10), "role stayed {:?}", receiver.status().role);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_second_editor_reads_the_same_store_and_takes_the_port_over() {
    let dir = std::env::temp_dir().join(format!("vitals-handover-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("traces.db");
    let address = free_address();
    let first_store = Arc::new(Store::open(&db, Retention::default()).unwrap());
    let second_store = Arc::new(Store::open(&db, Retention::default()).unwrap());

    let first = Receiver::start(Arc::clone(&first_store), address);
    wait_for_role(&first, |r| matches!(r, Role::Receiving { .. })).await;
    let second = Receiver::start(Arc::clone(&second_store), address);
    wait_for_role(&second, |r| matches!(r, Role::Waiting { .. })).await;

    assert_eq!(send(address, export(1, 3)).await, 200);
    assert_eq!(first.status().spans, 3, "the first editor received");
    assert_eq!(second_store.trace(TraceId(1)).unwrap().unwrap().spans.len(), 3, "the second reads the same store");

    drop(first);
    wait_for_role(&second, |r| matches!(r, Role::Receiving { .. })).await;
    assert_eq!(send(address, export(2, 4)).await, 200);
    // A sender retrying a batch across the hand-over must not double it.
    assert_eq!(send(address, export(1, 3)).await, 200);
    assert_eq!(second.status().spans, 7);
    for store in [&first_store, &second_store] {
        assert_eq!(store.trace(TraceId(1)).unwrap().unwrap().spans.len(), 3);
        assert_eq!(store.trace(TraceId(2)).unwrap().unwrap().spans.len(), 4);
        assert_eq!(store.stats().unwrap().spans, 7, "nothing counted twice");
    }
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The editor's receiver runs on the same hardened server as `vitals serve`: what can be
/// refused from the headers is refused before the body arrives.
#[tokio::test]
async fn the_editors_receiver_refuses_a_body_before_it_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = std::env::temp_dir().join(format!("vitals-editor-receiver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let address = free_address();
    let receiver =
        Receiver::start(Arc::new(Store::open(&dir.join("traces.db"), Retention::default()).unwrap()), address);
    wait_for_role(&receiver, |r| matches!(r, Role::Receiving { .. })).await;
    for (framing, status) in [
        ("Content-Type: application/x-protobuf\r\nContent-Length: 10000000000", "413"),
        ("Content-Type: text/plain\r\nContent-Length: 1073741824", "415"),
    ] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let head = format!("POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n{framing}\r\n\r\n");
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 12];
        let read = tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut answer)).await;
        read.expect("an answer before the body").unwrap();
        assert_eq!(&answer[9..12], status.as_bytes(), "{}", String::from_utf8_lossy(&answer));
    }
    assert_eq!(send(address, export(3, 2)).await, 200);
    drop(receiver);
    let _ = std::fs::remove_dir_all(&dir);
}
