//! The aggregated flame graph as text: an icicle of call paths where width is the share of
//! self time across all traces (not a timeline), heaviest paths on the left, then the
//! paths with the most self time as a list, since narrow bars cannot hold their names.
//!
//! The targets of the drawing name *nodes* of the [`AggregateFlame`] (in `Target::span`),
//! so the editor can open each node's example trace.

use super::icicle::{self, Bar};
use super::palette;
use super::style::{Group, Rendered, StyledLine};
use super::units::duration;
use crate::analysis::aggregate::AggregateFlame;
use crate::analysis::findings::percent;

const MIN_WIDTH: usize = 40;
const TOP_PATHS: usize = 10;

pub fn render(flame: &AggregateFlame, title: &str, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let total = flame.nodes.first().map_or(0, |root| root.total_ns);
    let mut out = Rendered::default();
    let mut heading = StyledLine::default();
    heading.push(&format!("Aggregated flame graph · {title}"), Some(Group::Title));
    heading.push(
        &format!(
            " · {} trace{} · {} of self time",
            flame.traces,
            if flame.traces == 1 { "" } else { "s" },
            duration(total)
        ),
        Some(Group::Dim),
    );
    out.lines.push(heading);
    out.lines.push(StyledLine::styled(
        "width = share of self time on each call path, heaviest first (not a timeline)",
        Group::Dim,
    ));
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
        out.lines.push(StyledLine::styled(
            &format!("{hidden} paths too narrow (or deep) to draw; the list below ranks them all"),
            Group::Dim,
        ));
    }

    out.lines.push(StyledLine::default());
    let mut heading = StyledLine::default();
    heading.push("Most self time", Some(Group::Title));
    heading.push("   share      self   calls  path", Some(Group::Dim));
    out.lines.push(heading);
    let mut ranked: Vec<usize> = (1..flame.nodes.len()).collect();
    ranked.sort_by_key(|&i| std::cmp::Reverse(flame.nodes[i].self_ns));
    for i in ranked.into_iter().take(TOP_PATHS) {
        let node = &flame.nodes[i];
        let mut line = StyledLine::default();
        let share = percent(node.self_ns, total);
        line.push(
            &format!("  {share:>5.1}%  {:>8}  {:>6}  ", duration(node.self_ns), node.count),
            Some(Group::Duration),
        );
        let start = line.text.len();
        let room = width.saturating_sub(line.width());
        let at = |n: usize| (flame.nodes[n].parent, &*flame.nodes[n].service, &*flame.nodes[n].operation);
        line.push(&icicle::path_name(i, at, room), Some(Group::Label));
        let end = line.text.len();
        out.targets.push(super::style::Target { line: out.lines.len(), start, end, span: i });
        out.lines.push(line);
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
        assert!(
            out.lines[ranked + 1].text.contains("75.0%")
                && out.lines[ranked + 1].text.contains("web GET /checkout › db SELECT orders"),
            "{text}"
        );
        let target = out.targets.iter().find(|t| t.line == ranked + 1).unwrap();
        assert_eq!(&*flame.nodes[target.span].operation, "SELECT orders");
    }

    #[test]
    fn nothing_to_aggregate_says_so() {
        let flame = aggregate(std::iter::empty(), Some("web"));
        assert!(render(&flame, "web", 80).plain_text().contains("no spans to aggregate"));
    }
}
