//! What a span is as a call to something else: a database query, an HTTP or RPC request,
//! a message sent; and where in the code it was made. Old and new OpenTelemetry attribute
//! names are both read (`db.statement` / `db.query.text`, `code.lineno` /
//! `code.line.number`, …).
//!
//! A trace's calls are worked out once ([`Calls::of`]) for every analysis: the strings
//! calls share (statement shapes, targets) are interned, a statement is normalized once
//! per distinct text, and calls that do the same thing share a [`CallKey`], a small
//! number, so grouping calls hashes and compares numbers instead of formatted strings.

use std::collections::HashMap;
use std::fmt::Write;
use std::hash::BuildHasher;

use serde::Serialize;

use crate::model::{AttrValue, IdHasher, Span, SpanIndex, SpanKind, Trace};

use super::{parallel, statement};

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

/// Calls with the same key do the same thing: the same query shape, or the same
/// operation on the same route, in the same service. Values (ids, literals, query
/// strings) are left out. Keys number a trace's distinct calls from 0 (see
/// [`Calls::key_count`]), so a table indexed by key can stand in for a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallKey(u32);

impl CallKey {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A string interned in a trace's [`Calls`]: a statement shape or a target.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Text(u32);

/// A distinct statement text of a trace's [`Calls`]: calls with the same one sent the
/// very same statement, literals and all, so grouping them compares numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatementId(u32);

impl StatementId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A distinct code location of a trace's [`Calls`] (see [`Calls::location`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocationId(u32);

/// A span seen as an outgoing call. Its strings are the span's own or interned in the
/// [`Calls`] it belongs to, which reads them ([`Calls::normalized`], [`Calls::target`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Call<'t> {
    pub kind: CallKind,
    /// `postgresql`, `redis`, `grpc`, `kafka`, …
    pub system: Option<&'t str>,
    /// The statement as sent, for database calls that carry one.
    pub statement: Option<&'t str>,
    /// The statement's text among the trace's distinct ones.
    pub statement_id: Option<StatementId>,
    /// Whether the statement holds bind parameters (see [`statement::has_placeholders`]).
    pub placeholders: bool,
    /// The statement's shape (see [`statement::normalize_into`]).
    normalized: Option<Text>,
    /// Where the call goes: `host:port /route` for HTTP, the RPC method, the queue.
    target: Text,
    pub key: CallKey,
}

/// Every span of one trace as an outgoing call or not, and its code location, with the
/// strings the calls share.
#[derive(Debug, Default)]
pub struct Calls<'t> {
    calls: Vec<Option<Call<'t>>>,
    texts: Vec<Box<str>>,
    text_ids: HashMap<Box<str>, Text, IdHasher>,
    /// The empty text's id once interned, kept apart from `text_ids` (see [`Calls::intern`]).
    empty_text: Option<Text>,
    /// Each distinct statement text's id, an index into `shapes`.
    statements: HashMap<StatementText<'t>, StatementId, IdHasher>,
    /// Each distinct statement text's shape and whether it holds bind parameters.
    shapes: Vec<(Text, bool)>,
    /// Reused to normalize statements ([`statement::normalize_into`]).
    shape_buffer: Vec<u8>,
    keys: HashMap<(&'t str, &'t str, Text), CallKey, IdHasher>,
    /// Each span's own code location, indexed like `trace.spans`: read in the same pass
    /// over a span's attributes as its call.
    code: Vec<Option<LocationId>>,
    /// The trace's distinct code locations, numbered by `location_ids`.
    locations: Vec<CodeLocation>,
    location_ids: HashMap<CodeAttributes<'t>, LocationId, IdHasher>,
}

