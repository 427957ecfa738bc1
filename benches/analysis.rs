//! The analyses against the cost of getting the data: every analysis of a 100,000-span
//! trace next to decoding that trace from Jaeger JSON (the issue asks for less time than
//! the decode); the aggregated flame graph of 1,000 traces of 200 spans (under 100 ms).

#[path = "synthetic.rs"]
mod synthetic;

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::analysis::aggregate::aggregate;
use vitals::analysis::report::{Options, analyze};
use vitals::model::Trace;

fn bench(c: &mut Criterion) {
    let bytes = synthetic::jaeger_json(100_000);
    let traces = vitals::formats::decode(&bytes).unwrap();
    let mut group = c.benchmark_group("100,000-span trace");
    group.sample_size(10);
    group.bench_function("decode Jaeger JSON", |b| b.iter(|| vitals::formats::decode(&bytes).unwrap().len()));
    group.bench_function("all analyses", |b| b.iter(|| analyze(&traces, &Options::default()).findings.len()));
    group.finish();

    let many: Vec<Trace> = (0..1_000)
        .flat_map(|seed| vitals::formats::decode(&synthetic::jaeger_json_seeded(200, seed)).unwrap())
        .collect();
    assert_eq!(many.iter().map(|t| t.spans.len()).sum::<usize>(), 200_000);
    let mut group = c.benchmark_group("1,000 traces of 200 spans");
    group.sample_size(20);
    group.bench_function("aggregated flame graph (merge + draw)", |b| {
        b.iter(|| {
            let flame = aggregate(&many, Some("frontend"));
            vitals::render::aggregate::render(&flame, "frontend", 200).lines.len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
