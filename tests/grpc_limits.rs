//! What a gRPC sender may cost a real `vitals serve`: messages that stop coming, idle
//! HTTP/2 connections, gzip bombs and more large messages than the memory budget holds.
//! The gRPC receiver reads, decompresses and decodes under the same limits and the same
//! budget as the HTTP one, so each is refused without being held (the server's peak memory
//! is read from /proc), and a good batch is still acknowledged meanwhile.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use tonic::Code;

mod common;
use common::grpc::{call_gzip_raw, call_stalled, export, prefix, retry_delay};
use common::otlp::{flat_batch, gzip};
use common::raw::{address, peak_memory_mb};
use common::{TempDir, serve_with};

const MIB: usize = 1 << 20;

#[tokio::test]
async fn a_message_that_stops_coming_is_deadline_exceeded_after_the_body_timeout() {
    let dir = TempDir::new("grpc-body-timeout");
    let server = serve_with(&dir.0.join("traces.db"), &["--body-timeout", "1s"]);
    let started = Instant::now();
    let status = call_stalled(&server.grpc_url, [prefix(1000), vec![0x0a; 10]].concat()).await.unwrap();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("did not arrive in time"), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "answered after {:?}", started.elapsed());
}

#[tokio::test]
async fn an_idle_http2_connection_gets_a_goaway_after_the_idle_timeout() {
    let dir = TempDir::new("grpc-idle");
    let server = serve_with(&dir.0.join("traces.db"), &["--idle-timeout", "1s"]);
    let mut stream = std::net::TcpStream::connect(address(&server.grpc_url)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The client preface and an empty SETTINGS frame, then nothing.
    stream.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").unwrap();
    let started = Instant::now();
    let mut frame_types = Vec::new();
    let mut header = [0u8; 9];
    while stream.read_exact(&mut header).is_ok() {
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0; length];
        stream.read_exact(&mut payload).unwrap();
        frame_types.push(header[3]);
    }
    assert!(frame_types.contains(&0x7), "a GOAWAY before the connection closed: frames {frame_types:?}");
    let after = started.elapsed();
    assert!(after >= Duration::from_millis(900) && after < Duration::from_secs(5), "closed after {after:?}");
}

#[tokio::test]
async fn grpc_gzip_bombs_are_refused_at_the_limit_without_being_held() {
    let dir = TempDir::new("grpc-bombs");
    let server = serve_with(&dir.0.join("traces.db"), &[]);
    // 60 MiB of zeros inflate from 60 KB: each bomb stops at --max-body (16 MiB).
    let bomb = gzip(&vec![0x0a; 60 * MIB]);
    assert!(bomb.len() < MIB);
    let bombs: Vec<_> =
        (0..8).map(|_| tokio::spawn(call_gzip_raw_owned(server.grpc_url.clone(), bomb.clone()))).collect();
    for bomb in bombs {
        let status = bomb.await.unwrap().expect_err("a bomb is refused");
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        let for_good = status.message().contains("larger than 16 MiB");
        assert!(for_good || retry_delay(&status).is_some(), "too large, or to be retried when others hold the memory");
    }
    export(&server.grpc_url, flat_batch(1, 512), false).await.expect("a good batch meanwhile");
    let peak = peak_memory_mb(server.child.id());
    assert!(peak < 200.0, "vitals serve held {peak:.0} MB for eight bombs it refused");
}

async fn call_gzip_raw_owned(address: String, bomb: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    call_gzip_raw(&address, bomb).await
}

#[tokio::test]
async fn when_large_messages_spend_the_memory_budget_they_are_told_to_retry_and_a_small_batch_goes_through() {
    let dir = TempDir::new("grpc-budget");
    let server = serve_with(&dir.0.join("traces.db"), &["--max-memory", "64MiB", "--body-timeout", "10s"]);
    // Six 15 MiB messages, declared and begun, never finished: 64 MiB hold three of them.
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let address = server.grpc_url.clone();
            tokio::spawn(async move { call_stalled(&address, [prefix(15 * MIB), vec![0x0a; MIB]].concat()).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (answered, waiting): (Vec<_>, Vec<_>) = calls.into_iter().partition(|c| c.is_finished());
    assert_eq!(answered.len(), 3, "three of six fit in the budget; the others are answered at once");
    for call in answered {
        let status = call.await.unwrap().unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
        assert!(status.message().contains("memory"), "{status:?}");
        assert_eq!(retry_delay(&status), Some(Duration::from_secs(1)), "{status:?}");
    }
    let started = Instant::now();
    export(&server.grpc_url, flat_batch(2, 512), false).await.expect("ordinary batches keep a share of the budget");
    assert!(started.elapsed() < Duration::from_secs(5), "the small batch waited {:?}", started.elapsed());
    for call in waiting {
        call.abort();
    }
}