impl<'t> Calls<'t> {
    /// Classifies every span of `trace`. A large trace is classified in two halves at
    /// once, one per core (see [`Calls::append`]); the result is the same either way.
    pub fn of(trace: &'t Trace) -> Calls<'t> {
        let spans = &trace.spans;
        // Halves on one core would only add the renumbering.
        if !parallel::pays(spans.len()) {
            return Calls::of_spans(spans, IdHasher::default());
        }
        let (first, second) = spans.split_at(spans.len() / 2);
        // One hasher for both halves, so that the second's statements keep their hashes
        // when they join the first's.
        let hasher = IdHasher::default();
        let (mut calls, later) = parallel::both(
            spans.len(),
            || Calls::of_spans(first, hasher.clone()),
            || Calls::of_spans(second, hasher.clone()),
        );
        calls.append(later);
        calls
    }

    fn of_spans(spans: &'t [Span], hasher: IdHasher) -> Calls<'t> {
        let mut calls = Calls {
            calls: Vec::with_capacity(spans.len()),
            code: Vec::with_capacity(spans.len()),
            statements: HashMap::with_hasher(hasher),
            ..Calls::default()
        };
        let mut scratch = String::new();
        let mut attributes = SpanAttributes::new();
        for span in spans {
            attributes.read(span);
            let call = calls.classify(span, &attributes, &mut scratch);
            calls.calls.push(call);
            let code = attributes.code().map(|code| calls.locate(code, CodeAttributes::location));
            calls.code.push(code);
        }
        calls
    }

    /// The id of the location `code` names, added (made by `location`) on first sight.
    fn locate(
        &mut self,
        code: CodeAttributes<'t>,
        location: impl FnOnce(&CodeAttributes<'t>) -> CodeLocation,
    ) -> LocationId {
        let next = LocationId(self.locations.len() as u32);
        let id = *self.location_ids.entry(code).or_insert(next);
        if id == next {
            self.locations.push(location(&code));
        }
        id
    }

    /// Appends the calls of the spans that follow this one's, classified apart. Their
    /// texts, statements, keys and code locations are renumbered into this one's in the
    /// order they first appear there, which is the order classifying all the spans in one
    /// go gives them. Both were classified with one hasher (see [`Calls::of`]): a
    /// statement's hash is kept with it.
    fn append(&mut self, later: Calls<'t>) {
        let texts: Vec<Text> = later.texts.iter().map(|text| self.intern(text)).collect();
        let statements: Vec<StatementId> = in_id_order(&later.statements, later.shapes.len(), |id| id.index())
            .into_iter()
            .zip(&later.shapes)
            .map(|(text, &(shape, placeholders))| {
                let next = StatementId(self.shapes.len() as u32);
                let id = *self.statements.entry(text).or_insert(next);
                if id == next {
                    self.shapes.push((texts[shape.0 as usize], placeholders));
                }
                id
            })
            .collect();
        let keys: Vec<CallKey> = in_id_order(&later.keys, later.keys.len(), |key| key.index())
            .into_iter()
            .map(|(service, operation, what)| {
                let next = CallKey(self.keys.len() as u32);
                *self.keys.entry((service, operation, texts[what.0 as usize])).or_insert(next)
            })
            .collect();
        let locations: Vec<LocationId> =
            in_id_order(&later.location_ids, later.locations.len(), |id: LocationId| id.0 as usize)
                .into_iter()
                .zip(later.locations)
                .map(|(code, location)| self.locate(code, |_| location))
                .collect();
        self.code.extend(later.code.into_iter().map(|code| code.map(|id| locations[id.0 as usize])));
        self.calls.extend(later.calls.into_iter().map(|call| {
            call.map(|call| Call {
                statement_id: call.statement_id.map(|id| statements[id.index()]),
                normalized: call.normalized.map(|text| texts[text.0 as usize]),
                target: texts[call.target.0 as usize],
                key: keys[call.key.index()],
                ..call
            })
        }));
    }

    /// The span at `span` as a call, or `None` for server-side and internal work.
    pub fn get(&self, span: SpanIndex) -> Option<&Call<'t>> {
        self.calls.get(span).and_then(Option::as_ref)
    }

    /// Where in the code the span at `span` was made, as far as its own attributes say.
    pub fn location_of(&self, span: SpanIndex) -> Option<LocationId> {
        self.code.get(span).copied().flatten()
    }

    /// The code location `id` stands for.
    pub fn location(&self, id: LocationId) -> &CodeLocation {
        &self.locations[id.0 as usize]
    }

    /// Whether the span at `span` is a call to another process.
    pub fn is_call(&self, span: SpanIndex) -> bool {
        self.get(span).is_some()
    }

    /// Every span's call, indexed like `trace.spans`.
    pub fn iter(&self) -> impl Iterator<Item = Option<&Call<'t>>> + '_ {
        self.calls.iter().map(Option::as_ref)
    }

    /// How many distinct keys the calls have: every [`CallKey::index`] is below it.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The call's statement shape, for database calls that carry a statement.
    pub fn normalized(&self, call: &Call) -> Option<&str> {
        call.normalized.map(|t| self.text(t))
    }

    /// Where the call goes: `host:port/route` for HTTP, the RPC method, the queue.
    pub fn target(&self, call: &Call) -> &str {
        self.text(call.target)
    }

    /// How people name the call of `span`: the query shape, or `GET host/route`.
    pub fn describe(&self, call: &Call, span: &Span) -> String {
        let operation: &str = &span.operation;
        let target = self.target(call);
        match (self.normalized(call), call.kind) {
            (Some(statement), _) => statement.to_string(),
            (None, CallKind::Other) => format!("{} {operation}", span.service()),
            (None, CallKind::Database) => {
                let system = call.system.unwrap_or("db");
                format!("{operation} ({system} {target})").replace(" )", ")")
            }
            (None, _) if target.is_empty() => format!("{} {operation}", span.service()),
            (None, _) if target.contains(operation) => target.to_string(),
            (None, _) => format!("{operation} {target}"),
        }
    }

    fn text(&self, text: Text) -> &str {
        &self.texts[text.0 as usize]
    }

    /// The id of `text`, interned on first sight.
    ///
    /// The empty text, the target of every call that names none, is not looked up: the
    /// lookup compares it with the stored empty string, whose pointer dangles, and glibc's
    /// AVX-512 `memcmp` reads even zero bytes with a masked load that then faults quietly
    /// in the processor, ~100 ns a call (a fifth of classifying a big trace's spans).
    fn intern(&mut self, text: &str) -> Text {
        if text.is_empty()
            && let Some(id) = self.empty_text
        {
            return id;
        }
        if let Some(&id) = self.text_ids.get(text) {
            return id;
        }
        let id = Text(self.texts.len() as u32);
        self.texts.push(text.into());
        self.text_ids.insert(text.into(), id);
        if text.is_empty() {
            self.empty_text = Some(id);
        }
        id
    }

    /// A call of `span`: its statement normalized once per distinct text, its key
    /// interned.
    fn call(
        &mut self,
        span: &'t Span,
        kind: CallKind,
        system: Option<&'t str>,
        statement: Option<&'t str>,
        target: Text,
    ) -> Call<'t> {
        let (statement_id, normalized, placeholders) = match statement {
            Some(text) => {
                // One hash of the text, however long: the id is a new text's if it was unseen.
                let next = StatementId(self.shapes.len() as u32);
                let key = StatementText { hash: self.statements.hasher().hash_one(text), text };
                let id = *self.statements.entry(key).or_insert(next);
                if id == next {
                    let mut buffer = std::mem::take(&mut self.shape_buffer);
                    let shape = self.intern(statement::normalize_into(text, &mut buffer));
                    self.shape_buffer = buffer;
                    self.shapes.push((shape, statement::has_placeholders(text)));
                }
                let (shape, placeholders) = self.shapes[id.index()];
                (Some(id), Some(shape), placeholders)
            }
            None => (None, None, false),
        };
        let what = normalized.unwrap_or(target);
        let next = CallKey(self.keys.len() as u32);
        let key = *self.keys.entry((span.service(), &*span.operation, what)).or_insert(next);
        Call { kind, system, statement, statement_id, placeholders, normalized, target, key }
    }

    /// The span as an outgoing call, or `None` for server-side and internal work.
    /// `scratch` is reused to build targets, so only new ones allocate.
    fn classify(&mut self, span: &'t Span, attributes: &SpanAttributes<'t>, scratch: &mut String) -> Option<Call<'t>> {
        let text = |keys: &[Slot]| attributes.text(keys);
        if let Some(system) = text(&[Slot::DbSystemName, Slot::DbSystem]) {
            let statement = text(&[Slot::DbQueryText, Slot::DbStatement]);
            let target =
                text(&[Slot::DbOperationName, Slot::DbOperation, Slot::DbNamespace, Slot::DbName]).unwrap_or_default();
            let target = self.intern(target);
            return Some(self.call(span, CallKind::Database, Some(system), statement, target));
        }
        if !matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
            return None;
        }
        if let Some(system) = text(&[Slot::MessagingSystem]) {
            let destination = text(&[Slot::MessagingDestinationName, Slot::MessagingDestination]).unwrap_or_default();
            let target = self.intern(destination);
            return Some(self.call(span, CallKind::Messaging, Some(system), None, target));
        }
        scratch.clear();
        if let Some(system) = text(&[Slot::RpcSystemName, Slot::RpcSystem]) {
            let method = text(&[Slot::RpcMethod]).unwrap_or(&span.operation);
            if let Some(service) = text(&[Slot::RpcService]) {
                scratch.push_str(service);
                scratch.push('/');
            }
            scratch.push_str(method);
            let target = self.intern(scratch);
            return Some(self.call(span, CallKind::Rpc, Some(system), None, target));
        }
        let kind = if attributes.http_route(scratch) { CallKind::Http } else { CallKind::Other };
        let target = self.intern(scratch);
        Some(self.call(span, kind, None, None, target))
    }
}

