//! A comparison of two traces as text: both traces and the change in duration, a
//! differential flame graph (the second trace's call paths weighted by self time,
//! coloured by how each path's time changed), the structural changes, and the latency of
//! matched paths, biggest change first. List lines open the path's longest span.

use super::icicle::{self, Bar};
use super::layout::{Cell, Column, Part, Table, fit_parts};
use super::report::{RenderedReport, ReportItem, push_item, section};
use super::style::{Group, StyledLine};
use super::text::{Keep, wrap_styled};
use super::units::{duration, plural, signed_duration, signed_percent};
use crate::analysis::compare::{Change, Comparison, DiffNode, NOTABLE_OF_TRACE, NOTABLE_SHARE, PathStats, Side};
use crate::model::change_ns;

const MIN_WIDTH: usize = 40;
const MAX_LIST: usize = 15;

pub fn render(diff: &Comparison, width: usize) -> RenderedReport {
    let width = width.max(MIN_WIDTH);
    let mut out = RenderedReport::default();
    let lines = &mut out.rendered.lines;
    lines.push(StyledLine::styled("Trace comparison", Group::Title));
    lines.push(side_line("A", &diff.before, width));
    lines.push(side_line("B", &diff.after, width));
    let delta = change_ns(diff.before.duration_ns, diff.after.duration_ns);
    let mut change = StyledLine::plain("   Δ ");
    change.push(&signed_duration(delta), Some(trend(delta)));
    if diff.before.duration_ns > 0 {
        change.push(
            &format!(" ({})", signed_percent(delta as f64 * 100.0 / diff.before.duration_ns as f64)),
            Some(Group::Dim),
        );
    }
    lines.push(change);

    flame(&mut out, diff, width);
    structure(&mut out, diff, width);
    latency(&mut out, diff, width);
    out
}

/// `   A 4bd8…  frontend: GET /dispatch  712ms · 52 spans`; the trace id gives way first.
fn side_line(name: &str, side: &Side, width: usize) -> StyledLine {
    fit_parts(
        &[
            Part::fixed(format!("   {name} "), None, 9),
            Part::fixed(format!("{}  ", side.trace_id), Some(Group::Dim), 3),
            Part::elastic(format!("{}  ", side.root), Some(Group::Label), 7, 16, Keep::Ends),
            Part::fixed(duration(side.duration_ns), Some(Group::Duration), 8),
            Part::fixed(format!(" · {} spans", side.span_count), Some(Group::Dim), 5),
        ],
        width,
    )
}

fn flame(out: &mut RenderedReport, diff: &Comparison, width: usize) {
    section(out, "Differential flame graph");
    let legend = format!(
        "B's call paths by self time: red slower or new, green faster, grey unchanged (within noise: moved less \
         than {:.0}% of the path's time or {:.0}% of the trace's)",
        NOTABLE_SHARE * 100.0,
        NOTABLE_OF_TRACE * 100.0
    );
    out.rendered.lines.extend(wrap_styled(&StyledLine::styled(&legend, Group::Dim), width, 0));
    let bars: Vec<Bar> = diff
        .nodes()
        .map(|node| {
            let (fill, label) = if node.change == Change::Added || (node.notable && node.delta_ns > 0) {
                (Group::Slower, Group::SlowerLabel)
            } else if node.notable {
                (Group::Faster, Group::FasterLabel)
            } else {
                (Group::Neutral, Group::NeutralLabel)
            };
            Bar {
                parent: node.parent,
                weight: node.after.map_or(0, |s| s.total_ns),
                service: node.service,
                operation: node.operation,
                note: note(&node),
                fill,
                label,
            }
        })
        .collect();
    let drawn = icicle::draw(&bars, width, out.rendered.lines.len());
    out.rendered.lines.extend(drawn.lines);
    if drawn.hidden > 0 {
        let text = format!("{} paths too narrow to draw; the lists below name every change", drawn.hidden);
        out.rendered.lines.extend(wrap_styled(&StyledLine::styled(&text, Group::Dim), width, 0));
    }
}

