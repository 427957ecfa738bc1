//! The traces of the shared generator (`../shared/tools/gen_trace.py N OUT SEED`), the
//! ones issue 16's numbers are measured on: written once into `target/generated-traces/`
//! and read from there by later runs.

use std::path::PathBuf;
use std::process::Command;

/// The Jaeger JSON of the generator's trace of `spans` spans drawn with `seed`.
pub fn jaeger_json(spans: usize, seed: u64) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/generated-traces");
    let path = dir.join(format!("{spans}-spans-seed-{seed}.json"));
    if !path.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        let partial = path.with_extension("partial");
        let status = Command::new("python3")
            .arg(root.join("../shared/tools/gen_trace.py"))
            .arg(spans.to_string())
            .arg(&partial)
            .arg(seed.to_string())
            .stdout(std::process::Stdio::null())
            .status()
            .expect("python3 runs the trace generator");
        assert!(status.success(), "gen_trace.py {spans} {seed} failed");
        std::fs::rename(&partial, &path).unwrap();
    }
    std::fs::read(&path).unwrap()
}
