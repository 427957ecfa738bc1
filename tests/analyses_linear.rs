//! Every analysis stays linear in the spans (O(n log n) at worst): from 10,000 to 100,000
//! spans of the generator's trace (`../shared/tools/gen_trace.py`), none may cost more
//! than 13 times as much. Cost is counted, not timed, so that a noisy shared machine
//! cannot fail or pass it: the instructions each analysis executes, counted by Valgrind's
//! callgrind. The test runs this test binary again under callgrind, where the test
//! `analyses_under_callgrind` decodes the trace (not counted) and runs each analysis in
//! its own `#[inline(never)]` function `measured_*`; callgrind counts only inside those
//! (`--toggle-collect`), and `callgrind_annotate --inclusive=yes` says what each cost.

use std::path::Path;
use std::process::Command;

#[path = "../benches/support/generated.rs"]
mod generated;

use vitals::analysis::aggregate::{Weight, aggregate};
use vitals::analysis::calls::Calls;
use vitals::analysis::compare::compare;
use vitals::analysis::critical_path::{Section, critical_path};
use vitals::analysis::hot::{bottlenecks, dominant_self_time, hot_functions};
use vitals::analysis::index::TraceIndex;
use vitals::analysis::repeated::{n_plus_one, repeated_calls};
use vitals::analysis::report::{Options, analyze};
use vitals::analysis::root_cause::error_root_causes;
use vitals::analysis::self_times;
use vitals::analysis::sequential::sequential_calls;
use vitals::analysis::slow_queries::{DEFAULT_THRESHOLD_NS, slow_queries};
use vitals::model::Trace;

/// The most an analysis may grow for ten times the spans: linear is 10×, n log n ~12.5×.
const MAX_GROWTH: f64 = 13.0;
/// Set for the run under callgrind: the trace file to analyze.
const TRACE_VAR: &str = "VITALS_LINEARITY_TRACE";

#[test]
fn no_analysis_costs_more_than_13_times_as_much_for_10_times_the_spans() {
    let (small_file, large_file) = (generated::trace_file(10_000, 7), generated::trace_file(100_000, 7));
    // Two Valgrind runs, one per core: minutes each under callgrind.
    let (first_cpu, last_cpu) = allowed_cpus();
    let (small, large) = std::thread::scope(|s| {
        let large = s.spawn(|| cost_per_analysis(&large_file, &last_cpu));
        (cost_per_analysis(&small_file, &first_cpu), large.join().unwrap())
    });
    assert_eq!(small.len(), MEASURED.len(), "every analysis was counted: {small:?}");
    let mut report = String::new();
    let mut too_slow = Vec::new();
    for (name, small_cost) in &small {
        let large_cost = large.iter().find(|(n, _)| n == name).map(|(_, c)| *c).unwrap_or(0);
        let growth = large_cost as f64 / (*small_cost).max(1) as f64;
        report.push_str(&format!("{name}: {small_cost} → {large_cost} instructions, {growth:.1}×\n"));
        if growth > MAX_GROWTH {
            too_slow.push(name.clone());
        }
    }
    eprintln!("{report}");
    assert!(too_slow.is_empty(), "grew more than {MAX_GROWTH}× from 10k to 100k spans: {too_slow:?}\n{report}");
}

/// The analyses, by the names of their `measured_*` functions.
const MEASURED: [&str; 15] = [
    "measured_outgoing_calls",
    "measured_shared_index",
    "measured_n_plus_one",
    "measured_slow_queries",
    "measured_repeated_calls",
    "measured_sequential_calls",
    "measured_self_times",
    "measured_critical_path",
    "measured_hot_functions",
    "measured_bottlenecks",
    "measured_dominant_self_time",
    "measured_error_root_causes",
    "measured_analyze",
    "measured_flame_tree",
    "measured_compare",
];