/// The change a bar's label carries: `new`, `+12.0ms`, `−30%`, or nothing.
fn note(node: &DiffNode) -> String {
    match (node.change, node.delta_percent) {
        (Change::Added, _) => "new".to_string(),
        (_, Some(p)) if node.notable => signed_percent(p),
        _ if node.notable => signed_duration(node.delta_ns),
        _ => String::new(),
    }
}

fn structure(out: &mut RenderedReport, diff: &Comparison, width: usize) {
    let changed: Vec<(usize, DiffNode)> =
        diff.nodes().enumerate().skip(1).filter(|(_, n)| n.change != Change::Same).collect();
    section(out, &format!("Structure: {} path{} changed", changed.len(), plural(changed.len())));
    if changed.is_empty() {
        out.rendered.lines.push(StyledLine::styled("  the same calls, the same number of times", Group::Dim));
    }
    let shown: Vec<&DiffNode> = changed.iter().take(MAX_LIST).map(|(_, node)| node).collect();
    let mut table =
        Table::new(vec![Column::word(8), Column::number(7), Column::name(9, 20).keep(Keep::LastLevels).comfort(5)])
            .gap(2);
    for &(index, node) in changed.iter().take(MAX_LIST) {
        let count = |s: Option<PathStats>| s.map_or(0, |s| s.count);
        let (mark, what, group) = match node.change {
            Change::Added => ("  + added", format!("×{}", count(node.after)), Group::Slower),
            Change::Removed => ("  − removed", format!("×{}", count(node.before)), Group::Faster),
            Change::More => ("  ↑ more", format!("{} → {}", count(node.before), count(node.after)), Group::Slower),
            Change::Fewer => ("  ↓ fewer", format!("{} → {}", count(node.before), count(node.after)), Group::Faster),
            Change::Same => continue,
        };
        table.row(vec![
            Cell::new(mark, Some(group)),
            Cell::new(what, Some(Group::Duration)),
            Cell::new(path(diff, index), Some(Group::Label)),
        ]);
    }
    for (row, node) in table.render(width).into_iter().zip(shown) {
        push_example(out, row, node);
    }
    more(out, changed.len());
}

fn latency(out: &mut RenderedReport, diff: &Comparison, width: usize) {
    let mut matched: Vec<(usize, DiffNode)> =
        diff.nodes().enumerate().skip(1).filter(|(_, n)| n.before.is_some() && n.after.is_some()).collect();
    matched.sort_by_key(|(_, n)| std::cmp::Reverse(n.delta_ns.unsigned_abs()));
    let count = matched.len();
    matched.truncate(MAX_LIST);
    section(out, "Latency of matched paths, biggest change first");
    let mut table = Table::new(vec![
        Column::number(5),
        Column::number(6),
        Column::number(8),
        Column::number(7),
        Column::name(9, 20).keep(Keep::LastLevels).comfort(4),
    ])
    .gap(2);
    table.header(["before", "after", "Δ", "%", "path"].map(|h| Cell::new(h, Some(Group::Dim))).to_vec());
    for &(index, node) in &matched {
        let time = |s: Option<PathStats>| s.map_or(0, |s| s.duration_ns);
        let group = if node.notable { trend(node.delta_ns) } else { Group::Dim };
        table.row(vec![
            Cell::new(format!("  {}", duration(time(node.before))), Some(Group::Duration)),
            Cell::new(duration(time(node.after)), Some(Group::Duration)),
            Cell::new(signed_duration(node.delta_ns), Some(group)),
            Cell::new(node.delta_percent.map_or_else(String::new, signed_percent), Some(group)),
            Cell::new(path(diff, index), Some(Group::Label)),
        ]);
    }
    let (header, rows) = table.draw(width);
    out.rendered.lines.extend(header.map(|h| h.line));
    for (row, (_, node)) in rows.into_iter().zip(&matched) {
        push_example(out, row.line, node);
    }
    more(out, count);
}