/// A statement's text and its hash, worked out once. A big trace has tens of thousands of
/// distinct statements: growing their map, and adding the second half's to the first's
/// (see [`Calls::append`]), hashed each text again, reading it from the spans (a cache
/// miss each); two different texts are told apart by their hashes before their bytes.
#[derive(Clone, Copy, Debug, Default)]
struct StatementText<'t> {
    hash: u64,
    text: &'t str,
}

impl PartialEq for StatementText<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for StatementText<'_> {}

impl std::hash::Hash for StatementText<'_> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The keys of a map that numbers them from 0 (`count` of them), in the order of their
/// numbers.
fn in_id_order<K: Copy + Default, V: Copy>(
    map: &HashMap<K, V, IdHasher>,
    count: usize,
    number: impl Fn(V) -> usize,
) -> Vec<K> {
    let mut keys = vec![K::default(); count];
    for (&key, &value) in map {
        keys[number(value)] = key;
    }
    keys
}

/// The first of `keys` (new and old attribute names) that holds non-empty text.
pub fn text<'a>(span: &'a Span, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| span.attr(k).and_then(|v| v.as_str())).filter(|s| !s.is_empty())
}

/// The attributes classifying a span reads, each a slot of [`SpanAttributes`].
#[derive(Clone, Copy)]
enum Slot {
    DbSystemName,
    DbSystem,
    DbQueryText,
    DbStatement,
    DbOperationName,
    DbOperation,
    DbNamespace,
    DbName,
    MessagingSystem,
    MessagingDestinationName,
    MessagingDestination,
    RpcSystemName,
    RpcSystem,
    RpcMethod,
    RpcService,
    UrlFull,
    HttpUrl,
    HttpRequestMethod,
    HttpMethod,
    ServerAddress,
    NetPeerName,
    PeerService,
    ServerPort,
    NetPeerPort,
    HttpRoute,
    UrlTemplate,
    CodeFilePath,
    CodeFilepath,
    CodeFunctionName,
    CodeFunction,
    CodeLineNumber,
    CodeLineno,
    CodeNamespace,
}

