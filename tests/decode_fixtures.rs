//! Decoders against real Jaeger and OTLP output (the shared fixtures) and against broken
//! input: every file decodes to the traces it holds, every broken byte string is an error.

mod common;

use common::{read_shared, shared_fixtures};
use vitals::formats::{self, Format};
use vitals::model::{SpanKind, StatusCode};
use vitals::render::{Picture, View, render_trace};

#[test]
fn the_jaeger_v1_search_response_decodes_and_drops_the_repeated_span() {
    let traces = formats::decode(&read_shared("jaeger-api/v1-traces-response.json")).unwrap();
    assert_eq!(traces.len(), 1);
    let trace = &traces[0];
    assert_eq!(trace.id.to_string(), "83a9efd15c1c98a977e0711cc93ee28b");
    // The response lists span e127af99e3b3e074 twice, byte for byte.
    assert_eq!(trace.spans.len(), 1);
    let span = &trace.spans[0];
    assert_eq!(
        (span.service(), span.operation.as_str(), span.kind),
        ("telemetrygen", "okey-dokey-0", SpanKind::Server)
    );
    assert_eq!(span.duration_ns, 123_000);
    assert!(trace.warnings.iter().any(|w| w.contains("909541b92cf05311")), "{:?}", trace.warnings);
}

#[test]
fn the_otlp_export_request_and_the_v1_response_describe_the_same_span() {
    let otlp = formats::decode(&read_shared("jaeger-api/otlp-export-request.json")).unwrap();
    let v1 = formats::decode(&read_shared("jaeger-api/v1-traces-response.json")).unwrap();
    let (a, b) = (&otlp[0].spans[0], &v1[0].spans[0]);
    assert_eq!((a.trace_id, a.span_id, a.parent_id), (b.trace_id, b.span_id, b.parent_id));
    assert_eq!((a.start_ns, a.duration_ns), (b.start_ns, b.duration_ns));
    assert_eq!(a.service(), b.service());
}

#[test]
fn the_api_v3_envelopes_decode() {
    for file in ["jaeger-api/v3-GetTrace.json", "jaeger-api/v3-FindTraces.json"] {
        let traces = formats::decode(&read_shared(file)).unwrap();
        let span = &traces[0].spans[0];
        assert_eq!(span.operation, "foobar", "{file}");
        assert_eq!(span.status.code, StatusCode::Error, "{file}");
        assert_eq!(span.kind, SpanKind::Server, "{file}");
        // The span has no times: it is kept, and the trace says so.
        assert!(traces[0].warnings.iter().any(|w| w.contains("no start time")), "{file}");
    }
}

#[test]
fn every_jaeger_ui_and_hotrod_trace_decodes_into_one_connected_trace() {
    let dir = shared_fixtures();
    for folder in ["jaeger-ui/traces", "jaeger-hotrod", "jaeger-ui/critical-path"] {
        for entry in std::fs::read_dir(dir.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.ends_with(".json") || name.ends_with(".manifest.json") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            // The critical-path cases wrap the trace with its expected answer.
            let bytes = if folder.ends_with("critical-path") {
                let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                serde_json::to_vec(&value["trace"]).unwrap()
            } else {
                bytes
            };
            let traces = formats::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(traces.len(), 1, "{name}");
            let trace = &traces[0];
            assert!(!trace.spans.is_empty(), "{name}");
            assert_eq!(trace.tree.preorder().len(), trace.spans.len(), "{name}: every span is in the tree once");
        }
    }
}

#[test]
fn hotrod_captures_keep_services_attributes_and_events() {
    let traces = formats::decode(&read_shared("jaeger-hotrod/n_plus_one_positive.json")).unwrap();
    let trace = &traces[0];
    assert_eq!(trace.id.to_string(), "ea6db5d7b317ca1a5e2c4e0e7cea53ce");
    assert_eq!(trace.spans.len(), 16);
    let get_driver: Vec<_> = trace.spans.iter().filter(|s| s.operation == "GetDriver").collect();
    assert_eq!(get_driver.len(), 13);
    assert!(get_driver.iter().all(|s| s.service() == "redis-manual"));
    let failed: Vec<_> = get_driver.iter().filter(|s| s.is_error()).collect();
    assert_eq!(failed.len(), 3, "three GetDriver calls time out in this capture");
    assert!(failed.iter().all(|s| s.events.iter().any(|e| e.name == "redis timeout")));
    assert!(get_driver.iter().all(|s| s.parent_id.unwrap().to_string() == "be56eec6f3678130"));
}

#[test]
fn follows_from_references_survive_decoding() {
    let bytes = read_shared("jaeger-ui/traces/testTrace.json");
    assert_eq!(formats::sniff(&bytes), Format::JaegerJson);
    let traces = formats::decode(&bytes).unwrap();
    assert!(traces[0].spans.iter().any(|s| s.follows_from_parent()));
}

#[test]
fn every_truncation_of_real_responses_is_an_error_or_a_smaller_trace_never_a_panic() {
    for file in [
        "jaeger-api/v1-traces-response.json",
        "jaeger-api/otlp-export-request.json",
        "jaeger-hotrod/sibling_errors.json",
        "zipkin/yelp.json",
    ] {
        let bytes = read_shared(file);
        for cut in (0..bytes.len()).step_by(7) {
            let _ = formats::decode(&bytes[..cut]);
        }
        assert!(formats::decode(&bytes[..bytes.len() / 2]).is_err(), "{file}: half a document is an error");
    }
}

