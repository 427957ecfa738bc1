//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod grpc;
pub mod lsp;
pub mod otlp;
pub mod raw;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The shared fixtures folder (`../shared/fixtures` beside the checkout). CI always has
/// it; a user's clone may not, and then the tests that need it say so and stop.
pub fn shared_fixtures() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures");
    assert!(
        dir.is_dir(),
        "these tests read real trace data from {} (the shared fixtures beside the checkout); it is missing",
        dir.display()
    );
    dir
}

pub fn read_shared(relative: &str) -> Vec<u8> {
    let path = shared_fixtures().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The repository's own fixtures.
pub fn repo_fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(relative)
}

/// A `vitals serve` process, killed when dropped.
pub struct Serve {
    pub child: Child,
    /// Where it receives OTLP/HTTP: `http://127.0.0.1:port/v1/traces`.
    pub otlp_url: String,
    /// Where it receives OTLP/gRPC: `http://127.0.0.1:port` (empty when off).
    pub grpc_url: String,
    /// Where it receives Zipkin: `http://127.0.0.1:port/api/v2/spans` (empty when off).
    pub zipkin_url: String,
    /// Where it answers Jaeger's query API: `http://127.0.0.1:port`.
    pub query_url: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `vitals serve` over `db` with every listener on a free port and waits until it
/// has printed their addresses.
pub fn serve(db: &Path) -> Serve {
    serve_with(db, &[])
}

/// `serve` with more flags.
pub fn serve_with(db: &Path, flags: &[&str]) -> Serve {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vitals"));
    command.args(["serve", "--db"]).arg(db).args(SERVE_ON_FREE_PORTS).args(flags);
    serve_command(command)
}

/// Every listener of `vitals serve` on a free port, so that tests never meet on 4317.
pub const SERVE_ON_FREE_PORTS: [&str; 8] =
    ["--otlp-http", "127.0.0.1:0", "--otlp-grpc", "127.0.0.1:0", "--zipkin", "127.0.0.1:0", "--query", "127.0.0.1:0"];

/// Runs a `vitals serve` command that prints its addresses to stderr, the query API's
/// last, and reads them.
pub fn serve_command(mut command: Command) -> Serve {
    let mut child = command.stderr(Stdio::piped()).spawn().expect("start vitals serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut otlp_url, mut grpc_url, mut zipkin_url) = (String::new(), String::new(), String::new());
    let query_url = loop {
        let line = lines.next().expect("vitals serve printed too little").unwrap();
        let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
        let Some(url) = url else { continue };
        if line.contains("OTLP/HTTP") {
            otlp_url = url;
        } else if line.contains("OTLP/gRPC") {
            grpc_url = url;
        } else if line.contains("Zipkin") {
            zipkin_url = url;
        } else if line.contains("query API") {
            break url;
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve { child, otlp_url, grpc_url, zipkin_url, query_url }
}

/// A fresh folder under the temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vitals-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
