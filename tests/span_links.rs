//! Span links across traces, a producer and its consumers through a queue: the store
//! indexes them both ways (an older store gets the index when opened), `vitals serve`'s
//! Jaeger query API returns them as FOLLOWS_FROM references as Jaeger does, and a
//! transaction is followed from them with the store and with the Jaeger provider alike.

use std::collections::BTreeSet;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, span};
use prost::Message;
use serde_json::Value;
use vitals::config::{ProviderConfig, ProviderKind};
use vitals::model::{SpanId, TraceId};
use vitals::providers::jaeger::JaegerProvider;
use vitals::providers::links::{Bounds, linked_traces};
use vitals::providers::otlp::OtlpProvider;
use vitals::store::{LinkFrom, Retention, Store};

mod common;
use common::otlp::{now_ns, request_of, service, text};
use common::{TempDir, serve};

const MS: u64 = 1_000_000;
/// Two orders published by `shop` (traces 1 and 4), consumed by `billing` (trace 2, the
/// first order) and by `ledger` in one batch (trace 3, both orders).
const ORDER: u128 = 1;
const CONSUMER: u128 = 2;
const BATCH: u128 = 3;
const SECOND_ORDER: u128 = 4;
const PUBLISH: u64 = 12;
const SECOND_PUBLISH: u64 = 42;

struct Queue {
    requests: Vec<ExportTraceServiceRequest>,
    /// When the first order's message was published, and when billing took it.
    published_ns: u64,
    consumed_ns: u64,
}

