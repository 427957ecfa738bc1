//! The network-call waterfall: only the outgoing calls of a trace (HTTP, RPC, database,
//! messaging), in start order, each with its offset, duration and a bar on a shared time
//! axis, so that calls made one after another and calls made at once are told apart at
//! a glance.

use std::collections::BTreeSet;

use super::canvas::{BAR, Row};
use super::frame;
use super::layout::{Cell, Column, Table};
use super::palette;
use super::style::{Group, Rendered, StyledLine};
use super::text::wrap_styled;
use super::units::{duration, plural};
use crate::analysis::calls::{CallKind, Calls};
use crate::analysis::self_time::covered_ns;
use crate::model::{SpanIndex, Trace};

const MIN_WIDTH: usize = 40;
/// The columns left of the bars: when the window is narrow the kind goes first, then
/// the start offset; the call's name is cut in the middle (`GET 127.0.0.1:8…/cart`),
/// never below 16 cells, and takes at most half the width, the bars at least 12.
const START: usize = 0;
const TOOK: usize = 1;
const KIND: usize = 2;
const CALL: usize = 3;
const BARS: usize = 4;

pub fn render(trace: &Trace, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let classified = Calls::of(trace);
    let mut calls: Vec<(SpanIndex, CallKind, String)> = trace
        .spans
        .iter()
        .enumerate()
        .filter_map(|(i, span)| classified.get(i).map(|call| (i, call.kind, classified.describe(call, span))))
        .collect();
    calls.sort_by_key(|(i, ..)| (trace.spans[*i].start_ns, *i));

    let t0 = trace.start_ns();
    let mut table = Table::new(vec![
        Column::number(5),
        Column::number(8),
        Column::word(3),
        Column::name(9, 16).max(width / 2).comfort(6),
        Column::filler(7, 12),
    ])
    .gap(1);
    table.header(["start", "took", "kind", "call", ""].map(|h| Cell::new(h, None)).to_vec());
    for (i, kind, what) in &calls {
        let span = &trace.spans[*i];
        table.row(vec![
            Cell::new(format!("+{}", duration(span.start_ns.saturating_sub(t0))), None),
            Cell::new(duration(span.duration_ns), None),
            Cell::new(kind.label(), None),
            Cell::new(call_name(span.service(), what), None),
        ]);
    }
    let layout = table.layout(width);
    let bars = layout.slots[BARS].unwrap_or(super::layout::Slot { x: width, width: 0 });
    let total = trace.duration_ns().max(1) as u128;
    let timeline = bars.width.max(1);
    let col = |t: u64| (t.saturating_sub(t0) as u128 * timeline as u128 / total).min(timeline as u128) as usize;

    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    out.lines.extend(wrap_styled(&summary(trace, &calls), width, 2));
    let mut header = StyledLine::default();
    for (column, text) in layout.header.iter().flatten().enumerate() {
        if let (Some(slot), Some(text)) = (layout.slots[column], text) {
            header.pad_to(slot.x);
            header.push(text, Some(Group::Dim));
        }
    }
    if bars.width > 0 {
        header.pad_to(bars.x);
        header.push(&frame::ruler(trace.duration_ns(), bars.width, 0).text, Some(Group::Dim));
    }
    out.lines.push(header);
    let groups = [Some(Group::Dim), Some(Group::Duration), Some(Group::Key), None];
    for ((i, ..), texts) in calls.iter().zip(&layout.rows) {
        let span = &trace.spans[*i];
        let colour = palette::text(span.service(), span.is_error());
        let mut row = Row::new(width);
        for column in [START, TOOK, KIND, CALL] {
            if let (Some(slot), Some(text)) = (layout.slots[column], &texts[column]) {
                row.put(slot.x, text, groups[column].or(Some(colour)), Some(*i));
            }
        }
        if bars.width > 0 {
            let c0 = col(span.start_ns).min(timeline - 1);
            let c1 = col(span.end_ns()).clamp(c0 + 1, timeline);
            row.fill(bars.x + c0, c1 - c0, BAR, Some(colour), Some(*i));
        }
        let line = row.draw(out.lines.len(), &mut out.targets);
        out.lines.push(line);
    }
    if calls.is_empty() {
        let none = StyledLine::plain("(no outgoing calls: no client, producer or database spans)");
        out.lines.extend(wrap_styled(&none, width, 1));
    }
    out.lines.extend(frame::footer(trace, None, width));
    out
}

/// `checkout: GET cart/items`: who calls what, the service said once even when the
/// call's own description starts with it.
fn call_name(service: &str, what: &str) -> String {
    let what = what.strip_prefix(service).and_then(|rest| rest.strip_prefix(' ')).unwrap_or(what);
    format!("{service}: {what}")
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
    let mut text = format!("{} call{}", calls.len(), plural(calls.len()));
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
    StyledLine::styled(&text, Group::Label)
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
    fn targets_that_differ_only_by_port_stay_apart_when_cut() {
        let ports = [(2, "18081"), (3, "18082"), (4, "18083")];
        let mut spans = vec![(1, 0, "frontend", "GET /", 0, 100)];
        spans.extend(ports.map(|(id, _)| (id, 1, "frontend", "GET", 10 * id, 5)));
        let mut build = trace(&spans);
        for (id, port) in ports {
            let url = format!("http://127.0.0.1:{port}/api/v1/orders/items?page=1");
            build = build.kind(id, SpanKind::Client).attr(id, "http.request.method", "GET").attr(id, "url.full", &url);
        }
        let out = render(&build.done(), 60);
        let text = out.plain_text();
        assert!(out.lines.iter().all(|l| l.width() <= 60), "{text}");
        let header = out.lines.iter().position(|l| l.text.starts_with("  start")).unwrap();
        let call = out.lines[header].text.find("call").unwrap();
        let names: std::collections::BTreeSet<String> = out.lines[header + 1..]
            .iter()
            .map(|l| l.text.chars().skip(call).take_while(|&c| c != BAR).collect::<String>().trim().to_string())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}\n{text}");
    }

    #[test]
    fn a_trace_without_calls_says_so() {
        let t = trace(&[(1, 0, "web", "GET /", 0, 10)]).done();
        assert!(render(&t, 80).plain_text().contains("no outgoing calls"));
    }
}
