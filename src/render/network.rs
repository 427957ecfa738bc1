//! The network-call waterfall: only the outgoing calls of a trace (HTTP, RPC, database,
//! messaging), in start order, each with its offset, duration and a bar on a shared time
//! axis, so that calls made one after another and calls made at once are told apart at
//! a glance.

use std::collections::BTreeSet;

use super::canvas::{BAR, Row};
use super::frame;
use super::palette;
use super::style::{Group, Rendered, StyledLine};
use super::units::{duration, truncate};
use crate::analysis::calls::{CallKind, outgoing_call};
use crate::analysis::self_time::covered_ns;
use crate::model::{SpanIndex, Trace};

const MIN_WIDTH: usize = 60;
/// `+123ms ` and `  1.24s ` and `HTTP `.
const OFFSET_WIDTH: usize = 8;
const TOOK_WIDTH: usize = 8;
const KIND_WIDTH: usize = 5;

pub fn render(trace: &Trace, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let mut calls: Vec<(SpanIndex, CallKind, String)> = trace
        .spans
        .iter()
        .enumerate()
        .filter_map(|(i, span)| outgoing_call(span).map(|call| (i, call.kind, call.describe(span))))
        .collect();
    calls.sort_by_key(|(i, ..)| (trace.spans[*i].start_ns, *i));

    let fixed = OFFSET_WIDTH + TOOK_WIDTH + KIND_WIDTH;
    let name_width = (width - fixed) * 2 / 5;
    let bars_at = fixed + name_width + 1;
    let timeline = width - bars_at;
    let t0 = trace.start_ns();
    let total = trace.duration_ns().max(1) as u128;
    let col = |t: u64| (t.saturating_sub(t0) as u128 * timeline as u128 / total).min(timeline as u128) as usize;

    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    out.lines.push(summary(trace, &calls));
    out.lines.push(frame::ruler(trace.duration_ns(), timeline, bars_at));
    for (i, kind, what) in &calls {
        let span = &trace.spans[*i];
        let failed = span.is_error();
        let mut row = Row::new(width);
        let offset = format!("+{}", duration(span.start_ns.saturating_sub(t0)));
        row.put(OFFSET_WIDTH.saturating_sub(offset.chars().count() + 1), &offset, Some(Group::Dim), Some(*i));
        let took = duration(span.duration_ns);
        row.put(OFFSET_WIDTH + TOOK_WIDTH - 1 - took.chars().count(), &took, Some(Group::Duration), Some(*i));
        row.put(OFFSET_WIDTH + TOOK_WIDTH, kind.label(), Some(Group::Key), Some(*i));
        let name = format!("{}: {what}", span.service());
        row.put(fixed, &truncate(&name, name_width), Some(palette::text(span.service(), failed)), Some(*i));
        let c0 = col(span.start_ns).min(timeline - 1);
        let c1 = col(span.end_ns()).clamp(c0 + 1, timeline);
        row.fill(bars_at + c0, c1 - c0, BAR, Some(palette::text(span.service(), failed)), Some(*i));
        let (line, targets) = row.into_line(out.lines.len());
        out.lines.push(line);
        out.targets.extend(targets);
    }
    if calls.is_empty() {
        out.lines.push(StyledLine::plain("(no outgoing calls: no client, producer or database spans)"));
    }
    out.lines.extend(frame::footer(trace, None));
    out
}

/// `24 calls: 12 HTTP · 11 RPC · 1 DB · at most 3 at once · 420ms waiting on calls`
fn summary(trace: &Trace, calls: &[(SpanIndex, CallKind, String)]) -> StyledLine {
    let mut counts: Vec<(CallKind, usize)> = Vec::new();
    for (_, kind, _) in calls {
        match counts.iter_mut().find(|(k, _)| k == kind) {
            Some((_, n)) => *n += 1,
            None => counts.push((*kind, 1)),
        }
    }
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let intervals = calls.iter().map(|(i, ..)| (trace.spans[*i].start_ns, trace.spans[*i].end_ns()));
    let mut text = format!("{} call{}", calls.len(), if calls.len() == 1 { "" } else { "s" });
    for (kind, n) in counts {
        text.push_str(&format!(" · {n} {}", kind.label()));
    }
    if !calls.is_empty() {
        let spans: Vec<SpanIndex> = calls.iter().map(|(i, ..)| *i).collect();
        text.push_str(&format!(
            " · at most {} at once · {} waiting on calls",
            max_concurrency(trace, &spans),
            duration(covered_ns(intervals))
        ));
    }
    let mut line = StyledLine::default();
    line.push(&text, Some(Group::Label));
    line
}

