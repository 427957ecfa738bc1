//! The aggregated flame graph as text: an icicle of call paths where width is the share of
//! self time across all traces (not a timeline), heaviest paths on the left, then the
//! paths with the most self time as a list, since narrow bars cannot hold their names.
//!
//! The targets of the drawing name *nodes* of the [`AggregateFlame`] (in `Target::span`),
//! so the editor can open each node's example trace.

use super::icicle::{self, Bar};
use super::layout::{Cell, Column, Part, Table, fit_parts};
use super::palette;
use super::style::{Group, Rendered, StyledLine, Target};
use super::text::{Keep, wrap_styled};
use super::units::{duration, plural};
use crate::analysis::aggregate::AggregateFlame;
use crate::analysis::findings::percent;

const MIN_WIDTH: usize = 40;
const TOP_PATHS: usize = 10;

pub fn render(flame: &AggregateFlame, title: &str, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let total = flame.nodes.first().map_or(0, |root| root.total_ns);
    let mut out = Rendered::default();
    let traces = format!(" · {} trace{}", flame.traces, plural(flame.traces));
    out.lines.push(fit_parts(
        &[
            Part::fixed("Aggregated flame graph", Some(Group::Title), 9),
            Part::elastic(format!(" · {title}"), Some(Group::Title), 8, 12, Keep::Ends).comfort(5),
            Part::fixed(traces, Some(Group::Dim), 7),
            Part::fixed(format!(" · {} of self time", duration(total)), Some(Group::Dim), 6),
        ],
        width,
    ));
    let legend = "width = share of self time on each call path, heaviest first (not a timeline)";
    out.lines.extend(wrap_styled(&StyledLine::styled(legend, Group::Dim), width, 0));
    if flame.nodes.len() <= 1 || total == 0 {
        out.lines.push(StyledLine::plain("(no spans to aggregate)"));
        return out;
    }

    let bars: Vec<Bar> = flame
        .nodes
        .iter()
        .map(|node| Bar {
            parent: node.parent,
            weight: node.total_ns,
            service: &node.service,
            operation: &node.operation,
            note: format!("{:.1}%", percent(node.total_ns, total)),
            fill: palette::text(&node.service, false),
            label: palette::bar(&node.service, false),
        })
        .collect();
    let icicle = icicle::draw(&bars, width, out.lines.len());
    out.lines.extend(icicle.lines);
    out.targets.extend(icicle.targets);
    if icicle.hidden > 0 {
        let hidden = icicle.hidden;
        let note = format!("{hidden} paths too narrow (or deep) to draw; the list below ranks them all");
        out.lines.extend(wrap_styled(&StyledLine::styled(&note, Group::Dim), width, 0));
    }

    out.lines.push(StyledLine::default());
    out.lines.push(StyledLine::styled("Most self time", Group::Title));
    let mut ranked: Vec<usize> = (1..flame.nodes.len()).collect();
    ranked.sort_by_key(|&i| std::cmp::Reverse(flame.nodes[i].self_ns));
    ranked.truncate(TOP_PATHS);
    let mut table = Table::new(vec![
        Column::number(8),
        Column::number(7),
        Column::number(6),
        Column::name(9, 20).keep(Keep::LastLevels).comfort(5),
    ])
    .gap(2);
    table.header(["share", "self", "calls", "path"].map(|h| Cell::new(h, Some(Group::Dim))).to_vec());
    let at = |n: usize| (flame.nodes[n].parent, &*flame.nodes[n].service, &*flame.nodes[n].operation);
    for &i in &ranked {
        let node = &flame.nodes[i];
        table.row(vec![
            Cell::new(format!("  {:.1}%", percent(node.self_ns, total)), Some(Group::Duration)),
            Cell::new(duration(node.self_ns), Some(Group::Duration)),
            Cell::new(node.count.to_string(), Some(Group::Duration)),
            Cell::new(icicle::path_name(i, at), Some(Group::Label)),
        ]);
    }
    let (header, rows) = table.draw(width);
    out.lines.extend(header.map(|h| h.line));
    for (row, &node) in rows.into_iter().zip(&ranked) {
        if let Some(path) = row.cells[3].clone() {
            out.targets.push(Target { line: out.lines.len(), start: path.start, end: path.end, span: node });
        }
        out.lines.push(row.line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::aggregate::aggregate;
    use crate::analysis::testing::trace;

    #[test]
    fn widths_follow_self_time_and_the_list_ranks_paths() {
        let t = trace(&[
            (1, 0, "web", "GET /checkout", 0, 100),
            (2, 1, "db", "SELECT orders", 0, 75),
            (3, 1, "cache", "GET", 80, 5),
        ])
        .done();
        let flame = aggregate([&t], None);
        let out = render(&flame, "web", 100);
        let text = out.plain_text();
        assert!(text.contains("1 trace · 100ms of self time"), "{text}");
        let row = |needle: &str| out.lines.iter().position(|l| l.text.contains(needle)).unwrap();
        let second = row("SELECT orders  75.0%");
        let line = &out.lines[second].text;
        assert!(line.starts_with("db: SELECT orders"), "heaviest on the left\n{text}");
        let cache = out.targets.iter().find(|t| t.line == second && &*flame.nodes[t.span].service == "cache").unwrap();
        let cache_column = line[..cache.start].chars().count();
        assert_eq!(cache_column, 75, "the select takes 75% of 100 columns, then the cache\n{text}");
        let ranked = row("Most self time");
        assert_eq!(out.lines[ranked + 1].text, "  share    self  calls  path", "{text}");
        let first = &out.lines[ranked + 2].text;
        assert!(first.contains("75.0%") && first.ends_with("web GET /checkout › db SELECT orders"), "{text}");
        let target = out.targets.iter().find(|t| t.line == ranked + 2).unwrap();
        assert_eq!(&first[target.start..target.end], "web GET /checkout › db SELECT orders");
        assert_eq!(&*flame.nodes[target.span].operation, "SELECT orders");
    }

    #[test]
    fn nothing_to_aggregate_says_so() {
        let flame = aggregate(std::iter::empty(), Some("web"));
        assert!(render(&flame, "web", 80).plain_text().contains("no spans to aggregate"));
    }
}
