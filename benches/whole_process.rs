//! Whole processes, as a user runs them: `vitals analyze --json --input FILE` and
//! `vitals diff [--json] A B`
//! on the generator's traces (1,000, 10,000 and 100,000 spans, seeds 7 and 9), each next
//! to a tiny process that only parses the same files into `serde_json::Value` — the floor
//! the issue measures against (goal: `analyze` at most 0.6× of it; peak RSS at 100,000
//! spans at most 120 MB for `analyze` and 200 MB for `diff`).
//!
//! A whole process counts what in-process benchmarks leave out: reading the file, the
//! allocator's growth and the page faults of every byte touched, writing the output and
//! tearing down. Wall time, CPU time (user + system) and peak RSS come from the kernel's
//! account of the child (`wait4`), the median run by wall time of a few, the processes
//! interleaved so that a busy moment of the machine hits both alike. The parse-only
//! process is this very binary started again with `--parse-only` (see [`parse_only`]), so
//! no second binary has to be built first.
//!
//! `cargo bench --bench whole_process [-- SPANS…]`, e.g. `-- 100000` for the big traces
//! only.

#[path = "support/generated.rs"]
mod generated;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PARSE_ONLY: &str = "--parse-only";
const SIZES: [usize; 3] = [1_000, 10_000, 100_000];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(PARSE_ONLY) {
        parse_only(&args[1..]);
        return;
    }
    // `cargo bench` passes `--bench`; any number is a size to run (all when none).
    let wanted: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let vitals = Path::new(env!("CARGO_BIN_EXE_vitals"));
    let this = std::env::current_exe().expect("the bench knows its own path");
    for spans in SIZES.into_iter().filter(|s| wanted.is_empty() || wanted.contains(s)) {
        let (a, b) = (generated::trace_file(spans, 7), generated::trace_file(spans, 9));
        let runs = if spans >= 100_000 { 3 } else { 5 };
        let mb = |f: &Path| std::fs::metadata(f).map_or(0.0, |m| m.len() as f64 / 1e6);
        compare(
            &format!("vitals analyze --json --input, {spans} spans ({:.1} MB)", mb(&a)),
            runs,
            [vitals.into(), "analyze".into(), "--json".into(), "--input".into(), a.clone().into()],
            [this.clone().into(), PARSE_ONLY.into(), a.clone().into()],
        );
        let both = format!("{spans} spans each ({:.1} + {:.1} MB)", mb(&a), mb(&b));
        let floor = [this.clone().into(), PARSE_ONLY.into(), a.clone().into(), b.clone().into()];
        compare(
            &format!("vitals diff A B, {both}"),
            runs,
            [vitals.into(), "diff".into(), a.clone().into(), b.clone().into()],
            floor.clone(),
        );
        compare(
            &format!("vitals diff --json A B, {both}"),
            runs,
            [vitals.into(), "diff".into(), "--json".into(), a.into(), b.into()],
            floor,
        );
    }
}

/// The floor: read each file and parse it into a `serde_json::Value`, all kept until the
/// end, as a program that did something with them would.
fn parse_only(files: &[String]) {
    let parsed: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).unwrap_or_else(|e| panic!("cannot read {f}: {e}"));
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{f} is not JSON: {e}"))
        })
        .collect();
    println!("{} values", std::hint::black_box(&parsed).len());
}

/// What the kernel accounted for one finished child.
#[derive(Clone, Copy)]
struct Usage {
    wall: Duration,
    cpu: Duration,
    peak_rss_kb: u64,
}

/// Runs `command` and `floor` `runs` times each, alternating, and prints their medians
/// (by wall time) and the ratios.
fn compare<const A: usize, const B: usize>(title: &str, runs: usize, command: [OsString; A], floor: [OsString; B]) {
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(run(&command));
        theirs.push(run(&floor));
    }
    let (ours, theirs) = (median(ours), median(theirs));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let rss = |u: Usage| u.peak_rss_kb as f64 / 1024.0;
    println!("{title}, median of {runs}");
    println!("  {:<26} {:>10} {:>10} {:>14}", "", "wall ms", "CPU ms", "peak RSS MB");
    for (name, u) in [("vitals", ours), ("serde_json::Value parse", theirs)] {
        println!("  {name:<26} {:>10.1} {:>10.1} {:>14.1}", ms(u.wall), ms(u.cpu), rss(u));
    }
    println!(
        "  {:<26} {:>9.2}× {:>9.2}× {:>13.2}×\n",
        "ratio vitals / parse",
        ms(ours.wall) / ms(theirs.wall),
        ms(ours.cpu) / ms(theirs.cpu),
        rss(ours) / rss(theirs)
    );
}

fn median(mut runs: Vec<Usage>) -> Usage {
    runs.sort_by_key(|u| u.wall);
    runs[runs.len() / 2]
}

/// Starts `argv`, output discarded, and waits for it with `wait4`, which returns the
/// child's own CPU time and peak RSS (not the bench's, nor other children's).
fn run(argv: &[OsString]) -> Usage {
    let start = Instant::now();
    #[allow(clippy::zombie_processes)] // Waited for below by wait4, which Child cannot do.
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", PathBuf::from(&argv[0]).display()));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data that wait4 fills in; all-zero is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointers are to live locals; `pid` is our child, not yet waited for.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(waited, pid, "wait4 failed: {}", std::io::Error::last_os_error());
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "{argv:?} failed (status {status})");
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Usage { wall, cpu: time(usage.ru_utime) + time(usage.ru_stime), peak_rss_kb: usage.ru_maxrss as u64 }
}
