//! Grafana Tempo (and Tempo-compatible stores): TraceQL search, traces by id, and tag
//! names and values, over Tempo's HTTP API, with `X-Scope-OrgID` for a multi-tenant one.
//!
//! Tempo's search answers with the spans of each trace that matched (span sets), not the
//! trace: a result list shows them as such ("3 of 48 spans matched"), and a trace is
//! fetched whole when opened, or when a command analyzes the traces a search found.
//!
//! Ids: search results carry hex trace ids with their leading zeros trimmed, traces carry
//! base64 ids; both become the same [`TraceId`].

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::http::{Answer, HttpBackend};
use super::{Listed, TraceProvider, newest_first, traceql};
use crate::analysis::TraceSummary;
use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::formats::otlp_json;
use crate::model::{Trace, TraceId};
use crate::query::{DEFAULT_LOOKBACK, SearchQuery, lookback_range};

/// Spans of each span set Tempo returns with a search result. Only how many matched is
/// shown (`matched` counts them all), so one is enough.
const SPANS_PER_SPAN_SET: usize = 1;

/// Whole traces fetched at once for the commands that analyze a search's traces.
const FETCHES_AT_ONCE: usize = 8;

pub struct TempoProvider {
    http: HttpBackend,
    /// Set once a Tempo without `/api/v2/traces` (before 2.5) answered on `/api/traces`.
    traces_v1: AtomicBool,
}

impl TempoProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        let mut http = HttpBackend::new("tempo", config)?;
        if let Some(tenant) = config.tenant() {
            http = http.with_header("x-scope-orgid", tenant, "tenant")?;
        }
        Ok(TempoProvider { http, traces_v1: AtomicBool::new(false) })
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, segments: &[&str], query: &[(&str, String)]) -> Result<T> {
        let answer = self.http.get(self.http.url(segments), query).await?;
        if !answer.status.is_success() {
            return Err(self.http.status_error(&answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
    }

    /// The values of the TraceQL attribute `tag` on the spans of `service` (every
    /// service's when empty) in the last hour, sorted.
    async fn values_of(&self, tag: &str, service: &str) -> Result<Vec<String>> {
        let mut query = recent();
        if let Some(q) = traceql::of_service(service) {
            query.push(("q", q));
        }
        let answer: TagValues = self.get_json(&["api", "v2", "search", "tag", tag, "values"], &query).await?;
        let values: BTreeSet<String> = answer.tag_values.into_iter().map(|v| v.value).collect();
        Ok(values.into_iter().collect())
    }

    /// Tempo's search: the span sets of the matching traces, as a result list shows them.
    async fn span_sets(&self, query: &SearchQuery) -> Result<Vec<Listed>> {
        let (start_us, end_us) = query.range_or_recent();
        let params = [
            ("q", traceql::of(query)),
            ("start", (start_us / 1_000_000).to_string()),
            ("end", end_us.div_ceil(1_000_000).to_string()),
            ("limit", query.limit.to_string()),
            ("spss", SPANS_PER_SPAN_SET.to_string()),
        ];
        let answer: SearchAnswer = self.get_json(&["api", "search"], &params).await?;
        let mut listed: Vec<Listed> = answer
            .traces
            .into_iter()
            .map(|found| found.summary().map(|summary| Listed { summary, trace: None }))
            .collect::<Option<_>>()
            .ok_or_else(|| self.http.bad_response("a search result's traceID is not a hex trace id"))?;
        listed.sort_by_key(|l| std::cmp::Reverse(l.summary.start_ns));
        listed.truncate(query.limit);
        Ok(listed)
    }

    /// The whole trace, or `None` when Tempo does not have it.
    async fn whole(&self, id: TraceId) -> Result<Option<Trace>> {
        let hex = id.to_string();
        if !self.traces_v1.load(Ordering::Relaxed) {
            let answer = self.http.get(self.http.url(&["api", "v2", "traces", &hex]), &[]).await?;
            if answer.status != StatusCode::NOT_FOUND {
                return self.decode_v2(id, &answer);
            }
        }
        // Tempo before 2.5 has no v2 route; a 404 there may also mean no such trace.
        let answer = self.http.get(self.http.url(&["api", "traces", &hex]), &[]).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            status if status.is_success() => {
                self.traces_v1.store(true, Ordering::Relaxed);
                self.decode(id, &answer.body).map(Some)
            }
            _ => Err(self.http.status_error(&answer)),
        }
    }

    /// `{"trace": {…}, "status": "PARTIAL", "message": …}`: a trace with no spans is a
    /// trace Tempo does not have; a partial one says why in its warnings.
    fn decode_v2(&self, id: TraceId, answer: &Answer) -> Result<Option<Trace>> {
        if !answer.status.is_success() {
            return Err(self.http.status_error(answer));
        }
        let head: V2Head = serde_json::from_slice(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))?;
        if head.trace.and_then(|t| t.resource_spans).is_none() {
            return Ok(None);
        }
        let mut trace = self.decode(id, &answer.body)?;
        if head.status.as_deref() == Some("PARTIAL") {
            let why = head.message.unwrap_or_else(|| "Tempo returned part of the trace".to_string());
            trace.warnings.push(format!("partial trace: {why}"));
        }
        Ok(Some(trace))
    }

    fn decode(&self, id: TraceId, body: &[u8]) -> Result<Trace> {
        let traces = otlp_json::decode(body).map_err(|e| self.http.bad_response(e.to_string()))?;
        let mut traces = traces.into_iter();
        let mut found = traces.next().ok_or_else(|| self.http.bad_response("the trace holds no spans"))?;
        for other in traces {
            if other.id == id || (found.id != id && other.spans.len() > found.spans.len()) {
                found = other;
            }
        }
        Ok(found)
    }

    fn not_found(&self, id: &str) -> Error {
        Error::NotFound { what: format!("trace {id}"), source_name: self.describe() }
    }
}

