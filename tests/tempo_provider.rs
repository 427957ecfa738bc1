//! The Tempo provider over real HTTP against a stand-in that answers with real Tempo
//! traces in Tempo's API shapes: the TraceQL and parameters it sends, ids in both of
//! Tempo's forms, span sets listed as such and traces fetched whole, tenants, credentials,
//! and how it fails.

#[path = "support/jaeger_replay.rs"]
#[allow(dead_code)] // the scenario lookup by name serves the example binary
mod jaeger_replay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jaeger_replay::tempo::{
    BAD_TRACEQL, FAILED_TRACE, PARTIAL_MESSAGE, PARTIAL_TRACE, QUEUE_TRACE, VULTURE_TRACE, ZEROS_TRACE,
};
use jaeger_replay::{Canned, Replay, Scenario, param};
use vitals::config::{Auth, ProviderConfig, ProviderKind};
use vitals::providers::{self, TraceProvider};
use vitals::query::{SearchArgs, SearchQuery};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(replay: &Replay) -> ProviderConfig {
    ProviderConfig { kind: ProviderKind::Tempo, endpoint: replay.url(), timeout_ms: 5_000, ..ProviderConfig::default() }
}

fn provider(replay: &Replay) -> Arc<dyn TraceProvider> {
    providers::from_config(&config(replay)).unwrap()
}

async fn tempo() -> Replay {
    jaeger_replay::start(jaeger_replay::tempo::tempo(&root())).await
}

#[tokio::test]
async fn the_search_form_becomes_traceql_with_times_in_seconds() {
    let replay = tempo().await;
    let mut query = SearchQuery::new("mythical-server");
    query.operation = Some("POST /:endpoint".into());
    query.min_duration_ns = Some(1_500_000_000);
    query.max_duration_ns = Some(2_000_000);
    query.tags = vec![("http.method".into(), "POST".into()), ("error".into(), "true".into())];
    query.time_range_us = Some((1_763_632_000_123_456, 1_763_636_000_654_321));
    query.limit = 7;
    provider(&replay).search_list(&query).await.unwrap();

    let sent = replay.last_query("/api/search");
    assert_eq!(
        param(&sent, "q"),
        Some(
            r#"{ resource.service.name = "mythical-server" && name = "POST /:endpoint" && duration >= 1500ms && duration <= 2ms && .http.method = "POST" && status = error }"#
        )
    );
    assert_eq!((param(&sent, "start"), param(&sent, "end")), (Some("1763632000"), Some("1763636001")), "seconds");
    assert_eq!((param(&sent, "limit"), param(&sent, "spss")), (Some("7"), Some("1")));
    assert_eq!(sent.len(), 5, "nothing else: {sent:?}");
}

#[tokio::test]
async fn quotes_backslashes_and_numbers_in_filters_reach_tempo_as_valid_traceql() {
    let replay = tempo().await;
    let args = SearchArgs {
        service: r#"we"ird\svc"#.into(),
        tags: vec![r#"db.statement=SELECT "name" FROM a\b"#.into(), "http.status_code=500".into()],
        ..SearchArgs::default()
    };
    provider(&replay).search_list(&args.to_query().unwrap()).await.unwrap();
    assert_eq!(
        param(&replay.last_query("/api/search"), "q"),
        Some(
            r#"{ resource.service.name = "we\"ird\\svc" && .db.statement = "SELECT \"name\" FROM a\\b" && (.http.status_code = 500 || .http.status_code = "500") }"#
        )
    );
}

#[tokio::test]
async fn search_results_list_the_matching_spans_of_each_trace_under_its_full_id() {
    let replay = tempo().await;
    let listed = provider(&replay).search_list(&SearchQuery::new("mythical-server")).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|l| l.summary.trace_id.as_str()).collect();
    // Newest first; the trimmed `c0ffee0beef` of Tempo's answer is the full id again.
    assert_eq!(ids, [FAILED_TRACE, ZEROS_TRACE, QUEUE_TRACE]);
    assert!(listed.iter().all(|l| l.trace.is_none()), "span sets, not traces");
    let failed = &listed[0].summary;
    assert_eq!((failed.root_service.as_str(), failed.root_operation.as_str()), ("mythical-requester", "requester"));
    assert_eq!((failed.matched_spans, failed.span_count, failed.error_count), (Some(9), 15, 3));
    assert_eq!(failed.services, ["mythical-requester", "mythical-server"]);
    assert_eq!(failed.start_ns, 1_658_325_672_496_201_216);
    let queue = &listed[2].summary;
    assert_eq!((queue.matched_spans, queue.span_count), (Some(9), 19));
    let lines = vitals::render::summary_line::lines(std::slice::from_ref(failed), 0, 160);
    assert!(lines[0].contains("9 of 15 spans matched"), "{}", lines[0]);
}