const SLOTS: usize = Slot::CodeNamespace as usize + 1;

impl Slot {
    /// Each slot's attribute name.
    const NAMES: [(&'static str, Slot); SLOTS] = [
        ("db.system.name", Slot::DbSystemName),
        ("db.system", Slot::DbSystem),
        ("db.query.text", Slot::DbQueryText),
        ("db.statement", Slot::DbStatement),
        ("db.operation.name", Slot::DbOperationName),
        ("db.operation", Slot::DbOperation),
        ("db.namespace", Slot::DbNamespace),
        ("db.name", Slot::DbName),
        ("messaging.system", Slot::MessagingSystem),
        ("messaging.destination.name", Slot::MessagingDestinationName),
        ("messaging.destination", Slot::MessagingDestination),
        ("rpc.system.name", Slot::RpcSystemName),
        ("rpc.system", Slot::RpcSystem),
        ("rpc.method", Slot::RpcMethod),
        ("rpc.service", Slot::RpcService),
        ("url.full", Slot::UrlFull),
        ("http.url", Slot::HttpUrl),
        ("http.request.method", Slot::HttpRequestMethod),
        ("http.method", Slot::HttpMethod),
        ("server.address", Slot::ServerAddress),
        ("net.peer.name", Slot::NetPeerName),
        ("peer.service", Slot::PeerService),
        ("server.port", Slot::ServerPort),
        ("net.peer.port", Slot::NetPeerPort),
        ("http.route", Slot::HttpRoute),
        ("url.template", Slot::UrlTemplate),
        ("code.file.path", Slot::CodeFilePath),
        ("code.filepath", Slot::CodeFilepath),
        ("code.function.name", Slot::CodeFunctionName),
        ("code.function", Slot::CodeFunction),
        ("code.line.number", Slot::CodeLineNumber),
        ("code.lineno", Slot::CodeLineno),
        ("code.namespace", Slot::CodeNamespace),
    ];

    /// The slot of the attribute named `key`, if classifying reads it. Found in
    /// [`SLOT_BY_BUCKET`] and checked with one comparison: matching the names one by one
    /// compared each key with every name of its length, a fifth of a trace's
    /// classifying (half a million keys at 100,000 spans).
    fn of(key: &str) -> Option<Slot> {
        let slot = SLOT_BY_BUCKET[bucket(key.as_bytes())]?;
        (Slot::NAMES[slot as usize].0 == key).then_some(slot)
    }
}

/// Each attribute name's bucket: two of its bytes and its length, which set every name
/// of [`Slot::NAMES`] apart (checked when [`SLOT_BY_BUCKET`] is built, at compile time).
const fn bucket(key: &[u8]) -> usize {
    if key.len() < 3 {
        return 0;
    }
    (key[2] as usize ^ ((key[key.len() - 1] as usize) << 1) ^ (key.len() * 7)) % BUCKETS
}

const BUCKETS: usize = 128;

/// The slot whose name falls in each bucket.
const SLOT_BY_BUCKET: [Option<Slot>; BUCKETS] = {
    let mut table = [None; BUCKETS];
    let mut i = 0;
    while i < SLOTS {
        let (name, slot) = Slot::NAMES[i];
        assert!(slot as usize == i, "Slot::NAMES lists the slots in their order");
        let at = bucket(name.as_bytes());
        assert!(table[at].is_none(), "two attribute names share a bucket: change bucket()");
        table[at] = Some(slot);
        i += 1;
    }
    table
};

/// A span's attributes that say what call it is and where in the code it was made, read
/// in one pass over its attributes instead of one scan per name looked up: each slot
/// holds the first attribute of its name, as [`Span::attr`] finds it.
struct SpanAttributes<'t> {
    slots: [Option<&'t AttrValue>; SLOTS],
}

impl<'t> SpanAttributes<'t> {
    fn new() -> SpanAttributes<'t> {
        SpanAttributes { slots: [None; SLOTS] }
    }