/// `start` and `end` (Unix seconds) of the last hour: without them Tempo looks only at
/// its most recent data.
fn recent() -> Vec<(&'static str, String)> {
    let (start_us, end_us) = lookback_range(DEFAULT_LOOKBACK);
    vec![("start", (start_us / 1_000_000).to_string()), ("end", end_us.div_ceil(1_000_000).to_string())]
}

/// A trace id as a user may have it from Tempo: hex (leading zeros trimmed or not), or
/// the base64 of its 16 bytes that Tempo's trace documents use.
pub fn parse_trace_id(text: &str) -> Option<TraceId> {
    TraceId::from_hex(text).or_else(|| {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
        TraceId::from_bytes(&bytes)
    })
}

#[derive(Deserialize)]
struct SearchAnswer {
    #[serde(default)]
    traces: Vec<SearchResult>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResult {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(default)]
    root_service_name: String,
    #[serde(default)]
    root_trace_name: String,
    #[serde(default)]
    start_time_unix_nano: Number,
    #[serde(default)]
    duration_ms: Number,
    /// Older Tempo's single span set.
    #[serde(default)]
    span_set: Option<SpanSet>,
    #[serde(default)]
    span_sets: Vec<SpanSet>,
    #[serde(default)]
    service_stats: HashMap<String, ServiceStats>,
}

