//! `vitals serve` with its log on a full disk (stderr is /dev/full): every request is
//! still answered, refusals (which are logged) included.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prost::Message;

mod common;
use common::otlp::flat_batch;
use common::{Serve, TempDir};

/// A batch of five spans of trace `trace`.
fn batch(trace: u64) -> Vec<u8> {
    flat_batch(trace, 5).encode_to_vec()
}

#[tokio::test]
async fn a_log_that_cannot_be_written_never_breaks_a_request() {
    let dir = TempDir::new("serve-log-full");
    let free_port = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (otlp, query) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["serve", "--otlp-http", &otlp, "--otlp-grpc", "off", "--zipkin", "off", "--query", &query, "--db"])
        .arg(dir.0.join("traces.db"))
        .env("VITALS_LOG", "debug")
        .stderr(Stdio::from(full))
        .spawn()
        .unwrap();
    // Killed when dropped, the test failing included.
    let mut server = Serve {
        child,
        otlp_url: format!("http://{otlp}/v1/traces"),
        grpc_url: String::new(),
        zipkin_url: String::new(),
        query_url: format!("http://{query}"),
    };
    let started = Instant::now();
    while TcpStream::connect(&otlp).is_err() || TcpStream::connect(&query).is_err() {
        assert!(server.child.try_wait().unwrap().is_none(), "vitals serve exited with its log on a full disk");
        assert!(started.elapsed() < Duration::from_secs(10), "vitals serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = server.otlp_url.clone();
    let client = reqwest::Client::new();
    let post = |content_type: &'static str, body: Vec<u8>| {
        client.post(&url).header("content-type", content_type).body(body).send()
    };
    for round in 0..20u64 {
        let refused = post("text/plain", b"hello".to_vec()).await.expect("an answer to a refused batch");
        assert_eq!(refused.status(), 415);
        let broken = post("application/x-protobuf", vec![0xff; 10]).await.expect("an answer to a broken batch");
        assert_eq!(broken.status(), 400);
        let good = post("application/x-protobuf", batch(100 + round)).await.expect("an answer to a good batch");
        assert_eq!(good.status(), 200);
        let services = client.get(format!("{}/api/services", server.query_url)).send().await;
        assert_eq!(services.expect("an answer from the query API").status(), 200);
    }
}
