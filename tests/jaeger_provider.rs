//! The Jaeger provider over real HTTP against recorded Jaeger responses: what it sends
//! (paths, parameters, units, credentials), what it makes of the answers, and how it fails.

#[path = "support/jaeger_replay.rs"]
#[allow(dead_code)] // the scenario lookup by name serves the example binary
mod jaeger_replay;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jaeger_replay::Replay;
use vitals::config::{Auth, ProviderConfig, ProviderKind};
use vitals::providers::{self, TraceProvider};
use vitals::query::{SearchArgs, SearchQuery};

const SLOW_TRACE: &str = "c7a2ea20b2f14c942e05319acb5c7427";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn provider(replay: &Replay, timeout_ms: u64) -> std::sync::Arc<dyn TraceProvider> {
    let config =
        ProviderConfig { kind: ProviderKind::Jaeger, endpoint: replay.url(), timeout_ms, ..ProviderConfig::default() };
    providers::from_config(&config).unwrap()
}

fn query_of(replay: &Replay, path: &str) -> Vec<(String, String)> {
    replay.recorded().into_iter().find(|r| r.path == path).unwrap_or_else(|| panic!("no request to {path}")).query
}

fn param<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn v1_search_sends_jaeger_parameters_in_jaeger_units() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let mut query = SearchQuery::new("frontend");
    query.operation = Some("POST /checkout".into());
    query.tags = vec![("http.status_code".into(), "500".into())];
    query.time_range_us = Some((1_763_632_000_000_000, 1_763_636_000_000_000));
    query.min_duration_ns = Some(1_000_000_000);
    query.max_duration_ns = Some(2_500_000);
    query.limit = 3;
    let traces = provider(&replay, 5_000).search(&query).await.unwrap();

    let sent = query_of(&replay, "/api/traces");
    assert_eq!(param(&sent, "service"), Some("frontend"));
    assert_eq!(param(&sent, "operation"), Some("POST /checkout"));
    assert_eq!(param(&sent, "start"), Some("1763632000000000"), "start in µs");
    assert_eq!(param(&sent, "end"), Some("1763636000000000"), "end in µs");
    assert_eq!(param(&sent, "minDuration"), Some("1000ms"));
    assert_eq!(param(&sent, "maxDuration"), Some("2500us"));
    assert_eq!(param(&sent, "limit"), Some("3"));
    let tags: serde_json::Value = serde_json::from_str(param(&sent, "tags").unwrap()).unwrap();
    assert_eq!(tags, serde_json::json!({"http.status_code": "500"}));

    // The recorded answer holds five traces: the limit cuts it, newest first.
    assert_eq!(traces.len(), 3);
    assert!(traces.windows(2).all(|w| w[0].start_ns() >= w[1].start_ns()));
}

#[tokio::test]
async fn a_search_without_a_time_range_asks_for_the_last_hour() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    provider(&replay, 5_000).search(&SearchQuery::new("frontend")).await.unwrap();
    let sent = query_of(&replay, "/api/traces");
    let start: u64 = param(&sent, "start").unwrap().parse().unwrap();
    let end: u64 = param(&sent, "end").unwrap().parse().unwrap();
    assert_eq!(end - start, 3_600_000_000);
    assert!(param(&sent, "minDuration").is_none() && param(&sent, "operation").is_none());
}

#[tokio::test]
async fn v1_services_operations_and_trace_by_id() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let p = provider(&replay, 5_000);
    let services = p.services().await.unwrap();
    assert_eq!(services, ["cart", "checkout", "frontend", "inventory", "payment", "postgres", "redis"]);
    assert_eq!(
        p.operations("frontend").await.unwrap(),
        ["GET /products", "POST /checkout", "POST checkout/PlaceOrder"]
    );
    let trace = p.trace(SLOW_TRACE).await.unwrap();
    assert_eq!(trace.id.to_string(), SLOW_TRACE);
    assert_eq!(trace.spans.len(), 26);
    assert!(trace.duration_ns() > 1_500_000_000);
    let paths: Vec<String> = replay.recorded().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/services", "/api/services/frontend/operations", &format!("/api/traces/{SLOW_TRACE}")]);
}

