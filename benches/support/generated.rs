//! The benchmark traces: one big trace in Jaeger JSON written by the shared
//! generator (`../shared/tools/gen_trace.py N OUT.json SEED`, or `$VITALS_GEN_TRACE`), so
//! that every benchmark measures the very files the numbers were taken on. Each
//! file is generated once and kept under `target/bench-traces/`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The file of the generator's trace of `spans` spans from `seed`, generated when missing.
pub fn trace_file(spans: usize, seed: u64) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let folder = root.join("target/bench-traces");
    let file = folder.join(format!("{spans}-spans-seed-{seed}.json"));
    if file.is_file() {
        return file;
    }
    std::fs::create_dir_all(&folder).expect("cannot create target/bench-traces");
    let generator = std::env::var_os("VITALS_GEN_TRACE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/tools/gen_trace.py"));
    // Written aside and renamed, so an interrupted run leaves no half file behind.
    let partial = file.with_extension("partial");
    let status = Command::new("python3")
        .arg(&generator)
        .arg(spans.to_string())
        .arg(&partial)
        .arg(seed.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", generator.display()));
    assert!(status.success(), "{} failed (set VITALS_GEN_TRACE to the generator)", generator.display());
    std::fs::rename(&partial, &file).expect("cannot keep the generated trace");
    file
}

/// The Jaeger JSON of the generator's trace of `spans` spans from `seed`.
#[allow(dead_code)] // Not every benchmark that includes this module reads the bytes.
pub fn jaeger_json(spans: usize, seed: u64) -> Vec<u8> {
    std::fs::read(trace_file(spans, seed)).expect("cannot read the generated trace")
}

/// The generator's trace of `spans` spans from `seed`, decoded.
#[allow(dead_code)] // Not every benchmark that includes this module decodes in-process.
pub fn trace(spans: usize, seed: u64) -> vitals::model::Trace {
    let mut traces = vitals::formats::decode(&jaeger_json(spans, seed)).expect("the generated trace decodes");
    assert_eq!(traces.len(), 1, "the generator writes one trace");
    traces.remove(0)
}
