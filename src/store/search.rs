//! Searching the store as Jaeger searches: the newest traces with a span of the service
//! that has the operation, started in the time range, lasted within the durations and
//! carries every tag (with its resource).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use prost::Message;
use rusqlite::{Connection, params};

use super::parts::{has_all, operation_key, tag_key};
use super::schema::resource;
use crate::formats::otlp::{convert_attributes, status_code};
use crate::model::StatusCode;
use crate::model::TraceId;
use crate::query::SearchQuery;

/// The ids of the newest traces with a span that matches, at most `query.limit`.
pub fn matching_traces(
    connection: &Connection,
    query: &SearchQuery,
    start_ns: u64,
    end_ns: u64,
) -> rusqlite::Result<Vec<TraceId>> {
    by_parts(connection, &SpanFilter::new(query, start_ns, end_ns))
}

/// The span filters of a search as SQL parameters: service, time range, durations.
struct SpanFilter<'q> {
    query: &'q SearchQuery,
    start: i64,
    end: i64,
    min: i64,
    max: i64,
}

impl<'q> SpanFilter<'q> {
    fn new(query: &'q SearchQuery, start_ns: u64, end_ns: u64) -> Self {
        let clamp = |n: u64| n.min(i64::MAX as u64) as i64;
        SpanFilter {
            query,
            start: clamp(start_ns),
            end: clamp(end_ns),
            min: clamp(query.min_duration_ns.unwrap_or(0)),
            max: clamp(query.max_duration_ns.unwrap_or(u64::MAX)),
        }
    }

    /// `SELECT resource_id, body` of the spans of one trace (its id the last parameter)
    /// for which the filter holds.
    fn sql(&self) -> String {
        let (operation, trace_parameter) = match self.query.operation {
            Some(_) => (" AND operation = ?6", 7),
            None => ("", 6),
        };
        format!(
            "SELECT resource_id, body FROM spans WHERE service = ?1 AND start_ns BETWEEN ?2 AND ?3
             AND duration_ns >= ?4 AND duration_ns <= ?5{operation} AND trace_id = ?{trace_parameter}"
        )
    }

    fn rows<'s>(
        &self,
        statement: &'s mut rusqlite::CachedStatement,
        trace: &[u8],
    ) -> rusqlite::Result<rusqlite::Rows<'s>> {
        let q = self.query;
        match &q.operation {
            Some(op) => statement.query(params![q.service, self.start, self.end, self.min, self.max, op, trace]),
            None => statement.query(params![q.service, self.start, self.end, self.min, self.max, trace]),
        }
    }
}

/// The service's trace parts, newest first. A part rules its trace out when none of its
/// spans can match (all outside the time range, none long or short enough, an operation
/// or tag it lacks), and in when every one of its spans matches; otherwise the trace's
/// spans decide.
fn by_parts(connection: &Connection, filter: &SpanFilter) -> rusqlite::Result<Vec<TraceId>> {
    let query = filter.query;
    let mut wanted: Vec<u32> = query.tags.iter().map(|(key, value)| tag_key(&query.service, key, value)).collect();
    wanted.extend(query.operation.iter().map(|operation| operation_key(&query.service, operation)));
    let mut parts = connection.prepare_cached(
        "SELECT trace_id, first_start_ns, last_start_ns, min_duration_ns, max_duration_ns, tags FROM trace_parts
         WHERE service = ?1 AND last_start_ns >= ?2 ORDER BY last_start_ns DESC",
    )?;
    let mut parts = parts.query(params![query.service, filter.start])?;
    let mut confirm = Confirm::new(connection, filter)?;
    let mut found = Found::new(query.limit);
    while let Some(part) = parts.next()? {
        let (first, last, shortest, longest): (i64, i64, i64, i64) =
            (part.get(1)?, part.get(2)?, part.get(3)?, part.get(4)?);
        if first > filter.end
            || longest < filter.min
            || shortest > filter.max
            || !has_all(part.get_ref(5)?.as_blob()?, &wanted)
        {
            continue;
        }
        let id_bytes = part.get_ref(0)?.as_blob()?;
        let Some(id) = TraceId::from_bytes(id_bytes).filter(|id| !found.has(id)) else { continue };
        let certain = wanted.is_empty()
            && query.operation.is_none()
            && first >= filter.start
            && last <= filter.end
            && shortest >= filter.min
            && longest <= filter.max;
        if (certain || confirm.matches(id_bytes)?) && found.add(id) {
            break;
        }
    }
    Ok(found.ids)
}

/// Trace ids in the order found, each once, up to a limit.
struct Found {
    ids: Vec<TraceId>,
    seen: HashSet<TraceId>,
    limit: usize,
}

impl Found {
    fn new(limit: usize) -> Found {
        Found { ids: Vec::new(), seen: HashSet::new(), limit }
    }

    fn has(&self, id: &TraceId) -> bool {
        self.seen.contains(id)
    }

    /// Adds a trace; whether the limit is reached.
    fn add(&mut self, id: TraceId) -> bool {
        if self.seen.insert(id) {
            self.ids.push(id);
        }
        self.ids.len() >= self.limit
    }
}

/// Whether a trace has a span that matches every filter, read from its spans.
struct Confirm<'c, 'q> {
    connection: &'c Connection,
    filter: &'c SpanFilter<'q>,
    spans: rusqlite::CachedStatement<'c>,
    /// Resource attributes by id, for tag searches.
    resources: HashMap<i64, Vec<KeyValue>>,
}

impl<'c, 'q> Confirm<'c, 'q> {
    fn new(connection: &'c Connection, filter: &'c SpanFilter<'q>) -> rusqlite::Result<Self> {
        let spans = connection.prepare_cached(&filter.sql())?;
        Ok(Confirm { connection, filter, spans, resources: HashMap::new() })
    }

    fn matches(&mut self, trace: &[u8]) -> rusqlite::Result<bool> {
        let tags = &self.filter.query.tags;
        let mut rows = self.filter.rows(&mut self.spans, trace)?;
        while let Some(row) = rows.next()? {
            if tags.is_empty() {
                return Ok(true);
            }
            let resource_id: i64 = row.get(0)?;
            let Ok(span) = ProtoSpan::decode(row.get_ref(1)?.as_blob()?) else { continue };
            let attributes = match self.resources.entry(resource_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(slot) => slot.insert(resource(self.connection, resource_id)?.attributes),
            };
            if has_tags(&span, attributes, tags) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Whether a span (with its resource) carries every `key=value` of a tag search;
/// `error=true` also holds for a span whose status is an error.
fn has_tags(span: &ProtoSpan, resource: &[KeyValue], tags: &[(String, String)]) -> bool {
    let own = convert_attributes(span.attributes.clone());
    let shared = convert_attributes(resource.to_vec());
    let failed = span.status.as_ref().is_some_and(|s| status_code(s.code) == StatusCode::Error);
    tags.iter().all(|(key, value)| {
        (failed && key == "error" && value == "true")
            || own.iter().chain(&shared).any(|a| a.key == *key && a.value.to_string() == *value)
    })
}
