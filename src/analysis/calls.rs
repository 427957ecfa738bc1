//! What a span is as a call to something else: a database query, an HTTP or RPC request,
//! a message sent; and where in the code it was made. Old and new OpenTelemetry attribute
//! names are both read (`db.statement` / `db.query.text`, `code.lineno` /
//! `code.line.number`, …).

use serde::Serialize;

use crate::model::{Span, SpanIndex, SpanKind, Trace};

use super::statement;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallKind {
    Database,
    Http,
    Rpc,
    Messaging,
    /// A client span that says nothing more.
    Other,
}

impl CallKind {
    pub fn label(self) -> &'static str {
        match self {
            CallKind::Database => "DB",
            CallKind::Http => "HTTP",
            CallKind::Rpc => "RPC",
            CallKind::Messaging => "MSG",
            CallKind::Other => "CALL",
        }
    }
}

/// A span seen as an outgoing call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub kind: CallKind,
    /// `postgresql`, `redis`, `grpc`, `kafka`, …
    pub system: Option<String>,
    /// The statement as sent, for database calls that carry one.
    pub statement: Option<String>,
    /// The statement's shape (see [`statement::normalize`]).
    pub normalized: Option<String>,
    /// Where the call goes: `host:port /route` for HTTP, the RPC method, the queue.
    pub target: String,
    /// Calls with the same key do the same thing: the same query shape, or the same
    /// operation on the same route. Values (ids, literals, query strings) are left out.
    pub key: String,
}

impl Call {
    /// A call of `span`, its statement shape and key derived once here.
    fn new(span: &Span, kind: CallKind, system: Option<&str>, statement: Option<&str>, target: String) -> Call {
        let normalized = statement.map(statement::normalize);
        let what = normalized.as_deref().unwrap_or(&target);
        let key = format!("{}\u{1f}{}\u{1f}{what}", span.service(), span.operation);
        Call {
            kind,
            system: system.map(str::to_string),
            statement: statement.map(str::to_string),
            normalized,
            target,
            key,
        }
    }

    /// How people name this call: the query shape, or `GET host/route`.
    pub fn describe(&self, span: &Span) -> String {
        match (&self.normalized, self.kind) {
            (Some(statement), _) => statement.clone(),
            (None, CallKind::Other) => format!("{} {}", span.service(), span.operation),
            (None, CallKind::Database) => {
                let system = self.system.as_deref().unwrap_or("db");
                format!("{} ({system} {})", span.operation, self.target).replace(" )", ")")
            }
            (None, _) if self.target.is_empty() => format!("{} {}", span.service(), span.operation),
            (None, _) if self.target.contains(span.operation.as_str()) => self.target.clone(),
            (None, _) => format!("{} {}", span.operation, self.target),
        }
    }
}

/// The first of `keys` (new and old attribute names) that holds non-empty text.
pub fn text<'a>(span: &'a Span, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| span.attr(k).and_then(|v| v.as_str())).filter(|s| !s.is_empty())
}

fn number(span: &Span, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| span.attr(k).and_then(|v| v.as_i64()))
}

/// Whether the span is a call to another process (what [`outgoing_call`] describes),
/// without building the description.
pub fn is_outgoing_call(span: &Span) -> bool {
    matches!(span.kind, SpanKind::Client | SpanKind::Producer) || text(span, &["db.system.name", "db.system"]).is_some()
}

/// The span as an outgoing call, or `None` for server-side and internal work.
pub fn outgoing_call(span: &Span) -> Option<Call> {
    if let Some(system) = text(span, &["db.system.name", "db.system"]) {
        let statement = text(span, &["db.query.text", "db.statement"]);
        let target = text(span, &["db.operation.name", "db.operation", "db.namespace", "db.name"]).unwrap_or_default();
        return Some(Call::new(span, CallKind::Database, Some(system), statement, target.to_string()));
    }
    if !matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
        return None;
    }
    if let Some(system) = text(span, &["messaging.system"]) {
        let destination = text(span, &["messaging.destination.name", "messaging.destination"]).unwrap_or_default();
        return Some(Call::new(span, CallKind::Messaging, Some(system), None, destination.to_string()));
    }
    if let Some(system) = text(span, &["rpc.system.name", "rpc.system"]) {
        let method = text(span, &["rpc.method"]).unwrap_or(&span.operation);
        let service = text(span, &["rpc.service"]).map(|s| format!("{s}/")).unwrap_or_default();
        return Some(Call::new(span, CallKind::Rpc, Some(system), None, format!("{service}{method}")));
    }
    match http_route(span) {
        Some(route) => Some(Call::new(span, CallKind::Http, None, None, route)),
        None => Some(Call::new(span, CallKind::Other, None, None, String::new())),
    }
}

/// `host:port/path` of an HTTP client span, without the query string, or `None` when
/// the span has no HTTP attributes.
fn http_route(span: &Span) -> Option<String> {
    let url = text(span, &["url.full", "http.url"]);
    let method = text(span, &["http.request.method", "http.method"]);
    if url.is_none() && method.is_none() {
        return None;
    }
    let (url_host, url_path) = url.map(split_url).unwrap_or_default();
    let host = text(span, &["server.address", "net.peer.name", "peer.service"]).map(str::to_string).or(url_host);
    let port = number(span, &["server.port", "net.peer.port"]);
    let path = text(span, &["http.route", "url.template"]).map(str::to_string).or(url_path).unwrap_or_default();
    let host = match (host, port) {
        (Some(h), Some(p)) if !h.contains(':') => format!("{h}:{p}"),
        (Some(h), _) => h,
        (None, _) => String::new(),
    };
    Some(format!("{host}{path}"))
}

