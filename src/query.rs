//! What a user asks a backend for, in the units the model uses, plus the parsing of the
//! human forms (`1s`, `250ms`, `2h`, `http.status_code=500`) shared by commands and flags.
//!
//! Below both the store and the providers (the `otlp` provider wraps the store), so that
//! neither reaches up into the other for it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model::Span;

/// How far back a search looks when the user does not say (Jaeger UI's default).
pub const DEFAULT_LOOKBACK: Duration = Duration::from_secs(3600);
pub const DEFAULT_LIMIT: usize = 20;

#[derive(Clone, Debug, PartialEq)]
pub struct SearchQuery {
    pub service: String,
    pub operation: Option<String>,
    /// Span attributes that must match exactly.
    pub tags: Vec<(String, String)>,
    /// Unix time range in microseconds, as Jaeger takes it; `None` means "no bound"
    /// for providers that can search everything, and the last hour for Jaeger.
    pub time_range_us: Option<(u64, u64)>,
    pub min_duration_ns: Option<u64>,
    pub max_duration_ns: Option<u64>,
    pub limit: usize,
    /// A TraceQL query as the user typed it, for the backends that speak TraceQL (Tempo):
    /// it replaces the service, operation, filters and durations; the time range and
    /// limit still apply.
    pub traceql: Option<String>,
}

impl SearchQuery {
    pub fn new(service: impl Into<String>) -> Self {
        SearchQuery {
            service: service.into(),
            operation: None,
            tags: Vec::new(),
            time_range_us: None,
            min_duration_ns: None,
            max_duration_ns: None,
            limit: DEFAULT_LIMIT,
            traceql: None,
        }
    }

    /// The time range to send to a backend that needs one.
    pub fn range_or_recent(&self) -> (u64, u64) {
        self.time_range_us.unwrap_or_else(|| lookback_range(DEFAULT_LOOKBACK))
    }
}

/// The arguments of a search as a user types them (`:VitalsSearch`, `vitals search`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SearchArgs {
    pub service: String,
    pub operation: Option<String>,
    pub tags: Vec<String>,
    pub min_duration: Option<String>,
    pub max_duration: Option<String>,
    pub limit: Option<usize>,
    pub lookback: Option<String>,
    /// A TraceQL query (Tempo); an argument starting with `{` is taken for one too.
    pub traceql: Option<String>,
}

impl SearchArgs {
    pub fn to_query(&self) -> Result<SearchQuery> {
        let query = self.to_filter()?;
        if query.traceql.is_none() && query.service.is_empty() {
            return Err(Error::invalid("A search needs a service name"));
        }
        Ok(query)
    }

    /// The query as a filter over traces as they arrive (the live tail), where the service
    /// may be left out: then a span of any service matches (see [`crate::providers::matches`]).
    pub fn to_filter(&self) -> Result<SearchQuery> {
        let traceql = self.traceql()?;
        let query = SearchQuery {
            service: if traceql.is_some() && is_traceql(&self.service) {
                String::new()
            } else {
                self.service.trim().into()
            },
            operation: blank_to_none(&self.operation).map(str::to_string),
            tags: self.tags.iter().filter(|t| !is_traceql(t)).map(|t| parse_tag(t)).collect::<Result<_>>()?,
            time_range_us: blank_to_none(&self.lookback).map(parse_duration).transpose()?.map(lookback_range),
            min_duration_ns: blank_to_none(&self.min_duration).map(parse_duration).transpose()?.map(as_ns),
            max_duration_ns: blank_to_none(&self.max_duration).map(parse_duration).transpose()?.map(as_ns),
            limit: self.limit.filter(|&l| l > 0).unwrap_or(DEFAULT_LIMIT),
            traceql,
        };
        if query.traceql.is_some()
            && (query.operation.is_some()
                || !query.tags.is_empty()
                || query.min_duration_ns.is_some()
                || query.max_duration_ns.is_some())
        {
            return Err(Error::invalid(
                "A TraceQL query stands alone: write the operation, filters and durations inside it, e.g. \
                 { name = \"GET /cart\" && span.http.route = \"/cart\" && duration > 1s }",
            ));
        }
        Ok(query)
    }

