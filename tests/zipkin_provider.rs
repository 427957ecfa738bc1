//! The Zipkin provider over real HTTP against a stand-in that answers with real Zipkin
//! traces in the shapes of Zipkin's API v2: parameters in Zipkin's units, tag filters as
//! `annotationQuery`, ids of 64 and 128 bits, dependency links with their errors,
//! autocompletion, credentials, and how it fails.

#[path = "support/jaeger_replay.rs"]
#[allow(dead_code)] // the scenario lookup by name serves the example binary
mod jaeger_replay;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jaeger_replay::zipkin::{ASCEND_TRACE, KAFKA_TRACE, MESSAGING_TRACE};
use jaeger_replay::{Canned, Replay, Scenario, param};
use vitals::analysis::service_map::ServiceMap;
use vitals::config::{Auth, ProviderConfig, ProviderKind};
use vitals::providers::{self, TraceProvider};
use vitals::query::{SearchArgs, SearchQuery};
use vitals::render::service_map::{MapView, render};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn config(replay: &Replay) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Zipkin,
        endpoint: replay.url(),
        timeout_ms: 5_000,
        ..ProviderConfig::default()
    }
}

fn provider(replay: &Replay) -> Arc<dyn TraceProvider> {
    providers::from_config(&config(replay)).unwrap()
}

async fn zipkin() -> Replay {
    jaeger_replay::start(jaeger_replay::zipkin::zipkin(&root())).await
}

#[tokio::test]
async fn a_search_sends_milliseconds_for_the_window_microseconds_for_durations_and_tags_as_annotations() {
    let replay = zipkin().await;
    let mut query = SearchQuery::new("mobile-gateway");
    query.operation = Some("get /api/v1/users".into());
    query.tags = vec![("http.method".into(), "GET".into()), ("error".into(), "true".into())];
    query.min_duration_ns = Some(1_500_000);
    query.max_duration_ns = Some(3_000_000_000);
    query.time_range_us = Some((1_763_632_000_000_000, 1_763_636_000_500_000));
    query.limit = 5;
    provider(&replay).search(&query).await.unwrap();

    let sent = replay.last_query("/api/v2/traces");
    assert_eq!(param(&sent, "serviceName"), Some("mobile-gateway"));
    assert_eq!(param(&sent, "spanName"), Some("get /api/v1/users"));
    assert_eq!(param(&sent, "annotationQuery"), Some("http.method=GET and error"));
    assert_eq!((param(&sent, "minDuration"), param(&sent, "maxDuration")), (Some("1500"), Some("3000000")), "µs");
    assert_eq!((param(&sent, "endTs"), param(&sent, "lookback")), (Some("1763636000500"), Some("4000500")), "ms");
    assert_eq!(param(&sent, "limit"), Some("5"));
    assert_eq!(sent.len(), 8, "nothing else: {sent:?}");
}

#[tokio::test]
async fn search_results_are_whole_traces_newest_first() {
    let replay = zipkin().await;
    let args = SearchArgs { service: "mobile-gateway".into(), lookback: Some("2h".into()), ..SearchArgs::default() };
    let p = provider(&replay);
    let listed = p.search_list(&args.to_query().unwrap()).await.unwrap();
    assert_eq!(listed.len(), 2, "ascend and messaging2 pass through the gateway");
    assert!(listed.iter().all(|l| l.trace.is_some() && l.summary.matched_spans.is_none()), "whole traces");
    assert!(listed[0].summary.start_ns >= listed[1].summary.start_ns);
    let sent = replay.last_query("/api/v2/traces");
    let end: u64 = param(&sent, "endTs").unwrap().parse().unwrap();
    assert_eq!(param(&sent, "lookback"), Some("7200000"));
    assert!(end > 1_700_000_000_000 && end < 4_000_000_000_000, "milliseconds: {end}");
    assert!(param(&sent, "minDuration").is_none() && param(&sent, "annotationQuery").is_none());
}

#[tokio::test]
async fn a_filter_zipkin_cannot_say_is_applied_to_what_it_returns() {
    let replay = zipkin().await;
    let mut query = SearchQuery::new("servicea");
    query.tags = vec![("kafka.topic".into(), "this and that".into())];
    assert!(provider(&replay).search(&query).await.unwrap().is_empty(), "no span has that value");
    assert_eq!(param(&replay.last_query("/api/v2/traces"), "annotationQuery"), None);
    // As on Jaeger, `error=false` asks for spans tagged so, which Zipkin cannot search for.
    query.tags = vec![("error".into(), "false".into())];
    assert!(provider(&replay).search(&query).await.unwrap().is_empty());
    assert_eq!(param(&replay.last_query("/api/v2/traces"), "serviceName"), Some("servicea"));
}

#[tokio::test]
async fn traces_are_asked_for_by_zipkins_id_of_64_or_128_bits() {
    let replay = zipkin().await;
    let p = provider(&replay);
    let kafka = p.trace(&format!("{KAFKA_TRACE:0>32}")).await.unwrap();
    assert_eq!(kafka.id.to_string(), format!("{KAFKA_TRACE:0>32}"));
    assert_eq!(kafka.error_count(), 3);
    let messaging = p.trace(MESSAGING_TRACE).await.unwrap();
    assert_eq!(messaging.services(), ["frontend", "backend"]);
    let paths: Vec<String> = replay.recorded().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [format!("/api/v2/trace/{KAFKA_TRACE}"), format!("/api/v2/trace/{MESSAGING_TRACE}")]);
    let err = p.trace("00000000000000000000000000000bad").await.unwrap_err().to_string();
    assert_eq!(err, format!("trace 00000000000000000000000000000bad not found in zipkin at {}", replay.url()));
}

