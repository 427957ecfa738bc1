//! The file provider on a folder nobody vetted, through the real binary: a FIFO named
//! `*.json`, a device, symlinks leading out of the folder, a file too large. Each run of
//! `vitals` is given a deadline by the harness and killed past it, so a hang fails the
//! test instead of stopping the suite.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;

/// Long enough for a slow machine; a run that needs it has hung.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `vitals args…`, killing it at the deadline (then the test fails as a hang).
fn vitals(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vitals");
    let started = Instant::now();
    while child.try_wait().expect("wait for vitals").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("vitals {} hung: killed after {DEADLINE:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("read what vitals wrote")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `vitals search` over the file provider at `endpoint` for `service`, with more flags.
fn search(endpoint: &Path, service: &str, flags: &[&str]) -> Output {
    let endpoint = endpoint.to_str().unwrap();
    let mut args = vec!["search", "--provider", "file", "--endpoint", endpoint, "--service", service];
    args.extend(flags);
    vitals(&args)
}

/// A folder holding the shop's traces as `shop.json`.
fn folder_of_traces(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    let shop = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/shop-traces.json");
    std::fs::copy(shop, dir.0.join("shop.json")).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let made = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", path.display());
}

#[test]
fn a_fifo_named_json_in_the_folder_is_skipped_and_one_given_by_name_refused() {
    let dir = folder_of_traces("fifo");
    let fifo = dir.0.join("stuck.json");
    mkfifo(&fifo);

    let found = search(&dir.0, "frontend", &[]);
    assert!(found.status.success(), "{}", text(&found.stderr));
    assert_eq!(text(&found.stdout).lines().count(), 5, "the shop's five traces:\n{}", text(&found.stdout));
    let warning =
        format!("skipping {}: Cannot read {}: it is a FIFO, not a regular file", fifo.display(), fifo.display());
    assert!(text(&found.stderr).contains(&warning), "{}", text(&found.stderr));

    let refused = vitals(&["view", fifo.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert_eq!(
        text(&refused.stderr).trim(),
        format!("vitals: Cannot read {}: it is a FIFO, not a regular file", fifo.display())
    );
}

#[test]
fn a_device_given_by_name_is_refused_and_one_linked_from_the_folder_skipped() {
    let dir = folder_of_traces("device");
    std::os::unix::fs::symlink("/dev/zero", dir.0.join("zero.json")).unwrap();
    let found = search(&dir.0, "frontend", &[]);
    assert!(found.status.success(), "{}", text(&found.stderr));
    assert_eq!(text(&found.stdout).lines().count(), 5);
    assert!(text(&found.stderr).contains("zero.json: Cannot read"), "{}", text(&found.stderr));

    for args in
        [&["view", "/dev/zero"][..], &["search", "--provider", "file", "--endpoint", "/dev/zero", "--service", "x"]]
    {
        let refused = vitals(args);
        assert!(!refused.status.success());
        assert_eq!(text(&refused.stderr).trim(), "vitals: Cannot read /dev/zero: it is a device, not a regular file");
    }
}

#[test]
fn a_symlink_out_of_the_folder_is_skipped_with_a_warning_and_one_inside_followed() {
    let outside = TempDir::new("outside");
    let elsewhere = outside.0.join("elsewhere.json");
    // The shop's traces, their services renamed, where the folder's symlink leads.
    let shop = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/shop-traces.json"));
    std::fs::write(&elsewhere, shop.unwrap().replace("\"frontend\"", "\"outsider\"")).unwrap();
    let dir = TempDir::new("links");
    std::fs::create_dir(dir.0.join("real")).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples/shop-traces.json"),
        dir.0.join("real/shop.json"),
    )
    .unwrap();
    let folder = dir.0.join("real");
    std::os::unix::fs::symlink(&elsewhere, folder.join("out.json")).unwrap();
    std::os::unix::fs::symlink("../real/shop.json", folder.join("same.json")).unwrap();

    let outsider = search(&folder, "outsider", &[]);
    assert!(outsider.status.success(), "{}", text(&outsider.stderr));
    assert_eq!(text(&outsider.stdout), "", "nothing read from outside the folder");
    let out_link = folder.join("out.json");
    let canonical = folder.canonicalize().unwrap();
    let warning = format!(
        "skipping {}: Cannot read {}: it links to {}, outside the folder {}",
        out_link.display(),
        out_link.display(),
        elsewhere.canonicalize().unwrap().display(),
        canonical.display()
    );
    assert!(text(&outsider.stderr).contains(&warning), "{}", text(&outsider.stderr));

    // The link inside the folder is read (the same five traces twice: newest first, 20 at most).
    let inside = search(&folder, "frontend", &[]);
    assert_eq!(text(&inside.stdout).lines().count(), 10, "{}", text(&inside.stdout));

    // The folder the user gives may itself be a symlink.
    let link_to_folder = dir.0.join("traces");
    std::os::unix::fs::symlink(&folder, &link_to_folder).unwrap();
    let through_link = search(&link_to_folder, "frontend", &[]);
    assert_eq!(text(&through_link.stdout).lines().count(), 10, "{}", text(&through_link.stderr));
}

#[test]
fn a_file_over_the_size_cap_is_refused_naming_the_limit() {
    let dir = folder_of_traces("cap");
    let shop = dir.0.join("shop.json");
    let refused = search(&shop, "frontend", &["--max-response", "64KiB"]);
    assert!(!refused.status.success());
    assert_eq!(
        text(&refused.stderr).trim(),
        format!(
            "vitals: {} holds more than 64 KiB, the max_response limit: raise max_response (the plugin's option, or --max-response) if the trace really is that large",
            shop.display()
        )
    );
    let skipped = search(&dir.0, "frontend", &["--max-response", "64KiB"]);
    assert!(skipped.status.success());
    assert!(text(&skipped.stderr).contains("holds more than 64 KiB"), "{}", text(&skipped.stderr));
    assert!(search(&shop, "frontend", &["--max-response", "1MiB"]).status.success());
}
