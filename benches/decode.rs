//! Decode throughput of Jaeger JSON into the model, next to a plain `serde_json::Value`
//! parse of the same bytes (the ratio the issue asks for).

#[path = "synthetic.rs"]
mod synthetic;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let bytes = synthetic::jaeger_json(10_000);
    let mut group = c.benchmark_group(format!("Jaeger JSON, 10,000 spans, {:.1} MB", bytes.len() as f64 / 1e6));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.sample_size(20);
    group.bench_function("vitals decode into the model", |b| b.iter(|| vitals::formats::decode(&bytes).unwrap().len()));
    group.bench_function("serde_json::Value parse", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap().is_object())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