#[tokio::test]
async fn without_v1_search_the_provider_falls_back_to_api_v3_and_stays_there() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v3_only(&root())).await;
    let p = provider(&replay, 5_000);
    let args = SearchArgs {
        service: "frontend".into(),
        operation: Some("POST /checkout".into()),
        min_duration: Some("1s".into()),
        limit: Some(4),
        lookback: Some("2h".into()),
        ..SearchArgs::default()
    };
    let traces = p.search(&args.to_query().unwrap()).await.unwrap();
    assert_eq!(traces.len(), 4);

    let sent = query_of(&replay, "/api/v3/traces");
    assert_eq!(param(&sent, "query.service_name"), Some("frontend"));
    assert_eq!(param(&sent, "query.operation_name"), Some("POST /checkout"));
    assert_eq!(param(&sent, "query.duration_min"), Some("1000ms"));
    assert_eq!(param(&sent, "query.search_depth"), Some("4"));
    let min = humantime::parse_rfc3339(param(&sent, "query.start_time_min").unwrap()).unwrap();
    let max = humantime::parse_rfc3339(param(&sent, "query.start_time_max").unwrap()).unwrap();
    assert_eq!(max.duration_since(min).unwrap(), Duration::from_secs(7200));

    // Once v3 answered, the next calls go straight to v3.
    assert_eq!(p.services().await.unwrap().len(), 7);
    let trace = p.trace(SLOW_TRACE).await.unwrap();
    assert_eq!(trace.spans.len(), 26);
    let paths: Vec<String> = replay.recorded().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/api/traces", "/api/v3/traces", "/api/v3/services", &format!("/api/v3/traces/{SLOW_TRACE}")]);
}

#[tokio::test]
async fn v1_and_v3_give_the_same_trace() {
    let v1 = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let v3 = jaeger_replay::start(jaeger_replay::jaeger_v3_only(&root())).await;
    let a = provider(&v1, 5_000).trace(SLOW_TRACE).await.unwrap();
    let b = provider(&v3, 5_000).trace(SLOW_TRACE).await.unwrap();
    // Everything a view shows of a span, as one comparable line per span.
    let shape = |t: &vitals::model::Trace| -> Vec<String> {
        let mut spans: Vec<String> = t
            .spans
            .iter()
            .map(|s| {
                format!(
                    "{} {:?} {} {} {} {} {}",
                    s.span_id,
                    s.parent_id,
                    s.service(),
                    s.operation,
                    s.start_ns,
                    s.duration_ns,
                    s.is_error()
                )
            })
            .collect();
        spans.sort();
        spans
    };
    assert_eq!(shape(&a), shape(&b));
}

#[tokio::test]
async fn tag_filters_apply_on_v3_too() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v3_only(&root())).await;
    let mut query = SearchQuery::new("frontend");
    query.tags = vec![("http.status_code".into(), "500".into())];
    let traces = provider(&replay, 5_000).search(&query).await.unwrap();
    assert_eq!(traces.len(), 1, "only the failed checkout answered 500");
    assert!(traces[0].error_count() > 0);
}

#[tokio::test]
async fn a_missing_trace_is_not_found_on_both_apis() {
    for scenario in [jaeger_replay::jaeger_v1(&root()), jaeger_replay::jaeger_v3_only(&root())] {
        let replay = jaeger_replay::start(scenario).await;
        let err = provider(&replay, 5_000).trace("00000000000000000000000000000bad").await.unwrap_err().to_string();
        assert_eq!(err, format!("trace 00000000000000000000000000000bad not found in jaeger at {}", replay.url()));
    }
}

#[tokio::test]
async fn a_backend_that_is_down_says_connection_refused() {
    // Bind and drop a listener to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = ProviderConfig {
        kind: ProviderKind::Jaeger,
        endpoint: format!("http://127.0.0.1:{port}"),
        ..ProviderConfig::default()
    };
    let err = providers::from_config(&config).unwrap().services().await.unwrap_err().to_string();
    assert_eq!(err, format!("Failed to connect to jaeger at http://127.0.0.1:{port}: connection refused"));
}

#[tokio::test]
async fn a_slow_backend_times_out_at_the_configured_limit() {
    let replay = jaeger_replay::start(jaeger_replay::slow(&root(), Duration::from_secs(5))).await;
    let started = Instant::now();
    let err = provider(&replay, 300).search(&SearchQuery::new("frontend")).await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(4), "gave up after {:?}", started.elapsed());
    assert_eq!(err, format!("jaeger at {} did not answer within 1 s", replay.url()));
}

#[tokio::test]
async fn a_500_reports_jaegers_own_message() {
    let replay = jaeger_replay::start(jaeger_replay::outage()).await;
    let err = provider(&replay, 5_000).search(&SearchQuery::new("frontend")).await.unwrap_err().to_string();
    assert_eq!(err, format!("jaeger at {} answered 500: storage unavailable", replay.url()));
}

#[tokio::test]
async fn a_garbage_body_is_a_clear_error_for_every_call() {
    let replay = jaeger_replay::start(jaeger_replay::garbage()).await;
    let p = provider(&replay, 5_000);
    for err in [
        p.services().await.unwrap_err(),
        p.search(&SearchQuery::new("frontend")).await.unwrap_err(),
        p.trace(SLOW_TRACE).await.unwrap_err(),
    ] {
        let text = err.to_string();
        assert!(text.starts_with(&format!("jaeger at {} sent a response Vitals cannot read", replay.url())), "{text}");
    }
}