#[tokio::test]
async fn services_span_names_and_autocompletion() {
    let replay = zipkin().await;
    let p = provider(&replay);
    let services = p.services().await.unwrap();
    assert_eq!(services.len(), 24, "{services:?}");
    assert!(services.contains(&"mobile-gateway".to_string()) && services.contains(&"yelp_main/api_proxy".to_string()));
    let names = p.operations("auth-service").await.unwrap();
    assert!(!names.is_empty());
    assert_eq!(param(&replay.last_query("/api/v2/spans"), "serviceName"), Some("auth-service"));
    assert_eq!(p.tag_keys("auth-service").await.unwrap(), ["http.method", "http.path"]);
    assert_eq!(p.tag_values("auth-service", "http.method").await.unwrap(), ["GET", "POST"]);
    assert_eq!(param(&replay.last_query("/api/v2/autocompleteValues"), "key"), Some("http.method"));
    assert!(p.tag_values("", "kafka.topic").await.unwrap().is_empty(), "not a configured key");
    let err = p.operations("").await.unwrap_err().to_string();
    assert_eq!(err, format!("zipkin at {} answered 400: serviceName is required", replay.url()));
}

#[tokio::test]
async fn dependency_links_carry_calls_and_errors_in_milliseconds() {
    let replay = zipkin().await;
    let links = provider(&replay).dependencies(1_763_636_000_000_000, 3_600_000_000).await.unwrap();
    let sent = replay.last_query("/api/v2/dependencies");
    assert_eq!((param(&sent, "endTs"), param(&sent, "lookback")), (Some("1763636000000"), Some("3600000")));
    let link = |parent: &str, child: &str| links.iter().find(|l| l.parent == parent && l.child == child);
    let gateway = link("mobile-gateway", "content-service").expect("the gateway calls content-service");
    assert!(gateway.call_count > 0 && gateway.error_count == 0);
    let failed = links.iter().find(|l| l.error_count > 0).unwrap_or_else(|| panic!("no failed calls: {links:?}"));
    // The map shows them on the edge.
    let map = ServiceMap::from_dependencies(&links);
    let drawn = render(&map, MapView::Tree { root: map.index(&failed.parent) }, 100).plain_text();
    let edge = format!("{}  ×{} ✗{}", failed.child, failed.call_count, failed.error_count);
    assert!(drawn.contains(&edge), "{edge:?} not in\n{drawn}");
}

#[tokio::test]
async fn credentials_are_sent_and_failures_are_clear() {
    let replay = zipkin().await;
    let bearer = ProviderConfig { auth: Auth { token: Some("tok".into()), ..Auth::default() }, ..config(&replay) };
    providers::from_config(&bearer).unwrap().services().await.unwrap();
    let basic = ProviderConfig {
        auth: Auth { username: Some("ops".into()), password: Some("pw".into()), ..Auth::default() },
        ..config(&replay)
    };
    providers::from_config(&basic).unwrap().trace(ASCEND_TRACE).await.unwrap();
    let sent: Vec<Option<String>> = replay.recorded().into_iter().map(|r| r.authorization).collect();
    assert_eq!(sent, [Some("Bearer tok".to_string()), Some("Basic b3BzOnB3".to_string())]);

    let outage = jaeger_replay::start(Scenario {
        everything: Some(Canned::text(500, "Internal Server Error: elasticsearch cluster unavailable")),
        ..Scenario::default()
    })
    .await;
    let err = provider(&outage).search(&SearchQuery::new("x")).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!("zipkin at {} answered 500: Internal Server Error: elasticsearch cluster unavailable", outage.url())
    );

    let garbage = jaeger_replay::start(jaeger_replay::garbage()).await;
    let p = provider(&garbage);
    for err in [
        p.services().await.unwrap_err(),
        p.search(&SearchQuery::new("x")).await.unwrap_err(),
        p.trace(ASCEND_TRACE).await.unwrap_err(),
        p.dependencies(1, 1).await.unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.starts_with(&format!("zipkin at {} sent a response Vitals cannot read", garbage.url())), "{text}");
    }

    let slow =
        jaeger_replay::start(Scenario { delay: Duration::from_secs(5), ..jaeger_replay::zipkin::zipkin(&root()) })
            .await;
    let config = ProviderConfig { timeout_ms: 300, ..config(&slow) };
    let err = providers::from_config(&config).unwrap().services().await.unwrap_err().to_string();
    assert_eq!(err, format!("zipkin at {} did not answer within 1 s", slow.url()));

    let typed = SearchQuery { traceql: Some("{ status = error }".into()), ..SearchQuery::new("") };
    assert!(provider(&replay).search(&typed).await.unwrap_err().to_string().contains("only Tempo does"));
}

#[tokio::test]
async fn the_cli_searches_zipkin_with_attribute_filters() {
    let replay = zipkin().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["search", "--provider", "zipkin", "--endpoint", &replay.url(), "--service", "mobile-gateway"])
        .args(["http.method=GET", "--min-duration", "1ms"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.lines().any(|l| l.starts_with(&format!("{ASCEND_TRACE:0>32}"))), "{stdout}");
    let sent = replay.last_query("/api/v2/traces");
    assert_eq!((param(&sent, "annotationQuery"), param(&sent, "minDuration")), (Some("http.method=GET"), Some("1000")));
}