    /// Reads the words of a search as `:VitalsSearch` takes them (lua/vitals/search.lua
    /// reads them by the same rules, for the editor's completion): a word holding `=` is a
    /// filter wherever it stands, either one of `service`, `operation` (`name`),
    /// `minDuration`, `maxDuration`, `limit`, `lookback` or an attribute to match
    /// (`http.route=/cart`, `error=true`); a word in braces is a TraceQL query; other words
    /// go by their shape: the first is the service (unless it is a number or a duration
    /// beside a TraceQL query), a duration the minimum duration (a second one, or one after
    /// the limit, the lookback), a number the limit, another word the operation, and `*`
    /// leaves a place open.
    pub fn from_words<S: AsRef<str>>(words: &[S]) -> Result<SearchArgs> {
        let mut args = SearchArgs::default();
        let mut plain = Vec::new();
        for word in words.iter().map(|w| w.as_ref().trim()) {
            if is_traceql(word) {
                args.traceql = Some(word.to_string());
            } else if let Some((key, value)) = word.split_once('=').filter(|(key, _)| !key.is_empty()) {
                let value = value.to_string();
                match key {
                    "service" => args.service = value,
                    "operation" | "name" => args.operation = Some(value),
                    "minDuration" | "min_duration" | "min-duration" => args.min_duration = Some(value),
                    "maxDuration" | "max_duration" | "max-duration" => args.max_duration = Some(value),
                    "limit" => args.limit = Some(parse_limit(&value)?),
                    "lookback" => args.lookback = Some(value),
                    _ => args.tags.push(word.to_string()),
                }
            } else if !word.is_empty() {
                plain.push(word);
            }
        }
        for (i, word) in plain.into_iter().enumerate() {
            let shaped = is_duration_word(word) || is_count(word);
            if i == 0 && args.service.is_empty() && !(args.traceql.is_some() && shaped) {
                if word != "*" {
                    args.service = word.to_string();
                }
            } else if word == "*" {
                // Leaves the operation open, as before the durations.
            } else if is_duration_word(word) {
                if args.min_duration.is_none() && args.limit.is_none() {
                    args.min_duration = Some(word.to_string());
                } else {
                    args.lookback.get_or_insert_with(|| word.to_string());
                }
            } else if is_count(word) {
                if args.limit.is_none() {
                    args.limit = Some(parse_limit(word)?);
                }
            } else {
                args.operation.get_or_insert_with(|| word.to_string());
            }
        }
        Ok(args)
    }

    /// The TraceQL query: the `traceql` argument, or the one argument (the service or a
    /// filter) that starts with `{`, as the editor's command line hands it over.
    fn traceql(&self) -> Result<Option<String>> {
        let mut found: Vec<&str> = self.traceql.iter().map(|q| q.trim()).filter(|q| !q.is_empty()).collect();
        found.extend(std::iter::once(&self.service).chain(&self.tags).map(|a| a.trim()).filter(|a| is_traceql(a)));
        match found.as_slice() {
            [] => Ok(None),
            [query] => Ok(Some(query.to_string())),
            _ => Err(Error::invalid("Give one TraceQL query at a time")),
        }
    }
}

fn parse_limit(text: &str) -> Result<usize> {
    text.trim().parse().map_err(|_| Error::invalid(format!("the limit {text:?} is not a number")))
}

fn is_count(word: &str) -> bool {
    !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a word reads as a duration: `250ms`, `1.5s`, `6h`, `1h30m`.
fn is_duration_word(word: &str) -> bool {
    let digits = |s: &str| s.bytes().take_while(u8::is_ascii_digit).count();
    let letters = |s: &str| s.bytes().take_while(u8::is_ascii_alphabetic).count();
    let whole = digits(word);
    if whole == 0 {
        return false;
    }
    let rest = &word[whole..];
    // `1.5s`: a fraction, then the unit.
    let rest = match rest.strip_prefix('.') {
        Some(fraction) => &fraction[digits(fraction)..],
        None => rest,
    };
    let unit = letters(rest);
    if unit == 0 {
        return false;
    }
    let rest = &rest[unit..];
    if rest.is_empty() {
        return true;
    }
    // `1h30m`: a second number and its unit, and nothing after.
    let more = digits(rest);
    more > 0 && rest.len() > more && letters(&rest[more..]) == rest.len() - more
}

/// Whether an argument is a TraceQL query rather than a name or a `key=value` filter.
fn is_traceql(argument: &str) -> bool {
    argument.trim_start().starts_with('{')
}

/// An argument left blank, or given as `*` or `all` (so that later positional arguments
/// can be given without this one), means "not set".
fn blank_to_none(arg: &Option<String>) -> Option<&str> {
    arg.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "*" && *s != "all")
}

/// `250ms`, `1.5s`, `2h`, `1h30m`; a bare number means milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<f64>()
        && ms >= 0.0
        && ms.is_finite()
    {
        return Ok(Duration::from_secs_f64(ms / 1000.0));
    }
    if let Some(seconds) = decimal_seconds(text) {
        return Ok(seconds);
    }
    humantime::parse_duration(text)
        .map_err(|e| Error::invalid(format!("{text:?} is not a duration like 250ms, 1.5s or 2h ({e})")))
}

