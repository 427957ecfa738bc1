//! Issue 14's number for trends: `:VitalsTrends` of one operation over 90 days of hourly
//! rollups, from the store to the drawn lines (reading and merging 2,160 rollups, the
//! percentiles of each bucket, the drawing). Target: < 20 ms.
//!
//!     cargo bench --bench trends

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use vitals::analysis::trends::TrendRequest;
use vitals::render::trends::{chart_columns, render};
use vitals::store::{Retention, Store};

const HOUR: u64 = 3_600_000_000_000;
const DAYS: u64 = 90;
/// Requests each hour, spread from 1 ms to 2 s: sketches of realistic size.
const PER_HOUR: u64 = 60;

/// An hour's requests of `checkout`'s `POST /checkout`, `hours` hours before `now`.
fn hour(hours: u64, now: u64) -> Vec<ResourceSpans> {
    let start = now - hours * HOUR;
    let spans = (0..PER_HOUR)
        .map(|i| {
            let n = hours * PER_HOUR + i;
            let duration = 1_000_000 + (n * 7919 % 2000) * 1_000_000;
            Span {
                trace_id: (u128::from(n) + 1).to_be_bytes().to_vec(),
                span_id: (n + 1).to_be_bytes().to_vec(),
                name: "POST /checkout".into(),
                kind: 2,
                start_time_unix_nano: start + i * 60_000_000_000,
                end_time_unix_nano: start + i * 60_000_000_000 + duration,
                status: n.is_multiple_of(50).then(|| Status { code: 2, message: "declined".into() }),
                ..Default::default()
            }
        })
        .collect();
    let name = KeyValue {
        key: "service.name".into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue("checkout".into())) }),
        ..Default::default()
    };
    vec![ResourceSpans {
        resource: Some(Resource { attributes: vec![name], ..Default::default() }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }]
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("vitals-trends-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(&dir.join("traces.db"), Retention::default()).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    // Received now, so all but the last day's are per hour, as a store 90 days old has them.
    for hours in (25..DAYS * 24).rev() {
        store.ingest(hour(hours, now), now).unwrap();
    }
    let width = 120;
    let request = TrendRequest {
        service: "checkout".into(),
        operation: Some("POST /checkout".into()),
        start_ns: now - DAYS * 24 * HOUR,
        end_ns: now,
        columns: chart_columns(width),
    };
    let trend = store.trend(&request).unwrap().unwrap();
    assert_eq!(trend.total.requests, (DAYS * 24 - 25) * PER_HOUR, "every request of 90 days");
    c.bench_function("trend of one operation over 90 days of hourly rollups: read + merge + draw", |b| {
        b.iter(|| {
            let trend = store.trend(&request).unwrap().unwrap();
            render(&trend, &[], width).rendered.lines.len()
        })
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
