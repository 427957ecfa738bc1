//! The service map as text: a tree of who calls whom from the entry services down (each
//! service expanded once; repeats and cycles are named, not followed), the callers of one
//! service, a migration order, or one service's details. Targets name services by their
//! index in the map (in `Target::span`), so the editor can act on the one under the cursor.

use super::layout::{Cell, Column, Part, Table, place_parts};
use super::style::{Group, Rendered, StyledLine, Target};
use super::text::{Keep, wrap_styled};
use super::units::{duration, plural};
use crate::analysis::service_map::{Health, ServiceEdge, ServiceMap, migration_order};

/// What the map float shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapView {
    /// Callees downwards, from `root` or from every service nobody calls.
    Tree {
        root: Option<usize>,
    },
    /// Callers upwards from a service.
    Callers {
        of: usize,
    },
    Migration,
    Details {
        of: usize,
    },
}

/// Draws `view` of `map` in `width` cells: a row that does not fit drops its least
/// telling parts first (the rate, the request count, the P95) and keeps the service,
/// its health and the bottleneck mark.
pub fn render(map: &ServiceMap, view: MapView, width: usize) -> Rendered {
    let mut out = Rendered::default();
    if map.services.is_empty() {
        out.lines.push(StyledLine::plain("(no services: no traces, and no dependencies from the backend)"));
        return out;
    }
    match view {
        MapView::Tree { root } => {
            heading(
                &mut out,
                map,
                &match root {
                    Some(r) => format!("Service map from {}", map.services[r].name),
                    None => "Service map".to_string(),
                },
                width,
            );
            let roots = match root {
                Some(r) => vec![r],
                None => entry_services(map),
            };
            tree(&mut out, map, &roots, &map.callees(), Direction::Callees, width);
        }
        MapView::Callers { of } => {
            heading(&mut out, map, &format!("Who calls {}", map.services[of].name), width);
            tree(&mut out, map, &[of], &map.callers(), Direction::Callers, width);
        }
        MapView::Migration => migration(&mut out, map, width),
        MapView::Details { of } => details(&mut out, map, of, width),
    }
    out
}

fn heading(out: &mut Rendered, map: &ServiceMap, title: &str, width: usize) {
    let mut line = StyledLine::styled(title, Group::Title);
    line.push(
        &format!(
            " · {} services · {} call{} between them",
            map.services.len(),
            map.calls.edge_count(),
            plural(map.calls.edge_count())
        ),
        Some(Group::Dim),
    );
    if let Some(b) = map.bottleneck {
        line.push(" · bottleneck: ", Some(Group::Dim));
        line.push(&map.services[b].name, Some(Group::Critical));
    }
    out.lines.extend(wrap_styled(&line, width, 2));
    basis(out, map, width);
}

/// `from 50 traces per service; calls: the backend's count`: said under the title
/// whenever the numbers are not every request's.
fn basis(out: &mut Rendered, map: &ServiceMap, width: usize) {
    let mut notes = Vec::new();
    if let Some(limit) = map.basis.per_service_limit {
        notes.push(format!("from {limit} traces per service"));
    }
    if map.basis.calls_from_backend {
        notes.push("calls: the backend's count".to_string());
    }
    if !notes.is_empty() {
        out.lines.extend(wrap_styled(&StyledLine::styled(&notes.join("; "), Group::Dim), width, 2));
    }
}

/// Services nobody calls; then, for parts of the map that are all cycle, their first.
fn entry_services(map: &ServiceMap) -> Vec<usize> {
    let callers = map.callers();
    (0..map.services.len()).filter(|&i| callers[i].is_empty()).collect()
}

/// `✗3` after an edge's calls: how many of them failed, when any did.
fn failed_calls(edge: ServiceEdge) -> Option<Part> {
    (edge.errors > 0).then(|| Part::fixed(format!(" ✗{}", edge.errors), Some(Group::Error), 6))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Callees,
    Callers,
}