/// The first and the last CPU this process may run on (`taskset -pc`: `0-3`, `0,2`).
fn allowed_cpus() -> (String, String) {
    let out = Command::new("taskset").args(["-pc", &std::process::id().to_string()]).output().expect("taskset runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let list = text.rsplit(':').next().unwrap_or_default().trim();
    let first = list.split([',', '-']).next().unwrap_or("0").to_string();
    let last = list.rsplit([',', '-']).next().unwrap_or("0").to_string();
    (first, last)
}

/// Runs the analyses of `trace_file` under callgrind: the instructions of each. The run
/// is pinned to one CPU, so the analyses that use two cores on big traces
/// (`analysis::parallel`) do all their work on the measured thread, where it is counted.
fn cost_per_analysis(trace_file: &Path, cpu: &str) -> Vec<(String, u64)> {
    let out = tempfile::tempdir().unwrap();
    let counts = out.path().join("callgrind.out");
    let status = Command::new("taskset")
        .args([
            "--cpu-list",
            cpu,
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            "--toggle-collect=*measured_*",
        ])
        .arg(format!("--callgrind-out-file={}", counts.display()))
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "analyses_under_callgrind", "--ignored", "--test-threads=1", "--nocapture"])
        .env(TRACE_VAR, trace_file)
        .output()
        .expect("valgrind runs (apt-get install valgrind)");
    assert!(status.status.success(), "under callgrind: {}", String::from_utf8_lossy(&status.stderr));
    let annotated = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100"])
        .arg(&counts)
        .output()
        .expect("callgrind_annotate runs");
    let text = String::from_utf8_lossy(&annotated.stdout);
    MEASURED
        .iter()
        .filter_map(|name| {
            // `1,234,567 (12.34%)  ???:analyses_linear::measured_n_plus_one [/path/to/binary]`
            let line = text.lines().find(|l| l.contains(&format!("::{name} ")))?;
            let count = line.split_whitespace().next()?.replace(',', "").parse().ok()?;
            Some((name.to_string(), count))
        })
        .collect()
}

/// Not a test of its own: what `cost_per_analysis` runs under callgrind.
#[test]
#[ignore = "run under callgrind by the linearity test"]
fn analyses_under_callgrind() {
    let Some(file) = std::env::var_os(TRACE_VAR) else { return };
    let trace = vitals::formats::decode(&std::fs::read(file).unwrap()).unwrap().remove(0);
    let t = &trace;
    std::hint::black_box(measured_outgoing_calls(t));
    let index = measured_shared_index(t);
    let own = measured_self_times(t);
    let path = measured_critical_path(t);
    std::hint::black_box(measured_n_plus_one(&index));
    std::hint::black_box(measured_slow_queries(&index));
    std::hint::black_box(measured_repeated_calls(&index));
    std::hint::black_box(measured_sequential_calls(&index));
    std::hint::black_box(measured_hot_functions(&index, &own));
    std::hint::black_box(measured_bottlenecks(&index, &path));
    std::hint::black_box(measured_dominant_self_time(&index, &own));
    std::hint::black_box(measured_error_root_causes(&index));
    std::hint::black_box(measured_analyze(t));
    std::hint::black_box(measured_flame_tree(t));
    std::hint::black_box(measured_compare(t));
}

#[inline(never)]
fn measured_outgoing_calls(t: &Trace) -> usize {
    Calls::of(t).key_count()
}

#[inline(never)]
fn measured_shared_index(t: &Trace) -> TraceIndex<'_> {
    TraceIndex::new(t)
}

#[inline(never)]
fn measured_self_times(t: &Trace) -> Vec<u64> {
    self_times(t)
}

#[inline(never)]
fn measured_critical_path(t: &Trace) -> Vec<Section> {
    critical_path(t)
}

#[inline(never)]
fn measured_n_plus_one(index: &TraceIndex) -> usize {
    n_plus_one(index).len()
}

#[inline(never)]
fn measured_slow_queries(index: &TraceIndex) -> usize {
    // Low enough that the generator's queries (0.2–3 ms) are slow ones too.
    slow_queries(index, DEFAULT_THRESHOLD_NS).len() + slow_queries(index, 1_000_000).len()
}

#[inline(never)]
fn measured_repeated_calls(index: &TraceIndex) -> usize {
    repeated_calls(index).len()
}

#[inline(never)]
fn measured_sequential_calls(index: &TraceIndex) -> usize {
    sequential_calls(index).len()
}

#[inline(never)]
fn measured_hot_functions(index: &TraceIndex, own: &[u64]) -> usize {
    hot_functions(&[(index, own)]).len()
}

#[inline(never)]
fn measured_bottlenecks(index: &TraceIndex, path: &[Section]) -> usize {
    bottlenecks(&[(index, path)]).len()
}

#[inline(never)]
fn measured_dominant_self_time(index: &TraceIndex, own: &[u64]) -> usize {
    dominant_self_time(index, own).into_iter().count()
}

#[inline(never)]
fn measured_error_root_causes(index: &TraceIndex) -> usize {
    error_root_causes(index).len()
}

#[inline(never)]
fn measured_analyze(t: &Trace) -> usize {
    analyze(std::slice::from_ref(t), &Options::default()).findings.len()
}

#[inline(never)]
fn measured_flame_tree(t: &Trace) -> usize {
    aggregate([t], None, Weight::SelfTime).nodes.len()
}

/// A trace against itself: every path matched, the most work a comparison does.
#[inline(never)]
fn measured_compare(t: &Trace) -> usize {
    compare(t, t).len()
}
