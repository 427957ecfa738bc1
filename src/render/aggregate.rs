//! The aggregated flame graph as text: an icicle of call paths where width is the share of
//! the flame's weight (self time, or allocated bytes) across all traces (not a timeline),
//! heaviest paths on the left, then the heaviest paths as a list, since narrow bars cannot
//! hold their names.
//!
//! The targets of the drawing name *nodes* of the [`AggregateFlame`] (in `Target::span`),
//! so the editor can open each node's example trace.

use super::icicle::{self, Bar};
use super::layout::{Cell, Column, Part, Table, fit_parts};
use super::palette;
use super::style::{Group, Rendered, StyledLine, Target};
use super::text::{Keep, wrap_styled};
use super::units::{bytes, duration, plural};
use crate::analysis::aggregate::{AggregateFlame, Weight, aggregate};
use crate::analysis::findings::percent;
use crate::analysis::hotspots::{Hotspot, hotspots};
use crate::model::Trace;

const MIN_WIDTH: usize = 40;
const TOP_PATHS: usize = 10;
const TOP_LOCATIONS: usize = 10;

/// The profile of `traces` (of `service`'s entry spans, or of the roots) by `weight`, as
/// every front door shows it: the flame graph, and for memory the code locations that
/// allocate most. The flame comes back too: the drawing's targets name its nodes.
pub fn profile<'t, I>(
    traces: I,
    service: Option<&str>,
    weight: Weight,
    title: &str,
    width: usize,
) -> (AggregateFlame, Rendered)
where
    I: IntoIterator<Item = &'t Trace> + Clone,
{
    let flame = aggregate(traces.clone(), service, weight);
    let mut drawn = render(&flame, title, width);
    if weight == Weight::Allocated && flame.nodes.first().is_some_and(|root| root.total(weight) > 0) {
        drawn.lines.extend(allocating_code(&hotspots(traces), width.max(MIN_WIDTH)));
    }
    (flame, drawn)
}

/// The code locations whose spans allocate most per request, as the annotations say it.
fn allocating_code(spots: &[Hotspot], width: usize) -> Vec<StyledLine> {
    let mut ranked: Vec<&Hotspot> = spots.iter().filter(|s| s.allocated_p95 > 0).collect();
    if ranked.is_empty() {
        return Vec::new();
    }
    ranked.sort_by(|a, b| {
        (b.allocated_per_request, b.allocated_p95)
            .cmp(&(a.allocated_per_request, a.allocated_p95))
            .then_with(|| a.code.describe().cmp(&b.code.describe()))
    });
    ranked.truncate(TOP_LOCATIONS);
    let mut table =
        Table::new(vec![Column::number(8), Column::number(7), Column::name(9, 20).keep(Keep::Ends).comfort(5)]).gap(2);
    table.header(["  per request", "p95", "code"].map(|h| Cell::new(h, Some(Group::Dim))).to_vec());
    for spot in ranked {
        table.row(vec![
            Cell::new(format!("  {}", bytes(spot.allocated_per_request)), Some(Group::Duration)),
            Cell::new(bytes(spot.allocated_p95), Some(Group::Duration)),
            Cell::new(spot.code.describe(), Some(Group::Label)),
        ]);
    }
    let (header, rows) = table.draw(width);
    let mut lines = vec![StyledLine::default(), StyledLine::styled("Most allocating code", Group::Title)];
    lines.extend(header.map(|h| h.line));
    lines.extend(rows.into_iter().map(|row| row.line));
    lines
}

/// How each weight reads: the amount, the header's words, the legend and the list.
struct Words {
    amount: fn(u64) -> String,
    of_total: &'static str,
    share_of: &'static str,
    list_title: &'static str,
    own_column: &'static str,
    empty: &'static str,
}

fn words(weight: Weight) -> Words {
    match weight {
        Weight::SelfTime => Words {
            amount: duration,
            of_total: "of self time",
            share_of: "self time",
            list_title: "Most self time",
            own_column: "self",
            empty: "(no spans to aggregate)",
        },
        Weight::Allocated => Words {
            amount: bytes,
            of_total: "allocated",
            share_of: "allocated bytes",
            list_title: "Most allocated",
            own_column: "bytes",
            empty: "(no spans with memory.allocated to aggregate)",
        },
    }
}