    fn of(span: &'t Span) -> SpanAttributes<'t> {
        let mut attributes = SpanAttributes::new();
        attributes.read(span);
        attributes
    }

    /// Reads `span`'s attributes in place of the previous span's: classifying a trace
    /// reuses one, where returning a new one per span copied its slots each time.
    fn read(&mut self, span: &'t Span) {
        self.slots = [None; SLOTS];
        for attribute in &span.attributes {
            if let Some(slot) = Slot::of(&attribute.key) {
                self.slots[slot as usize].get_or_insert(&attribute.value);
            }
        }
    }

    /// The span's code attributes, or `None` when it names neither a file nor a function.
    fn code(&self) -> Option<CodeAttributes<'t>> {
        let filepath = self.text(&[Slot::CodeFilePath, Slot::CodeFilepath]);
        let function = self.text(&[Slot::CodeFunctionName, Slot::CodeFunction]);
        if filepath.is_none() && function.is_none() {
            return None;
        }
        Some(CodeAttributes {
            filepath,
            lineno: self.number(&[Slot::CodeLineNumber, Slot::CodeLineno]),
            function,
            namespace: function.and_then(|_| self.text(&[Slot::CodeNamespace])),
        })
    }

    /// As [`text`]: the first of `keys` that holds text, if that text is not empty.
    fn text(&self, keys: &[Slot]) -> Option<&'t str> {
        keys.iter().find_map(|&k| self.slots[k as usize].and_then(AttrValue::as_str)).filter(|s| !s.is_empty())
    }

    fn number(&self, keys: &[Slot]) -> Option<i64> {
        keys.iter().find_map(|&k| self.slots[k as usize].and_then(AttrValue::as_i64))
    }

    /// Writes `host:port/path` of an HTTP client span, without the query string, into
    /// `out` (empty beforehand); false when the span has no HTTP attributes.
    fn http_route(&self, out: &mut String) -> bool {
        let url = self.text(&[Slot::UrlFull, Slot::HttpUrl]);
        let method = self.text(&[Slot::HttpRequestMethod, Slot::HttpMethod]);
        if url.is_none() && method.is_none() {
            return false;
        }
        let (url_host, url_path) = url.map(split_url).unwrap_or_default();
        let host = self.text(&[Slot::ServerAddress, Slot::NetPeerName, Slot::PeerService]).or(url_host);
        let port = self.number(&[Slot::ServerPort, Slot::NetPeerPort]);
        let path = self.text(&[Slot::HttpRoute, Slot::UrlTemplate]).or(url_path).unwrap_or_default();
        if let Some(host) = host {
            out.push_str(host);
            if let Some(port) = port.filter(|_| !host.contains(':')) {
                let _ = write!(out, ":{port}");
            }
        }
        out.push_str(path);
        true
    }
}