/// Depth-first, each service expanded once. Services not reached from `roots` (cycles
/// nobody enters) are drawn after, from their first member.
fn tree(
    out: &mut Rendered,
    map: &ServiceMap,
    roots: &[usize],
    next: &[Vec<usize>],
    direction: Direction,
    width: usize,
) {
    let calls = |from: usize, to: usize| {
        let (a, b) = if direction == Direction::Callees { (from, to) } else { (to, from) };
        map.edge(a, b)
    };
    let mut expanded = vec![false; map.services.len()];
    let mut on_path = vec![false; map.services.len()];
    let mut pending: Vec<usize> = roots.to_vec();
    let whole_map = direction == Direction::Callees && roots.len() != 1;
    if whole_map {
        pending.extend(0..map.services.len());
    }
    for root in pending {
        if expanded[root] {
            continue;
        }
        // (service, parent, prefix, last sibling, leaving it)
        let mut stack: Vec<(usize, Option<usize>, String, bool, bool)> = vec![(root, None, String::new(), true, false)];
        let mut path: Vec<usize> = Vec::new();
        while let Some((service, parent, prefix, last, leaving)) = stack.pop() {
            if leaving {
                on_path[service] = false;
                path.pop();
                continue;
            }
            let branch = match parent {
                None => String::new(),
                Some(_) => format!("{prefix}{}", if last { "└─ " } else { "├─ " }),
            };
            let name = &map.services[service].name;
            // A deep branch gives way from the left (`…│  └─ `), keeping the tree's last
            // levels, before the name is cut.
            let mut parts = vec![
                Part::elastic(branch, Some(Group::Dim), 10, 7, Keep::End).comfort(5),
                Part::elastic(name.as_str(), Some(health_group(map.services[service].health)), 9, 12, Keep::Ends),
            ];
            if let Some(edge) = parent.and_then(|p| calls(p, service)) {
                parts.push(Part::fixed(format!("  ×{}", edge.calls), Some(Group::Duration), 6));
                parts.extend(failed_calls(edge));
                if let Some(rate) = map.rate_per_minute(edge) {
                    parts.push(Part::fixed(format!(" ({rate:.1}/min)"), Some(Group::Duration), 1));
                }
            }
            let repeat = expanded[service];
            let cycle = on_path[service];
            if cycle {
                parts.push(Part::fixed("  ↺ cycle", Some(Group::Warning), 8));
            } else if repeat {
                parts.push(Part::fixed("  ↑ shown above", Some(Group::Dim), 7));
            } else {
                parts.extend(stats(map, service));
            }
            let drawn = place_parts(&parts, width);
            if let Some(at) = drawn.cells[1].clone() {
                out.targets.push(Target { line: out.lines.len(), start: at.start, end: at.end, span: service });
            }
            out.lines.push(drawn.line);
            if cycle || repeat {
                continue;
            }
            expanded[service] = true;
            on_path[service] = true;
            path.push(service);
            stack.push((service, parent, prefix.clone(), last, true));
            let child_prefix = match parent {
                None => String::new(),
                Some(_) => format!("{prefix}{}", if last { "   " } else { "│  " }),
            };
            let children = &next[service];
            for (k, &child) in children.iter().enumerate().rev() {
                stack.push((child, Some(service), child_prefix.clone(), k + 1 == children.len(), false));
            }
        }
    }
}

/// `  · 212 req · 1.2% err · p95 812ms · degraded  ◆ bottleneck`, as parts that give
/// way in a narrow window: the request count first, then the P95, then the error rate;
/// the health and the bottleneck mark stay.
fn stats(map: &ServiceMap, i: usize) -> Vec<Part> {
    let s = &map.services[i];
    let mut parts = Vec::new();
    if let Some(kind) = s.virtual_kind {
        let note = if kind == "queue" { "  [queue]".to_string() } else { format!("  [{kind}, not instrumented]") };
        parts.push(Part::fixed(note, Some(Group::Dim), 7));
    } else if s.requests > 0 {
        let rate = 100.0 * s.errors as f64 / s.requests as f64;
        parts.push(Part::fixed(format!("  · {} req", s.requests), Some(Group::Dim), 3));
        parts.push(Part::fixed(format!(" · {rate:.1}% err"), Some(Group::Dim), 5));
        parts.push(Part::fixed(format!(" · p95 {}", duration(s.p95_ns)), Some(Group::Dim), 4));
        parts.push(Part::fixed(format!(" · {}", health_name(s.health)), Some(health_group(s.health)), 8));
    }
    if map.bottleneck == Some(i) {
        parts.push(Part::fixed("  ◆ bottleneck", Some(Group::Critical), 8));
    }
    parts
}

fn health_name(health: Health) -> &'static str {
    match health {
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
        Health::Critical => "critical",
        Health::Unknown => "unknown",
    }
}

fn health_group(health: Health) -> Group {
    match health {
        Health::Healthy => Group::Healthy,
        Health::Degraded => Group::Degraded,
        Health::Critical => Group::Critical,
        Health::Unknown => Group::Label,
    }
}

