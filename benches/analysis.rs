//! The aggregated flame graph of 1,000 traces of 200 spans (under 100 ms) and regression
//! statistics over 100,000 durations (under 20 ms). One trace's analyses and its decode are
//! measured on the shared generator's traces by `benches/analyses.rs` and `benches/decode.rs`.

#[path = "synthetic.rs"]
mod synthetic;

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::analysis::aggregate::{Weight, aggregate};
use vitals::analysis::regression::{Basis, Options as RegressionOptions, Sample, Windows, detect};
use vitals::model::{SpanId, Trace, TraceId};

fn bench(c: &mut Criterion) {
    let many: Vec<Trace> = (0..1_000)
        .flat_map(|seed| vitals::formats::decode(&synthetic::jaeger_json_seeded(200, seed)).unwrap())
        .collect();
    assert_eq!(many.iter().map(|t| t.spans.len()).sum::<usize>(), 200_000);
    let mut group = c.benchmark_group("1,000 traces of 200 spans");
    group.sample_size(20);
    group.bench_function("aggregated flame graph (merge + draw)", |b| {
        b.iter(|| {
            let flame = aggregate(&many, Some("frontend"), Weight::SelfTime);
            vitals::render::aggregate::render(&flame, "frontend", 200).lines.len()
        })
    });
    // The synthetic spans say nothing of memory: this is what weighing by bytes costs
    // (every span's attributes read) on top of the merge, plus the allocating code list.
    group.bench_function("memory profile (merge + draw + allocating code)", |b| {
        b.iter(|| {
            let (_, drawn) =
                vitals::render::aggregate::profile(&many, Some("frontend"), Weight::Allocated, "frontend", 200);
            drawn.lines.len()
        })
    });
    group.finish();

    let requests = durations(100_000);
    let windows = Windows::last(2 * HOUR, HOUR);
    let mut group = c.benchmark_group("100,000 request durations");
    group.bench_function("regression statistics, overall + 10 operations", |b| {
        b.iter(|| detect("web", &requests, windows, Basis::Ranges, RegressionOptions::default()).operations.len())
    });
    group.finish();
}

const HOUR: u64 = 3_600_000_000_000;

/// `count` requests over two hours, ten operations, log-normal-ish durations (a sum of
/// uniform draws), the second hour 20 % slower.
fn durations(count: u64) -> Vec<Sample> {
    let mut state = 7u64;
    let mut next = move |below: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % below
    };
    (0..count)
        .map(|i| {
            let start_ns = i * 2 * HOUR / count;
            let base_ms = 50 + next(100) + next(100) + next(400) * next(3) / 2;
            let ms = if start_ns >= HOUR { base_ms * 6 / 5 } else { base_ms };
            Sample {
                operation: format!("GET /route{}", i % 10),
                start_ns,
                duration_ns: ms * 1_000_000 + next(1_000_000),
                error: next(100) == 0,
                trace_id: TraceId(i as u128 + 1),
                span_id: SpanId(i + 1),
                deployment: None,
            }
        })
        .collect()
}

criterion_group!(benches, bench);
criterion_main!(benches);