#[derive(Deserialize)]
struct SpanSet {
    #[serde(default)]
    matched: Number,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceStats {
    #[serde(default)]
    span_count: Number,
    #[serde(default)]
    error_count: Number,
}

/// A protobuf integer in JSON: a number, or a string for 64-bit ones.
#[derive(Default, Deserialize)]
#[serde(from = "NumberText")]
struct Number(u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberText {
    Number(u64),
    Text(String),
}

impl From<NumberText> for Number {
    fn from(value: NumberText) -> Self {
        match value {
            NumberText::Number(n) => Number(n),
            NumberText::Text(text) => Number(text.trim().parse().unwrap_or(0)),
        }
    }
}

impl SearchResult {
    /// The line a result list shows; `None` when the id is not a trace id.
    fn summary(self) -> Option<TraceSummary> {
        let id = TraceId::from_hex(&self.trace_id)?;
        let span_sets = if self.span_sets.is_empty() { self.span_set.into_iter().collect() } else { self.span_sets };
        let matched = (!span_sets.is_empty()).then(|| span_sets.iter().map(|s| s.matched.0 as usize).sum());
        let mut services: Vec<(String, ServiceStats)> = self.service_stats.into_iter().collect();
        // The root's service first, as the other backends' summaries list them.
        services.sort_by(|(a, _), (b, _)| (a != &self.root_service_name, a).cmp(&(b != &self.root_service_name, b)));
        Some(TraceSummary {
            trace_id: id.to_string(),
            root_service: self.root_service_name,
            root_operation: self.root_trace_name,
            start_ns: self.start_time_unix_nano.0,
            duration_ns: self.duration_ms.0.saturating_mul(1_000_000),
            span_count: services.iter().map(|(_, s)| s.span_count.0 as usize).sum(),
            error_count: services.iter().map(|(_, s)| s.error_count.0 as usize).sum(),
            services: services.into_iter().map(|(name, _)| name).collect(),
            matched_spans: matched,
        })
    }
}

#[derive(Deserialize)]
struct V2Head {
    #[serde(default)]
    trace: Option<V2Trace>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct V2Trace {
    #[serde(default, rename = "resourceSpans", alias = "batches")]
    resource_spans: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct TagValues {
    #[serde(default, rename = "tagValues")]
    tag_values: Vec<TagValue>,
}

#[derive(Deserialize)]
struct TagValue {
    #[serde(default)]
    value: String,
}

#[derive(Deserialize)]
struct TagScopes {
    #[serde(default)]
    scopes: Vec<TagScope>,
}

#[derive(Deserialize)]
struct TagScope {
    name: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[async_trait]
impl TraceProvider for TempoProvider {
    fn describe(&self) -> String {
        format!("tempo at {}", self.http.endpoint())
    }

    async fn services(&self) -> Result<Vec<String>> {
        self.values_of("resource.service.name", "").await
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        self.values_of("name", service).await
    }

    async fn search_list(&self, query: &SearchQuery) -> Result<Vec<Listed>> {
        self.span_sets(query).await
    }

    /// The search's traces fetched whole (a few at a time); one that Tempo no longer has
    /// by the time it is fetched is left out.
    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        let ids: Vec<TraceId> = self
            .span_sets(query)
            .await?
            .into_iter()
            .filter_map(|listed| TraceId::from_hex(&listed.summary.trace_id))
            .collect();
        let traces: Vec<Option<Trace>> =
            futures::stream::iter(ids).map(|id| self.whole(id)).buffered(FETCHES_AT_ONCE).try_collect().await?;
        Ok(newest_first(traces.into_iter().flatten().collect(), query.limit))
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let text = id.trim();
        let wanted = parse_trace_id(text).ok_or_else(|| {
            Error::invalid(format!("{text:?} is not a trace id (up to 32 hex digits, or Tempo's base64)"))
        })?;
        self.whole(wanted).await?.map(Arc::new).ok_or_else(|| self.not_found(text))
    }

    /// The span and resource attribute names Tempo saw on `service`'s spans in the last
    /// hour (a filter's key matches either).
    async fn tag_keys(&self, service: &str) -> Result<Vec<String>> {
        let mut query = recent();
        if let Some(q) = traceql::of_service(service) {
            query.push(("q", q));
        }
        let answer: TagScopes = self.get_json(&["api", "v2", "search", "tags"], &query).await?;
        let keys: BTreeSet<String> = answer
            .scopes
            .into_iter()
            .filter(|scope| scope.name == "span" || scope.name == "resource")
            .flat_map(|scope| scope.tags)
            .collect();
        Ok(keys.into_iter().collect())
    }

    async fn tag_values(&self, service: &str, key: &str) -> Result<Vec<String>> {
        self.values_of(&traceql::attribute(key), service).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_are_read_from_trimmed_hex_and_base64() {
        let full = "000000000000000000000000000abc12";
        assert_eq!(parse_trace_id("abc12").unwrap().to_string(), full);
        assert_eq!(parse_trace_id(full).unwrap().to_string(), full);
        assert_eq!(parse_trace_id("AAAAAAAAAAAAAAAAAAq8Eg==").unwrap().to_string(), full);
        assert!(parse_trace_id("not an id").is_none());
    }

    #[test]
    fn a_search_result_lists_its_matching_spans_against_the_traces_spans() {
        let result: SearchResult = serde_json::from_str(
            r#"{"traceID":"2f3e0cee77ae5dc9c17ade3689eb2","rootServiceName":"shop-backend","rootTraceName":"update-billing",
            "startTimeUnixNano":"1684778327699392724","durationMs":557,
            "spanSets":[{"spans":[{"spanID":"563d623c76514f8e","startTimeUnixNano":"1684778327735077898","durationNanos":"446979497"}],"matched":3}],
            "serviceStats":{"postgres":{"spanCount":40,"errorCount":2},"shop-backend":{"spanCount":8}}}"#,
        )
        .unwrap();
        let summary = result.summary().unwrap();
        assert_eq!(summary.trace_id, "0002f3e0cee77ae5dc9c17ade3689eb2");
        assert_eq!((summary.span_count, summary.matched_spans, summary.error_count), (48, Some(3), 2));
        assert_eq!(summary.services, ["shop-backend", "postgres"], "the root's service first");
        assert_eq!((summary.start_ns, summary.duration_ns), (1_684_778_327_699_392_724, 557_000_000));
    }
}
