//! Issue 15's transaction: 20 linked traces of 1,000 spans each in the embedded store (one
//! producer's trace and 19 consumers' traces linking to its span, the shape of a topic
//! with many consumers or of a batch), followed from the producer through the store's
//! index of links, stitched and drawn as one waterfall 200 columns wide. Target: < 50 ms.
//!
//!     cargo bench --bench transaction
//!
//! "warm": the store's cache of assembled traces holds them (a transaction opened
//! again); "cold": a freshly opened store assembles every trace from its rows.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span};
use vitals::model::TraceId;
use vitals::providers::links::{Bounds, linked_traces};
use vitals::providers::otlp::OtlpProvider;
use vitals::render::{Picture, View, render_trace};
use vitals::store::{Retention, Store};

const TRACES: u128 = 20;
const SPANS: u64 = 1_000;
/// The producer span of trace 1, which the others link to.
const PUBLISH: u64 = 2;

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// Trace `trace` (1 is the producer's): a tree eight wide of `SPANS` spans with typical
/// attributes, the consumers' roots linking to the producer's span.
fn trace(trace: u128, now: u64) -> Vec<ResourceSpans> {
    let start = now - 600_000_000_000 + trace as u64 * 50_000_000;
    let spans = (0..SPANS)
        .map(|i| Span {
            trace_id: trace.to_be_bytes().to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i == 0 { Vec::new() } else { (i / 8 + 1).to_be_bytes().to_vec() },
            name: format!("op{}", i % 40),
            kind: if i == 0 && trace > 1 { 5 } else { 1 },
            start_time_unix_nano: start + i * 10_000,
            end_time_unix_nano: start + i * 10_000 + 40_000,
            attributes: vec![text("messaging.system", "kafka"), text("messaging.destination.name", "orders")],
            links: match (i, trace) {
                (0, 2..) => vec![span::Link {
                    trace_id: 1u128.to_be_bytes().to_vec(),
                    span_id: PUBLISH.to_be_bytes().to_vec(),
                    ..Default::default()
                }],
                _ => Vec::new(),
            },
            ..Default::default()
        })
        .collect();
    let service = format!("service{}", trace % 5);
    vec![ResourceSpans {
        resource: Some(Resource { attributes: vec![text("service.name", &service)], ..Default::default() }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }]
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("vitals-bench-transaction-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("traces.db");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    {
        let store = Store::open(&path, Retention::default()).unwrap();
        for n in 1..=TRACES {
            store.ingest(trace(n, now), now).unwrap();
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let first = TraceId(1).to_string();
    let stitch_and_draw = |provider: &OtlpProvider| {
        runtime.block_on(async {
            let linked = linked_traces(provider, &first, Bounds::default()).await.unwrap();
            assert_eq!(linked.traces.len(), TRACES as usize);
            let transaction = linked.stitch();
            assert_eq!(transaction.handoffs.len(), TRACES as usize - 1);
            let picture = Picture { handoffs: transaction.handoffs, ..Picture::new(View::Waterfall, 200) };
            render_trace(&transaction.trace, &picture).lines.len()
        })
    };
    let warm = OtlpProvider::new(Arc::new(Store::open(&path, Retention::default()).unwrap()));
    let mut group = c.benchmark_group("transaction of 20 linked traces × 1,000 spans from the store, drawn");
    group.sample_size(20);
    group.bench_function("warm", |b| b.iter(|| stitch_and_draw(&warm)));
    group.bench_function("cold", |b| {
        b.iter_batched(
            || OtlpProvider::new(Arc::new(Store::open(&path, Retention::default()).unwrap())),
            |provider| stitch_and_draw(&provider),
            BatchSize::PerIteration,
        )
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
