use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as ProtoSpan, Status, span};

use super::*;
use crate::model::AttrValue;
use crate::model::ids::stable_hash;
use rusqlite::Connection;

const NOW: u64 = 1_800_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::StringValue(value.into())) }),
        ..Default::default()
    }
}

/// A span of trace `trace` (a small number), id `id`, child of `parent` (0 = root).
fn span(trace: u8, id: u8, parent: u8, name: &str, start_ms: u64, duration_ms: u64) -> ProtoSpan {
    let mut trace_id = vec![0; 16];
    trace_id[15] = trace;
    ProtoSpan {
        trace_id,
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: if parent == 0 { Vec::new() } else { vec![0, 0, 0, 0, 0, 0, 0, parent] },
        name: name.into(),
        start_time_unix_nano: NOW - 3_600_000 * MS / 2 + start_ms * MS,
        end_time_unix_nano: NOW - 3_600_000 * MS / 2 + (start_ms + duration_ms) * MS,
        ..Default::default()
    }
}

fn batch(service: &str, spans: Vec<ProtoSpan>) -> Vec<ResourceSpans> {
    vec![ResourceSpans {
        resource: Some(ProtoResource {
            attributes: vec![kv("service.name", service), kv("host.name", "box")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }]
}

fn store(dir: &tempdir::Dir) -> Store {
    Store::open(&dir.path().join("traces.db"), Retention::default()).unwrap()
}

fn query(service: &str) -> SearchQuery {
    let mut q = SearchQuery::new(service);
    q.time_range_us = Some(((NOW - 3_600_000 * MS) / 1000, NOW / 1000));
    q
}

mod tempdir {
    //! A throwaway folder for one test's database.
    pub struct Dir(std::path::PathBuf);
    impl Dir {
        pub fn new(name: &str) -> Dir {
            let path = std::env::temp_dir().join(format!("vitals-store-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
        pub fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn spans_from_different_batches_and_services_assemble_into_one_trace() {
    let dir = tempdir::Dir::new("assemble");
    let store = store(&dir);
    let mut root = span(1, 1, 0, "GET /checkout", 0, 100);
    root.attributes = vec![kv("http.route", "/checkout")];
    root.events = vec![span::Event {
        name: "retry".into(),
        time_unix_nano: root.start_time_unix_nano + MS,
        ..Default::default()
    }];
    store.ingest(batch("frontend", vec![root]), NOW).unwrap();
    let mut child = span(1, 2, 1, "charge", 10, 50);
    child.status = Some(Status { code: 2, message: "card declined".into() });
    store.ingest(batch("payment", vec![child]), NOW).unwrap();

    let trace = store.trace(TraceId(1)).unwrap().unwrap();
    assert_eq!(trace.spans.len(), 2);
    let root = trace.root().unwrap();
    assert_eq!((root.service(), root.operation.as_str()), ("frontend", "GET /checkout"));
    assert_eq!(root.attr("http.route"), Some(&AttrValue::Str("/checkout".into())));
    assert_eq!(root.events[0].name, "retry");
    let child = trace.spans.iter().find(|s| s.operation == "charge").unwrap();
    assert_eq!(child.parent_id, Some(root.span_id));
    assert_eq!((child.service(), child.status.message.as_str()), ("payment", "card declined"));
    assert!(child.resource.attributes.iter().any(|a| a.key == "host.name"));
    assert_eq!(store.services().unwrap(), ["frontend", "payment"]);
    assert_eq!(store.operations("payment").unwrap(), ["charge"]);
}

#[test]
fn a_retried_batch_is_stored_once_and_a_grown_trace_is_not_served_stale() {
    let dir = tempdir::Dir::new("retry");
    let store = store(&dir);
    let first = batch("api", vec![span(1, 1, 0, "root", 0, 100)]);
    store.ingest(first.clone(), NOW).unwrap();
    assert_eq!(store.trace(TraceId(1)).unwrap().unwrap().spans.len(), 1);
    store.ingest(first, NOW).unwrap();
    store.ingest(batch("api", vec![span(1, 2, 1, "child", 5, 5)]), NOW).unwrap();
    assert_eq!(store.trace(TraceId(1)).unwrap().unwrap().spans.len(), 2);
    assert_eq!(store.stats().unwrap().spans, 2);
    assert_eq!(store.stats().unwrap().traces, 1);
}

#[test]
fn spans_with_bad_ids_are_rejected_with_a_reason_and_the_rest_kept() {
    let dir = tempdir::Dir::new("reject");
    let store = store(&dir);
    let mut bad = span(1, 2, 1, "bad", 0, 1);
    bad.trace_id = vec![1, 2, 3];
    let report = store.ingest(batch("api", vec![span(1, 1, 0, "good", 0, 1), bad]), NOW).unwrap();
    assert_eq!((report.accepted, report.rejected), (1, 1));
    assert!(report.reasons[0].contains("traceId must be 16"), "{:?}", report.reasons);
    assert_eq!(store.stats().unwrap().spans, 1);
}

#[test]
fn search_filters_like_jaeger_and_returns_the_newest_first() {
    let dir = tempdir::Dir::new("search");
    let store = store(&dir);
    for t in 1..=6u8 {
        let mut root = span(t, 1, 0, if t % 2 == 0 { "GET /a" } else { "GET /b" }, t as u64 * 1000, t as u64 * 100);
        root.attributes = vec![kv("user", if t == 3 { "vip" } else { "plain" })];
        store.ingest(batch("web", vec![root, span(t, 2, 1, "SELECT", t as u64 * 1000 + 1, 5)]), NOW).unwrap();
    }
    let ids = |q: &SearchQuery| -> Vec<u128> { store.search(q).unwrap().iter().map(|t| t.id.0).collect() };
    assert_eq!(ids(&query("web")), [6, 5, 4, 3, 2, 1]);
    assert_eq!(ids(&SearchQuery { limit: 2, ..query("web") }), [6, 5]);
    assert_eq!(ids(&SearchQuery { operation: Some("GET /a".into()), ..query("web") }), [6, 4, 2]);
    assert_eq!(ids(&SearchQuery { min_duration_ns: Some(400 * MS), ..query("web") }), [6, 5, 4]);
    assert_eq!(
        ids(&SearchQuery { max_duration_ns: Some(200 * MS), ..query("web") }),
        [6, 5, 4, 3, 2, 1],
        "the 5 ms SELECT of each matches"
    );
    assert_eq!(ids(&SearchQuery { tags: vec![("user".into(), "vip".into())], ..query("web") }), [3]);
    assert_eq!(
        ids(&SearchQuery { tags: vec![("host.name".into(), "box".into())], limit: 1, ..query("web") }),
        [6],
        "resource attributes count"
    );
    let long_ago = SearchQuery { time_range_us: Some((0, 1)), ..query("web") };
    assert!(ids(&long_ago).is_empty());
    assert!(ids(&query("nobody")).is_empty());
}

#[test]
fn committed_batches_survive_reopening_the_file() {
    let dir = tempdir::Dir::new("reopen");
    {
        let store = store(&dir);
        store.ingest(batch("api", vec![span(7, 1, 0, "root", 0, 10)]), NOW).unwrap();
    }
    let store = store(&dir);
    assert_eq!(store.trace(TraceId(7)).unwrap().unwrap().spans[0].operation, "root");
}

#[test]
fn retention_evicts_whole_traces_oldest_first_by_age_and_by_size_as_batches_arrive() {
    let dir = tempdir::Dir::new("retention");
    let store =
        Store::open(&dir.path().join("traces.db"), Retention { max_age: Duration::from_secs(60), max_bytes: 10_000 })
            .unwrap();
    store
        .ingest(batch("api", vec![span(1, 1, 0, "old", 0, 1), span(1, 2, 1, "old child", 0, 1)]), NOW - 120_000 * MS)
        .unwrap();
    for t in 2..=40u8 {
        let mut s = span(t, 1, 0, "fresh", 0, 1);
        s.attributes = vec![kv("payload", &"x".repeat(400))];
        store.ingest(batch("api", vec![s]), NOW - (50 - t as u64) * MS).unwrap();
    }
    assert!(store.trace(TraceId(1)).unwrap().is_none(), "past the age limit when the next batch arrived");
    assert!(store.trace(TraceId(2)).unwrap().is_none(), "the oldest fresh trace goes first for size");
    assert!(store.trace(TraceId(40)).unwrap().is_some(), "the newest stays");
    assert_eq!(store.operations("api").unwrap(), ["fresh"], "operations with no spans left are gone");
    let stats = store.stats().unwrap();
    assert!(stats.span_bytes <= 10_000 && stats.span_bytes > 10_000 - 10_000 / 16 - 500, "{stats:?}");
    assert!(stats.traces > 5 && stats.traces < 39, "{stats:?}");
    assert_eq!(stats.evicted_traces, 40 - stats.traces);

    // With no batch arriving, the periodic call evicts for age.
    assert_eq!(store.enforce_retention(NOW + 61_000 * MS).unwrap() as u64, stats.traces);
    let stats = store.stats().unwrap();
    assert_eq!((stats.traces, stats.spans, stats.span_bytes), (0, 0, 0));
    assert!(store.operations("api").unwrap().is_empty());
}

#[test]
fn a_second_process_on_the_same_file_sees_spans_the_first_adds_later() {
    let dir = tempdir::Dir::new("shared");
    let receiving = store(&dir);
    let reading = store(&dir);
    receiving.ingest(batch("api", vec![span(9, 1, 0, "root", 0, 100)]), NOW).unwrap();
    assert_eq!(reading.trace(TraceId(9)).unwrap().unwrap().spans.len(), 1);
    receiving.ingest(batch("api", vec![span(9, 2, 1, "late child", 10, 10)]), NOW).unwrap();
    assert_eq!(reading.trace(TraceId(9)).unwrap().unwrap().spans.len(), 2, "the cached copy was not served stale");
    assert_eq!(reading.search(&query("api")).unwrap().len(), 1);
}

#[test]
fn tag_search_uses_the_attribute_index_and_keeps_jaegers_rules() {
    let dir = tempdir::Dir::new("tags");
    let store = store(&dir);
    // Trace 1: the tagged span arrives in a later batch, from another service first.
    store.ingest(batch("web", vec![span(1, 1, 0, "GET /", 0, 500)]), NOW).unwrap();
    let mut late = span(1, 2, 1, "SELECT", 10, 20);
    late.attributes = vec![kv("db.name", "orders")];
    store.ingest(batch("db", vec![late]), NOW).unwrap();
    // Trace 2: the same tag on a span of the searched service, but too short.
    let mut short = span(2, 1, 0, "SELECT", 2000, 1);
    short.attributes = vec![kv("db.name", "orders"), kv("db.op", "select")];
    store.ingest(batch("db", vec![short]), NOW).unwrap();
    let ids = |q: SearchQuery| -> Vec<u128> { store.search(&q).unwrap().iter().map(|t| t.id.0).collect() };
    let orders = || SearchQuery { tags: vec![("db.name".into(), "orders".into())], ..query("db") };

    assert_eq!(ids(orders()), [2, 1], "newest first, wherever the tagged span arrived");
    assert!(ids(SearchQuery { service: "web".into(), ..orders() }).is_empty(), "the tag is on db's spans, not web's");
    assert_eq!(
        ids(SearchQuery { min_duration_ns: Some(10 * MS), ..orders() }),
        [1],
        "the same span must be long enough"
    );
    let both = vec![("db.name".into(), "orders".into()), ("db.op".into(), "select".into())];
    assert_eq!(ids(SearchQuery { tags: both, ..query("db") }), [2], "every tag on one span");
    assert!(ids(SearchQuery { tags: vec![("db.name".into(), "users".into())], ..query("db") }).is_empty());

    let indexed = |store: &Store| -> i64 {
        lock(&store.reader).query_row("SELECT count(*) FROM trace_parts", [], |row| row.get(0)).unwrap()
    };
    assert!(indexed(&store) > 0);
    let aged =
        Store::open(&dir.path().join("traces.db"), Retention { max_age: Duration::ZERO, max_bytes: 1 << 30 }).unwrap();
    aged.enforce_retention(NOW + 1).unwrap();
    assert_eq!(indexed(&aged), 0, "evicting a trace drops its index rows");
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(any_value::Value::IntValue(value)) }),
        ..Default::default()
    }
}

/// One service's share of request `n` through a five-service Flask shop, as the
/// OpenTelemetry Python SDK exports it: the resource it sends, and the spans with the
/// attributes the Flask, requests and psycopg instrumentations set (16 spans a request).
fn shop_export(n: u64, service: &'static str) -> Vec<ResourceSpans> {
    let trace_id = [stable_hash(&n.to_le_bytes()).to_be_bytes(), (n + 1).to_be_bytes()].concat();
    let start = NOW - 3_600_000 * MS / 2 + n * 50 * MS;
    // Span ids unique within the request: each service numbers its spans from its own base.
    let mut next = SHOP.iter().position(|s| *s == service).unwrap_or(0) as u64 * 16;
    let mut span = |name: &str, kind: i32, attributes: Vec<KeyValue>| {
        next += 1;
        ProtoSpan {
            trace_id: trace_id.clone(),
            span_id: (stable_hash(&[n.to_le_bytes(), next.to_le_bytes()].concat()) | 1).to_be_bytes().to_vec(),
            parent_span_id: if service == "frontend" && next == 1 { Vec::new() } else { vec![7; 8] },
            name: name.into(),
            kind,
            start_time_unix_nano: start + next * MS,
            end_time_unix_nano: start + next * MS + (n % 7 + 1) * MS / 3,
            attributes,
            ..Default::default()
        }
    };
    let port = |p: &str| (30_000 + stable_hash(format!("{n}{p}").as_bytes()) % 30_000) as i64;
    let server = |span: &mut dyn FnMut(&str, i32, Vec<KeyValue>) -> ProtoSpan, route: &str, own: i64| {
        span(
            &format!("GET {route}"),
            2,
            vec![
                kv("http.method", "GET"),
                kv("http.route", route),
                kv("http.target", &route.replace("{id}", &(n * 7919 % 1_000_003).to_string())),
                kv("http.scheme", "http"),
                kv("http.host", &format!("127.0.0.1:{own}")),
                kv("http.server_name", "127.0.0.1"),
                int("net.host.port", own),
                kv("http.flavor", "1.1"),
                kv("http.user_agent", "python-requests/2.32.3"),
                kv("net.peer.ip", "127.0.0.1"),
                int("net.peer.port", port(route)),
                int("http.status_code", 200),
                kv("code.filepath", &format!("shop/{}/views.py", route.trim_start_matches('/'))),
                int("code.lineno", 40),
                kv("enduser.id", &format!("user-{}", n % 500)),
            ],
        )
    };
    let client = |span: &mut dyn FnMut(&str, i32, Vec<KeyValue>) -> ProtoSpan, peer: i64, path: &str| {
        span(
            "GET",
            3,
            vec![
                kv("http.method", "GET"),
                kv("http.url", &format!("http://127.0.0.1:{peer}{path}")),
                int("http.status_code", 200),
                kv("net.peer.name", "127.0.0.1"),
                int("net.peer.port", peer),
            ],
        )
    };
    let query = |span: &mut dyn FnMut(&str, i32, Vec<KeyValue>) -> ProtoSpan, statement: &str| {
        span(
            statement.split(' ').next().unwrap_or("SELECT"),
            3,
            vec![
                kv("db.system", "postgresql"),
                kv("db.name", "shop"),
                kv("db.user", "shop"),
                kv("db.statement", statement),
                kv("net.peer.name", "localhost"),
                int("net.peer.port", 5432),
            ],
        )
    };
    let spans = match service {
        "frontend" => vec![
            server(&mut span, "/orders/{id}", 5000),
            client(&mut span, 5001, "/cart"),
            client(&mut span, 5002, "/checkout"),
        ],
        "cart" => vec![
            server(&mut span, "/cart", 5001),
            query(&mut span, "SELECT id, sku, qty FROM cart_items WHERE user_id = %s"),
        ],
        "checkout" => {
            let mut spans = vec![server(&mut span, "/checkout", 5002)];
            spans.extend((0..5).map(|_| query(&mut span, "SELECT sku, price FROM items WHERE order_id = %s")));
            spans.push(client(&mut span, 5003, "/reserve"));
            spans.push(client(&mut span, 5004, "/charge"));
            spans
        }
        "inventory" => vec![
            server(&mut span, "/reserve", 5003),
            query(&mut span, "UPDATE stock SET qty = qty - %s WHERE sku = %s"),
        ],
        _ => vec![server(&mut span, "/charge", 5004)],
    };
    vec![ResourceSpans {
        resource: Some(ProtoResource {
            attributes: vec![
                kv("telemetry.sdk.language", "python"),
                kv("telemetry.sdk.name", "opentelemetry"),
                kv("telemetry.sdk.version", "1.45.2"),
                kv("service.name", service),
                kv("service.version", "1.4.2"),
                kv("deployment.environment", "dev"),
                kv("host.name", "laptop"),
                int("process.pid", 4242),
                kv("process.runtime.name", "cpython"),
                kv("process.runtime.version", "3.12.3"),
            ],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
        ..Default::default()
    }]
}

const SHOP: [&str; 5] = ["frontend", "cart", "checkout", "inventory", "payment"];

/// Polls `condition` for up to `seconds`; whether it came true.
fn eventually(seconds: u64, mut condition: impl FnMut() -> bool) -> bool {
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

#[test]
fn while_batches_arrive_the_log_is_copied_into_the_database_by_a_thread_not_by_the_writer() {
    let dir = tempdir::Dir::new("copy");
    let store = store(&dir);
    let size = |file: &str| std::fs::metadata(dir.path().join(file)).map_or(0, |m| m.len());
    let reader = Connection::open(dir.path().join("traces.db")).unwrap();
    let page = reader.query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0)).unwrap() as u64;
    let database = size("traces.db");
    // In WAL mode the database file only grows when the log is copied into it.
    let mut request = 0;
    while size("traces.db-wal") < (checkpoint::COPY_PAGES as u64 + 20) * page {
        for service in SHOP {
            store.ingest(shop_export(request, service), NOW).unwrap();
        }
        request += 1;
    }
    let last_commit = std::time::Instant::now();
    assert!(
        size("traces.db-wal") < checkpoint::WRITER_COPIES_PAGES as u64 * page,
        "the log reached the pages where the writer copies it itself"
    );
    // Before the store counts as idle, when it would empty the log anyway.
    while size("traces.db") == database && last_commit.elapsed() < checkpoint::IDLE * 4 / 5 {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(size("traces.db") > database, "nothing was copied into the database while batches arrived");
}

#[test]
fn the_write_ahead_log_stays_bounded_while_collecting_is_emptied_when_idle_and_spans_take_little_disk() {
    let dir = tempdir::Dir::new("wal");
    let store = store(&dir);
    let wal = || std::fs::metadata(dir.path().join("traces.db-wal")).map_or(0, |m| m.len());
    let mut largest = 0;
    let mut request = 0;
    for round in 0..3 {
        // Each service exports each request on its own, as SDKs with short schedules do:
        // many small commits, each rewriting whole pages of the indexes.
        for _ in 0..120 {
            for service in SHOP {
                store.ingest(shop_export(request, service), NOW).unwrap();
                largest = largest.max(wal());
            }
            request += 1;
        }
        assert!(
            largest <= checkpoint::JOURNAL_SIZE_LIMIT + (2 << 20),
            "round {round}: the log reached {largest} bytes while batches arrived"
        );
        assert!(eventually(10, || wal() == 0), "round {round}: the log was not emptied once idle: {} bytes", wal());
    }
    let stats = store.stats().unwrap();
    assert_eq!(stats.spans, request * 16);
    assert_eq!(stats.wal_bytes, 0);
    // The spans of this shop encode to ~330 bytes each; the store once took ~1,500 a span.
    let per_span = stats.database_bytes / stats.spans;
    assert!(per_span < 600, "{per_span} bytes on disk a span");
}

#[test]
fn a_store_of_an_earlier_layout_is_migrated_with_its_attribute_index() {
    let dir = tempdir::Dir::new("migrate");
    {
        let store = store(&dir);
        for n in 0..20 {
            for service in SHOP {
                store.ingest(shop_export(n, service), NOW).unwrap();
            }
        }
    }
    // Back to version 1's layout: an attribute index table, spans indexed by service and
    // by operation, no parts, no list of operations.
    let old = Connection::open(dir.path().join("traces.db")).unwrap();
    old.execute_batch(
        "DROP TABLE trace_parts;
         DROP TABLE operations;
         DROP TABLE totals;
         CREATE TABLE span_tags (trace_id BLOB NOT NULL, tag INTEGER NOT NULL, start_ns INTEGER NOT NULL,
             PRIMARY KEY (trace_id, tag)) WITHOUT ROWID;
         CREATE INDEX spans_by_service ON spans (service, start_ns);
         CREATE INDEX spans_by_operation ON spans (service, operation, start_ns);
         PRAGMA user_version = 0;",
    )
    .unwrap();
    drop(old);

    let store = store(&dir);
    let tables = |sql: &str| -> Vec<String> {
        let reader = lock(&store.reader);
        let mut statement = reader.prepare(sql).unwrap();
        statement.query_map([], |row| row.get(0)).unwrap().map(Result::unwrap).collect()
    };
    let names = tables("SELECT name FROM sqlite_schema ORDER BY name");
    assert!(!names.iter().any(|n| n.starts_with("span_tags") || n.starts_with("spans_by")), "{names:?}");
    assert_eq!(store.operations("cart").unwrap(), ["GET /cart", "SELECT"]);
    let by_operation = SearchQuery { operation: Some("GET /cart".into()), limit: 100, ..query("cart") };
    assert_eq!(store.search(&by_operation).unwrap().len(), 20);
    let search = |tags: Vec<(String, String)>| -> Vec<u128> {
        let q = SearchQuery { tags, limit: 100, ..query("checkout") };
        store.search(&q).unwrap().iter().map(|t| t.id.0).collect()
    };
    assert_eq!(search(Vec::new()).len(), 20, "every request's checkout part");
    let one_user = search(vec![("enduser.id".into(), "user-7".into())]);
    assert_eq!(
        one_user,
        [TraceId::from_bytes(&shop_export(7, "checkout")[0].scope_spans[0].spans[0].trace_id).unwrap().0]
    );
    assert_eq!(search(vec![("host.name".into(), "laptop".into())]).len(), 20, "resource attributes count");
    assert_eq!(store.trace(TraceId(one_user[0])).unwrap().unwrap().spans.len(), 16);
    assert_eq!(store.stats().unwrap().spans, 20 * 16, "the totals are summed up");
}

#[test]
fn a_store_of_version_2_gets_its_totals_summed_up() {
    let dir = tempdir::Dir::new("migrate-2");
    let held = {
        let store = store(&dir);
        for n in 0..10 {
            for service in SHOP {
                store.ingest(shop_export(n, service), NOW).unwrap();
            }
        }
        store.stats().unwrap()
    };
    let old = Connection::open(dir.path().join("traces.db")).unwrap();
    old.execute_batch("DROP TABLE totals; PRAGMA user_version = 2;").unwrap();
    drop(old);
    let stats = store(&dir).stats().unwrap();
    assert_eq!((stats.spans, stats.span_bytes), (160, held.span_bytes));
    assert!(stats.span_bytes > 160 * 100);
}

/// A span of trace number `trace` (any u32), for batches larger than [`span`] numbers.
fn numbered_span(trace: u32, id: u32) -> ProtoSpan {
    let mut trace_id = vec![0xAB; 16];
    trace_id[12..].copy_from_slice(&trace.to_be_bytes());
    let mut span_id = vec![0xCD; 8];
    span_id[4..].copy_from_slice(&id.to_be_bytes());
    let start = NOW - 3_600_000 * MS / 2 + u64::from(id) * MS;
    ProtoSpan {
        trace_id,
        span_id,
        name: "bulk".into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + MS,
        attributes: vec![kv("payload", "a value of a typical length")],
        ..Default::default()
    }
}

#[test]
fn a_small_batch_is_committed_between_the_chunks_of_a_huge_one_which_a_retry_stores_once() {
    let dir = tempdir::Dir::new("huge");
    let store = Arc::new(store(&dir));
    let huge_spans = ingest::CHUNK_SPANS * 10;
    let huge = batch("bulk", (0..huge_spans as u32).map(|n| numbered_span(n / 16, n)).collect());
    let writing = {
        let (store, huge) = (Arc::clone(&store), huge.clone());
        std::thread::spawn(move || store.ingest(huge, NOW).unwrap())
    };
    // The writer held for a moment once the huge batch's first chunk is committed: the
    // test takes its turn at the writer again and again (turns go first come, first
    // served, so the huge batch's chunks get theirs in between) until it sees spans
    // committed. Polling from outside the writer's turns, a fast writer had stored all
    // but the last chunk before the test held it.
    let until = std::time::Instant::now() + Duration::from_secs(60);
    let (pause, committed_before) = loop {
        let pause = store.writer.take();
        let committed = store.stats().unwrap().spans;
        if committed > 0 {
            break (pause, committed);
        }
        drop(pause);
        assert!(std::time::Instant::now() < until, "the huge batch's first chunk commits");
        std::thread::yield_now();
    };
    assert!(committed_before < huge_spans as u64, "the writer was held while the huge batch was being stored");
    // The huge batch's next chunk and a small batch queue up.
    let small = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || store.ingest(batch("api", vec![span(1, 1, 0, "small", 0, 1)]), NOW).unwrap())
    };
    assert!(eventually(10, || store.writer.waiting() == 2), "both wait for the writer");
    drop(pause);
    assert_eq!(small.join().unwrap().accepted, 1);
    let report = writing.join().unwrap();
    assert_eq!((report.accepted, report.rejected), (huge_spans, 0), "acknowledged whole");

    // Traces get rowids in the order they were committed: how far the huge batch had got
    // when the small one was acknowledged.
    let huge_spans_before_small = lock(&store.reader)
        .query_row(
            "SELECT count(*) * 16 FROM traces WHERE rowid < (SELECT rowid FROM traces WHERE trace_id = ?1)",
            [TraceId(1).to_bytes().to_vec()],
            |row| row.get::<_, i64>(0),
        )
        .unwrap() as u64;
    assert!(
        huge_spans_before_small <= committed_before + ingest::CHUNK_SPANS as u64,
        "the small batch waited for one chunk at most: {committed_before} spans of the huge batch were committed \
         when it arrived, {huge_spans_before_small} when it was"
    );
    assert!(huge_spans_before_small < huge_spans as u64, "the small batch did not wait for the whole huge one");

    let stored = store.stats().unwrap();
    assert_eq!(stored.spans, huge_spans as u64 + 1);
    let bytes = |store: &Store| -> i64 {
        lock(&store.reader).query_row("SELECT sum(bytes) FROM traces", [], |row| row.get(0)).unwrap()
    };
    let bytes_before_retry = bytes(&store);
    // A sender whose connection broke after some chunks committed sends the batch again.
    assert_eq!(store.ingest(huge, NOW).unwrap().accepted, huge_spans);
    assert_eq!(store.stats().unwrap().spans, stored.spans, "every span once");
    assert_eq!(bytes(&store), bytes_before_retry, "and counted once");
}

#[test]
fn batches_waiting_for_the_writer_together_are_each_acknowledged_and_one_that_fails_fails_alone() {
    let dir = tempdir::Dir::new("group");
    let store = Arc::new(store(&dir));
    // The writer refuses a span named "poison", as a full disk or a damaged page would.
    store
        .writer
        .take()
        .connection
        .execute_batch(
            "CREATE TEMP TRIGGER poison BEFORE INSERT ON main.spans WHEN NEW.operation = 'poison'
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    // The writer held while three batches queue up: they are written as one group.
    let pause = store.writer.take();
    let mut sending = Vec::new();
    for (n, (trace, name)) in [(1, "first"), (2, "poison"), (3, "third")].into_iter().enumerate() {
        let shared = Arc::clone(&store);
        sending.push(std::thread::spawn(move || {
            shared.ingest(batch("api", vec![span(trace, 1, 0, name, 0, 1)]), NOW).map(|report| report.accepted)
        }));
        assert!(eventually(10, || store.writer.waiting() == n as u64 + 1), "each in line before the next");
    }
    drop(pause);
    let outcomes: Vec<_> = sending.into_iter().map(|sender| sender.join().unwrap()).collect();
    assert_eq!(outcomes[0].as_ref().ok(), Some(&1), "{:?}", outcomes[0]);
    assert!(outcomes[1].is_err(), "the batch that cannot be stored is refused");
    assert_eq!(outcomes[2].as_ref().ok(), Some(&1), "{:?}", outcomes[2]);
    let stored: Vec<bool> = [1, 2, 3].iter().map(|&t| store.trace(TraceId(t)).unwrap().is_some()).collect();
    assert_eq!(stored, [true, false, true], "what was acknowledged is stored, and only that");
    assert_eq!(store.stats().unwrap().spans, 2);
}

/// The size the database file has once its write-ahead log is checkpointed.
fn database_size(store: &Store) -> u64 {
    let reader = lock(&store.reader);
    let pages: i64 = reader.query_row("PRAGMA page_count", [], |row| row.get(0)).unwrap();
    let page_size: i64 = reader.query_row("PRAGMA page_size", [], |row| row.get(0)).unwrap();
    (pages * page_size) as u64
}

#[test]
fn past_a_small_size_limit_the_span_data_stays_within_it_and_the_file_stops_growing() {
    let dir = tempdir::Dir::new("size-limit");
    let limit = 1 << 20;
    let store = Store::open(
        &dir.path().join("traces.db"),
        Retention { max_age: Duration::from_secs(24 * 3600), max_bytes: limit },
    )
    .unwrap();
    let stored_bytes = || -> u64 {
        let sum: i64 = lock(&store.reader)
            .query_row("SELECT coalesce(sum(length(body)), 0) FROM spans", [], |row| row.get(0))
            .unwrap();
        sum as u64
    };
    // Each round brings 100 requests, 1,600 spans, about 400 KB of span data: 40 rounds
    // are 16 times the limit.
    let mut sizes = Vec::new();
    let mut request = 0;
    for round in 0..40 {
        for _ in 0..100 {
            for service in SHOP {
                store.ingest(shop_export(request, service), NOW).unwrap();
                let held = store.stats().unwrap().span_bytes;
                assert!(held <= limit, "round {round}: {held} bytes of span data, past the limit of {limit}");
            }
            request += 1;
        }
        let stats = store.stats().unwrap();
        assert_eq!(stats.span_bytes, stored_bytes(), "round {round}: the running total is the spans' own");
        sizes.push(database_size(&store));
    }
    let stats = store.stats().unwrap();
    assert!(
        stats.span_bytes > limit - limit / 16 - 10_000,
        "the store stays full, a 16th below the limit at most: {stats:?}"
    );
    assert!(stats.evicted_traces > 3_000, "{stats:?}");
    // Full by round 3: from then on the pages evictions free are reused (and the surplus
    // given back), and the second half of the run needs no more room than the first.
    let first_half = sizes[3..20].iter().max().copied().unwrap_or_default();
    let second_half = sizes[20..].iter().max().copied().unwrap_or_default();
    assert!(second_half <= first_half + first_half / 50, "the file kept growing: {sizes:?}");
    assert!(second_half < 3 * limit, "{second_half} bytes for {limit} bytes of span data: {sizes:?}");
}

#[test]
fn an_eviction_deletes_a_bounded_number_of_spans_at_a_time_and_gives_the_space_back() {
    let dir = tempdir::Dir::new("eviction-steps");
    let path = dir.path().join("traces.db");
    let big_trace = retention::STEP_SPANS * 3 + 100;
    let full_size = {
        let store = store(&dir);
        // One trace larger than a step, then 200 small ones.
        store.ingest(batch("bulk", (0..big_trace as u32).map(|n| numbered_span(7, n)).collect()), NOW - 1).unwrap();
        for t in 0..200u32 {
            store.ingest(batch("api", (0..16).map(|n| numbered_span(1000 + t, n)).collect()), NOW).unwrap();
        }
        database_size(&store)
    };
    let limit = 20_000;
    let store = Store::open(&path, Retention { max_age: Duration::from_secs(24 * 3600), max_bytes: limit }).unwrap();
    let evicted = store.enforce_retention(NOW).unwrap();

    let stats = store.stats().unwrap();
    assert!(stats.span_bytes <= limit && stats.span_bytes > limit / 2, "{stats:?}");
    assert_eq!(evicted as u64 + stats.traces, 201);
    let steps = lock(&store.evictions);
    assert!(
        steps.largest_step <= retention::STEP_SPANS,
        "a step deleted {} spans, more than {}",
        steps.largest_step,
        retention::STEP_SPANS
    );
    assert!(steps.spans as usize >= big_trace, "the big trace went, over several steps: {steps:?}");
    let trace_7 = TraceId::from_bytes(&numbered_span(7, 0).trace_id).unwrap();
    assert!(store.trace(trace_7).unwrap().is_none());
    let reclaimed = database_size(&store);
    assert!(reclaimed < full_size / 3, "the file gave its free pages back: {full_size} bytes, then {reclaimed}");
}

#[test]
fn a_span_that_cannot_be_decoded_is_named_as_damage_with_what_to_do_and_check_counts_it() {
    let dir = tempdir::Dir::new("undecodable");
    let store = store(&dir);
    store.ingest(batch("api", vec![span(3, 1, 0, "root", 0, 10), span(3, 2, 1, "child", 1, 5)]), NOW).unwrap();
    assert_eq!(check(store.path()).unwrap(), Verdict::Healthy { spans: 2, traces: 1 });
    // Bytes that are no protobuf: a field of wire type 7, which does not exist.
    store.writer.take().connection.execute("UPDATE spans SET body = x'0f0f0f' WHERE operation = 'child'", []).unwrap();

    let Err(Error::Damaged { message, .. }) = store.trace(TraceId(3)) else { panic!("the damage went unnoticed") };
    let path = store.path().display().to_string();
    assert!(
        message.starts_with(&format!(
            "The trace store {path} is damaged (a stored span of trace 00000000000000000000000000000003 cannot be decoded"
        )),
        "{message}"
    );
    assert!(message.ends_with(&format!("or run `vitals store repair --db {path}` to keep what can be read")));
    assert_eq!(
        check(store.path()).unwrap(),
        Verdict::Damaged { problems: vec!["1 stored span cannot be decoded".into()] }
    );
}

#[test]
fn a_trace_past_the_span_limit_is_assembled_cut_to_the_spans_nearest_its_root() {
    let dir = tempdir::Dir::new("span-limit");
    let store = store(&dir);
    // A root with 6 children, each with 6 children of its own: 43 spans, 3 levels. The
    // deepest spans start first, so a cut by start time would lose the root.
    let mut spans = vec![span(9, 1, 0, "root", 100, 900)];
    for child in 0..6u8 {
        spans.push(span(9, 2 + child, 1, "child", 200, 100));
        for grandchild in 0..6u8 {
            spans.push(span(9, 10 + child * 6 + grandchild, 2 + child, "grandchild", 0, 10));
        }
    }
    store.ingest(batch("web", spans), NOW).unwrap();
    store.limit_spans(10, "max_spans");
    let trace = store.trace(TraceId(9)).unwrap().unwrap();
    assert_eq!(trace.spans.len(), 10);
    let names: Vec<&str> = trace.tree.preorder().map(|i| trace.spans[i].operation.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "child").count(), 6, "{names:?}");
    assert_eq!(names[0], "root", "the top of the tree is kept whole: {names:?}");
    assert_eq!(trace.tree.roots().len(), 1, "every kept span's parent is kept");
    assert!(
        trace.warnings.iter().any(|w| w.contains("43 spans") && w.contains("raise max_spans")),
        "{:?}",
        trace.warnings
    );
    store.limit_spans(1_000, "max_spans");
    assert_eq!(store.trace(TraceId(9)).unwrap().unwrap().spans.len(), 43, "a cut trace is not cached");
}

#[test]
fn failed_spans_are_found_by_error_true_though_otlp_has_no_such_attribute() {
    let dir = tempdir::Dir::new("error-search");
    let store = store(&dir);
    let mut failed = span(1, 1, 0, "GET /pay", 0, 50);
    failed.status = Some(Status { code: 2, message: "declined".into() });
    store.ingest(batch("web", vec![failed, span(1, 2, 1, "SELECT", 5, 10)]), NOW).unwrap();
    store.ingest(batch("web", vec![span(2, 1, 0, "GET /pay", 100, 50)]), NOW).unwrap();
    let mut wanted = query("web");
    wanted.tags = vec![("error".to_string(), "true".to_string())];
    let found: Vec<TraceId> = store.search(&wanted).unwrap().iter().map(|t| t.id).collect();
    assert_eq!(found, [TraceId(1)]);
}