#[tokio::test]
async fn credentials_are_sent_as_configured() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let bearer = ProviderConfig {
        kind: ProviderKind::Jaeger,
        endpoint: replay.url(),
        auth: Auth { token: Some("s3cret".into()), ..Auth::default() },
        ..ProviderConfig::default()
    };
    providers::from_config(&bearer).unwrap().services().await.unwrap();
    let basic = ProviderConfig {
        kind: ProviderKind::Jaeger,
        endpoint: replay.url(),
        auth: Auth { username: Some("ops".into()), password: Some("pw".into()), ..Auth::default() },
        ..ProviderConfig::default()
    };
    providers::from_config(&basic).unwrap().services().await.unwrap();
    let sent: Vec<Option<String>> = replay.recorded().into_iter().map(|r| r.authorization).collect();
    assert_eq!(sent, [Some("Bearer s3cret".to_string()), Some("Basic b3BzOnB3".to_string())]);
}

#[tokio::test]
async fn the_token_can_come_from_the_environment() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    // A variable name of this test's own, so no other test sees it.
    unsafe { std::env::set_var("VITALS_TEST_TOKEN_FROM_ENV", "from-env") };
    let config = ProviderConfig {
        kind: ProviderKind::Jaeger,
        endpoint: replay.url(),
        auth: Auth { token_env: Some("VITALS_TEST_TOKEN_FROM_ENV".into()), ..Auth::default() },
        ..ProviderConfig::default()
    };
    providers::from_config(&config).unwrap().services().await.unwrap();
    assert_eq!(replay.recorded()[0].authorization.as_deref(), Some("Bearer from-env"));
}

#[tokio::test]
async fn a_malformed_endpoint_is_refused_before_any_request() {
    for endpoint in ["localhost:16686", "ftp://example", "http://"] {
        let config =
            ProviderConfig { kind: ProviderKind::Jaeger, endpoint: endpoint.into(), ..ProviderConfig::default() };
        let err = providers::from_config(&config).err().unwrap_or_else(|| panic!("{endpoint} accepted")).to_string();
        assert!(err.contains(endpoint.trim_end_matches('/')), "{err}");
    }
}

#[tokio::test]
async fn dependencies_are_read_from_the_v1_api_in_milliseconds_and_absent_on_v3() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let calls = provider(&replay, 5_000).dependencies(1_763_636_000_000_000, 3_600_000_000).await.unwrap();
    assert_eq!(calls.len(), 7, "Jaeger UI's small dependency answer");
    assert!(calls.iter().any(|c| c.parent == "Service1" && c.child == "Service2" && c.call_count == 30489));
    let sent = query_of(&replay, "/api/dependencies");
    assert_eq!((param(&sent, "endTs"), param(&sent, "lookback")), (Some("1763636000000"), Some("3600000")));

    let v3 = jaeger_replay::start(jaeger_replay::jaeger_v3_only(&root())).await;
    assert!(provider(&v3, 5_000).dependencies(1_763_636_000_000_000, 3_600_000_000).await.unwrap().is_empty());
}

fn config_for(replay: &Replay) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Jaeger,
        endpoint: replay.url(),
        timeout_ms: 30_000,
        ..ProviderConfig::default()
    }
}

fn too_large(replay: &Replay, limit: &str) -> String {
    format!(
        "jaeger at {} sent more than {limit}, the max_response limit: raise max_response (the plugin's option, or --max-response) if the trace really is that large",
        replay.url()
    )
}

#[tokio::test]
async fn an_endless_response_stops_at_max_response_with_an_error_naming_the_limit() {
    let replay = jaeger_replay::start(jaeger_replay::endless_answers()).await;
    let config = ProviderConfig { max_response: 4 << 20, ..config_for(&replay) };
    let err = providers::from_config(&config).unwrap().trace(jaeger_replay::WIDE_TRACE).await.unwrap_err();
    assert_eq!(err.to_string(), too_large(&replay, "4 MiB"));
}

#[tokio::test]
async fn a_response_announced_larger_than_max_response_is_refused_and_a_smaller_one_read_whole() {
    let replay = jaeger_replay::start(jaeger_replay::huge_answers(64 << 20)).await;
    let config = ProviderConfig { max_response: 1 << 20, ..config_for(&replay) };
    let err = providers::from_config(&config).unwrap().trace(jaeger_replay::WIDE_TRACE).await.unwrap_err();
    assert_eq!(err.to_string(), too_large(&replay, "1 MiB"));

    // 3 MiB of a thousand spans and whitespace, arriving in 1 MiB chunks, under a 4 MiB cap.
    let replay = jaeger_replay::start(jaeger_replay::huge_answers(3 << 20)).await;
    let config = ProviderConfig { max_response: 4 << 20, ..config_for(&replay) };
    let trace = providers::from_config(&config).unwrap().trace(jaeger_replay::WIDE_TRACE).await.unwrap();
    assert_eq!(trace.spans.len(), 1_000);
}

