//! TraceQL for Tempo's search, written from the search form: one spanset filter whose
//! conditions a single span must meet, as the other backends match a search.
//!
//! `frontend`, `GET /cart`, `≥ 1s` and `http.route=/cart` become
//! `{ resource.service.name = "frontend" && name = "GET /cart" && duration >= 1s && .http.route = "/cart" }`.
//!
//! A filter's attribute is unscoped (`.http.route`), so it matches a span's attribute or
//! its resource's, as it does on Jaeger and in the trace store; `span.x=…` and
//! `resource.x=…` keep the scope the user wrote. Tempo compares typed values, while a
//! filter is text: `http.status_code=500` asks for the number 500 or the text "500".

use crate::query::SearchQuery;

/// The scopes a TraceQL attribute may be written with.
const SCOPES: [&str; 6] = ["span.", "resource.", "event.", "link.", "instrumentation.", "."];

/// The TraceQL query for `query`: the user's own when they typed one.
pub fn of(query: &SearchQuery) -> String {
    if let Some(typed) = &query.traceql {
        return typed.clone();
    }
    let mut conditions = Vec::new();
    if !query.service.is_empty() {
        conditions.push(format!("resource.service.name = {}", string(&query.service)));
    }
    if let Some(operation) = &query.operation {
        conditions.push(format!("name = {}", string(operation)));
    }
    if let Some(min) = query.min_duration_ns {
        conditions.push(format!("duration >= {}", duration(min)));
    }
    if let Some(max) = query.max_duration_ns {
        conditions.push(format!("duration <= {}", duration(max)));
    }
    conditions.extend(query.tags.iter().map(|(key, value)| tag(key, value)));
    spanset(&conditions)
}

/// The spans of `service` (every span when empty), for scoping tag lists to a service.
pub fn of_service(service: &str) -> Option<String> {
    (!service.is_empty()).then(|| spanset(&[format!("resource.service.name = {}", string(service))]))
}

fn spanset(conditions: &[String]) -> String {
    match conditions {
        [] => "{}".to_string(),
        _ => format!("{{ {} }}", conditions.join(" && ")),
    }
}

/// One `key=value` filter. `error=true` (which `status=error` also becomes) asks for a
/// failed span, by its status as Tempo keeps it; any other value of `error` is an
/// attribute's, as on the other backends.
fn tag(key: &str, value: &str) -> String {
    match (key, value) {
        ("error", "true") => "status = error".to_string(),
        _ => {
            let attribute = attribute(key);
            let text = format!("{attribute} = {}", string(value));
            match typed_literal(value) {
                Some(literal) => format!("({attribute} = {literal} || {text})"),
                None => text,
            }
        }
    }
}

/// A filter's key as a TraceQL attribute: unscoped unless the user gave a scope, and
/// quoted when it holds a character that would end an attribute name.
pub fn attribute(key: &str) -> String {
    let (scope, name) = SCOPES
        .iter()
        .find_map(|scope| key.strip_prefix(scope).filter(|rest| !rest.is_empty()).map(|rest| (*scope, rest)))
        .unwrap_or((".", key));
    if name.chars().all(is_attribute_char) {
        format!("{scope}{name}")
    } else {
        format!("{scope}\"{}\"", name.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// What TraceQL's lexer reads as part of an attribute name.
fn is_attribute_char(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(c, '{' | '}' | '(' | ')' | '=' | '~' | '!' | '<' | '>' | '&' | '|' | '^' | ',' | '"')
}

/// A TraceQL string: Go's quoting, which Tempo unquotes.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The value as a TraceQL number or boolean, when it reads as one.
fn typed_literal(value: &str) -> Option<&str> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let numeric = !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit());
    (numeric || value == "true" || value == "false").then_some(value)
}

/// A TraceQL duration in the largest unit that keeps it exact: `1s`, `250ms`, `1500us`.
fn duration(ns: u64) -> String {
    match ns {
        0 => "0s".to_string(),
        ns if ns.is_multiple_of(1_000_000_000) => format!("{}s", ns / 1_000_000_000),
        ns if ns.is_multiple_of(1_000_000) => format!("{}ms", ns / 1_000_000),
        ns if ns.is_multiple_of(1_000) => format!("{}us", ns / 1_000),
        ns => format!("{ns}ns"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_form_becomes_one_spanset_filter() {
        let mut query = SearchQuery::new("frontend");
        query.operation = Some("GET /cart".into());
        query.min_duration_ns = Some(1_000_000_000);
        query.max_duration_ns = Some(2_500_000);
        query.tags = vec![("http.route".into(), "/cart".into()), ("error".into(), "true".into())];
        assert_eq!(
            of(&query),
            r#"{ resource.service.name = "frontend" && name = "GET /cart" && duration >= 1s && duration <= 2500us && .http.route = "/cart" && status = error }"#
        );
        assert_eq!(of(&SearchQuery::new("")), "{}");
        let typed = SearchQuery { traceql: Some("{ kind = server } | count() > 2".into()), ..query };
        assert_eq!(of(&typed), "{ kind = server } | count() > 2", "sent as typed");
    }

    #[test]
    fn quotes_and_backslashes_are_escaped_in_values_and_names() {
        let mut query = SearchQuery::new(r#"we"ird\svc"#);
        query.tags = vec![("db.statement".into(), "SELECT \"a\"\n".into()), ("my key".into(), "x".into())];
        assert_eq!(
            of(&query),
            r#"{ resource.service.name = "we\"ird\\svc" && .db.statement = "SELECT \"a\"\n" && ."my key" = "x" }"#
        );
    }

    #[test]
    fn numbers_and_booleans_match_typed_or_text_attributes_and_scopes_are_kept() {
        assert_eq!(tag("http.status_code", "500"), r#"(.http.status_code = 500 || .http.status_code = "500")"#);
        assert_eq!(tag("span.ratio", "-0.5"), r#"(span.ratio = -0.5 || span.ratio = "-0.5")"#);
        assert_eq!(tag("resource.cached", "true"), r#"(resource.cached = true || resource.cached = "true")"#);
        assert_eq!(tag("version", "1.2.3"), r#".version = "1.2.3""#, "not a number");
        assert_eq!(tag("error", "false"), r#"(.error = false || .error = "false")"#);
        assert_eq!(attribute("span.http.route"), "span.http.route");
        assert_eq!(attribute("span."), ".span.", "a scope alone is a name");
    }

    #[test]
    fn durations_are_written_exactly() {
        assert_eq!(duration(1_500_000_000), "1500ms");
        assert_eq!(duration(2_000_000_000), "2s");
        assert_eq!(duration(1_001), "1001ns");
    }
}