#[tokio::test]
async fn opening_a_result_fetches_the_whole_trace_by_its_padded_id_and_reads_base64_ids() {
    let replay = tempo().await;
    let p = provider(&replay);
    let trimmed = ZEROS_TRACE.trim_start_matches('0');
    let trace = p.trace(trimmed).await.unwrap();
    assert_eq!(replay.paths(), [format!("/api/v2/traces/{ZEROS_TRACE}")]);
    assert_eq!(trace.id.to_string(), ZEROS_TRACE);
    assert_eq!(trace.spans.len(), 15);
    // The root's base64 span id `kAf+pIRVStc=`, and its children under it.
    let root = trace.root().unwrap();
    assert_eq!((root.span_id.to_string().as_str(), root.operation.as_str()), ("9007fea484554ad7", "requester"));
    assert_eq!(trace.tree.roots().len(), 1, "{:?}", trace.warnings);
    // Tempo's base64 form of an id is accepted too.
    let by_base64 = p.trace("6Lbf+fjUSyjxsivDvS9naA==").await.unwrap();
    assert_eq!(by_base64.id.to_string(), FAILED_TRACE);
}

#[tokio::test]
async fn the_commands_that_analyze_a_search_get_each_trace_whole() {
    let replay = tempo().await;
    let traces = provider(&replay).search(&SearchQuery::new("mythical-server")).await.unwrap();
    let found: Vec<(String, usize)> = traces.iter().map(|t| (t.id.to_string(), t.spans.len())).collect();
    assert_eq!(found, [(FAILED_TRACE.into(), 15), (ZEROS_TRACE.into(), 15), (QUEUE_TRACE.into(), 19)]);
    let mut fetched: Vec<String> = replay.paths().into_iter().filter(|p| p.starts_with("/api/v2/traces/")).collect();
    fetched.sort();
    assert_eq!(fetched.len(), 3, "one fetch per result: {fetched:?}");
}

#[tokio::test]
async fn a_typed_traceql_query_is_sent_as_typed() {
    let replay = tempo().await;
    let typed = r#"{ span.http.route = "/:endpoint" } >> { kind = client && status = error }"#;
    let args = SearchArgs { tags: vec![typed.into()], lookback: Some("2h".into()), ..SearchArgs::default() };
    let listed = provider(&replay).search_list(&args.to_query().unwrap()).await.unwrap();
    let sent = replay.last_query("/api/search");
    assert_eq!(param(&sent, "q"), Some(typed));
    let (start, end): (u64, u64) =
        (param(&sent, "start").unwrap().parse().unwrap(), param(&sent, "end").unwrap().parse().unwrap());
    assert!((7_200..=7_201).contains(&(end - start)), "{start}..{end}");
    assert_eq!(listed.len(), 4, "every searchable trace: the stand-in does not evaluate TraceQL");
}

#[tokio::test]
async fn a_query_tempo_cannot_parse_shows_tempos_message() {
    let replay = tempo().await;
    let query = SearchQuery { traceql: Some("{ span.http.route = ".into()), ..SearchQuery::new("") };
    let err = provider(&replay).search_list(&query).await.unwrap_err().to_string();
    assert_eq!(err, format!("tempo at {} answered 400: {BAD_TRACEQL}", replay.url()));
}

