//! The analyses against the cost of getting the data: every analysis of a 100,000-span
//! trace next to decoding that trace from Jaeger JSON (the issue asks for less time than
//! the decode).

#[path = "synthetic.rs"]
mod synthetic;

use criterion::{Criterion, criterion_group, criterion_main};
use vitals::analysis::report::{Options, analyze};

fn bench(c: &mut Criterion) {
    let bytes = synthetic::jaeger_json(100_000);
    let traces = vitals::formats::decode(&bytes).unwrap();
    let mut group = c.benchmark_group("100,000-span trace");
    group.sample_size(10);
    group.bench_function("decode Jaeger JSON", |b| b.iter(|| vitals::formats::decode(&bytes).unwrap().len()));
    group.bench_function("all analyses", |b| b.iter(|| analyze(&traces, &Options::default()).findings.len()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
