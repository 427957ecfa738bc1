//! The language server's work on a big file (issue 13): from the text of a 10,000-line
//! file with 1,000 annotated lines to its diagnostics (placing every annotation on its
//! line, then the diagnostics as JSON, as `didOpen` makes the server do), and the hover
//! of an annotated line (markdown with the flame graph). Targets: under 10 ms and 5 ms.
//! Measured on the shared 2-core machine: 0.95 ms and 0.99 ms.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use vitals::formats;
use vitals::lsp::features;
use vitals::session::paths::FileMatcher;
use vitals::session::{AnalyzeSettings, Annotated};

const LINES: usize = 10_000;
const ANNOTATED: usize = 1_000;

/// Twenty requests, each with a handler span per annotated line of `src/big.py`
/// (every tenth line), a few of them slow.
fn traces() -> Vec<Arc<vitals::model::Trace>> {
    (0..20u64)
        .map(|t| {
            let mut spans = vec![json!({
                "traceID": format!("{:x}", 0xabc0 + t), "spanID": "1", "operationName": "GET /big", "processID": "p1",
                "references": [], "startTime": 1_700_000_000_000_000u64 + t * 1_000_000, "duration": 2_000_000,
                "tags": [],
            })];
            for i in 0..ANNOTATED as u64 {
                spans.push(json!({
                    "traceID": format!("{:x}", 0xabc0 + t), "spanID": format!("{:x}", 0x100 + i), "operationName": format!("step {i}"),
                    "processID": "p1", "references": [{ "refType": "CHILD_OF", "spanID": "1" }],
                    "startTime": 1_700_000_000_000_000u64 + t * 1_000_000 + i * 1_000, "duration": 900 + (i % 7) * 100,
                    "tags": [
                        { "key": "code.file.path", "type": "string", "value": "/app/src/big.py" },
                        { "key": "code.line.number", "type": "int64", "value": i * 10 + 5 },
                    ],
                }));
            }
            let json = json!({ "data": [{ "traceID": format!("{:x}", 0xabc0 + t), "spans": spans, "processes": { "p1": { "serviceName": "big" } } }] });
            Arc::new(formats::decode(json.to_string().as_bytes()).unwrap().remove(0))
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let annotated = Annotated::of(traces(), &AnalyzeSettings::default());
    let text: String = (1..=LINES).map(|i| format!("    line_{i} = compute({i})\n")).collect();
    let mappings = Default::default();
    let matcher = FileMatcher::new("/work/project/src/big.py", "/work/project", &mappings);
    {
        let lines = features::lines(&text);
        let placed = matcher.place(&annotated.annotations, &lines);
        assert_eq!(placed.len(), ANNOTATED, "every annotated line is found");
    }
    c.bench_function("didOpen of 10,000 lines with 1,000 annotated: diagnostics as JSON", |b| {
        b.iter(|| {
            let lines = features::lines(&text);
            let placed = matcher.place(&annotated.annotations, &lines);
            let diagnostics = features::diagnostics(&placed, &lines, 5.0);
            serde_json::to_string(&diagnostics).unwrap()
        })
    });
    // As the server answers it: the document's annotations placed, then the line's hover.
    c.bench_function("hover of an annotated line (1,001-span trace's flame graph)", |b| {
        b.iter(|| {
            let lines = features::lines(&text);
            let placed = matcher.place(&annotated.annotations, &lines);
            features::hover(&placed[&4], &annotated, 118)
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
