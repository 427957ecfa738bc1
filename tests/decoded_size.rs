//! The receiver reserves the memory a body will take once decoded before decoding it
//! (`vitals::collector::decoded_size`). Here a counting allocator measures what decoding
//! really allocates, for ordinary batches and for bodies built to decode into far more
//! than their size, and the bound must never be below it.

mod common;
use common::otlp::{request_of, text};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span, span};
use prost::Message;
use vitals::collector::decoded_size;
use vitals::formats::otlp_json;

/// Counts the bytes this thread holds, as the allocator hands them out (with glibc's
/// header and rounding), and the most it held.
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn chunk(size: usize) -> usize {
    (size + 8).div_ceil(16).max(2) * 16
}

fn hold(more: usize) {
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + more);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn free(fewer: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(fewer)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            hold(chunk(layout.size()));
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        unsafe { System.dealloc(pointer, layout) };
        free(chunk(layout.size()));
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as a move: the old and the new block both exist for a moment.
        hold(chunk(new_size));
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if moved.is_null() {
            free(chunk(new_size));
        } else {
            free(chunk(layout.size()));
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most this thread held above what it held before, while `work` ran.
fn peak_during<T>(work: impl FnOnce() -> T) -> usize {
    let before = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(before));
    let kept = work();
    let peak = PEAK.with(Cell::get) - before;
    drop(kept);
    peak
}

fn assert_protobuf_bound_holds(name: &str, body: &[u8]) -> (usize, usize) {
    let bound = decoded_size::protobuf(body).unwrap();
    let used = peak_during(|| ExportTraceServiceRequest::decode(body).unwrap());
    assert!(used <= bound, "{name}: decoding took {used} bytes, more than the bound {bound}");
    (used, bound)
}

fn assert_json_bound_holds(name: &str, body: &[u8]) {
    let bound = decoded_size::json(body);
    let used = peak_during(|| otlp_json::decode_resource_spans(body).unwrap());
    assert!(used <= bound, "{name}: decoding took {used} bytes, more than the bound {bound}");
}

fn request(resource: Vec<KeyValue>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    request_of(Some(Resource { attributes: resource, ..Default::default() }), spans)
}

/// What an SDK sends: 512 spans with ids, names, times, a handful of attributes, an
/// event now and then.
fn sdk_batch() -> ExportTraceServiceRequest {
    let spans = (0..512u64)
        .map(|i| Span {
            trace_id: (u128::from(i / 16) + 1).to_be_bytes().to_vec(),
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: if i % 16 == 0 { Vec::new() } else { (i - i % 16 + 1).to_be_bytes().to_vec() },
            name: format!("GET /api/items/{}", i % 12),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i * 1000,
            end_time_unix_nano: 1_700_000_000_001_000_000 + i * 1000,
            attributes: vec![
                text("http.request.method", "GET"),
                text("http.route", "/api/items/{id}"),
                text("code.function.name", "handle_request"),
                text("net.peer.name", "10.0.0.7"),
                text("enduser.id", &format!("user-{}", i % 1000)),
            ],
            events: if i % 10 == 0 {
                vec![span::Event { name: "retry".into(), attributes: vec![text("attempt", "2")], ..Default::default() }]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .collect();
    request(vec![text("service.name", "checkout"), text("host.name", "bench")], spans)
}

#[test]
fn an_sdk_batch_decodes_within_its_bound_and_the_bound_is_not_far_above() {
    let body = sdk_batch().encode_to_vec();
    let (used, bound) = assert_protobuf_bound_holds("512 spans", &body);
    assert!(bound < 2 * used, "the bound {bound} should stay near what decoding takes ({used})");
}

#[test]
fn bodies_built_to_decode_into_much_more_than_their_size_stay_within_their_bound() {
    let empty_spans = request(Vec::new(), vec![Span::default(); 200_000]).encode_to_vec();
    let (used, _) = assert_protobuf_bound_holds("empty spans", &empty_spans);
    assert!(used > 50 * empty_spans.len(), "the case amplifies: {used} from {}", empty_spans.len());

    let empty_attributes =
        request(Vec::new(), vec![Span { attributes: vec![KeyValue::default(); 100_000], ..Default::default() }; 3])
            .encode_to_vec();
    assert_protobuf_bound_holds("empty attributes", &empty_attributes);

    let empty_values =
        |n| AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values: vec![AnyValue::default(); n] })) };
    let mut nested = empty_values(1000);
    for _ in 0..40 {
        let mut values = vec![AnyValue::default(); 100];
        values.push(nested);
        nested = AnyValue { value: Some(any_value::Value::ArrayValue(ArrayValue { values })) };
    }
    let arrays = request(
        vec![KeyValue { key: "a".into(), value: Some(nested), ..Default::default() }; 30],
        vec![Span::default()],
    )
    .encode_to_vec();
    assert_protobuf_bound_holds("nested arrays", &arrays);

    let events = request(
        Vec::new(),
        vec![Span {
            events: vec![span::Event::default(); 50_000],
            links: vec![span::Link::default(); 50_000],
            ..Default::default()
        }],
    )
    .encode_to_vec();
    assert_protobuf_bound_holds("empty events and links", &events);
}