#[test]
fn malformed_documents_get_errors_that_say_what_and_where() {
    let cases: [(&[u8], &str); 5] = [
        (br#"{"data":[{"spans":[{"spanID":7}]}]}"#, "data[0].spans[0].spanID"),
        // (A negative duration is a span that ends before it starts: repaired with a
        // warning, not an error; see the decoders' tests.)
        (br#"{"data":[{"spans":[{"spanID":"1","duration":"soon"}]}]}"#, "data[0].spans[0].duration"),
        (br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000001","spanId":"12"}]}]}]}"#, "spanId"),
        (br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_WHATEVER"}]}]}]}"#, "SPAN_KIND_WHATEVER"),
        (b"\x0a\x05\x0a\x03\x0a\x01", "OTLP protobuf"),
    ];
    for (bytes, expected) in cases {
        let err = formats::decode(bytes).expect_err(expected).to_string();
        assert!(err.contains(expected), "{err:?} should mention {expected:?}");
    }
}

/// Flips, drops and duplicates bytes of real responses thousands of times (a fixed seed,
/// so every run tries the same inputs): whatever decodes must also build and draw.
#[test]
fn mangled_real_responses_never_panic_the_decoders_or_the_renderers() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |below: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % below.max(1) as u64) as usize
    };
    let originals = [
        read_shared("jaeger-api/v1-traces-response.json"),
        read_shared("jaeger-hotrod/sibling_errors.json"),
        read_shared("jaeger-ui/traces/testTrace.json"),
        read_shared("jaeger-api/v3-GetTrace.json"),
        read_shared("zipkin/yelp.json"),
    ];
    let mut decoded = 0;
    for round in 0..3_000 {
        let mut bytes = originals[round % originals.len()].clone();
        for _ in 0..1 + next(4) {
            let at = next(bytes.len());
            match next(3) {
                0 => bytes[at] = b"{}[]\",:0123456789-eE.tnulf"[next(26)],
                1 => {
                    bytes.remove(at);
                }
                _ => {
                    let byte = bytes[at];
                    bytes.insert(at, byte);
                }
            }
        }
        if let Ok(traces) = formats::decode(&bytes) {
            decoded += 1;
            for trace in &traces {
                for view in [View::Flame, View::Waterfall, View::Network, View::Stats] {
                    let critical_path = next(2) == 0;
                    render_trace(
                        trace,
                        &Picture { critical_path, marked: vec![0], ..Picture::new(view, 1 + next(200)) },
                    );
                }
                for span in 0..trace.spans.len() {
                    vitals::render::detail::render(trace, span, &[], next(120));
                    vitals::render::logs::of_span(trace, span, next(2) == 0, &[], None, next(120));
                }
            }
        }
    }
    assert!(decoded > 100, "the mangling should leave many documents decodable ({decoded})");
}

/// Zipkin's fixtures: every span kept, and each one's parent in its trace.
#[test]
fn every_zipkin_trace_decodes_with_every_span_and_shared_ids_undone() {
    let dir = shared_fixtures().join("zipkin");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(formats::sniff(&bytes), Format::ZipkinJson, "{}", path.display());
        let raw: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        let traces = formats::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let spans: usize = traces.iter().map(|t| t.spans.len()).sum();
        assert_eq!(spans, raw.len(), "{}: every span is kept", path.display());
        for trace in &traces {
            let mut ids: Vec<_> = trace.spans.iter().map(|s| s.span_id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), trace.spans.len(), "{}: shared span ids are made unique", path.display());
        }
        files += 1;
    }
    assert_eq!(files, 10);
}

#[test]
fn a_zipkin_server_half_becomes_its_clients_child_and_its_clock_skew_is_corrected() {
    let trace = formats::decode(&read_shared("zipkin/skew.json")).unwrap().remove(0);
    let named = |service: &str, operation: &str| {
        trace.spans.iter().position(|s| s.service() == service && s.operation == operation).unwrap()
    };
    let (client, server, child) = (named("servicea", "post"), named("serviceb", "post"), named("serviceb", "async"));
    assert_eq!(trace.tree.parent(server), Some(client), "the server half is its client's child");
    assert_eq!(trace.tree.parent(child), Some(server), "serviceb's span under the shared id follows the server half");
    let (c, s) = (&trace.spans[client], &trace.spans[server]);
    assert!(s.start_ns >= c.start_ns && s.end_ns() <= c.end_ns(), "the server sits inside its client");
    let gap_before = s.start_ns - c.start_ns;
    let gap_after = c.end_ns() - s.end_ns();
    assert!(gap_before.abs_diff(gap_after) <= 1_000, "in the middle: {gap_before} vs {gap_after}");
    assert_eq!(trace.spans[child].start_ns - s.start_ns, 1_000, "the server's own span moved with it");
    assert!(!trace.warnings.iter().any(|w| w.contains("clock skew")), "{:?}", trace.warnings);

    // yelp: a server half named differently from its process's spans finds them by address.
    let yelp = formats::decode(&read_shared("zipkin/yelp.json")).unwrap().remove(0);
    let proxy = yelp.spans.iter().position(|s| s.service() == "yelp_main/api_proxy").unwrap();
    let txn = yelp.spans.iter().position(|s| s.operation.starts_with("txn:")).unwrap();
    assert_eq!(yelp.tree.parent(txn), Some(proxy));
}
