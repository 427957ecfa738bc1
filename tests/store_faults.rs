//! A damaged trace store, as users meet one: real SQLite files truncated, with pages
//! overwritten, or with a garbage header. `vitals store check` gives a verdict and an exit
//! code, `vitals store repair` saves the readable traces into a new file in the store's
//! place, and `vitals serve`'s query API answers 500 (a fault on its side) with what to do.

use std::path::{Path, PathBuf};
use std::process::Command;

use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use vitals::model::TraceId;
use vitals::store::{Retention, Store};

mod common;
use common::otlp::{now_ns, request_of, service, text};
use common::{TempDir, serve};

const TRACES: u32 = 400;
const SPANS_EACH: u32 = 16;

fn trace_id(n: u32) -> TraceId {
    TraceId(0x5eed_0000_0000_0000_0000_0000_0000_0000 | u128::from(n))
}

/// A store of 400 traces of 16 spans (about 1.5 MB on disk), closed, its log emptied.
fn healthy_store(path: &Path) {
    let store = Store::open(path, Retention::default()).unwrap();
    let now = now_ns();
    for n in 0..TRACES {
        let spans = (0..SPANS_EACH)
            .map(|i| Span {
                trace_id: trace_id(n).to_bytes().to_vec(),
                span_id: ((u64::from(n) << 8) | (u64::from(i) + 1)).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 { Vec::new() } else { ((u64::from(n) << 8) | 1).to_be_bytes().to_vec() },
                name: format!("GET /items/{}", i % 4),
                start_time_unix_nano: now - 60_000_000_000 + u64::from(i) * 1_000_000,
                end_time_unix_nano: now - 60_000_000_000 + u64::from(i) * 1_000_000 + 500_000,
                attributes: vec![
                    text("http.route", "/items/{id}"),
                    text("enduser.id", &format!("user-{n}")),
                    text("db.statement", &"SELECT id, name, price FROM items WHERE id = %s ".repeat(3)),
                ],
                ..Default::default()
            })
            .collect();
        let batch = vec![ResourceSpans {
            resource: Some(Resource { attributes: vec![text("service.name", "shop")], ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }];
        store.ingest(batch, now - 50_000_000_000).unwrap();
    }
}

/// How a store file gets damaged.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// Cut at 60 % (a full disk, a copy that stopped).
    Truncated,
    /// 24 pages in the middle overwritten with garbage (a bad sector, a stray write).
    OverwrittenPages,
    /// The first 100 bytes overwritten: SQLite no longer knows the file.
    GarbageHeader,
}

/// A copy of a healthy store with `damage` done to it.
fn damaged_store(dir: &TempDir, damage: Damage) -> PathBuf {
    let healthy = dir.0.join("healthy.db");
    if !healthy.exists() {
        healthy_store(&healthy);
    }
    let path = dir.0.join(format!("{damage:?}.db"));
    let mut bytes = std::fs::read(&healthy).unwrap();
    let page = 4096;
    match damage {
        Damage::Truncated => bytes.truncate(bytes.len() * 6 / 10 / page * page),
        Damage::OverwrittenPages => {
            let middle = bytes.len() / 2 / page * page;
            bytes[middle..middle + 24 * page].iter_mut().enumerate().for_each(|(i, b)| *b = (i * 7 % 251) as u8);
        }
        Damage::GarbageHeader => bytes[..100].copy_from_slice(&[0xA5; 100]),
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

fn vitals(args: &[&str], db: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_vitals")).args(args).arg("--db").arg(db).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into(),
        String::from_utf8_lossy(&output.stderr).into(),
    )
}

#[test]
fn store_check_gives_a_verdict_and_what_to_do_with_an_exit_code_for_scripts() {
    let dir = TempDir::new("store-check");
    for damage in [Damage::Truncated, Damage::OverwrittenPages, Damage::GarbageHeader] {
        let path = damaged_store(&dir, damage);
        let (code, stdout, _) = vitals(&["store", "check"], &path);
        assert_eq!(code, 1, "{damage:?}: {stdout}");
        let shown = path.display().to_string();
        assert!(stdout.starts_with(&format!("{shown} is damaged:\n  ")), "{damage:?}: {stdout}");
        assert!(
            stdout.contains(&format!(
                "Move it (and its -wal and -shm files) aside and Vitals starts a new store, or run `vitals store repair --db {shown}`"
            )),
            "{damage:?}: {stdout}"
        );
    }
    let (code, stdout, _) = vitals(&["store", "check"], &dir.0.join("healthy.db"));
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("is healthy: 6400 spans in 400 traces; SQLite's integrity check passed"), "{stdout}");

    let (code, _, stderr) = vitals(&["store", "check"], &dir.0.join("missing.db"));
    assert_eq!(code, 2, "cannot check is not a verdict: {stderr}");
    assert!(stderr.contains("There is no trace store at"), "{stderr}");
    assert!(!dir.0.join("missing.db").exists(), "checking creates nothing");
}

/// The traces of a store: how many spans each has.
fn spans_by_trace(path: &Path) -> Vec<(u32, usize)> {
    let store = Store::open(path, Retention::default()).unwrap();
    (0..TRACES).filter_map(|n| store.trace(trace_id(n)).unwrap().map(|trace| (n, trace.spans.len()))).collect()
}

#[test]
fn store_repair_saves_the_readable_traces_into_a_new_file_and_keeps_the_old_one_aside() {
    let dir = TempDir::new("store-repair");
    for damage in [Damage::Truncated, Damage::OverwrittenPages, Damage::GarbageHeader] {
        let path = damaged_store(&dir, damage);
        let damaged_bytes = std::fs::metadata(&path).unwrap().len();
        let (code, stdout, stderr) = vitals(&["store", "repair"], &path);
        assert_eq!(code, 0, "{damage:?}: {stdout}{stderr}");
        let saved: u64 = stdout
            .strip_prefix("Saved ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{damage:?}: {stdout}"));
        match damage {
            // The header is rebuilt; every page is as it was.
            Damage::GarbageHeader => assert_eq!(saved, u64::from(TRACES), "{stdout}"),
            _ => assert!(saved > 0 && saved < u64::from(TRACES), "{damage:?}: some traces are readable: {stdout}"),
        }

        let (code, checked, _) = vitals(&["store", "check"], &path);
        assert_eq!(code, 0, "{damage:?}: the new store is healthy: {checked}");
        let traces = spans_by_trace(&path);
        assert_eq!(traces.len() as u64, saved, "{damage:?}");
        let whole = traces.iter().filter(|(_, spans)| *spans == SPANS_EACH as usize).count();
        assert!(whole as u64 * 10 >= saved * 9, "{damage:?}: the saved traces are whole: {traces:?}");
        let found = Store::open(&path, Retention::default())
            .unwrap()
            .search(&vitals::query::SearchQuery { limit: 1000, ..vitals::query::SearchQuery::new("shop") })
            .unwrap();
        assert_eq!(found.len() as u64, saved, "{damage:?}: searches find them: the index is rebuilt");

        let aside: Vec<PathBuf> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|p| p.display().to_string().starts_with(&format!("{}.before-repair-", path.display())))
            .collect();
        assert_eq!(aside.len(), 1, "{damage:?}: {aside:?}");
        assert!(stdout.contains(&format!("The old file is kept as {}", aside[0].display())), "{stdout}");
        assert_eq!(std::fs::metadata(&aside[0]).unwrap().len(), damaged_bytes, "{damage:?}: the old file as it was");
    }

    // A file that never was a store, say a wrong --db.
    let path = dir.0.join("notes.db");
    std::fs::write(&path, (0..64 * 1024).map(|i| (i * 31 % 256) as u8).collect::<Vec<u8>>()).unwrap();
    let (code, stdout, _) = vitals(&["store", "repair"], &path);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with(&format!("Nothing could be read of {}", path.display())), "{stdout}");
    assert_eq!(vitals(&["store", "check"], &path).0, 0, "an empty store took its place");
}