pub fn render(flame: &AggregateFlame, title: &str, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let weight = flame.weight;
    let words = words(weight);
    let total = flame.nodes.first().map_or(0, |root| root.total(weight));
    let mut out = Rendered::default();
    let traces = format!(" · {} trace{}", flame.traces, plural(flame.traces));
    out.lines.push(fit_parts(
        &[
            Part::fixed("Aggregated flame graph", Some(Group::Title), 9),
            Part::elastic(format!(" · {title}"), Some(Group::Title), 8, 12, Keep::Ends).comfort(5),
            Part::fixed(traces, Some(Group::Dim), 7),
            Part::fixed(format!(" · {} {}", (words.amount)(total), words.of_total), Some(Group::Dim), 6),
        ],
        width,
    ));
    let legend = format!("width = share of {} on each call path, heaviest first (not a timeline)", words.share_of);
    out.lines.extend(wrap_styled(&StyledLine::styled(&legend, Group::Dim), width, 0));
    if flame.nodes.len() <= 1 || total == 0 {
        out.lines.push(StyledLine::plain(words.empty));
        return out;
    }

    let bars: Vec<Bar> = flame
        .nodes
        .iter()
        .map(|node| Bar {
            parent: node.parent,
            weight: node.total(weight),
            service: &node.service,
            operation: &node.operation,
            note: format!("{:.1}%", percent(node.total(weight), total)),
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
    out.lines.push(StyledLine::styled(words.list_title, Group::Title));
    let mut ranked: Vec<usize> = (1..flame.nodes.len()).filter(|&i| flame.nodes[i].own(weight) > 0).collect();
    ranked.sort_by_key(|&i| std::cmp::Reverse(flame.nodes[i].own(weight)));
    ranked.truncate(TOP_PATHS);
    let mut table = Table::new(vec![
        Column::number(8),
        Column::number(7),
        Column::number(6),
        Column::name(9, 20).keep(Keep::LastLevels).comfort(5),
    ])
    .gap(2);
    table.header(["share", words.own_column, "calls", "path"].map(|h| Cell::new(h, Some(Group::Dim))).to_vec());
    let at = |n: usize| (flame.nodes[n].parent, &*flame.nodes[n].service, &*flame.nodes[n].operation);
    for &i in &ranked {
        let node = &flame.nodes[i];
        table.row(vec![
            Cell::new(format!("  {:.1}%", percent(node.own(weight), total)), Some(Group::Duration)),
            Cell::new((words.amount)(node.own(weight)), Some(Group::Duration)),
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
        let flame = aggregate([&t], None, Weight::SelfTime);
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
        let flame = aggregate(std::iter::empty(), Some("web"), Weight::SelfTime);
        assert!(render(&flame, "web", 80).plain_text().contains("no spans to aggregate"));
        let t = trace(&[(1, 0, "web", "GET /", 0, 100)]).done();
        let text = render(&aggregate([&t], None, Weight::Allocated), "web", 80).plain_text();
        assert!(text.contains("no spans with memory.allocated"), "{text}");
    }

    #[test]
    fn a_memory_flame_graph_is_drawn_and_ranked_in_bytes() {
        let t = trace(&[
            (1, 0, "web", "GET /report", 0, 100),
            (2, 1, "web", "render", 0, 90),
            (3, 1, "web", "load", 90, 5),
        ])
        .attr(1, "memory.allocated", "0")
        .attr(2, "memory.allocated", "1000000")
        .attr(3, "memory.allocated", "3000000")
        .done();
        let out = render(&aggregate([&t], None, Weight::Allocated), "web", 100);
        let text = out.plain_text();
        assert!(text.contains("1 trace · 4.00 MB allocated"), "{text}");
        assert!(text.contains("width = share of allocated bytes"), "{text}");
        let ranked = out.lines.iter().position(|l| l.text == "Most allocated").expect(&text);
        assert_eq!(out.lines[ranked + 1].text, "  share    bytes  calls  path", "{text}");
        assert!(out.lines[ranked + 2].text.contains("75.0%  3.00 MB"), "{text}");
        assert!(out.lines[ranked + 2].text.ends_with("web GET /report › web load"), "{text}");
        assert_eq!(out.lines.len(), ranked + 4, "the root allocated nothing itself and is not listed\n{text}");
    }
}