#[test]
fn json_bodies_stay_within_their_bound() {
    let fixture = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/jaeger-api/otlp-export-request.json"),
    )
    .expect("the shared fixtures");
    assert_json_bound_holds("an SDK export", &fixture);

    let spans = vec!["{}"; 100_000].join(",");
    let empty_spans = format!(r#"{{"resourceSpans":[{{"scopeSpans":[{{"spans":[{spans}]}}]}}]}}"#);
    assert_json_bound_holds("empty spans", empty_spans.as_bytes());

    let attributes = vec![r#"{"key":"","value":{"arrayValue":{"values":[{},{},{}]}}}"#; 20_000].join(",");
    let many_attributes = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{attributes}]}},"scopeSpans":[{{"spans":[{{"attributes":[{attributes}]}}]}}]}}]}}"#
    );
    assert_json_bound_holds("empty attributes", many_attributes.as_bytes());
}

/// What the Zipkin receiver does with a body: decode it, and turn the traces into OTLP.
fn zipkin_to_otlp(body: &[u8]) -> Vec<ResourceSpans> {
    let traces = vitals::formats::zipkin::decode(body).unwrap();
    vitals::formats::otlp_encode::export_request(&traces, 0).resource_spans
}

fn assert_zipkin_bound_holds(name: &str, body: &[u8]) -> (usize, usize) {
    let bound = decoded_size::zipkin_json(body);
    let used = peak_during(|| zipkin_to_otlp(body));
    assert!(used <= bound, "{name}: decoding took {used} bytes, more than the bound {bound}");
    (used, bound)
}

#[test]
fn zipkin_bodies_stay_within_their_bound_through_decoding_and_conversion() {
    let fixture = std::fs::read(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/fixtures/zipkin/smartthings-mobile-web-install.json"),
    )
    .expect("the shared fixtures");
    let (used, bound) = assert_zipkin_bound_holds("1,041 real spans", &fixture);
    assert!(bound < 8 * used, "the bound {bound} should stay near what decoding takes ({used})");

    let spans: Vec<String> = (0..20_000).map(|i| format!(r#"{{"traceId":"a","id":"{i:x}"}}"#)).collect();
    assert_zipkin_bound_holds("bare spans", format!("[{}]", spans.join(",")).as_bytes());

    let tags: Vec<String> = (0..20_000).map(|i| format!(r#""{i:x}":"""#)).collect();
    let many_tags = format!(r#"[{{"traceId":"a","id":"1","tags":{{{}}}}}]"#, tags.join(","));
    assert_zipkin_bound_holds("empty tags", many_tags.as_bytes());

    let annotations = vec![r#"{"value":""}"#; 20_000].join(",");
    let many_annotations = format!(r#"[{{"traceId":"a","id":"1","annotations":[{annotations}]}}]"#);
    assert_zipkin_bound_holds("empty annotations", many_annotations.as_bytes());

    let shared: Vec<String> = (0..5_000)
        .map(|i| {
            format!(
                r#"{{"traceId":"a","id":"{i:x}","kind":"SERVER","shared":true,"localEndpoint":{{"serviceName":"s"}}}}"#
            )
        })
        .collect();
    assert_zipkin_bound_holds("shared server halves", format!("[{}]", shared.join(",")).as_bytes());
}
