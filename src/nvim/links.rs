//! Span links in the trace float: which spans of a trace other traces link to (for the
//! `→ 2 linked` badges), and the list `l` shows of a span's links, both ways.

use std::future::Future;
use std::sync::Arc;

use super::protocol::LinkItem;
use crate::error::Result;
use crate::model::{SpanIndex, Trace, TraceId};
use crate::providers::TraceProvider;
use crate::providers::links::{Direction, links_of_span};
use crate::render::text::{Keep, elide};
use crate::render::units::duration;

/// The most links of one span (or linking to one trace) listed.
const MAX_LINKS: usize = 200;

/// The spans of `trace` that spans of other traces link to, once for each linking span,
/// as the provider's index of links knows them (none for providers without one).
pub async fn linked_spans(provider: &dyn TraceProvider, trace: &Trace) -> Result<Vec<SpanIndex>> {
    let mut found = Vec::new();
    for id in trace.trace_ids() {
        for link in provider.linking_to(id, MAX_LINKS).await? {
            let wanted = (id, link.linked_span_id);
            found.extend(trace.spans.iter().position(|s| (s.trace_id, s.span_id) == wanted));
        }
    }
    Ok(found)
}

/// The spans linked to `span`, both ways, each labelled to fit `width` columns:
/// `← shop: publish order  kafka orders · trace 4bf9…` for the span it links to (the
/// producer of what it consumed), `→ …` for a span linking to it (a consumer).
pub async fn items<F, Fut>(
    provider: &dyn TraceProvider,
    span: &crate::model::Span,
    width: usize,
    fetch: F,
) -> Result<Vec<LinkItem>>
where
    F: Fn(TraceId) -> Fut,
    Fut: Future<Output = Result<Arc<Trace>>>,
{
    let linked = links_of_span(provider, span, MAX_LINKS, fetch).await?;
    Ok(linked
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
        .collect())
}
