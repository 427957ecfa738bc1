//! A `vitals serve` for the benchmarks: `VITALS_BIN` (another build, to compare) or this
//! one, over a fresh store, receiving with one protocol only.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The build measured: `VITALS_BIN`, else this one.
pub fn binary() -> String {
    std::env::var("VITALS_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_vitals").to_string())
}

/// Killed, and its store removed, when dropped.
pub struct Server {
    pub child: Child,
    /// The receiver's address.
    pub url: String,
    dir: PathBuf,
}

impl Server {
    /// Receives with `receiver` (`--otlp-http`, `--otlp-grpc`) only, with `flags` added.
    pub fn start(name: &str, receiver: &str, flags: &[&str]) -> Server {
        let dir = std::env::temp_dir().join(format!("vitals-{name}-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut command = Command::new(binary());
        command.args(["serve", "--query", "off", "--db"]).arg(dir.join("traces.db"));
        for protocol in ["--otlp-http", "--otlp-grpc", "--zipkin"] {
            command.args([protocol, if protocol == receiver { "127.0.0.1:0" } else { "off" }]);
        }
        let mut child = command.args(flags).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // The receiver's address, after the store's line.
        let url = lines
            .by_ref()
            .map(Result::unwrap)
            .find_map(|line| line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string))
            .unwrap();
        std::thread::spawn(move || for _ in lines {});
        Server { child, url, dir }
    }

    pub fn db(&self) -> PathBuf {
        self.dir.join("traces.db")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
