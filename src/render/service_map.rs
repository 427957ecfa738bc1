//! The service map as text: a tree of who calls whom from the entry services down (each
//! service expanded once; repeats and cycles are named, not followed), the callers of one
//! service, a migration order, or one service's details. Targets name services by their
//! index in the map (in `Target::span`), so the editor can act on the one under the cursor.

use super::style::{Group, Rendered, StyledLine, Target};
use super::units::duration;
use crate::analysis::service_map::{Health, ServiceMap, migration_order};

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

pub fn render(map: &ServiceMap, view: MapView) -> Rendered {
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
            );
            let roots = match root {
                Some(r) => vec![r],
                None => entry_services(map),
            };
            tree(&mut out, map, &roots, &map.callees(), Direction::Callees);
        }
        MapView::Callers { of } => {
            heading(&mut out, map, &format!("Who calls {}", map.services[of].name));
            tree(&mut out, map, &[of], &map.callers(), Direction::Callers);
        }
        MapView::Migration => migration(&mut out, map),
        MapView::Details { of } => details(&mut out, map, of),
    }
    out
}

fn heading(out: &mut Rendered, map: &ServiceMap, title: &str) {
    let mut line = StyledLine::styled(title, Group::Title);
    line.push(
        &format!(" · {} services · {} calls between them", map.services.len(), map.calls.edge_count()),
        Some(Group::Dim),
    );
    if let Some(b) = map.bottleneck {
        line.push(" · bottleneck: ", Some(Group::Dim));
        line.push(&map.services[b].name, Some(Group::Critical));
    }
    out.lines.push(line);
    basis(out, map);
}

/// `from 50 traces per service; calls: the backend's count`: said under the title
/// whenever the numbers are not every request's.
fn basis(out: &mut Rendered, map: &ServiceMap) {
    let mut notes = Vec::new();
    if let Some(limit) = map.basis.per_service_limit {
        notes.push(format!("from {limit} traces per service"));
    }
    if map.basis.calls_from_backend {
        notes.push("calls: the backend's count".to_string());
    }
    if !notes.is_empty() {
        out.lines.push(StyledLine::styled(&notes.join("; "), Group::Dim));
    }
}

/// Services nobody calls; then, for parts of the map that are all cycle, their first.
fn entry_services(map: &ServiceMap) -> Vec<usize> {
    let callers = map.callers();
    (0..map.services.len()).filter(|&i| callers[i].is_empty()).collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Callees,
    Callers,
}

/// Depth-first, each service expanded once. Services not reached from `roots` (cycles
/// nobody enters) are drawn after, from their first member.
fn tree(out: &mut Rendered, map: &ServiceMap, roots: &[usize], next: &[Vec<usize>], direction: Direction) {
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
            let mut line = StyledLine::default();
            let branch = match parent {
                None => String::new(),
                Some(_) => format!("{prefix}{}", if last { "└─ " } else { "├─ " }),
            };
            line.push(&branch, Some(Group::Dim));
            let start = line.text.len();
            line.push(&map.services[service].name, Some(health_group(map.services[service].health)));
            let end = line.text.len();
            if let Some(edge) = parent.and_then(|p| calls(p, service)) {
                let rate = map.rate_per_minute(edge).map(|r| format!(" ({r:.1}/min)")).unwrap_or_default();
                line.push(&format!("  ×{}{rate}", edge.calls), Some(Group::Duration));
            }
            let repeat = expanded[service];
            let cycle = on_path[service];
            if cycle {
                line.push("  ↺ cycle", Some(Group::Warning));
            } else if repeat {
                line.push("  ↑ shown above", Some(Group::Dim));
            } else {
                stats(&mut line, map, service);
            }
            out.targets.push(Target { line: out.lines.len(), start, end, span: service });
            out.lines.push(line);
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

/// `  · 212 req · 1.2% err · p95 812ms · degraded ◆ bottleneck`
fn stats(line: &mut StyledLine, map: &ServiceMap, i: usize) {
    let s = &map.services[i];
    if let Some(kind) = s.virtual_kind {
        line.push(&format!("  [{kind}, not instrumented]"), Some(Group::Dim));
    } else if s.requests > 0 {
        let rate = 100.0 * s.errors as f64 / s.requests as f64;
        line.push(&format!("  · {} req · {rate:.1}% err · p95 {}", s.requests, duration(s.p95_ns)), Some(Group::Dim));
        line.push(&format!(" · {}", health_name(s.health)), Some(health_group(s.health)));
    }
    if map.bottleneck == Some(i) {
        line.push("  ◆ bottleneck", Some(Group::Critical));
    }
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

fn migration(out: &mut Rendered, map: &ServiceMap) {
    let (steps, cycles) = migration_order(map);
    heading(out, map, "Migration order (leaves first: each step calls only earlier ones)");
    for (n, step) in steps.iter().enumerate() {
        let mut line = StyledLine::default();
        line.push(&format!("{:>4}. ", n + 1), Some(Group::Dim));
        for (k, &i) in step.iter().enumerate() {
            if k > 0 {
                line.push(", ", Some(Group::Dim));
            }
            let start = line.text.len();
            line.push(&map.services[i].name, Some(health_group(map.services[i].health)));
            out.targets.push(Target { line: out.lines.len(), start, end: line.text.len(), span: i });
        }
        if step.len() > 1 {
            line.push("  ↺ a cycle: move together, or break it first", Some(Group::Warning));
        }
        out.lines.push(line);
    }
    out.lines.push(StyledLine::default());
    let summary = match cycles.len() {
        0 => "No cycles.".to_string(),
        n => format!("{n} cycle{} (marked ↺ above).", if n == 1 { "" } else { "s" }),
    };
    out.lines.push(StyledLine::styled(&summary, if cycles.is_empty() { Group::Dim } else { Group::Warning }));
}

fn details(out: &mut Rendered, map: &ServiceMap, of: usize) {
    let s = &map.services[of];
    let mut title = StyledLine::styled(&s.name, Group::Title);
    stats(&mut title, map, of);
    out.lines.push(title);
    basis(out, map);
    let operations = &s.operations;
    out.lines.push(StyledLine::default());
    out.lines.push(StyledLine::styled(
        &format!("{:<40} {:>7} {:>9} {:>9} {:>9} {:>7}", "Operations", "count", "p50", "p95", "p99", "errors"),
        Group::Title,
    ));
    if operations.is_empty() {
        out.lines.push(StyledLine::styled("  (none in the traces at hand)", Group::Dim));
    }
    for op in operations {
        out.lines.push(StyledLine::plain(format!(
            "{:<40} {:>7} {:>9} {:>9} {:>9} {:>7}",
            super::units::truncate(&op.name, 40),
            op.requests,
            duration(op.p50_ns),
            duration(op.p95_ns),
            duration(op.p99_ns),
            op.errors
        )));
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
            let calls = map.edge(from, to).map_or(0, |e| e.calls);
            let mut line = StyledLine::plain("  ");
            let start = line.text.len();
            line.push(&map.services[other].name, Some(health_group(map.services[other].health)));
            out.targets.push(Target { line: out.lines.len(), start, end: line.text.len(), span: other });
            line.push(&format!("  ×{calls}"), Some(Group::Duration));
            out.lines.push(line);
        }
    }
}