/// `http://host:8083/route?x=1` → (`host:8083`, `/route`).
fn split_url(url: &str) -> (Option<String>, Option<String>) {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_query = without_scheme.split(['?', '#']).next().unwrap_or_default();
    match without_query.find('/') {
        Some(slash) => (Some(without_query[..slash].to_string()), Some(without_query[slash..].to_string())),
        None => (Some(without_query.to_string()), None),
    }
}

/// Where in the code a span was made, as far as its attributes say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CodeLocation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filepath: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lineno: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
}

impl CodeLocation {
    pub fn of(span: &Span) -> Option<CodeLocation> {
        let filepath = text(span, &["code.file.path", "code.filepath"]).map(str::to_string);
        let lineno = number(span, &["code.line.number", "code.lineno"]);
        let function =
            text(span, &["code.function.name", "code.function"]).map(|f| match text(span, &["code.namespace"]) {
                Some(namespace) if !f.starts_with(namespace) => format!("{namespace}.{f}"),
                _ => f.to_string(),
            });
        (filepath.is_some() || function.is_some()).then_some(CodeLocation { filepath, lineno, function })
    }

    /// The span's own location, or its nearest ancestor's: a query made by a repository
    /// method is charged to that method.
    pub fn nearest(trace: &Trace, span: SpanIndex) -> Option<CodeLocation> {
        let mut current = Some(span);
        let mut steps = 0;
        while let Some(i) = current {
            if let Some(location) = CodeLocation::of(&trace.spans[i]) {
                return Some(location);
            }
            current = trace.tree.parent(i);
            steps += 1;
            if steps > trace.spans.len() {
                break;
            }
        }
        None
    }

    /// `checkout.py:42 (place_order)`, for people.
    pub fn describe(&self) -> String {
        let place = match (&self.filepath, self.lineno) {
            (Some(file), Some(line)) => format!("{file}:{line}"),
            (Some(file), None) => file.clone(),
            (None, _) => String::new(),
        };
        match (&self.function, place.is_empty()) {
            (Some(function), true) => function.clone(),
            (Some(function), false) => format!("{place} ({function})"),
            (None, _) => place,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AttrValue, Attribute};

    fn span(kind: SpanKind, attributes: &[(&str, &str)]) -> Span {
        let json =
            r#"[{"traceID":"1","spanID":"a","operationName":"HTTP GET","startTime":1,"duration":1,"references":[]}]"#;
        let mut span = crate::formats::decode(json.as_bytes()).unwrap().remove(0).spans.remove(0);
        span.kind = kind;
        span.attributes =
            attributes.iter().map(|(k, v)| Attribute::new(*k, AttrValue::Str(v.to_string().into()))).collect();
        span
    }

    #[test]
    fn http_calls_to_one_route_share_a_key_whatever_their_query_string() {
        let a = span(
            SpanKind::Client,
            &[("http.request.method", "GET"), ("url.full", "http://0.0.0.0:8083/route?pickup=1")],
        );
        let b = span(
            SpanKind::Client,
            &[("http.request.method", "GET"), ("url.full", "http://0.0.0.0:8083/route?pickup=2")],
        );
        let other =
            span(SpanKind::Client, &[("http.request.method", "GET"), ("url.full", "http://0.0.0.0:8081/customer?c=1")]);
        let key = |s: &Span| outgoing_call(s).unwrap().key;
        assert_eq!(key(&a), key(&b));
        assert_ne!(key(&a), key(&other));
        assert_eq!(outgoing_call(&a).unwrap().target, "0.0.0.0:8083/route");
    }

    #[test]
    fn database_spans_are_calls_with_their_statement_shape_old_and_new_names() {
        let new =
            span(SpanKind::Client, &[("db.system.name", "mysql"), ("db.query.text", "SELECT * FROM c WHERE id=7")]);
        let old = span(SpanKind::Internal, &[("db.system", "mysql"), ("db.statement", "SELECT * FROM c WHERE id=8")]);
        assert_eq!(outgoing_call(&new).unwrap().normalized.as_deref(), Some("SELECT * FROM c WHERE id=?"));
        assert_eq!(outgoing_call(&new).unwrap().key, outgoing_call(&old).unwrap().key);
        assert!(outgoing_call(&span(SpanKind::Server, &[])).is_none());
    }

    #[test]
    fn code_locations_read_both_attribute_generations() {
        let new = span(
            SpanKind::Internal,
            &[("code.file.path", "shop/orders.py"), ("code.line.number", "42"), ("code.function.name", "load")],
        );
        let old = span(
            SpanKind::Internal,
            &[
                ("code.filepath", "shop/orders.py"),
                ("code.lineno", "42"),
                ("code.function", "load"),
                ("code.namespace", "orders"),
            ],
        );
        assert_eq!(CodeLocation::of(&new).unwrap().describe(), "shop/orders.py:42 (load)");
        assert_eq!(CodeLocation::of(&old).unwrap().function.as_deref(), Some("orders.load"));
    }
}