/// humantime has no fractions: `1.5s` is read here as 1 s + 500 ms.
fn decimal_seconds(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s').filter(|n| !n.ends_with(['m', 'µ', 'u', 'n']))?;
    let value: f64 = number.parse().ok().filter(|v: &f64| *v >= 0.0 && v.is_finite())?;
    Some(Duration::from_secs_f64(value))
}

/// `key=value` (or `key:value`). `status=error` asks for failed spans, as `error=true`
/// does (Jaeger's name for them, which [`span_has_tag`] also finds by status).
fn parse_tag(text: &str) -> Result<(String, String)> {
    let (key, value) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| Error::invalid(format!("{text:?} is not a tag filter like http.status_code=500")))?;
    if key == "status" && value.eq_ignore_ascii_case("error") {
        return Ok(("error".to_string(), "true".to_string()));
    }
    Ok((key, value))
}

/// Whether a span carries `key=value`, among its attributes or its resource's; `error=true`
/// also holds for a span whose status is an error (OTLP has no error attribute).
pub fn span_has_tag(span: &Span, key: &str, value: &str) -> bool {
    (key == "error" && value == "true" && span.is_error())
        || span.attributes.iter().chain(&span.resource.attributes).any(|a| a.key == key && a.value.to_string() == value)
}

fn as_ns(d: Duration) -> u64 {
    d.as_nanos().min(u64::MAX as u128) as u64
}

pub fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(as_ns).unwrap_or(0)
}

/// `[now - lookback, now]` in microseconds.
pub fn lookback_range(lookback: Duration) -> (u64, u64) {
    let end = now_ns() / 1_000;
    (end.saturating_sub(lookback.as_micros() as u64), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> SearchArgs {
        SearchArgs::from_words(&line.split(' ').collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn search_words_are_read_as_vitals_search_reads_them() {
        let args = words("checkout http.route=/cart 500ms");
        assert_eq!((args.service.as_str(), args.min_duration.as_deref()), ("checkout", Some("500ms")));
        assert_eq!(args.tags, ["http.route=/cart"]);
        let args = words("frontend status=error GET 2 6h maxDuration=2s");
        assert_eq!(args.operation.as_deref(), Some("GET"));
        assert_eq!(
            (args.limit, args.lookback.as_deref(), args.max_duration.as_deref()),
            (Some(2), Some("6h"), Some("2s"))
        );
        assert_eq!(args.tags, ["status=error"]);
        let args = words("web * 250ms 5 1h30m");
        assert_eq!((args.operation, args.min_duration.as_deref()), (None, Some("250ms")));
        assert_eq!((args.limit, args.lookback.as_deref()), (Some(5), Some("1h30m")));
        // A duration after the limit is the lookback, as the positions go.
        let args = words("limit=3 operation=GET service=api 1.5s");
        assert_eq!((args.service.as_str(), args.operation.as_deref(), args.limit), ("api", Some("GET"), Some(3)));
        assert_eq!((args.min_duration, args.lookback.as_deref()), (None, Some("1.5s")));
        let args = SearchArgs::from_words(&[r#"{ span.http.route = "/a b" }"#, "5m"]).unwrap();
        assert_eq!(
            (args.traceql.is_some(), args.service.as_str(), args.min_duration.as_deref()),
            (true, "", Some("5m"))
        );
        assert!(SearchArgs::from_words(&["web", "limit=many"]).is_err());
        assert!(!is_duration_word("1h30") && !is_duration_word("h1") && is_duration_word("10m"));
    }

    #[test]
    fn durations_in_the_forms_users_type() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("300").unwrap(), Duration::from_millis(300));
        assert!(parse_duration("soon").unwrap_err().to_string().contains("250ms"));
    }

    #[test]
    fn search_args_become_a_query() {
        let args = SearchArgs {
            service: "frontend".into(),
            operation: Some("*".into()),
            tags: vec!["http.status_code=500".into()],
            min_duration: Some("1s".into()),
            limit: Some(5),
            lookback: Some("2h".into()),
            ..SearchArgs::default()
        };
        let query = args.to_query().unwrap();
        assert_eq!(query.operation, None);
        assert_eq!(query.tags, vec![("http.status_code".to_string(), "500".to_string())]);
        assert_eq!(query.min_duration_ns, Some(1_000_000_000));
        let (start, end) = query.time_range_us.unwrap();
        assert_eq!(end - start, 7_200_000_000);
        assert_eq!(query.limit, 5);
        assert!(SearchArgs::default().to_query().is_err());
    }

    #[test]
    fn an_argument_starting_with_a_brace_is_a_traceql_query_that_stands_alone() {
        let typed = r#"{ span.http.route = "/cart" && duration > 1s }"#;
        let query = SearchArgs { tags: vec![typed.into()], ..SearchArgs::default() }.to_query().unwrap();
        assert_eq!((query.traceql.as_deref(), query.tags.len()), (Some(typed), 0));
        let given = SearchArgs { service: "frontend".into(), traceql: Some(typed.into()), ..SearchArgs::default() };
        assert_eq!(given.to_query().unwrap().traceql.as_deref(), Some(typed), "the service only names the search");
        let as_service = SearchArgs { service: "{ duration > 1s }".into(), ..SearchArgs::default() }.to_query();
        assert_eq!(as_service.unwrap().service, "", "no service of that name");
        let mixed = SearchArgs { tags: vec![typed.into(), "error=true".into()], ..SearchArgs::default() };
        assert!(mixed.to_query().unwrap_err().to_string().contains("stands alone"));
        let two = SearchArgs { service: "{ a }".into(), tags: vec!["{ b }".into()], ..SearchArgs::default() };
        assert!(two.to_query().is_err());
    }

    #[test]
    fn failed_spans_are_asked_for_by_error_true_or_status_error_and_found_by_status() {
        assert_eq!(parse_tag("status=error").unwrap(), ("error".to_string(), "true".to_string()));
        assert_eq!(parse_tag("http.route=/a=b").unwrap(), ("http.route".to_string(), "/a=b".to_string()));
        let json =
            br#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"web"}}]},
            "scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708",
            "name":"GET","startTimeUnixNano":"1","endTimeUnixNano":"2","status":{"code":2}}]}]}]}"#;
        let trace = crate::formats::decode(json).unwrap().remove(0);
        assert!(span_has_tag(&trace.spans[0], "error", "true"), "an OTLP span fails by its status");
        assert!(!span_has_tag(&trace.spans[0], "error", "false"));
        assert!(span_has_tag(&trace.spans[0], "service.name", "web"), "resource attributes count");
    }
}

