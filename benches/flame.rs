//! From decoded spans to rendered lines: tree building plus the flame graph (and the
//! waterfall), for a 1,000-span and a 100,000-span trace.
//! Targets (issue 2): under 2 ms and under 150 ms for the flame graph.

#[path = "synthetic.rs"]
mod synthetic;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vitals::formats;
use vitals::model::{Span, Trace};
use vitals::render::{Picture, View, render_trace};

const WIDTH: usize = 200;

fn spans(count: usize) -> Vec<Span> {
    let trace = formats::decode(&synthetic::jaeger_json(count)).unwrap().remove(0);
    assert_eq!(trace.spans.len(), count);
    trace.spans
}

fn bench(c: &mut Criterion) {
    for (count, samples) in [(1_000, 100), (100_000, 10)] {
        let input = spans(count);
        let id = formats::decode(&synthetic::jaeger_json(1)).unwrap()[0].id;
        let mut group = c.benchmark_group(format!("{count} spans"));
        group.sample_size(samples);
        for view in [View::Flame, View::Waterfall] {
            group.bench_function(format!("build + {view:?}"), |b| {
                b.iter_batched(
                    || input.clone(),
                    // Returned, not dropped: criterion frees outputs outside the timing, and
                    // freeing 100,000 spans is not part of building and drawing them.
                    |spans| {
                        let trace = Trace::from_spans(id, spans);
                        let rendered = render_trace(&trace, &Picture::new(view, WIDTH));
                        (trace, rendered)
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
