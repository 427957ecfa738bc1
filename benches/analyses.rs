//! Every analysis of one trace alone, and all of them (`analyze()`), on the generator's
//! traces (`../shared/tools/gen_trace.py N OUT SEED`: a request fanning out over ten
//! services, database calls with N+1 loops, client/server pairs, code locations) at 1k,
//! 10k and 100k spans (seed 7; seed 9 at 100k too). Each trace is decoded once, outside
//! the measurement. The analyses share what [`TraceIndex`] works out once per trace
//! (each span as a call, code locations): it is measured alone, and each analysis with
//! it built; "N+1 + slow queries" (what the live tail runs on every trace) includes it.
//! Run: `cargo bench --bench analyses [-- FILTER]`.

use std::time::Duration;

#[path = "support/generated.rs"]
mod generated;

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::analysis::calls::Calls;
use vitals::analysis::critical_path::critical_path;
use vitals::analysis::hot::hot_functions;
use vitals::analysis::index::TraceIndex;
use vitals::analysis::repeated::{n_plus_one, repeated_calls};
use vitals::analysis::report::{Options, analyze};
use vitals::analysis::self_times;
use vitals::analysis::sequential::sequential_calls;
use vitals::analysis::slow_queries::{DEFAULT_THRESHOLD_NS, slow_queries};

fn bench(c: &mut Criterion) {
    for (spans, seed) in [(1_000, 7), (10_000, 7), (100_000, 7), (100_000, 9)] {
        let trace = generated::trace(spans, seed);
        let t = &trace;
        let mut group = c.benchmark_group(format!("{spans} spans, seed {seed}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
        let index = TraceIndex::new(t);
        let own = self_times(t);
        group.bench_function("analyze (all analyses)", |b| {
            b.iter(|| analyze(std::slice::from_ref(t), &Options::default()).findings.len())
        });
        group.bench_function("shared index (calls + code locations)", |b| b.iter(|| TraceIndex::new(t)));
        group.bench_function("outgoing calls", |b| b.iter(|| Calls::of(t)));
        group.bench_function("N+1 + slow queries", |b| {
            b.iter(|| {
                let index = TraceIndex::new(t);
                n_plus_one(&index).len() + slow_queries(&index, DEFAULT_THRESHOLD_NS).len()
            })
        });
        group.bench_function("N+1", |b| b.iter(|| n_plus_one(&index).len()));
        group.bench_function("slow queries", |b| b.iter(|| slow_queries(&index, DEFAULT_THRESHOLD_NS).len()));
        group.bench_function("repeated calls", |b| b.iter(|| repeated_calls(&index).len()));
        group.bench_function("sequential calls", |b| b.iter(|| sequential_calls(&index).len()));
        group.bench_function("hot functions", |b| b.iter(|| hot_functions(&[(&index, &own)]).len()));
        group.bench_function("self time", |b| b.iter(|| self_times(t)));
        group.bench_function("critical path", |b| b.iter(|| critical_path(t).len()));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
