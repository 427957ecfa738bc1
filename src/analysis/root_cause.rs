//! Where a failing request's error comes from. Errors propagate upwards, so the span that
//! reports a failure is rarely its cause: follow the failing chain down from the first
//! failed span whose caller did not fail, into the earliest failing child (a later failure among siblings is usually
//! fallout of the first), and, when no child failed but one used up the whole of its
//! caller's time, into that one: the caller gave up on it (a timeout surfaces upstream).

use super::findings::{Evidence, Finding, FindingKind, Severity};
use super::index::TraceIndex;
use crate::model::{SpanIndex, SpanKind, Trace};

/// The span where the trace's first failure originates (first in `span_ids`, followed by
/// the failing chain up to the span that reported it), if anything failed. The chain
/// starts at the earliest failed span whose parent did not fail.
pub fn error_root_causes(index: &TraceIndex) -> Vec<Finding> {
    let trace = index.trace;
    let failed_on_top = (0..trace.spans.len())
        .filter(|&s| has_failed(trace, s) && !trace.tree.parent(s).is_some_and(|p| has_failed(trace, p)))
        .min_by_key(|&s| (trace.spans[s].start_ns, s));
    failed_on_top.map(|top| finding(index, top)).into_iter().collect()
}

fn has_failed(trace: &Trace, span: SpanIndex) -> bool {
    let span = &trace.spans[span];
    let server_error = || {
        span.attr("http.response.status_code")
            .or_else(|| span.attr("http.status_code"))
            .and_then(|v| v.as_i64())
            .is_some_and(|code| code >= 500)
    };
    span.is_error() || server_error()
}

fn finding(index: &TraceIndex, top: SpanIndex) -> Finding {
    let trace = index.trace;
    let mut chain = vec![top];
    let mut timed_out = false;
    let mut current = top;
    while let Some((next, by_timeout)) = next_in_chain(trace, current) {
        timed_out |= by_timeout;
        chain.push(next);
        current = next;
        if chain.len() > trace.spans.len() {
            break;
        }
    }
    // Origin first, up to the top of the failing chain.
    chain.reverse();
    let origin = chain[0];
    let reporter = chain.iter().copied().find(|&s| trace.spans[s].is_error()).unwrap_or(top);
    let mut finding = index.finding(FindingKind::ErrorRootCause, &chain);
    // A failed request (a root, a server span) matters more than a call it recovered
    // from (a retried client call).
    let request_failed = trace.tree.roots().any(|r| has_failed(trace, r)) || trace.spans[top].kind == SpanKind::Server;
    finding.severity = if request_failed { Severity::Error } else { Severity::Warn };
    finding.count = 1;
    finding.total_us = trace.spans[origin].duration_ns / 1000;
    // The whole request is lost to the failure.
    finding.impact_us = index.duration_ns() / 1000;
    finding.percent = 100.0;
    finding.evidence = Evidence::ErrorRootCause {
        reason: reason(trace, origin).or_else(|| reason(trace, reporter)).unwrap_or_default(),
        timed_out: timed_out && !trace.spans[origin].is_error(),
        reported_by: format!("{} {}", trace.spans[top].service(), &*trace.spans[top].operation),
    };
    finding
}

/// The next span down the failing chain, and whether it was chosen because it used up
/// its caller's time rather than because it failed.
fn next_in_chain(trace: &Trace, span: SpanIndex) -> Option<(SpanIndex, bool)> {
    let failing = trace
        .tree
        .children(span)
        .filter(|&c| trace.spans[c].is_error())
        .min_by_key(|&c| (trace.spans[c].start_ns, trace.spans[c].end_ns()));
    if let Some(child) = failing {
        return Some((child, false));
    }
    let parent = &trace.spans[span];
    let budget_spent = |c: SpanIndex| {
        let child = &trace.spans[c];
        let slack = (parent.duration_ns / 100).max(1_000_000);
        u128::from(child.duration_ns) * 10 >= u128::from(parent.duration_ns) * 9
            && child.end_ns().saturating_add(slack) >= parent.end_ns()
    };
    trace
        .tree
        .children(span)
        .filter(|&c| budget_spent(c))
        .max_by_key(|&c| trace.spans[c].duration_ns)
        .map(|c| (c, true))
}

/// Why a span failed: its status message, else its exception event's message or type.
pub fn reason(trace: &Trace, span: SpanIndex) -> Option<String> {
    let span = &trace.spans[span];
    if !span.status.message.is_empty() {
        return Some(span.status.message.to_string());
    }
    span.events.iter().filter(|e| &*e.name == "exception").find_map(|e| {
        let text = |key: &str| crate::model::span::find_attr(&e.attributes, key).map(|v| v.to_string());
        text("exception.message").or_else(|| text("exception.type"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn the_earliest_failing_sibling_is_the_cause_and_the_chain_leads_to_its_leaf() {
        let t = trace(&[
            (1, 0, "checkout", "PlaceOrder", 0, 200),
            (2, 1, "checkout", "Charge", 20, 40),
            (3, 2, "payment", "Charge", 22, 36),
            (4, 1, "email", "Send", 120, 60),
        ])
        .error(1, "")
        .error(2, "")
        .error(3, "card declined")
        .error(4, "no order")
        .done();
        let found = error_root_causes(&TraceIndex::new(&t));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].span_ids, ["0000000000000003", "0000000000000002", "0000000000000001"]);
        assert_eq!(found[0].severity, Severity::Error);
        assert!(
            matches!(&found[0].evidence, Evidence::ErrorRootCause { reason, timed_out: false, .. } if reason == "card declined")
        );
    }

    #[test]
    fn a_child_that_used_up_the_callers_time_is_the_origin_of_a_timeout() {
        let t = trace(&[
            (1, 0, "proxy", "POST", 0, 15_000),
            (2, 1, "web", "POST", 1, 14_999),
            (3, 0, "other", "GET", 0, 5),
        ])
        .kind(1, SpanKind::Server)
        .error(1, "upstream timeout")
        .done();
        let found = error_root_causes(&TraceIndex::new(&t));
        assert_eq!(found[0].span_ids[0], "0000000000000002");
        assert!(matches!(&found[0].evidence, Evidence::ErrorRootCause { timed_out: true, .. }));
        let fine = trace(&[(1, 0, "a", "ok", 0, 5)]).done();
        assert!(error_root_causes(&TraceIndex::new(&fine)).is_empty(), "nothing failed");
    }
}
