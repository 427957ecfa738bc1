//! Decoding the generator's Jaeger JSON traces into the model, next to a plain
//! `serde_json::Value` parse of the same bytes (issue 16: decode ≤ 0.7× the parse), with
//! and without another decoded trace alive (the editor host keeps the traces it opened, so
//! a decode rarely starts from an empty heap), and freeing a decoded trace (≤ 10 ms at
//! 100,000 spans).
//!
//! The bench runs on the allocator of the `vitals` binary, the system's (glibc's) malloc.
//!
//! Decodes and parses are timed without freeing their result (criterion frees it outside
//! the timing), and the free is timed on its own.
//!
//! `cargo bench --bench decode -- '100000 spans'` runs one size.

#[path = "support/generated.rs"]
mod generated;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering::Relaxed};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// The allocator of the `vitals` binary (src/main.rs), so that the bench measures what
/// users run; it counts the bytes requested while [`COUNTING`] is on, for
/// [`model_bytes_per_span`] (off, the count costs one predictable branch).
struct Counted;

static COUNTING: AtomicBool = AtomicBool::new(false);
static IN_USE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            IN_USE.fetch_add(layout.size() as isize, Relaxed);
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if COUNTING.load(Relaxed) {
            IN_USE.fetch_sub(layout.size() as isize, Relaxed);
        }
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Relaxed) {
            IN_USE.fetch_add(new_size as isize, Relaxed);
            IN_USE.fetch_sub(layout.size() as isize, Relaxed);
        }
        unsafe { System.realloc(pointer, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counted = Counted;

/// The seed whose 100,000-span trace stays decoded while a trace of `seed` is measured.
fn other_seed(seed: u64) -> u64 {
    if seed == 7 { 9 } else { 7 }
}

/// Bytes the model of a decoded trace holds per span, as requested from the allocator
/// (without its rounding and bookkeeping).
fn model_bytes_per_span(bytes: &[u8]) -> f64 {
    IN_USE.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    let traces = vitals::formats::decode(bytes).unwrap();
    COUNTING.store(false, Relaxed);
    let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
    IN_USE.load(Relaxed) as f64 / spans as f64
}

fn bench(c: &mut Criterion) {
    let bytes = generated::jaeger_json(100_000, 7);
    eprintln!("the model of 100,000 spans (seed 7): {:.0} bytes per span", model_bytes_per_span(&bytes));
    for (spans, seed) in [(1_000, 7), (10_000, 7), (100_000, 7), (100_000, 9)] {
        let bytes = generated::jaeger_json(spans, seed);
        let decode = || vitals::formats::decode(&bytes).unwrap();
        let mut group = c.benchmark_group(format!("{spans} spans seed {seed} ({:.1} MB)", bytes.len() as f64 / 1e6));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.sample_size(if spans >= 100_000 { 10 } else { 30 });
        group.bench_function("serde_json::Value parse", |b| {
            b.iter_batched(
                || (),
                |()| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("vitals decode", |b| b.iter_batched(|| (), |()| decode(), BatchSize::PerIteration));
        group.bench_function("free a decoded trace", |b| b.iter_batched(decode, drop, BatchSize::PerIteration));
        let alive = vitals::formats::decode(&generated::jaeger_json(100_000, other_seed(seed))).unwrap();
        group.bench_function("serde_json::Value parse, another trace alive", |b| {
            b.iter_batched(
                || (),
                |()| serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
                BatchSize::PerIteration,
            )
        });
        group.bench_function("vitals decode, another trace alive", |b| {
            b.iter_batched(|| (), |()| decode(), BatchSize::PerIteration)
        });
        drop(alive);
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
