//! Traces written as a file to share: one document holding every trace given, in a format
//! other tools read as well as Vitals does.

use crate::model::Trace;

/// The formats traces are exported in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// OTLP JSON: everything Vitals knows of a trace (times in ns, typed attributes,
    /// events, links, resources); read by Vitals, Jaeger's upload and Tempo.
    #[default]
    OtlpJson,
    /// Jaeger's JSON (`{"data": [...]}`), as Jaeger UI downloads and uploads it: times in
    /// µs, lists and maps as text, span links as FOLLOWS_FROM references.
    JaegerJson,
}

impl ExportFormat {
    /// What a file in this format loses of a trace, for telling the user; `None` when
    /// nothing.
    pub fn loses(self) -> Option<&'static str> {
        match self {
            ExportFormat::OtlpJson => None,
            ExportFormat::JaegerJson => Some(
                "Jaeger JSON keeps times in microseconds, lists and maps as text, and span links as FOLLOWS_FROM references; use otlp-json to keep everything",
            ),
        }
    }
}

/// `traces` as one file's bytes.
pub fn encode<'t>(traces: impl IntoIterator<Item = &'t Trace>, format: ExportFormat) -> Vec<u8> {
    let document = match format {
        ExportFormat::OtlpJson => super::otlp_encode::to_json(traces),
        ExportFormat::JaegerJson => {
            serde_json::json!({ "data": traces.into_iter().map(super::jaeger_encode::trace).collect::<Vec<_>>() })
        }
    };
    let mut bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;
    use crate::model::{AttrValue, RefKind, Span};

    /// Two traces of two services: every attribute type (a 64-bit integer past what a
    /// double holds, bytes, nested lists and maps), times with nanoseconds, events, a link
    /// from one trace to the other, an error with its message, resources with attributes.
    const SOURCE: &str = r#"{"resourceSpans": [
      {"resource": {"attributes": [
          {"key": "service.name", "value": {"stringValue": "orders"}},
          {"key": "host.cpus", "value": {"intValue": "8"}}]},
       "scopeSpans": [{"spans": [
         {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "00f067aa0ba902b7", "name": "GET /orders",
          "kind": 2, "startTimeUnixNano": "1700000000123456789", "endTimeUnixNano": "1700000000987654321",
          "attributes": [
            {"key": "s", "value": {"stringValue": "ünïcode ✓"}},
            {"key": "b", "value": {"boolValue": true}},
            {"key": "i", "value": {"intValue": "9007199254740993"}},
            {"key": "neg", "value": {"intValue": "-42"}},
            {"key": "f", "value": {"doubleValue": 0.1}},
            {"key": "raw", "value": {"bytesValue": "AAH/"}},
            {"key": "list", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}, {"arrayValue": {"values": [{"boolValue": false}]}}]}}},
            {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 1.5}}]}}}],
          "events": [{"timeUnixNano": "1700000000200000001", "name": "exception",
                      "attributes": [{"key": "exception.message", "value": {"stringValue": "boom"}}]}],
          "status": {"code": 2, "message": "card declined"}},
         {"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "a1b2c3d4e5f60718", "parentSpanId": "00f067aa0ba902b7",
          "name": "publish", "kind": 4, "startTimeUnixNano": "1700000000300000007", "endTimeUnixNano": "1700000000300000999",
          "status": {"code": 1}}]}]},
      {"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "mailer"}}]},
       "scopeSpans": [{"spans": [
         {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "name": "consume",
          "kind": 5, "startTimeUnixNano": "1700000001000000003", "endTimeUnixNano": "1700000001500000005",
          "links": [{"traceId": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "a1b2c3d4e5f60718"}]}]}]}]}"#;

    fn by_id(trace: &Trace) -> Vec<&Span> {
        let mut spans: Vec<&Span> = trace.spans.iter().collect();
        spans.sort_by_key(|s| s.span_id);
        spans
    }

    #[test]
    fn otlp_json_round_trips_several_traces_exactly() {
        let original = formats::decode(SOURCE.as_bytes()).unwrap();
        assert_eq!(original.len(), 2);
        let file = encode(&original, ExportFormat::OtlpJson);
        assert_eq!(formats::sniff(&file), formats::Format::OtlpJson);
        let again = formats::decode(&file).unwrap();
        assert_eq!(again.len(), original.len(), "one file, every trace");
        for (a, b) in original.iter().zip(&again) {
            assert_eq!(a.id, b.id);
            assert_eq!(
                by_id(a),
                by_id(b),
                "every span the same: ids, times in ns, attributes, events, links, resource"
            );
            assert_eq!(a.warnings, b.warnings);
        }
        let root = again[0].spans.iter().find(|s| s.operation == "GET /orders").unwrap();
        assert_eq!((root.start_ns, root.duration_ns), (1_700_000_000_123_456_789, 864_197_532));
        assert_eq!(root.attr("i"), Some(&AttrValue::Int(9_007_199_254_740_993)));
        assert_eq!(root.attr("raw"), Some(&AttrValue::Bytes(vec![0, 1, 255])));
        let consume = &again[1].spans[0];
        assert!(
            consume.references.iter().any(|r| r.trace_id == again[0].id && r.span_id.to_string() == "a1b2c3d4e5f60718")
        );
    }

    #[test]
    fn jaeger_json_round_trips_what_the_format_holds_and_says_what_it_does_not() {
        let original = formats::decode(SOURCE.as_bytes()).unwrap();
        let file = encode(&original, ExportFormat::JaegerJson);
        assert_eq!(formats::sniff(&file), formats::Format::JaegerJson);
        let again = formats::decode(&file).unwrap();
        assert_eq!(again.len(), original.len());
        for (a, b) in original.iter().zip(&again) {
            assert_eq!(a.id, b.id);
            for (x, y) in by_id(a).into_iter().zip(by_id(b)) {
                assert_eq!(
                    (x.span_id, x.parent_id, &x.operation, x.kind),
                    (y.span_id, y.parent_id, &y.operation, y.kind)
                );
                assert_eq!((x.service(), x.status.code), (y.service(), y.status.code));
                let micros = |s: &Span| (s.start_ns / 1000, s.duration_ns / 1000);
                assert_eq!(micros(x), micros(y), "start and duration to the µs");
                for attribute in &x.attributes {
                    let kept = y.attr(&attribute.key).unwrap_or_else(|| panic!("{} lost", attribute.key));
                    match &attribute.value {
                        AttrValue::Str(_) | AttrValue::Bool(_) | AttrValue::Int(_) | AttrValue::Float(_) => {
                            assert_eq!(kept, &attribute.value)
                        }
                        other => assert_eq!(kept, &AttrValue::Str(other.to_string().into()), "as text"),
                    }
                }
                assert_eq!(x.events.len(), y.events.len());
                for (e, f) in x.events.iter().zip(&y.events) {
                    // A Jaeger log names itself in its `event` field, which reads back as a field too.
                    let fields: Vec<_> = f.attributes.iter().filter(|a| a.key != "event").cloned().collect();
                    assert_eq!((&e.name, e.time_ns / 1000, &e.attributes), (&f.name, f.time_ns / 1000, &fields));
                }
            }
        }
        let consume = &again[1].spans[0];
        let link = consume.references.iter().find(|r| r.trace_id == again[0].id).expect("the link is kept");
        assert_eq!((link.kind, link.span_id.to_string().as_str()), (RefKind::FollowsFrom, "a1b2c3d4e5f60718"));
        let host = again[0].spans[0].resource.attributes.iter().find(|a| a.key == "host.cpus");
        assert_eq!(
            host.map(|a| &a.value),
            Some(&AttrValue::Int(8)),
            "the resource's attributes are the process's tags"
        );
        assert!(ExportFormat::JaegerJson.loses().unwrap().contains("microseconds"));
        assert_eq!(ExportFormat::OtlpJson.loses(), None);
    }
}