#[tokio::test]
async fn a_trace_over_max_spans_is_cut_to_its_top_with_a_warning() {
    let replay = jaeger_replay::start(jaeger_replay::wide(&root())).await;
    let whole = providers::from_config(&config_for(&replay)).unwrap().trace(jaeger_replay::WIDE_TRACE).await.unwrap();
    assert_eq!(whole.spans.len(), jaeger_replay::WIDE_SPANS);
    assert!(whole.warnings.is_empty(), "{:?}", whole.warnings);

    let config = ProviderConfig { max_spans: 1_000, ..config_for(&replay) };
    let cut = providers::from_config(&config).unwrap().trace(jaeger_replay::WIDE_TRACE).await.unwrap();
    assert_eq!(cut.spans.len(), 1_000);
    assert_eq!(cut.warnings, ["trace cut to the 1,000 spans nearest its root, of 5,000: raise max_spans to see all"]);
    // The top of the tree is whole: one root, and every kept span's parent kept.
    assert_eq!(cut.tree.roots().len(), 1);
    let depth_of_kept = (0..cut.spans.len()).map(|s| cut.tree.depth(s)).max();
    assert_eq!(depth_of_kept, Some(3), "1 + 10 + 100 spans above the 889 kept of the fourth level");
}

#[tokio::test]
async fn a_password_in_the_endpoint_is_sent_as_basic_auth_and_never_shown() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let endpoint = replay.url().replace("http://", "http://ops:pw-in-url@");
    let config = ProviderConfig { endpoint, ..config_for(&replay) };
    let p = providers::from_config(&config).unwrap();
    assert_eq!(p.describe(), format!("jaeger at {}", replay.url()));
    let err = p.trace("00000000000000000000000000000bad").await.unwrap_err().to_string();
    assert_eq!(err, format!("trace 00000000000000000000000000000bad not found in jaeger at {}", replay.url()));
    assert!(!format!("{config:?}").contains("pw-in-url"));
    // ops:pw-in-url
    assert_eq!(replay.recorded()[0].authorization.as_deref(), Some("Basic b3BzOnB3LWluLXVybA=="));
}

#[tokio::test]
async fn credentials_a_backend_echoes_never_show_in_its_errors() {
    let replay = jaeger_replay::start(jaeger_replay::echo_headers_back()).await;
    let with_token =
        ProviderConfig { auth: Auth { token: Some("tok-S3CRET".into()), ..Auth::default() }, ..config_for(&replay) };
    let with_password =
        ProviderConfig { endpoint: replay.url().replace("http://", "http://ops:pw-S3CRET@"), ..config_for(&replay) };
    for config in [with_token, with_password] {
        let p = providers::from_config(&config).unwrap();
        // Jaeger's JSON error (401) and a proxy's plain-text page (502).
        for err in [p.services().await.unwrap_err(), p.trace(SLOW_TRACE).await.unwrap_err()] {
            let text = err.to_string();
            assert!(text.contains("uthorization: B"), "the echo is shown: {text}");
            for secret in ["tok-S3CRET", "pw-S3CRET", "b3BzOnB3LVMzQ1JFVA=="] {
                assert!(!text.contains(secret), "{secret} shown in {text}");
            }
        }
    }
    let sent: Vec<String> = replay.recorded().into_iter().filter_map(|r| r.authorization).collect();
    assert_eq!(sent.len(), 4, "the credentials were sent: {sent:?}");
}

#[tokio::test]
async fn the_cli_reads_the_token_from_a_file_and_its_help_recommends_that() {
    let replay = jaeger_replay::start(jaeger_replay::jaeger_v1(&root())).await;
    let token_file = std::env::temp_dir().join(format!("vitals-token-file-{}", std::process::id()));
    std::fs::write(&token_file, "from-a-file\n").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_vitals"))
        .args(["search", "--service", "frontend", "--endpoint", &replay.url(), "--token-file"])
        .arg(&token_file)
        .output()
        .await
        .unwrap();
    std::fs::remove_file(&token_file).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(replay.recorded()[0].authorization.as_deref(), Some("Bearer from-a-file"));

    let help = std::process::Command::new(env!("CARGO_BIN_EXE_vitals")).args(["search", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("--token-file <PATH>"), "{help}");
    assert!(help.contains("read it in `ps`: prefer --token-file"), "{help}");
}