#[test]
fn store_repair_refuses_a_store_another_process_has_open() {
    let dir = TempDir::new("store-repair-busy");
    let path = dir.0.join("traces.db");
    healthy_store(&path);
    let _server = serve(&path);
    let (code, _, stderr) = vitals(&["store", "repair"], &path);
    assert_eq!(code, 1);
    assert!(stderr.contains("is in use"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 3, "the store, its log and index, nothing moved");
}

#[tokio::test]
async fn the_query_api_answers_500_with_what_to_do_for_a_damaged_store() {
    let dir = TempDir::new("store-500");
    let path = damaged_store(&dir, Damage::OverwrittenPages);
    let server = serve(&path);
    let client = reqwest::Client::new();
    let search = format!("{}/api/traces?service=shop&limit=1000&lookback=2h", server.query_url);
    let response = client.get(&search).send().await.unwrap();
    assert_eq!(response.status(), 500);
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    let message = body["errors"][0]["msg"].as_str().unwrap_or_default().to_string();
    assert!(message.contains(&format!("The trace store {} is damaged", path.display())), "{body}");
    assert!(message.contains("Move it (and its -wal and -shm files) aside and Vitals starts a new store"), "{body}");
    assert_eq!(body["errors"][0]["code"], 500);
    let dependencies = client.get(format!("{}/api/dependencies", server.query_url)).send().await.unwrap();
    assert_eq!(dependencies.status(), 500, "every trace is read for the service map");

    // A request the user got wrong is still theirs: 400.
    let response = client.get(format!("{}/api/traces?service=shop&limit=many", server.query_url)).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn the_receiver_tells_senders_a_damaged_store_will_not_take_their_batch_rather_than_to_retry() {
    use prost::Message;
    let dir = TempDir::new("store-receiver-500");
    let path = damaged_store(&dir, Damage::OverwrittenPages);
    let server = serve(&path);
    let client = reqwest::Client::new();
    // Batches like the stored ones, so that their rows land among the damaged pages.
    let mut refused = None;
    for n in 0..TRACES {
        let span = Span {
            trace_id: trace_id(n).to_bytes().to_vec(),
            span_id: (u64::from(n) << 8 | 0xff).to_be_bytes().to_vec(),
            name: "GET /items/9".to_string(),
            start_time_unix_nano: now_ns() - 1_000_000,
            end_time_unix_nano: now_ns(),
            ..Default::default()
        };
        let request = request_of(Some(service("shop")), vec![span]);
        let response = client
            .post(&server.otlp_url)
            .header("content-type", "application/x-protobuf")
            .body(request.encode_to_vec())
            .send()
            .await
            .unwrap();
        if !response.status().is_success() {
            refused = Some((response.status(), response.headers().get("retry-after").is_some()));
            break;
        }
    }
    let (status, retry_after) = refused.expect("a batch into damaged pages is refused");
    assert_eq!(status, 500, "retrying cannot mend a damaged file");
    assert!(!retry_after, "no Retry-After for a failure a retry cannot mend");
}
