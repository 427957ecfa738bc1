//! A Zipkin server's API v2 (`/api/v2/…`): services and span names, trace search, traces
//! by id, the dependency links (calls and errors) and the tag keys and values it offers
//! for completion.
//!
//! Zipkin's units differ from Jaeger's: times of the search window are milliseconds
//! (`endTs`, `lookback`), durations microseconds (`minDuration`, `maxDuration`). Tag
//! filters go in `annotationQuery` (`http.route=/cart and error`); one Zipkin cannot say
//! (`error=false`, or a value holding " and ") is applied here to the traces it returns.

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde::Deserialize;

use super::http::{Answer, HttpBackend};
use super::{TraceProvider, matches, newest_first, refuse_traceql};
use crate::analysis::dependencies::{ServiceCall, parse_dependencies};
use crate::config::ProviderConfig;
use crate::error::{Error, Result};
use crate::formats::zipkin;
use crate::model::{Trace, TraceId};
use crate::query::SearchQuery;

/// Query parameters, by name.
type Params = Vec<(&'static str, String)>;

pub struct ZipkinProvider {
    http: HttpBackend,
}

impl ZipkinProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self> {
        Ok(ZipkinProvider { http: HttpBackend::new("zipkin", config)? })
    }

    async fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Answer> {
        self.http.get(self.http.url(&["api", "v2", path]), query).await
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let answer = self.get(path, query).await?;
        if !answer.status.is_success() {
            return Err(self.http.status_error(&answer));
        }
        serde_json::from_slice(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
    }

    fn traces(&self, answer: &Answer) -> Result<Vec<Trace>> {
        if !answer.status.is_success() {
            return Err(self.http.status_error(answer));
        }
        zipkin::decode(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
    }

    /// `/api/v2/traces`'s parameters for `query`, and the tag filters left for Vitals to
    /// apply because `annotationQuery` cannot say them.
    fn search_params(query: &SearchQuery) -> (Params, Vec<(String, String)>) {
        let (start_us, end_us) = query.range_or_recent();
        let mut params = vec![
            ("serviceName", query.service.clone()),
            ("endTs", (end_us / 1_000).to_string()),
            ("lookback", (end_us.saturating_sub(start_us)).div_ceil(1_000).to_string()),
            ("limit", query.limit.to_string()),
        ];
        if let Some(operation) = &query.operation {
            params.push(("spanName", operation.clone()));
        }
        // Zipkin takes a maximum only with a minimum, and a minimum only above 0.
        let min_us = query.min_duration_ns.map(|ns| ns.div_ceil(1_000).max(1));
        if let Some(min) = min_us.or(query.max_duration_ns.map(|_| 1)) {
            params.push(("minDuration", min.to_string()));
        }
        if let Some(max) = query.max_duration_ns {
            params.push(("maxDuration", (max / 1_000).to_string()));
        }
        let mut terms = Vec::new();
        let mut left = Vec::new();
        for (key, value) in &query.tags {
            match annotation(key, value) {
                Some(term) => terms.push(term),
                None => left.push((key.clone(), value.clone())),
            }
        }
        if !terms.is_empty() {
            params.push(("annotationQuery", terms.join(" and ")));
        }
        (params, left)
    }
}

/// A tag filter as a term of Zipkin's `annotationQuery`, when it can be one: `error=true`
/// is the word `error` (a span with an error tag or annotation), `key=value` an exact tag.
fn annotation(key: &str, value: &str) -> Option<String> {
    match (key, value) {
        ("error", "true") => Some("error".to_string()),
        ("error", _) => None,
        _ if key.contains([' ', '=']) || value.contains(" and ") || value.is_empty() => None,
        _ => Some(format!("{key}={value}")),
    }
}

/// A trace id as Zipkin writes it: 16 hex digits for a 64-bit id, else 32.
fn zipkin_id(id: TraceId) -> String {
    match u64::try_from(id.0) {
        Ok(low) => format!("{low:016x}"),
        Err(_) => id.to_string(),
    }
}

#[async_trait]
impl TraceProvider for ZipkinProvider {
    fn describe(&self) -> String {
        format!("zipkin at {}", self.http.endpoint())
    }

    async fn services(&self) -> Result<Vec<String>> {
        let mut services: Vec<String> = self.get_json("services", &[]).await?;
        services.sort();
        Ok(services)
    }

    async fn operations(&self, service: &str) -> Result<Vec<String>> {
        let mut names: Vec<String> = self.get_json("spans", &[("serviceName", service.to_string())]).await?;
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn search(&self, query: &SearchQuery) -> Result<Vec<Arc<Trace>>> {
        refuse_traceql(query, "Zipkin")?;
        let (params, left) = Self::search_params(query);
        let traces = self.traces(&self.get("traces", &params).await?)?;
        let rest = SearchQuery {
            tags: left,
            operation: None,
            time_range_us: None,
            min_duration_ns: None,
            max_duration_ns: None,
            ..query.clone()
        };
        let traces = traces.into_iter().filter(|t| rest.tags.is_empty() || matches(t, &rest)).collect();
        Ok(newest_first(traces, query.limit))
    }

    async fn trace(&self, id: &str) -> Result<Arc<Trace>> {
        let text = id.trim();
        let wanted = TraceId::from_hex(text)
            .ok_or_else(|| Error::invalid(format!("{text:?} is not a trace id (16 or 32 hex digits)")))?;
        let answer = self.http.get(self.http.url(&["api", "v2", "trace", &zipkin_id(wanted)]), &[]).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Err(Error::NotFound { what: format!("trace {text}"), source_name: self.describe() });
        }
        let traces = self.traces(&answer)?;
        let found = traces.into_iter().max_by_key(|t| (t.id == wanted, t.spans.len()));
        found.map(Arc::new).ok_or_else(|| self.http.bad_response("the trace holds no spans"))
    }

    /// `/api/v2/dependencies`: Zipkin's links, with their calls and errors.
    async fn dependencies(&self, end_us: u64, lookback_us: u64) -> Result<Vec<ServiceCall>> {
        let query = [("endTs", (end_us / 1_000).to_string()), ("lookback", lookback_us.div_ceil(1_000).to_string())];
        let answer = self.get("dependencies", &query).await?;
        if !answer.status.is_success() {
            return Err(self.http.status_error(&answer));
        }
        parse_dependencies(&answer.body).map_err(|e| self.http.bad_response(e.to_string()))
    }

    /// The keys Zipkin is configured to complete (`AUTOCOMPLETE_KEYS`); the same for
    /// every service.
    async fn tag_keys(&self, _service: &str) -> Result<Vec<String>> {
        let mut keys: Vec<String> = self.get_json("autocompleteKeys", &[]).await?;
        keys.sort();
        Ok(keys)
    }

    async fn tag_values(&self, _service: &str, key: &str) -> Result<Vec<String>> {
        let mut values: Vec<String> = self.get_json("autocompleteValues", &[("key", key.to_string())]).await?;
        values.sort();
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_64_bits_are_sent_as_16_digits() {
        assert_eq!(zipkin_id(TraceId(0xabc)), "0000000000000abc");
        assert_eq!(zipkin_id(TraceId(1 << 64)), "00000000000000010000000000000000");
    }

    #[test]
    fn filters_zipkin_cannot_say_are_left_to_vitals() {
        let mut query = SearchQuery::new("frontend");
        query.tags = vec![
            ("http.route".into(), "/cart".into()),
            ("error".into(), "true".into()),
            ("error".into(), "false".into()),
            ("note".into(), "this and that".into()),
        ];
        query.max_duration_ns = Some(2_000_000);
        let (params, left) = ZipkinProvider::search_params(&query);
        let param = |key: &str| params.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        assert_eq!(param("annotationQuery"), Some("http.route=/cart and error"));
        assert_eq!((param("minDuration"), param("maxDuration")), (Some("1"), Some("2000")), "µs, max with a min");
        assert_eq!(left, [("error".to_string(), "false".to_string()), ("note".into(), "this and that".into())]);
    }
}
