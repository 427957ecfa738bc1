//! Jaeger's query API v1 over the trace store, served by `vitals serve --query`: the
//! Jaeger provider, Jaeger UI, Grafana and other editors can read what Vitals received.
//!
//! `/api/services`, `/api/services/{service}/operations`, `/api/operations`,
//! `/api/traces` (Jaeger's parameters and units: `start`/`end` in µs, `minDuration` and
//! `maxDuration` as Go durations, `tags` as a JSON object, `limit`, `lookback`),
//! `/api/traces/{id}` and `/api/dependencies` (`endTs` in ms, `lookback` in ms).
//!
//! Traces are streamed out and cut at a span limit ([`stream`]); requests are answered
//! only for allowed `Host` values ([`hosts`]); no CORS headers are sent, so other
//! origins' pages cannot read it.

mod hosts;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::{Value, json};

pub use hosts::AllowedHosts;

use crate::analysis::dependencies::CallCounter;
use crate::error::{Error, Result};
use crate::providers::TraceProvider;
use crate::providers::otlp::OtlpProvider;
use crate::query::{SearchQuery, lookback_range, now_ns, parse_duration};
use crate::store::Store;

/// What the query API answers, and how much of a trace.
#[derive(Clone, Debug)]
pub struct Options {
    pub allowed_hosts: AllowedHosts,
    /// Most spans of one trace served; a larger trace is cut, with a warning.
    pub max_spans: usize,
}

/// The spans of one trace served by default.
pub const DEFAULT_MAX_SPANS: usize = 1_000_000;

struct Api {
    store: Arc<Store>,
    provider: OtlpProvider,
    options: Options,
}

pub fn router(store: Arc<Store>, options: Options) -> Router {
    let api = Arc::new(Api { provider: OtlpProvider::new(Arc::clone(&store)), store, options });
    Router::new()
        .route("/api/services", get(services))
        .route("/api/services/{service}/operations", get(operations))
        .route("/api/operations", get(operations_by_query))
        .route("/api/traces", get(search))
        .route("/api/traces/{id}", get(trace))
        .route("/api/dependencies", get(dependencies))
        .layer(middleware::from_fn_with_state(Arc::clone(&api), check_host))
        .with_state(api)
}

/// Refuses requests whose `Host` this listener does not answer (see [`hosts`]).
async fn check_host(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    if api.options.allowed_hosts.allows(host) {
        return next.run(request).await;
    }
    let host = host.unwrap_or_default();
    let name = host.rsplit_once(':').map_or(host, |(name, _)| name);
    failure(
        StatusCode::FORBIDDEN,
        format!(
            "the query API does not answer for Host {host:?}: it answers loopback names and the hosts given \
             with --query-allowed-hosts, against DNS rebinding; to allow this one, pass --query-allowed-hosts {name}"
        ),
    )
}

/// Jaeger's envelope: `{"data": …, "total": n, "limit": 0, "offset": 0, "errors": null}`.
fn data(value: Value, total: usize) -> Response {
    Json(json!({ "data": value, "total": total, "limit": 0, "offset": 0, "errors": null })).into_response()
}

fn failure(status: StatusCode, message: String) -> Response {
    let body = json!({ "data": null, "total": 0, "limit": 0, "offset": 0, "errors": [{ "code": status.as_u16(), "msg": message }] });
    (status, Json(body)).into_response()
}

fn answer(outcome: Result<Response>) -> Response {
    outcome.unwrap_or_else(|e| match e {
        Error::NotFound { .. } => failure(StatusCode::NOT_FOUND, "trace not found".to_string()),
        Error::Invalid(message) => failure(StatusCode::BAD_REQUEST, message),
        other => failure(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    })
}

async fn services(State(api): State<Arc<Api>>) -> Response {
    answer(api.provider.services().await.map(|s| data(json!(s), s.len())))
}

async fn operations(State(api): State<Arc<Api>>, Path(service): Path<String>) -> Response {
    answer(api.provider.operations(&service).await.map(|o| data(json!(o), o.len())))
}

async fn operations_by_query(State(api): State<Arc<Api>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let service = params.get("service").cloned().unwrap_or_default();
    answer(api.provider.operations(&service).await.map(|ops| {
        let listed: Vec<Value> = ops.iter().map(|name| json!({ "name": name, "spanKind": "" })).collect();
        data(json!(listed), listed.len())
    }))
}

async fn search(State(api): State<Arc<Api>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let max_spans = api.options.max_spans;
    answer(async { api.provider.search(&search_query(&params)?).await.map(|t| stream::traces(t, max_spans)) }.await)
}

async fn trace(State(api): State<Arc<Api>>, Path(id): Path<String>) -> Response {
    answer(api.provider.trace(&id).await.map(|t| stream::traces(vec![t], api.options.max_spans)))
}

async fn dependencies(State(api): State<Arc<Api>>, Query(params): Query<HashMap<String, String>>) -> Response {
    let number = |key: &str| params.get(key).and_then(|v| v.parse::<u64>().ok());
    let end_ns = number("endTs").map_or_else(now_ns, |ms| ms.saturating_mul(1_000_000));
    let lookback_ns = number("lookback").map_or(24 * 3600 * 1_000_000_000, |ms| ms.saturating_mul(1_000_000));
    let store = Arc::clone(&api.store);
    // Every trace in the window counts, as Jaeger's own dependency job counts every span.
    let calls = tokio::task::spawn_blocking(move || {
        let mut counter = CallCounter::default();
        store.for_each_trace(end_ns.saturating_sub(lookback_ns), end_ns, |trace| counter.add(trace))?;
        Ok(counter.calls())
    })
    .await;
    answer(match calls {
        Ok(Ok(calls)) => Ok(data(json!(calls), calls.len())),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::Internal(format!("reading the store failed: {e}"))),
    })
}

/// Jaeger's search parameters into a query; bad values are a 400 that says which.
fn search_query(params: &HashMap<String, String>) -> Result<SearchQuery> {
    let get = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
    let service = get("service").ok_or_else(|| Error::invalid("parameter 'service' is required"))?;
    let mut query = SearchQuery::new(service);
    query.operation = get("operation").map(str::to_string);
    let micros = |key: &str| {
        get(key).map(|v| {
            v.parse::<u64>().map_err(|_| Error::invalid(format!("'{key}' must be µs since the epoch, got {v:?}")))
        })
    };
    query.time_range_us = match (micros("start").transpose()?, micros("end").transpose()?) {
        (Some(start), Some(end)) => Some((start, end)),
        (start, end) => {
            let lookback = get("lookback").map(parse_duration).transpose()?.unwrap_or(Duration::from_secs(3600));
            let (recent_start, recent_end) = lookback_range(lookback);
            Some((start.unwrap_or(recent_start), end.unwrap_or(recent_end)))
        }
    };
    let nanos = |d: Duration| d.as_nanos().min(u64::MAX as u128) as u64;
    query.min_duration_ns = get("minDuration").map(parse_duration).transpose()?.map(nanos);
    query.max_duration_ns = get("maxDuration").map(parse_duration).transpose()?.map(nanos);
    if let Some(limit) = get("limit") {
        query.limit = limit.parse().map_err(|_| Error::invalid(format!("'limit' must be a number, got {limit:?}")))?;
    }
    if let Some(tags) = get("tags") {
        let parsed: HashMap<String, Value> =
            serde_json::from_str(tags).map_err(|e| Error::invalid(format!("'tags' must be a JSON object: {e}")))?;
        query.tags =
            parsed.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect();
    }
    Ok(query)
}