fn more(out: &mut RenderedReport, count: usize) {
    if count > MAX_LIST {
        let text = format!("  … {} more (vitals diff --json lists all)", count - MAX_LIST);
        out.rendered.lines.push(StyledLine::styled(&text, Group::Dim));
    }
}

/// The line opens the path's longest span: in B, or in A for a path B no longer has.
fn push_example(out: &mut RenderedReport, line: StyledLine, node: &DiffNode) {
    let example = node.after.or(node.before).and_then(|s| s.example);
    match example {
        Some(e) => push_item(out, line, ReportItem::span(e.trace_id.to_string(), e.span_id.to_string())),
        None => out.rendered.lines.push(line),
    }
}

fn path(diff: &Comparison, index: usize) -> String {
    let at = |n: usize| {
        let node = diff.node(n);
        (node.parent, node.service, node.operation)
    };
    icicle::path_name(index, at)
}

/// Red for more time, green for less.
fn trend(delta: i64) -> Group {
    match delta {
        0 => Group::Dim,
        d if d > 0 => Group::Slower,
        _ => Group::Faster,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::compare::compare;
    use crate::analysis::testing::trace;

    #[test]
    fn says_what_changed_and_colours_the_flame_by_it() {
        let before = trace(&[
            (1, 0, "web", "GET /checkout", 0, 300),
            (2, 1, "db", "SELECT items", 0, 200),
            (3, 1, "redis", "GET", 250, 10),
        ])
        .done();
        let after = trace(&[
            (1, 0, "web", "GET /checkout", 0, 150),
            (2, 1, "db", "SELECT items", 0, 50),
            (4, 1, "mq", "publish", 60, 10),
        ])
        .done();
        let out = render(&compare(&before, &after), 120);
        let text = out.rendered.plain_text();
        for expected in [
            "Δ −150ms (−50%)",
            "  + added    ×1  web GET /checkout › mq publish",
            "  − removed  ×1  web GET /checkout › redis GET",
            "  200ms  50.0ms  −150ms  −75%  web GET /checkout › db SELECT items",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let groups = |needle: &str| {
            let line = out.rendered.lines.iter().find(|l| l.text.contains(needle)).unwrap();
            line.highlights.iter().map(|h| h.group).collect::<Vec<_>>()
        };
        assert!(groups("SELECT items  −75%").contains(&Group::FasterLabel), "faster paths are green\n{text}");
        assert!(groups("publish").contains(&Group::SlowerLabel), "new paths are red\n{text}");
        let removed = out.rendered.lines.iter().position(|l| l.text.contains("− removed")).unwrap();
        let item = out.items.iter().find(|i| i.line == removed).unwrap();
        assert_eq!(item.span_id.as_deref(), Some("0000000000000003"), "a removed path opens in the first trace");
    }

    #[test]
    fn a_path_that_moved_within_noise_is_grey_and_the_legend_says_so() {
        let before = trace(&[(1, 0, "web", "GET /checkout", 0, 1000), (2, 1, "shop", "PlaceOrder", 0, 900)]).done();
        let after = trace(&[(1, 0, "web", "GET /checkout", 0, 1008), (2, 1, "shop", "PlaceOrder", 0, 908)]).done();
        let diff = compare(&before, &after);
        let out = render(&diff, 160);
        let text = out.rendered.plain_text();
        let line = out.rendered.lines.iter().find(|l| l.text.starts_with("shop: PlaceOrder")).unwrap();
        let groups: Vec<Group> = line.highlights.iter().map(|h| h.group).collect();
        assert!(groups.contains(&Group::NeutralLabel), "+0.9% is within noise: grey\n{text}\n{groups:?}");
        let colourful = |g: &Group| matches!(g, Group::FasterLabel | Group::SlowerLabel | Group::Flame(_));
        assert!(!groups.iter().any(colourful), "a change or a service colour, not grey\n{text}\n{groups:?}");
        assert!(text.contains("grey unchanged (within noise: moved less than 10% of the path's time"), "{text}");
    }
}
