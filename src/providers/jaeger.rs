//! Jaeger's query service: the v1 JSON API (`/api/…`) first, and api/v3 (`/api/v3/…`)
//! when v1 is absent, as in Jaeger releases after v2.20 that removed v1 search.
//!
//! Which API answered is remembered, so only the first request of a session pays for
//! the probe.

use std::sync::atomic::{AtomicU8, Ordering};

use std::sync::Arc;

use async_trait::async_trait;

use crate::analysis::dependencies::{ServiceCall, parse_dependencies};
use reqwest::StatusCode;
use serde::Deserialize;

use super::http::{Answer, HttpBackend};
use super::{TraceProvider, matches, newest_first, refuse_traceql};
use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::formats;
use crate::model::Trace;
use crate::query::SearchQuery;

const UNKNOWN: u8 = 0;
const V1: u8 = 1;
const V3: u8 = 3;

pub struct JaegerProvider {
    http: HttpBackend,
    api: AtomicU8,
}

impl JaegerProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        Ok(JaegerProvider { http: HttpBackend::new("jaeger", config)?, api: AtomicU8::new(UNKNOWN) })
    }

    /// Runs the v1 request unless v3 is known to be the one; falls back to v3 when v1
    /// answers 404 or 405, and remembers whichever worked.
    async fn with_fallback<T>(
        &self,
        v1: impl AsyncFnOnce() -> Result<Option<T>>,
        v3: impl AsyncFnOnce() -> Result<Option<T>>,
    ) -> Result<T> {
        if self.api.load(Ordering::Relaxed) != V3
            && let Some(found) = v1().await?
        {
            self.api.store(V1, Ordering::Relaxed);
            return Ok(found);
        }
        match v3().await? {
            Some(found) => {
                self.api.store(V3, Ordering::Relaxed);
                Ok(found)
            }
            None => Err(self.http.bad_response(
                "neither the v1 (/api) nor the api/v3 query API is there; is this Jaeger's query port (usually 16686)?",
            )),
        }
    }

    /// `Ok(None)` when the route does not exist (the cue to try the other API).
    async fn fetch(&self, segments: &[&str], query: &[(&str, String)]) -> Result<Option<Answer>> {
        let answer = self.http.get(self.http.url(segments), query).await?;
        match answer.status {
            s if s.is_success() => Ok(Some(answer)),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED if !is_jaeger_not_found(&answer.body) => Ok(None),
            _ => Ok(Some(answer)),
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, answer: &Answer) -> Result<T> {
        if !answer.status.is_success() {
            return Err(self.http.status_error(answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.http.bad_response(format!("{e}")))
    }

    fn traces(&self, answer: &Answer) -> Result<Vec<Trace>> {
        if !answer.status.is_success() {
            return Err(self.http.status_error(answer));
        }
        formats::decode(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
    }

    fn not_found(&self, id: &str) -> Error {
        Error::NotFound { what: format!("trace {id}"), source_name: self.describe() }
    }
}

/// Jaeger answers a missing *trace* with 404 too, but with a JSON error body; only a
/// bare 404 means the route itself is missing.
fn is_jaeger_not_found(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|json| json.pointer("/errors/0/msg").is_some() || json.pointer("/error/message").is_some())
}

#[derive(Deserialize)]
struct V1List {
    #[serde(default)]
    data: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct V3Services {
    #[serde(default)]
    services: Vec<String>,
}

#[derive(Deserialize)]
struct V3Operations {
    #[serde(default)]
    operations: Vec<V3Operation>,
}

#[derive(Deserialize)]
struct V3Operation {
    name: String,
}

/// Go's duration syntax, which both APIs parse: whole milliseconds when exact, else µs.
fn go_duration(ns: u64) -> String {
    if ns.is_multiple_of(1_000_000) { format!("{}ms", ns / 1_000_000) } else { format!("{}us", ns / 1_000) }
}

fn rfc3339(us: u64) -> String {
    humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(us)).to_string()
}

#[async_trait]
impl TraceProvider for JaegerProvider {
    fn describe(&self) -> String {
        format!("jaeger at {}", self.http.endpoint())
    }

    async fn services(&self) -> Result<Vec<String>> {
        let mut services = self
            .with_fallback(
                async || match self.fetch(&["api", "services"], &[]).await? {
                    Some(answer) => Ok(Some(self.json::<V1List>(&answer)?.data.unwrap_or_default())),
                    None => Ok(None),
                },
                async || match self.fetch(&["api", "v3", "services"], &[]).await? {
                    Some(answer) => Ok(Some(self.json::<V3Services>(&answer)?.services)),
                    None => Ok(None),
                },
            )
            .await?;
        services.sort();
        Ok(services)
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        let mut operations = self
            .with_fallback(
                async || match self.fetch(&["api", "services", service, "operations"], &[]).await? {
                    Some(answer) => Ok(Some(self.json::<V1List>(&answer)?.data.unwrap_or_default())),
                    None => Ok(None),
                },
                async || match self.fetch(&["api", "v3", "operations"], &[("service", service.to_string())]).await? {
                    Some(answer) => {
                        Ok(Some(self.json::<V3Operations>(&answer)?.operations.into_iter().map(|o| o.name).collect()))
                    }
                    None => Ok(None),
                },
            )
            .await?;
        operations.sort();
        operations.dedup();
        Ok(operations)
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        refuse_traceql(query, "Jaeger")?;
        let (start, end) = query.range_or_recent();
        let traces = self
            .with_fallback(
                async || {
                    let mut params = vec![
                        ("service", query.service.clone()),
                        ("start", start.to_string()),
                        ("end", end.to_string()),
                        ("limit", query.limit.to_string()),
                    ];
                    if let Some(operation) = &query.operation {
                        params.push(("operation", operation.clone()));
                    }
                    if !query.tags.is_empty() {
                        let tags: serde_json::Map<String, serde_json::Value> =
                            query.tags.iter().map(|(k, v)| (k.clone(), v.clone().into())).collect();
                        params.push(("tags", serde_json::Value::Object(tags).to_string()));
                    }
                    if let Some(min) = query.min_duration_ns {
                        params.push(("minDuration", go_duration(min)));
                    }
                    if let Some(max) = query.max_duration_ns {
                        params.push(("maxDuration", go_duration(max)));
                    }
                    match self.fetch(&["api", "traces"], &params).await? {
                        Some(answer) => self.traces(&answer).map(Some),
                        None => Ok(None),
                    }
                },
                async || {
                    let mut params = vec![
                        ("query.service_name", query.service.clone()),
                        ("query.start_time_min", rfc3339(start)),
                        ("query.start_time_max", rfc3339(end)),
                        ("query.search_depth", query.limit.to_string()),
                    ];
                    if let Some(operation) = &query.operation {
                        params.push(("query.operation_name", operation.clone()));
                    }
                    if let Some(min) = query.min_duration_ns {
                        params.push(("query.duration_min", go_duration(min)));
                    }
                    if let Some(max) = query.max_duration_ns {
                        params.push(("query.duration_max", go_duration(max)));
                    }
                    match self.fetch(&["api", "v3", "traces"], &params).await? {
                        // api/v3 answers an empty search with a "not found" error.
                        Some(answer) if answer.status == StatusCode::NOT_FOUND => Ok(Some(Vec::new())),
                        // api/v3 has no tag filter over HTTP: the tags are applied here.
                        Some(answer) => {
                            Ok(Some(self.traces(&answer)?.into_iter().filter(|t| matches_tags(t, query)).collect()))
                        }
                        None => Ok(None),
                    }
                },
            )
            .await?;
        Ok(newest_first(traces, query.limit))
    }

    /// `/api/dependencies` of the v1 API (api/v3 has none: then there are none).
    async fn dependencies(&self, end_us: u64, lookback_us: u64) -> Result<Vec<ServiceCall>> {
        let query = [("endTs", (end_us / 1000).to_string()), ("lookback", (lookback_us / 1000).to_string())];
        match self.fetch(&["api", "dependencies"], &query).await? {
            Some(answer) if answer.status.is_success() => {
                parse_dependencies(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
            }
            Some(answer) => Err(self.http.status_error(&answer)),
            None => Ok(Vec::new()),
        }
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let id = id.trim();
        let traces = self
            .with_fallback(
                async || match self.fetch(&["api", "traces", id], &[]).await? {
                    Some(answer) if answer.status == StatusCode::NOT_FOUND => Ok(Some(Vec::new())),
                    Some(answer) => self.traces(&answer).map(Some),
                    None => Ok(None),
                },
                async || match self.fetch(&["api", "v3", "traces", id], &[]).await? {
                    Some(answer) if answer.status == StatusCode::NOT_FOUND => Ok(Some(Vec::new())),
                    Some(answer) => self.traces(&answer).map(Some),
                    None => Ok(None),
                },
            )
            .await?;
        traces.into_iter().max_by_key(|t| t.spans.len()).map(Arc::new).ok_or_else(|| self.not_found(id))
    }
}

fn matches_tags(trace: &Trace, query: &SearchQuery) -> bool {
    query.tags.is_empty()
        || matches(
            trace,
            &SearchQuery { time_range_us: None, min_duration_ns: None, max_duration_ns: None, ..query.clone() },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_go_syntax_and_times_rfc3339() {
        assert_eq!(go_duration(1_000_000_000), "1000ms");
        assert_eq!(go_duration(1_500_000), "1500us");
        assert_eq!(rfc3339(1_700_000_000_000_000), "2023-11-14T22:13:20.000000Z");
    }
}
