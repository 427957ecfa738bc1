//! Span links in the trace float: which spans of a trace other traces link to (for the
//! `→ 2 linked` badges), and the list `l` shows of a span's links, both ways.

use std::collections::HashMap;

use super::protocol::LinkItem;
use crate::error::Result;
use crate::model::{Span, SpanId, SpanIndex, Trace, TraceId};
use crate::providers::TraceProvider;
use crate::providers::links::{Direction, LinkedSpan};
use crate::render::text::{Keep, elide};
use crate::render::units::duration;

/// The most links of one span (or linking to one trace) listed.
pub const MAX_LINKS: usize = 200;

/// The spans of `trace` that spans of other traces link to, once for each linking span,
/// as the provider's index of links knows them (none for providers without one).
///
/// Every trace opened asks, so the spans are read once, and not at all when nothing links
/// to the trace (most traces), rather than once for each link.
pub async fn linked_spans(provider: &dyn TraceProvider, trace: &Trace) -> Result<Vec<SpanIndex>> {
    let mut linking: HashMap<(TraceId, SpanId), usize> = HashMap::new();
    for id in trace.trace_ids() {
        for link in provider.linking_to(id, MAX_LINKS).await? {
            *linking.entry((id, link.linked_span_id)).or_default() += 1;
        }
    }
    if linking.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for (index, span) in trace.spans.iter().enumerate() {
        if let Some(&count) = linking.get(&(span.trace_id, span.span_id)) {
            found.extend(std::iter::repeat_n(index, count));
        }
    }
    Ok(found)
}

/// The spans linked to `span` (see [`links_of_span`]), each labelled to fit `width`
/// columns: `← shop: orders publish · 251ms between · trace 4bf9…` for a span it links to
/// (the producer of what it consumed), `→ …` for a span linking to it (a consumer).
///
/// [`links_of_span`]: crate::providers::links::links_of_span
pub fn items(span: &Span, linked: &[LinkedSpan], width: usize) -> Vec<LinkItem> {
    linked
        .iter()
        .map(|link| {
            let arrow = match link.direction {
                Direction::To => "←",
                Direction::From => "→",
            };
            let what = match link.span() {
                Some(other) => {
                    let (earlier, later) = match link.direction {
                        Direction::To => (other.end_ns(), span.start_ns),
                        Direction::From => (span.end_ns(), other.start_ns),
                    };
                    let gap = match later.checked_sub(earlier) {
                        Some(wait) => format!(" · {} between", duration(wait)),
                        None => String::new(),
                    };
                    format!("{}: {}{gap}", other.service(), other.operation)
                }
                None => format!("span {} (its trace is not found)", link.span_id),
            };
            let label = format!("{arrow} {what} · trace {}", link.trace_id);
            LinkItem {
                label: elide(&label, width, Keep::Start),
                direction: link.direction,
                trace_id: link.trace_id.to_string(),
                span_id: link.span_id.to_string(),
            }
        })
        .collect()
}