/// The most calls in flight at one instant, counting only calls that are not inside one
/// another: a client span and the database span under it are one call in progress, not
/// two, and an RPC wrapping its server's queries does not add to them. At each instant
/// that is the number of open calls with no open call below them (the innermost ones).
/// A call ending as another starts does not overlap it.
fn max_concurrency(trace: &Trace, calls: &[SpanIndex]) -> usize {
    // A span's subtree is the run of preorder positions from its own, `size` long.
    let mut position = vec![0; trace.spans.len()];
    let mut size = vec![1; trace.spans.len()];
    let preorder: Vec<SpanIndex> = trace.tree.preorder().collect();
    for (at, &i) in preorder.iter().enumerate() {
        position[i] = at;
    }
    for &i in preorder.iter().rev() {
        if let Some(parent) = trace.tree.parent(i) {
            size[parent] += size[i];
        }
    }
    let mut edges: Vec<(u64, bool, SpanIndex)> = calls
        .iter()
        .map(|&i| (i, &trace.spans[i]))
        .filter(|(_, span)| span.end_ns() > span.start_ns)
        .flat_map(|(i, span)| [(span.start_ns, true, i), (span.end_ns(), false, i)])
        .collect();
    // Ends before starts at the same instant.
    edges.sort();
    let mut open: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut most = 0;
    for (_, starts, i) in edges {
        if !starts {
            open.remove(&(position[i], size[i]));
            continue;
        }
        open.insert((position[i], size[i]));
        let open: Vec<&(usize, usize)> = open.iter().collect();
        let innermost = open
            .iter()
            .enumerate()
            .filter(|(k, (at, size))| open.get(k + 1).is_none_or(|(next, _)| *next >= at + size))
            .count();
        most = most.max(innermost);
    }
    most
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;
    use crate::model::SpanKind;

    #[test]
    fn lists_only_calls_in_start_order_and_shows_how_many_ran_at_once() {
        let t = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "web", "render", 1, 5),
            (3, 1, "web", "GET /price", 40, 20),
            (4, 1, "web", "GET /stock", 45, 20),
            (5, 1, "web", "SELECT", 10, 10),
        ])
        .kind(3, SpanKind::Client)
        .attr(3, "http.request.method", "GET")
        .attr(3, "url.full", "http://pricing:80/price?sku=1")
        .kind(4, SpanKind::Client)
        .attr(4, "http.request.method", "GET")
        .attr(4, "url.full", "http://stock:80/stock")
        .attr(5, "db.system", "postgresql")
        .attr(5, "db.statement", "SELECT * FROM cart WHERE id = 7")
        .done();
        let out = render(&t, 120);
        let text = out.plain_text();
        assert!(!text.contains("render"), "internal spans are not calls\n{text}");
        assert!(text.contains("3 calls · 2 HTTP · 1 DB · at most 2 at once"), "{text}");
        let row = |needle: &str| out.lines.iter().position(|l| l.text.contains(needle)).unwrap();
        assert!(row("SELECT * FROM cart WHERE id = ?") < row("pricing:80/price"), "start order\n{text}");
        assert!(row("pricing:80/price") < row("stock:80/stock"));
        assert!(out.lines[row("pricing")].text.trim_start().starts_with("+40.0ms"), "{text}");
        let bar = |needle: &str| out.lines[row(needle)].text.chars().position(|c| c == BAR).unwrap();
        assert!(bar("stock:80") > bar("pricing:80"), "the later call's bar starts further right\n{text}");
        assert_eq!(out.span_at(row("stock:80"), 0).map(|s| t.spans[s].operation.as_str()), Some("GET /stock"));
    }

    #[test]
    fn calls_inside_other_calls_do_not_count_as_running_at_once() {
        // Strictly one after another: each HTTP call's server runs its query inside it.
        let t = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "web", "GET /cart", 10, 30),
            (3, 2, "cart", "GET /cart", 12, 26),
            (4, 3, "cart", "SELECT", 15, 20),
            (5, 1, "web", "POST /pay", 50, 40),
            (6, 5, "pay", "POST /pay", 52, 36),
            (7, 6, "pay", "INSERT", 55, 30),
        ])
        .kind(2, SpanKind::Client)
        .attr(2, "url.full", "http://cart:80/cart")
        .kind(5, SpanKind::Client)
        .attr(5, "url.full", "http://pay:80/pay")
        .attr(4, "db.system", "postgresql")
        .attr(7, "db.system", "postgresql")
        .done();
        let text = render(&t, 120).plain_text();
        assert!(text.contains("4 calls · 2 HTTP · 2 DB · at most 1 at once · 70.0ms waiting on calls"), "{text}");

        // The same calls, but the payment starts while the cart's query still runs.
        let overlapping = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "web", "GET /cart", 10, 30),
            (3, 2, "cart", "GET /cart", 12, 26),
            (4, 3, "cart", "SELECT", 15, 20),
            (5, 1, "web", "POST /pay", 20, 40),
        ])
        .kind(2, SpanKind::Client)
        .kind(5, SpanKind::Client)
        .attr(4, "db.system", "postgresql")
        .done();
        assert!(render(&overlapping, 120).plain_text().contains("at most 2 at once"));
    }

    #[test]
    fn a_trace_without_calls_says_so() {
        let t = trace(&[(1, 0, "web", "GET /", 0, 10)]).done();
        assert!(render(&t, 80).plain_text().contains("no outgoing calls"));
    }
}
