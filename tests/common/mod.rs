//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

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
