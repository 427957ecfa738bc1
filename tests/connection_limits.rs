//! Slow, idle and too many connections against a real `vitals serve`, on the receiver
//! and on the query API: slow clients are closed after the header timeout, idle ones
//! after the idle timeout, and more connections than the file limit allows do not keep
//! a good request out.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use prost::Message;

mod common;
use common::otlp::flat_batch;
use common::raw::{address, closed, connect, export_head, read_answer};
use common::{SERVE_ON_FREE_PORTS, TempDir, serve_command, serve_with};

#[tokio::test]
async fn slow_and_idle_connections_are_closed_on_both_listeners() {
    let dir = TempDir::new("connections-slow");
    let server = serve_with(&dir.0.join("traces.db"), &["--header-timeout", "1s", "--idle-timeout", "1s"]);
    for address in [address(&server.otlp_url), address(&server.query_url)] {
        // A slow-loris client: a header line every 200 ms, never the end of the head.
        let mut slow = connect(&address);
        let started = Instant::now();
        slow.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
        let mut open_for = None;
        while started.elapsed() < Duration::from_secs(6) {
            if slow.write_all(b"X-Slow: 1\r\n").is_err() || closed(&mut slow, Duration::from_millis(200)) {
                open_for = Some(started.elapsed());
                break;
            }
        }
        let open_for = open_for.expect("a client that never finishes its head is closed");
        assert!(open_for >= Duration::from_millis(900), "closed before the header timeout: {open_for:?}");

        let mut idle = connect(&address);
        assert!(closed(&mut idle, Duration::from_secs(5)), "a connection that sends nothing is closed");
    }

    // Idle after a request, on a kept-alive connection.
    let mut kept = connect(&address(&server.query_url));
    kept.write_all(b"GET /api/services HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(read_answer(&mut kept).unwrap().status, 200);
    assert!(closed(&mut kept, Duration::from_secs(5)), "a kept-alive connection is closed once idle");
}

#[tokio::test]
async fn more_connections_than_the_file_limit_allows_do_not_keep_good_requests_out() {
    let dir = TempDir::new("connections-files");
    // A file limit of 256 for the server (soft and hard, so that it cannot raise it).
    let mut command = Command::new("sh");
    command
        .args(["-c", "ulimit -n 256 && exec \"$0\" \"$@\"", env!("CARGO_BIN_EXE_vitals")])
        .args(["serve", "--db"])
        .arg(dir.0.join("traces.db"))
        .args(SERVE_ON_FREE_PORTS);
    let server = serve_command(command);
    let mut idle = Vec::new();
    for address in [address(&server.otlp_url), address(&server.query_url)] {
        for _ in 0..300 {
            idle.push(connect(&address));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let started = Instant::now();
    let sent = client
        .post(&server.otlp_url)
        .header("content-type", "application/x-protobuf")
        .body(flat_batch(4, 512).encode_to_vec())
        .send()
        .await
        .expect("the receiver answers");
    assert_eq!(sent.status(), 200);
    let services =
        client.get(format!("{}/api/services", server.query_url)).send().await.expect("the query API answers");
    assert_eq!(services.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5), "good requests waited {:?}", started.elapsed());
    assert!(
        idle.iter_mut().take(300).any(|c| closed(c, Duration::from_millis(10))),
        "idle connections beyond the cap were closed to make room"
    );
}

#[tokio::test]
async fn a_body_that_stops_coming_is_answered_408_after_the_body_timeout() {
    let dir = TempDir::new("connections-body");
    let server = serve_with(&dir.0.join("traces.db"), &["--body-timeout", "1s"]);
    let mut stalled = connect(&address(&server.otlp_url));
    stalled.write_all(export_head("application/x-protobuf", "Content-Length: 1000").as_bytes()).unwrap();
    stalled.write_all(&[0x0a; 10]).unwrap();
    let answer = read_answer(&mut stalled).expect("a stalled body is answered");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(answer.body.contains("did not arrive in time"), "{answer:?}");
}