#[tokio::test]
async fn services_operations_and_tags_come_from_the_v2_tag_apis_for_the_last_hour() {
    let replay = tempo().await;
    let p = provider(&replay);
    assert_eq!(
        p.services().await.unwrap(),
        ["mythical-recorder", "mythical-requester", "mythical-server", "tempo-vulture"]
    );
    let services = replay.last_query("/api/v2/search/tag/resource.service.name/values");
    let (start, end): (u64, u64) =
        (param(&services, "start").unwrap().parse().unwrap(), param(&services, "end").unwrap().parse().unwrap());
    assert!((3_600..=3_601).contains(&(end - start)), "{start}..{end}");
    assert_eq!(param(&services, "q"), None, "every service");

    let operations = p.operations("mythical-recorder").await.unwrap();
    assert_eq!(operations, ["messages process", "process_message"]);
    let sent_q = replay.last_query("/api/v2/search/tag/name/values");
    assert_eq!(param(&sent_q, "q"), Some(r#"{ resource.service.name = "mythical-recorder" }"#));

    let keys = p.tag_keys("mythical-server").await.unwrap();
    for key in ["http.method", "http.route", "db.system", "service.name"] {
        assert!(keys.contains(&key.to_string()), "{key} missing from {keys:?}");
    }
    let absent = ["duration", "messaging.protocol"].map(String::from);
    assert!(!keys.iter().any(|k| absent.contains(k)), "no intrinsic, no other service's: {keys:?}");
    let keys_q = replay.last_query("/api/v2/search/tags");
    assert_eq!(param(&keys_q, "q"), Some(r#"{ resource.service.name = "mythical-server" }"#));

    assert_eq!(p.tag_values("mythical-server", "http.method").await.unwrap(), ["GET", "POST"]);
    assert!(replay.paths().contains(&"/api/v2/search/tag/.http.method/values".to_string()));
    assert_eq!(p.tag_values("", "span.beast").await.unwrap(), ["illithid", "manticore"]);
}

#[tokio::test]
async fn the_tenant_and_the_credentials_go_with_every_request() {
    let replay = tempo().await;
    let with_both = ProviderConfig {
        tenant: "team-a".into(),
        auth: Auth { token: Some("tok".into()), ..Auth::default() },
        ..config(&replay)
    };
    let p = providers::from_config(&with_both).unwrap();
    p.services().await.unwrap();
    p.search_list(&SearchQuery::new("mythical-server")).await.unwrap();
    p.trace(FAILED_TRACE).await.unwrap();
    let recorded = replay.recorded();
    assert_eq!(recorded.len(), 3);
    for request in &recorded {
        assert_eq!(request.tenant.as_deref(), Some("team-a"), "{}", request.path);
        assert_eq!(request.authorization.as_deref(), Some("Bearer tok"), "{}", request.path);
    }
    let basic = ProviderConfig {
        auth: Auth { username: Some("ops".into()), password: Some("pw".into()), ..Auth::default() },
        ..with_both
    };
    providers::from_config(&basic).unwrap().services().await.unwrap();
    assert_eq!(replay.recorded()[3].authorization.as_deref(), Some("Basic b3BzOnB3"));
    let none = providers::from_config(&ProviderConfig { tenant: "  ".into(), ..config(&replay) }).unwrap();
    none.services().await.unwrap();
    assert_eq!(replay.recorded()[4].tenant, None, "a blank tenant is none");
    let bad = ProviderConfig { tenant: "a\nb".into(), ..config(&replay) };
    assert!(providers::from_config(&bad).err().unwrap().to_string().contains("tenant"));
}

#[tokio::test]
async fn a_tempo_before_2_5_is_asked_on_api_traces_once_v2_is_missing() {
    let replay = jaeger_replay::start(jaeger_replay::tempo::tempo_before_v2_traces(&root())).await;
    let p = provider(&replay);
    assert_eq!(p.trace(VULTURE_TRACE).await.unwrap().spans.len(), 6);
    assert_eq!(p.trace(QUEUE_TRACE).await.unwrap().spans.len(), 19);
    let asked = replay.paths();
    assert_eq!(
        asked,
        [
            format!("/api/v2/traces/{VULTURE_TRACE}"),
            format!("/api/traces/{VULTURE_TRACE}"),
            format!("/api/traces/{QUEUE_TRACE}"),
        ],
        "v2 is not asked again"
    );
}

#[tokio::test]
async fn a_missing_trace_is_not_found_and_a_partial_one_says_why() {
    let replay = tempo().await;
    let p = provider(&replay);
    let err = p.trace("bad").await.unwrap_err().to_string();
    assert_eq!(err, format!("trace bad not found in tempo at {}", replay.url()));
    assert_eq!(
        replay.paths(),
        ["/api/v2/traces/00000000000000000000000000000bad", "/api/traces/00000000000000000000000000000bad"],
        "an older Tempo might have it under v1"
    );
    let partial = p.trace(PARTIAL_TRACE).await.unwrap();
    assert_eq!(partial.warnings.last(), Some(&format!("partial trace: {PARTIAL_MESSAGE}")), "{:?}", partial.warnings);
    assert!(p.trace("not-an-id").await.unwrap_err().to_string().contains("is not a trace id"));
}

#[tokio::test]
async fn an_outage_garbage_and_a_slow_tempo_fail_clearly() {
    let outage = jaeger_replay::start(Scenario {
        everything: Some(Canned::text(
            500,
            "failed to query: rpc error: code = Unavailable desc = no healthy queriers",
        )),
        ..Scenario::default()
    })
    .await;
    let err = provider(&outage).search_list(&SearchQuery::new("x")).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "tempo at {} answered 500: failed to query: rpc error: code = Unavailable desc = no healthy queriers",
            outage.url()
        )
    );

    let garbage = jaeger_replay::start(jaeger_replay::garbage()).await;
    let p = provider(&garbage);
    for err in [
        p.services().await.unwrap_err(),
        p.search_list(&SearchQuery::new("x")).await.unwrap_err(),
        p.trace(FAILED_TRACE).await.unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.starts_with(&format!("tempo at {} sent a response Vitals cannot read", garbage.url())), "{text}");
    }

    let slow =
        jaeger_replay::start(Scenario { delay: Duration::from_secs(5), ..jaeger_replay::tempo::tempo(&root()) }).await;
    let config = ProviderConfig { timeout_ms: 300, ..config(&slow) };
    let err = providers::from_config(&config).unwrap().trace(FAILED_TRACE).await.unwrap_err().to_string();
    assert_eq!(err, format!("tempo at {} did not answer within 1 s", slow.url()));
}

#[tokio::test]
async fn the_cli_searches_tempo_with_traceql_and_a_tenant() {
    let replay = tempo().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["search", "--provider", "tempo", "--endpoint", &replay.url(), "--tenant", "team-b"])
        .args(["--traceql", "{ status = error }", "--lookback", "30m"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.lines().any(|l| l.starts_with(ZEROS_TRACE) && l.contains("of 15 spans matched")), "{stdout}");
    let recorded = replay.recorded();
    assert_eq!(
        (recorded[0].tenant.as_deref(), param(&recorded[0].query, "q")),
        (Some("team-b"), Some("{ status = error }"))
    );
}