fn migration(out: &mut Rendered, map: &ServiceMap, width: usize) {
    let (steps, cycles) = migration_order(map);
    heading(out, map, "Migration order (leaves first: each step calls only earlier ones)", width);
    const INDENT: usize = 6;
    for (n, step) in steps.iter().enumerate() {
        // The services of a step, as many on a line as fit, so each stays clickable.
        let mut line = StyledLine::default();
        line.push(&format!("{:>4}. ", n + 1), Some(Group::Dim));
        for (k, &i) in step.iter().enumerate() {
            let name = &map.services[i].name;
            let separator = if k + 1 < step.len() { "," } else { "" };
            if k > 0 && line.width() + 1 + super::text::width(name) + separator.len() > width {
                out.lines.push(std::mem::replace(&mut line, StyledLine::plain(" ".repeat(INDENT))));
            } else if k > 0 {
                line.push(" ", None);
            }
            let at = line.push(
                &super::text::elide_middle(name, width.saturating_sub(INDENT + 1)),
                Some(health_group(map.services[i].health)),
            );
            out.targets.push(Target { line: out.lines.len(), start: at.start, end: at.end, span: i });
            line.push(separator, Some(Group::Dim));
        }
        if step.len() > 1 {
            let note = "  ↺ a cycle: move together, or break it first";
            if line.width() + super::text::width(note) > width {
                out.lines.push(std::mem::replace(&mut line, StyledLine::plain(" ".repeat(INDENT - 2))));
            }
            line.push(note, Some(Group::Warning));
        }
        out.lines.push(line);
    }
    out.lines.push(StyledLine::default());
    let summary = match cycles.len() {
        0 => "No cycles.".to_string(),
        n => format!("{n} cycle{} (marked ↺ above).", plural(n)),
    };
    out.lines.push(StyledLine::styled(&summary, if cycles.is_empty() { Group::Dim } else { Group::Warning }));
}

fn details(out: &mut Rendered, map: &ServiceMap, of: usize, width: usize) {
    let s = &map.services[of];
    let mut title = vec![Part::elastic(s.name.as_str(), Some(Group::Title), 9, 16, Keep::Ends)];
    title.extend(stats(map, of));
    out.lines.push(place_parts(&title, width).line);
    basis(out, map, width);
    out.lines.push(StyledLine::default());
    // The operation's name, then count, P95 and errors; P50 and P99 give way first.
    let mut table = Table::new(vec![
        Column::name(9, 16).comfort(5),
        Column::number(8),
        Column::number(3),
        Column::number(7),
        Column::number(2),
        Column::number(6),
    ])
    .gap(2);
    let mut header = vec![Cell::new("Operations", Some(Group::Title))];
    header.extend(["count", "p50", "p95", "p99", "errors"].map(|h| Cell::new(h, Some(Group::Title))));
    table.header(header);
    for op in &s.operations {
        table.row(vec![
            Cell::new(op.name.clone(), None),
            Cell::new(op.requests.to_string(), None),
            Cell::new(duration(op.p50_ns), None),
            Cell::new(duration(op.p95_ns), None),
            Cell::new(duration(op.p99_ns), None),
            Cell::new(op.errors.to_string(), None),
        ]);
    }
    let lines = table.render(width);
    let none = lines.len() <= 1;
    out.lines.extend(lines);
    if none {
        out.lines.push(StyledLine::styled("  (none in the traces at hand)", Group::Dim));
    }
    for (title, list, direction) in
        [("Callers", map.callers(), Direction::Callers), ("Callees", map.callees(), Direction::Callees)]
    {
        out.lines.push(StyledLine::default());
        out.lines.push(StyledLine::styled(title, Group::Title));
        if list[of].is_empty() {
            out.lines.push(StyledLine::styled("  none", Group::Dim));
        }
        for &other in &list[of] {
            let (from, to) = if direction == Direction::Callers { (other, of) } else { (of, other) };
            let edge = map.edge(from, to);
            let health = health_group(map.services[other].health);
            let mut parts = vec![
                Part::fixed("  ", None, 10),
                Part::elastic(map.services[other].name.as_str(), Some(health), 9, 12, Keep::Ends),
                Part::fixed(format!("  ×{}", edge.map_or(0, |e| e.calls)), Some(Group::Duration), 8),
            ];
            parts.extend(edge.and_then(failed_calls));
            let drawn = place_parts(&parts, width);
            if let Some(at) = drawn.cells[1].clone() {
                out.targets.push(Target { line: out.lines.len(), start: at.start, end: at.end, span: other });
            }
            out.lines.push(drawn.line);
        }
    }
}