fn proto_span(trace: u128, id: u64, name: &str, start_ns: u64, ms: u64, links: &[(u128, u64)]) -> ProtoSpan {
    ProtoSpan {
        trace_id: trace.to_be_bytes().to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        name: name.into(),
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + ms * MS,
        attributes: vec![text("messaging.system", "kafka"), text("messaging.destination.name", "orders")],
        links: links
            .iter()
            .map(|&(trace, id)| span::Link {
                trace_id: trace.to_be_bytes().to_vec(),
                span_id: id.to_be_bytes().to_vec(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn queue() -> Queue {
    let t0 = now_ns() - 60_000 * MS;
    let mut publish = proto_span(ORDER, PUBLISH, "orders publish", t0 + 2 * MS, 3, &[]);
    publish.parent_span_id = 11u64.to_be_bytes().to_vec();
    let mut second = proto_span(SECOND_ORDER, SECOND_PUBLISH, "orders publish", t0 + 20 * MS, 3, &[]);
    second.parent_span_id = 41u64.to_be_bytes().to_vec();
    let shop = vec![
        proto_span(ORDER, 11, "POST /orders", t0, 10, &[]),
        publish,
        proto_span(SECOND_ORDER, 41, "POST /orders", t0 + 18 * MS, 10, &[]),
        second,
    ];
    let consumed_ns = t0 + 300 * MS;
    let billing = vec![proto_span(CONSUMER, 21, "orders process", consumed_ns, 20, &[(ORDER, PUBLISH)])];
    let ledger = vec![proto_span(
        BATCH,
        31,
        "orders process batch",
        t0 + 400 * MS,
        5,
        &[(ORDER, PUBLISH), (SECOND_ORDER, SECOND_PUBLISH)],
    )];
    Queue {
        requests: vec![
            request_of(Some(service("shop")), shop),
            request_of(Some(service("billing")), billing),
            request_of(Some(service("ledger")), ledger),
        ],
        published_ns: t0 + 5 * MS,
        consumed_ns,
    }
}

fn ingest(store: &Store, queue: &Queue) {
    for request in &queue.requests {
        store.ingest(request.resource_spans.clone(), now_ns()).unwrap();
    }
}

/// Who links to the first order, as the store's index answers.
fn linking_to_order(store: &Store) -> BTreeSet<(u128, u64, u64)> {
    let found = store.linking_to(TraceId(ORDER), 100).unwrap();
    found
        .iter()
        .map(|&LinkFrom { trace_id, span_id, linked_span_id }| (trace_id.0, span_id.0, linked_span_id.0))
        .collect()
}

#[test]
fn the_store_answers_links_both_ways_and_indexes_those_of_a_store_of_layout_6_when_opened() {
    let dir = TempDir::new("links-store");
    let path = dir.0.join("traces.db");
    let queue = queue();
    let expected = BTreeSet::from([(CONSUMER, 21, PUBLISH), (BATCH, 31, PUBLISH)]);
    {
        let store = Store::open(&path, Retention::default()).unwrap();
        ingest(&store, &queue);
        // Forwards: the consumer's span carries its link.
        let consumer = store.trace(TraceId(CONSUMER)).unwrap().unwrap();
        let links: Vec<(TraceId, SpanId)> = consumer.spans[0].links().map(|r| (r.trace_id, r.span_id)).collect();
        assert_eq!(links, vec![(TraceId(ORDER), SpanId(PUBLISH))]);
        // Backwards: who consumed the first order, from the index.
        assert_eq!(linking_to_order(&store), expected);
        let second: Vec<LinkFrom> = store.linking_to(TraceId(SECOND_ORDER), 100).unwrap();
        assert_eq!(second.iter().map(|l| l.trace_id.0).collect::<Vec<_>>(), vec![BATCH]);
        assert!(store.linking_to(TraceId(CONSUMER), 100).unwrap().is_empty(), "nothing links to the consumer");
    }
    // A file written before links were indexed: the table gone, layout 6.
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch("DROP TABLE span_links; PRAGMA user_version = 6;").unwrap();
    drop(old);
    let store = Store::open(&path, Retention::default()).unwrap();
    assert_eq!(linking_to_order(&store), expected, "the index is filled from the stored spans");
    let version: i64 =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(version, 8, "brought to the current layout");
}

#[tokio::test]
async fn a_transaction_is_followed_both_ways_through_the_store_from_any_of_its_traces() {
    let dir = TempDir::new("links-transaction");
    let store = Arc::new(Store::open(&dir.0.join("traces.db"), Retention::default()).unwrap());
    let queue = queue();
    ingest(&store, &queue);
    let provider = OtlpProvider::new(store);
    for start in [ORDER, CONSUMER, BATCH, SECOND_ORDER] {
        let linked = linked_traces(&provider, &TraceId(start).to_string(), Bounds::default()).await.unwrap();
        let ids: BTreeSet<u128> = linked.traces.iter().map(|t| t.id.0).collect();
        assert_eq!(ids, BTreeSet::from([ORDER, CONSUMER, BATCH, SECOND_ORDER]), "from trace {start}");
        assert_eq!(linked.traces[0].id, TraceId(start), "the first trace first");
    }
    // One link away from the consumer: its producer and the batch that took the same
    // order; the second order is two links away.
    let near = Bounds { depth: 1, max_traces: 20 };
    let linked = linked_traces(&provider, &TraceId(CONSUMER).to_string(), near).await.unwrap();
    assert_eq!(linked.traces.len(), 2);
    assert_eq!(linked.beyond_bounds, 1);
    let transaction = linked.stitch();
    assert!(
        transaction.trace.warnings.iter().any(|w| w.contains("1 more linked trace left out")),
        "{:?}",
        transaction.trace.warnings
    );
    let few = Bounds { depth: 3, max_traces: 2 };
    assert_eq!(linked_traces(&provider, &TraceId(CONSUMER).to_string(), few).await.unwrap().traces.len(), 2);
}

#[tokio::test]
async fn the_query_api_of_serve_returns_links_as_follows_from_references_which_the_jaeger_provider_follows() {
    let dir = TempDir::new("links-serve");
    let server = serve(&dir.0.join("traces.db"));
    let queue = queue();
    let client = reqwest::Client::new();
    for request in &queue.requests {
        let response = client
            .post(&server.otlp_url)
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let url = format!("{}/api/traces/{}", server.query_url, TraceId(BATCH));
    let body: Value = serde_json::from_str(&client.get(url).send().await.unwrap().text().await.unwrap()).unwrap();
    let references = &body["data"][0]["spans"][0]["references"];
    let references: BTreeSet<(String, String, String)> = references
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["refType"].as_str().unwrap().into(),
                r["traceID"].as_str().unwrap().into(),
                r["spanID"].as_str().unwrap().into(),
            )
        })
        .collect();
    let follows =
        |trace: u128, span: u64| ("FOLLOWS_FROM".to_string(), TraceId(trace).to_string(), SpanId(span).to_string());
    assert_eq!(references, BTreeSet::from([follows(ORDER, PUBLISH), follows(SECOND_ORDER, SECOND_PUBLISH)]));

    // Through Jaeger the links are followed forwards, from the consumer to its producer.
    let config =
        ProviderConfig { kind: ProviderKind::Jaeger, endpoint: server.query_url.clone(), ..ProviderConfig::default() };
    let jaeger = JaegerProvider::new(&config).unwrap();
    let linked = linked_traces(&jaeger, &TraceId(CONSUMER).to_string(), Bounds::default()).await.unwrap();
    let transaction = linked.stitch();
    assert_eq!(transaction.traces, vec![TraceId(ORDER), TraceId(CONSUMER)], "in time order");
    assert_eq!(transaction.handoffs.len(), 1);
    let handoff = &transaction.handoffs[0];
    assert_eq!(handoff.queue.label(), "kafka orders");
    assert_eq!(transaction.trace.spans[handoff.producer].operation, "orders publish");
    assert_eq!(transaction.trace.spans[handoff.consumer].service(), "billing");
    // Jaeger keeps microseconds.
    assert_eq!(handoff.wait_ns / 1000, (queue.consumed_ns - queue.published_ns) / 1000);
}

#[test]
fn vitals_export_linked_writes_the_whole_transaction_into_one_file() {
    let dir = TempDir::new("links-export");
    let path = dir.0.join("traces.db");
    ingest(&Store::open(&path, Retention::default()).unwrap(), &queue());
    let export = |linked: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vitals"));
        command.args(["export", &TraceId(CONSUMER).to_string(), "-o", "-", "--provider", "otlp", "--db"]);
        command.arg(&path);
        if linked {
            command.arg("--linked");
        }
        let out = command.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let document: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut ids = BTreeSet::new();
        for resource in document["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    ids.insert(span["traceId"].as_str().unwrap().to_string());
                }
            }
        }
        ids
    };
    let hex = |id: u128| TraceId(id).to_string();
    assert_eq!(export(false), BTreeSet::from([hex(CONSUMER)]));
    // The consumer's order, the batch that consumed that order too, and the batch's other order.
    assert_eq!(export(true), BTreeSet::from([hex(ORDER), hex(CONSUMER), hex(BATCH), hex(SECOND_ORDER)]));
}