/// `http://host:8083/route?x=1` → (`host:8083`, `/route`).
fn split_url(url: &str) -> (Option<&str>, Option<&str>) {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let without_query = without_scheme.split(['?', '#']).next().unwrap_or_default();
    match without_query.find('/') {
        Some(slash) => (Some(&without_query[..slash]), Some(&without_query[slash..])),
        None => (Some(without_query), None),
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

/// The attributes a [`CodeLocation`] is made of, borrowed from the span: what a trace's
/// locations are interned by, so that a span's location is found without allocating.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct CodeAttributes<'t> {
    filepath: Option<&'t str>,
    lineno: Option<i64>,
    function: Option<&'t str>,
    namespace: Option<&'t str>,
}

impl CodeAttributes<'_> {
    fn location(&self) -> CodeLocation {
        let function = self.function.map(|f| match self.namespace {
            Some(namespace) if !f.starts_with(namespace) => format!("{namespace}.{f}"),
            _ => f.to_string(),
        });
        CodeLocation { filepath: self.filepath.map(str::to_string), lineno: self.lineno, function }
    }
}

impl CodeLocation {
    pub fn of(span: &Span) -> Option<CodeLocation> {
        SpanAttributes::of(span).code().map(|attributes| attributes.location())
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

    /// The spans as one trace (ids a, b, c, … in order), so that their calls are classified together.
    fn trace(spans: Vec<Span>) -> Trace {
        let spans = spans
            .into_iter()
            .zip(1u64..)
            .map(|(mut span, id)| {
                span.span_id = crate::model::SpanId(id);
                span
            })
            .collect();
        Trace::from_spans(crate::model::TraceId(1), spans)
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
        let t = trace(vec![a, b, other]);
        let calls = Calls::of(&t);
        let key = |i: SpanIndex| calls.get(i).unwrap().key;
        assert_eq!(key(0), key(1));
        assert_ne!(key(0), key(2));
        assert_eq!(calls.target(calls.get(0).unwrap()), "0.0.0.0:8083/route");
    }

    #[test]
    fn database_spans_are_calls_with_their_statement_shape_old_and_new_names() {
        let new =
            span(SpanKind::Client, &[("db.system.name", "mysql"), ("db.query.text", "SELECT * FROM c WHERE id=7")]);
        let old = span(SpanKind::Internal, &[("db.system", "mysql"), ("db.statement", "SELECT * FROM c WHERE id=8")]);
        let t = trace(vec![new, old, span(SpanKind::Server, &[])]);
        let calls = Calls::of(&t);
        assert_eq!(calls.normalized(calls.get(0).unwrap()), Some("SELECT * FROM c WHERE id=?"));
        assert_eq!(calls.get(0).unwrap().key, calls.get(1).unwrap().key);
        assert!(calls.get(2).is_none());
    }

    #[test]
    fn a_trace_classified_in_two_halves_numbers_everything_as_one_pass_does() {
        // Statements, targets, keys and code locations that first appear in either half,
        // and some in both.
        let kinds: Vec<Span> = vec![
            span(SpanKind::Client, &[("db.system", "mysql"), ("db.statement", "SELECT a FROM t WHERE id=1")]),
            span(SpanKind::Client, &[("db.system", "mysql"), ("db.statement", "SELECT b FROM u WHERE x IN (1, 2)")]),
            span(SpanKind::Client, &[("http.request.method", "GET"), ("url.full", "http://cart:80/items?n=1")]),
            span(SpanKind::Server, &[]),
            span(SpanKind::Producer, &[("messaging.system", "kafka"), ("messaging.destination.name", "orders")]),
        ];
        let n = 300;
        let spans: Vec<Span> = (0..n)
            .map(|i| {
                let mut span = kinds[i % kinds.len()].clone();
                let statement = |text: String| Attribute::new("db.statement", AttrValue::Str(text.into()));
                if i % kinds.len() == 0 {
                    // Texts seen in both halves, and texts seen once.
                    let id = if i % 3 == 0 { (i / kinds.len()) % 5 } else { i };
                    span.attributes[1] = statement(format!("SELECT a FROM t WHERE id={id}"));
                }
                // A statement, its shape and operations seen only after the middle.
                if i > n / 2 && i % 7 == 0 {
                    span.attributes = vec![Attribute::new("db.system", AttrValue::Str("mysql".into()))];
                    span.attributes.push(statement(format!("DELETE FROM late WHERE id = {}", i % 2)));
                    span.operation = format!("late {}", i % 3).into();
                }
                if i % 4 == 0 {
                    let function = format!("handler_{}", (i / 4) % (if i > n / 2 { 12 } else { 8 }));
                    span.attributes.push(Attribute::new("code.function", AttrValue::Str(function.into())));
                }
                span
            })
            .collect();
        let t = trace(spans);
        let (first, second) = t.spans.split_at(n / 2);
        let hasher = IdHasher::default();
        let mut halves = Calls::of_spans(first, hasher.clone());
        halves.append(Calls::of_spans(second, hasher));
        let one_pass = Calls::of_spans(&t.spans, IdHasher::default());
        assert_eq!(halves.calls, one_pass.calls);
        assert_eq!(halves.texts, one_pass.texts);
        assert_eq!(halves.shapes, one_pass.shapes);
        assert_eq!(halves.key_count(), one_pass.key_count());
        assert!(one_pass.key_count() > 6, "keys first seen in the second half: {}", one_pass.key_count());
        assert_eq!(halves.code, one_pass.code);
        assert_eq!(halves.locations, one_pass.locations);
        assert_eq!(one_pass.locations.len(), 12, "locations first seen in the second half");
    }

    #[test]
    fn every_attribute_name_finds_its_slot_and_no_other_key_does() {
        for (name, slot) in Slot::NAMES {
            assert_eq!(Slot::of(name).map(|s| s as usize), Some(slot as usize), "{name}");
            for other in [&name[..name.len() - 1], &format!("{name}x"), &name.to_uppercase(), &format!("x{name}")] {
                assert!(Slot::of(other).is_none(), "{other}");
            }
        }
        for other in ["", "db", "span.kind", "otel.status_code", "db.statement.text"] {
            assert!(Slot::of(other).is_none(), "{other}");
        }
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