/// Which logs to show (`:VitalsLogs [service] [filters]`, `vitals logs …`): newest first.
#[derive(Clone, Debug, PartialEq)]
pub struct LogQuery {
    /// Empty: every service.
    pub service: String,
    /// The least severity number shown (see [`crate::model::log::severity_floor`]).
    pub min_severity: i32,
    /// Words the body or an attribute value must hold, case-insensitively.
    pub text: Vec<String>,
    /// Unix time range in nanoseconds.
    pub start_ns: u64,
    pub end_ns: u64,
    pub limit: usize,
}

/// How far back `:VitalsLogs` looks unless told.
pub const DEFAULT_LOG_LOOKBACK: Duration = Duration::from_secs(3600);

impl LogQuery {
    /// Reads `[service] [severity=warn] [since=15m] [limit=N] [words…]` as a user types
    /// them: the first bare word is the service (`*` for all), the other bare words are
    /// text to find.
    pub fn parse(words: &[String], now_ns: u64) -> Result<LogQuery> {
        let mut query = LogQuery {
            service: String::new(),
            min_severity: 0,
            text: Vec::new(),
            start_ns: now_ns.saturating_sub(DEFAULT_LOG_LOOKBACK.as_nanos() as u64),
            end_ns: now_ns,
            limit: 500,
        };
        let mut service_given = false;
        for word in words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()) {
            match word.split_once('=') {
                Some(("severity" | "level", value)) => {
                    query.min_severity = crate::model::log::severity_floor(value).ok_or_else(|| {
                        Error::invalid(format!(
                            "Unknown severity {value:?}: use trace, debug, info, warn, error or fatal"
                        ))
                    })?;
                }
                Some(("since" | "last", value)) => {
                    let lookback = parse_duration(value)?;
                    query.start_ns = now_ns.saturating_sub(lookback.as_nanos().min(u64::MAX as u128) as u64);
                }
                Some(("limit", value)) => {
                    query.limit = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| Error::invalid(format!("limit={value} is not a positive number")))?;
                }
                Some((key, _)) => {
                    return Err(Error::invalid(format!(
                        "Unknown filter {key:?}: use severity=, since=, limit= or words to find"
                    )));
                }
                None if !service_given => {
                    service_given = true;
                    query.service = if word == "*" { String::new() } else { word.to_string() };
                }
                None => query.text.push(word.to_lowercase()),
            }
        }
        Ok(query)
    }
}
