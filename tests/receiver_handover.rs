//! Two editors on one store: the first receives, the second reads the same store and
//! takes each port over (OTLP/HTTP's and OTLP/gRPC's alike) when the first goes away;
//! nothing is lost or counted twice.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use vitals::collector::supervisor::{Addresses, Receivers, Role};
use vitals::collector::{Listen, Protocol};
use vitals::model::TraceId;
use vitals::store::{Retention, Store};

mod common;
use common::grpc;
use common::otlp::request_of;

fn free_address() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn export(trace: u8, spans: u8) -> ExportTraceServiceRequest {
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
    request_of(None, spans)
}

/// Sends a batch as an SDK would over `protocol`; whether it was acknowledged.
async fn send(protocol: Protocol, address: SocketAddr, request: ExportTraceServiceRequest) -> bool {
    match protocol {
        Protocol::OtlpGrpc => grpc::export(&address.to_string(), request, false).await.is_ok(),
        _ => reqwest::Client::new()
            .post(format!("http://{address}/v1/traces"))
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .is_ok_and(|r| r.status().as_u16() == 200),
    }
}

async fn wait_for_role(receivers: &Receivers, protocol: Protocol, want: fn(&Role) -> bool) {
    let started = Instant::now();
    while !want(&receivers.status(protocol).role) {
        assert!(started.elapsed() < Duration::from_secs(10), "role stayed {:?}", receivers.status(protocol).role);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn receiving(role: &Role) -> bool {
    matches!(role, Role::Receiving { .. })
}

fn waiting(role: &Role) -> bool {
    matches!(role, Role::Waiting { .. })
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("vitals-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn the_second_editor_reads_the_same_store_and_takes_both_otlp_ports_over() {
    let dir = scratch("handover");
    let db = dir.join("traces.db");
    let (http, grpc) = (free_address(), free_address());
    let addresses = Addresses { otlp_http: Listen::At(http), otlp_grpc: Listen::At(grpc), zipkin: Listen::Off };
    let first_store = Arc::new(Store::open(&db, Retention::default()).unwrap());
    let second_store = Arc::new(Store::open(&db, Retention::default()).unwrap());

    let first = Receivers::start(Arc::clone(&first_store), addresses);
    for protocol in [Protocol::OtlpHttp, Protocol::OtlpGrpc] {
        wait_for_role(&first, protocol, receiving).await;
    }
    let second = Receivers::start(Arc::clone(&second_store), addresses);
    for protocol in [Protocol::OtlpHttp, Protocol::OtlpGrpc] {
        wait_for_role(&second, protocol, waiting).await;
    }

    assert!(send(Protocol::OtlpHttp, http, export(1, 3)).await);
    assert!(send(Protocol::OtlpGrpc, grpc, export(2, 4)).await);
    assert_eq!(first.status(Protocol::OtlpHttp).counts.spans, 3, "the first editor received over HTTP");
    assert_eq!(first.status(Protocol::OtlpGrpc).counts.spans, 4, "and over gRPC");
    assert_eq!(second_store.trace(TraceId(2)).unwrap().unwrap().spans.len(), 4, "the second reads the same store");

    drop(first);
    for protocol in [Protocol::OtlpHttp, Protocol::OtlpGrpc] {
        wait_for_role(&second, protocol, receiving).await;
    }
    assert!(send(Protocol::OtlpGrpc, grpc, export(3, 5)).await);
    // Senders retrying batches across the hand-over must not double them.
    assert!(send(Protocol::OtlpGrpc, grpc, export(2, 4)).await);
    assert!(send(Protocol::OtlpHttp, http, export(1, 3)).await);
    assert_eq!(second.status(Protocol::OtlpGrpc).counts.batches, 2);
    for store in [&first_store, &second_store] {
        for (trace, spans) in [(1, 3), (2, 4), (3, 5)] {
            assert_eq!(store.trace(TraceId(trace)).unwrap().unwrap().spans.len(), spans);
        }
        assert_eq!(store.stats().unwrap().spans, 12, "nothing counted twice");
    }
    drop(second);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn setup_again_keeps_the_ports_that_did_not_move_and_frees_those_turned_off() {
    let dir = scratch("receivers-update");
    let store = Arc::new(Store::open(&dir.join("traces.db"), Retention::default()).unwrap());
    let (http, grpc, zipkin) = (free_address(), free_address(), free_address());
    let mut addresses = Addresses { otlp_http: Listen::At(http), otlp_grpc: Listen::At(grpc), zipkin: Listen::Off };
    let mut receivers = Receivers::start(Arc::clone(&store), addresses);
    wait_for_role(&receivers, Protocol::OtlpGrpc, receiving).await;
    assert!(send(Protocol::OtlpGrpc, grpc, export(1, 2)).await);
    assert_eq!(receivers.status(Protocol::Zipkin).role, Role::Off);

    addresses.otlp_http = Listen::Off;
    addresses.zipkin = Listen::At(zipkin);
    receivers.update(addresses);
    wait_for_role(&receivers, Protocol::Zipkin, receiving).await;
    assert_eq!(receivers.status(Protocol::OtlpGrpc).counts.batches, 1, "gRPC kept its port and its counts");
    assert_eq!(receivers.status(Protocol::OtlpHttp).role, Role::Off);
    assert!(std::net::TcpListener::bind(http).is_ok(), "the HTTP port is free for others");
    drop(receivers);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The editor's receiver runs on the same hardened server as `vitals serve`: what can be
/// refused from the headers is refused before the body arrives.
#[tokio::test]
async fn the_editors_receiver_refuses_a_body_before_it_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = scratch("editor-receiver");
    let address = free_address();
    let addresses = Addresses { otlp_http: Listen::At(address), otlp_grpc: Listen::Off, zipkin: Listen::Off };
    let store = Arc::new(Store::open(&dir.join("traces.db"), Retention::default()).unwrap());
    let receivers = Receivers::start(store, addresses);
    wait_for_role(&receivers, Protocol::OtlpHttp, receiving).await;
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
    assert!(send(Protocol::OtlpHttp, address, export(3, 2)).await);
    let refused = receivers.status(Protocol::OtlpHttp).counts;
    assert_eq!(refused.refused_batches(), 2, "{refused:?}");
    drop(receivers);
    let _ = std::fs::remove_dir_all(&dir);
}
