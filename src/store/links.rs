//! Span links indexed both ways, so that "who links to this span" (the consumers of a
//! message, the batch that took it) is one index lookup instead of a scan of every span.
//!
//! A row says that span (`trace_id`, `span_id`) links to (`linked_trace_id`,
//! `linked_span_id`): OTLP carries links on the linking span (the consumer), so the
//! forward direction is also in the span itself; the index on the linked side answers the
//! way back. Rows are written in the transaction that stores the linking span, and go
//! with its trace when retention evicts it. A row whose linked trace was evicted stays:
//! the linking span still says it was linked.

use opentelemetry_proto::tonic::trace::v1::Span as ProtoSpan;
use opentelemetry_proto::tonic::trace::v1::span::Link;
use prost::Message;
use rusqlite::{Connection, Transaction, params};

use crate::model::{SpanId, TraceId};

const TABLE: &str = "
CREATE TABLE IF NOT EXISTS span_links (
    trace_id BLOB NOT NULL,
    span_id BLOB NOT NULL,
    linked_trace_id BLOB NOT NULL,
    linked_span_id BLOB NOT NULL,
    PRIMARY KEY (trace_id, span_id, linked_trace_id, linked_span_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS span_links_by_linked ON span_links (linked_trace_id, linked_span_id);
";

/// A span of another trace that links to a span of the trace asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkFrom {
    /// The linking span (a consumer, a batch).
    pub trace_id: TraceId,
    pub span_id: SpanId,
    /// The span it links to, in the trace asked about.
    pub linked_span_id: SpanId,
}

pub fn create(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute_batch(TABLE)
}

/// The links of an OTLP span as (trace id, span id) bytes, those with well-formed ids.
pub fn of_links(links: &[Link]) -> Vec<(Vec<u8>, Vec<u8>)> {
    links
        .iter()
        .filter(|l| TraceId::from_bytes(&l.trace_id).is_some() && SpanId::from_bytes(&l.span_id).is_some())
        .map(|l| (l.trace_id.clone(), l.span_id.clone()))
        .collect()
}

/// Records the links of a span being stored.
pub fn record(tx: &Transaction, trace: &[u8], span: &[u8], links: &[(Vec<u8>, Vec<u8>)]) -> rusqlite::Result<()> {
    if links.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO span_links (trace_id, span_id, linked_trace_id, linked_span_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (linked_trace, linked_span) in links {
        insert.execute(params![trace, span, linked_trace, linked_span])?;
    }
    Ok(())
}

/// Every span of another trace that links to a span of `trace`, at most `limit`.
pub fn linking_to(connection: &Connection, trace: TraceId, limit: usize) -> rusqlite::Result<Vec<LinkFrom>> {
    let mut statement = connection.prepare_cached(
        "SELECT trace_id, span_id, linked_span_id FROM span_links WHERE linked_trace_id = ?1 AND trace_id != ?1 LIMIT ?2",
    )?;
    let key = trace.to_bytes().to_vec();
    let rows = statement.query_map(params![key, limit.min(i64::MAX as usize) as i64], |row| {
        Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?, row.get::<_, Vec<u8>>(2)?))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (t, s, linked) = row?;
        if let (Some(trace_id), Some(span_id), Some(linked_span_id)) =
            (TraceId::from_bytes(&t), SpanId::from_bytes(&s), SpanId::from_bytes(&linked))
        {
            found.push(LinkFrom { trace_id, span_id, linked_span_id });
        }
    }
    Ok(found)
}

/// Forgets the links of the spans of an evicted trace.
pub fn forget(tx: &Transaction, trace: &[u8]) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM span_links WHERE trace_id = ?1")?.execute(params![trace])?;
    Ok(())
}

/// Fills the index from the spans already stored (a file of layout 6 or older), whose
/// encodings kept their links.
pub fn fill_from_spans(tx: &Transaction) -> rusqlite::Result<()> {
    let mut spans = tx.prepare("SELECT trace_id, span_id, body FROM spans")?;
    let mut rows = spans.query([])?;
    while let Some(row) = rows.next()? {
        let Ok(span) = ProtoSpan::decode(row.get_ref(2)?.as_blob()?) else {
            continue;
        };
        let (trace, span_id): (Vec<u8>, Vec<u8>) = (row.get(0)?, row.get(1)?);
        record(tx, &trace, &span_id, &of_links(&span.links))?;
    }
    Ok(())
}
