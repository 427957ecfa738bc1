//! Runs the test suite's Jaeger stand-in (or its Tempo or Zipkin) as a process, for the
//! Neovim tests:
//!
//!     cargo run --example jaeger_replay -- v1|v3|outage|garbage|slow|busy|wide|huge|endless|echo|tempo|tempo-v1|zipkin
//!
//! Prints its base URL on the first line of stdout, then serves until stdin closes.

#[path = "../tests/support/jaeger_replay.rs"]
#[allow(dead_code)] // the example uses only part of what the tests use
mod jaeger_replay;

use std::io::{BufRead, Write};
use std::path::PathBuf;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "v1".to_string());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let Some(scenario) = jaeger_replay::by_name(&name, &root) else {
        eprintln!(
            "unknown scenario {name:?}: use v1, v3, outage, garbage, slow, busy, wide, huge, endless, echo, tempo, tempo-v1 or zipkin"
        );
        std::process::exit(2);
    };
    let replay = jaeger_replay::start(scenario).await;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "{}", replay.url()).and_then(|_| stdout.flush()).expect("write the URL");
    // Serve until whoever started us closes our stdin (or ends us).
    tokio::task::spawn_blocking(|| for _ in std::io::stdin().lock().lines().map_while(Result::ok) {}).await.ok();
}
