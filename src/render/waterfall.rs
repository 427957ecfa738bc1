//! The waterfall timeline: one row per span in tree order, names indented by depth on the
//! left, a bar at the span's offset on the right.

use super::Picture;
use super::canvas::{BAR, GAP, Row};
use super::critical;
use super::frame;
use super::layout::{Column, solve};
use super::palette;
use super::style::{Group, Rendered};
use super::text::{Keep, elide_distinct, width as cells};
use super::units::{duration, plural};
use crate::analysis::findings::percent;
use crate::analysis::transaction::{Handoff, QUEUE_WAIT_SHARE, queue_wait_ns};
use crate::model::{SpanIndex, Trace};

const MIN_WIDTH: usize = 40;
const MAX_INDENT_LEVELS: usize = 16;

/// Draws `trace` as `picture` says: with `critical_path`, the bar cells of each critical
/// section are marked, and the names of the `marked` spans stand out. A stitched
/// transaction's queue hand-offs are rows of their own, just above their consumer's: a
/// dotted line across the gap from the producer's end to the consumer's start, labelled
/// with the queue and the wait. A span with links says how many beside its duration (`→ 2 linked`).
pub fn render(trace: &Trace, picture: &Picture) -> Rendered {
    let width = picture.width.max(MIN_WIDTH);
    let critical = critical::sections_by_span(trace, picture.critical_path);
    let order: Vec<SpanIndex> = trace.tree.preorder().collect();
    let depth = |i: SpanIndex| 2 * trace.tree.depth(i).min(MAX_INDENT_LEVELS);
    let names: Vec<String> =
        order.iter().map(|&i| format!("{}: {}", trace.spans[i].service(), trace.spans[i].operation)).collect();
    let (name_width, timeline) = columns(order.iter().zip(&names).map(|(&i, name)| depth(i) + cells(name)), width);
    // Deep spans stop moving right at a third of the column, so their names keep room.
    let indent = |i: SpanIndex| depth(i).min(name_width / 3);
    let rooms: Vec<(&str, usize)> = order
        .iter()
        .zip(&names)
        .map(|(&i, name)| (name.as_str(), name_width.saturating_sub(indent(i) + 1).max(1)))
        .collect();
    let shown = elide_distinct(&rooms, Keep::Ends);
    let bars_at = name_width + 1;
    let t0 = trace.start_ns();
    let total = trace.duration_ns().max(1) as u128;
    let col = |t: u64| (t.saturating_sub(t0) as u128 * timeline as u128 / total).min(timeline as u128) as usize;
    let mut links: Vec<usize> = trace.spans.iter().map(|s| s.links().count()).collect();
    for &i in &picture.linked_from {
        if let Some(count) = links.get_mut(i) {
            *count += 1;
        }
    }

    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    out.lines.push(frame::ruler(trace.duration_ns(), timeline, bars_at));
    for (&i, name) in order.iter().zip(&shown) {
        for handoff in picture.handoffs.iter().filter(|h| h.consumer == i) {
            let from = col(trace.spans[handoff.producer].end_ns()).min(timeline - 1);
            let to = col(trace.spans[i].start_ns).max(from + 1).min(timeline);
            let row =
                handoff_row(handoff, width, indent(i).min(name_width - 1), name_width, bars_at + from, bars_at + to);
            let (line, targets) = row.into_line(out.lines.len());
            out.lines.push(line);
            out.targets.extend(targets);
        }
        let span = &trace.spans[i];
        let failed = span.is_error();
        let mut row = Row::new(width);
        row.put(indent(i).min(name_width - 1), name, Some(palette::text(span.service(), failed)), Some(i));

        let c0 = col(span.start_ns).min(timeline - 1);
        let c1 = col(span.end_ns()).clamp(c0 + 1, timeline);
        let bar_start = bars_at + c0;
        row.fill(bar_start, c1 - c0, BAR, Some(palette::text(span.service(), failed)), Some(i));
        // The duration, and the links of a span that has some (`→ 2 linked`).
        let took = match links[i] {
            0 => duration(span.duration_ns),
            n => format!("{} → {n} linked", duration(span.duration_ns)),
        };
        let len = cells(&took);
        // Beside the bar where there is room, else on the bar itself.
        if c1 + 1 + len <= timeline {
            row.put(bars_at + c1 + 1, &took, Some(Group::Duration), Some(i));
        } else if c0 > len {
            row.put(bar_start - len - 1, &took, Some(Group::Duration), Some(i));
        } else {
            row.put(bar_start, &took, Some(palette::bar(span.service(), failed)), Some(i));
        }
        for &(start, end) in critical.get(i).into_iter().flatten() {
            let from = col(start).min(timeline - 1);
            let line = palette::bar(span.service(), failed);
            row.mark_critical(bars_at + from, bars_at + col(end).max(from + 1), i, line);
        }
        if picture.marked.contains(&i) {
            row.mark(0, name_width, i);
        }
        let (line, targets) = row.into_line(out.lines.len());
        out.lines.push(line);
        out.targets.extend(targets);
    }
    let notes = critical::legend(trace, &critical).into_iter().chain(transaction_note(trace, &picture.handoffs));
    out.lines.extend(frame::footer(trace, notes, width));
    out
}

/// A queue hand-off: `⇢ kafka orders` under the consumer's indent, a dotted line from
/// `from` to `to` (the wait), and the wait beside it. Its cells stand for the consumer, so
/// `<CR>` and `l` on it act on the span the message was handed to.
fn handoff_row(handoff: &Handoff, width: usize, indent: usize, name_width: usize, from: usize, to: usize) -> Row {
    let mut row = Row::new(width);
    let span = Some(handoff.consumer);
    let label = format!("⇢ {}", handoff.queue.label());
    let room = name_width.saturating_sub(indent + 1).max(1);
    let label = super::text::elide(&label, room, Keep::Start);
    row.put(indent, &label, Some(Group::Warning), span);
    row.fill(from, to.saturating_sub(from).max(1), GAP, Some(Group::Warning), span);
    let waited = format!(" waited {} ", duration(handoff.wait_ns));
    let len = cells(&waited);
    if to + len <= width {
        row.put(to, &waited, Some(Group::Duration), span);
    } else if from > name_width + len {
        row.put(from - len, &waited, Some(Group::Duration), span);
    } else {
        row.put(from, &waited, Some(Group::Duration), span);
    }
    row
}

/// What the footer says of a transaction: its traces and the time spent in queues.
fn transaction_note(trace: &Trace, handoffs: &[Handoff]) -> Option<String> {
    if handoffs.is_empty() {
        return None;
    }
    let traces = trace.trace_ids();
    let waited = queue_wait_ns(trace, handoffs);
    let share = percent(waited, trace.duration_ns());
    let dominates = if share > QUEUE_WAIT_SHARE { ": most of it, the consumers fall behind" } else { "" };
    Some(format!(
        "{} traces, {} queue hand-off{} (⇢): {} of {} waiting in queues ({share:.0}%){dominates}",
        traces.len(),
        handoffs.len(),
        plural(handoffs.len()),
        duration(waited),
        duration(trace.duration_ns()),
    ))
}

/// The name column (wide enough for the indented names, up to half the width) and the
/// timeline (the rest, at least 20 cells), one cell apart.
fn columns(name_cells: impl Iterator<Item = usize>, width: usize) -> (usize, usize) {
    let longest = name_cells.max().unwrap_or(0) + 1;
    let layout = [Column::name(9, 16).max(width / 2).comfort(7), Column::filler(8, 20)];
    match solve(&layout, &[longest, 0], width, 1)[..] {
        [Some(names), Some(timeline)] => (names, timeline),
        _ => (16, width - 17),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    #[test]
    fn one_row_per_span_indented_by_depth_with_bars_at_their_offsets() {
        let json = br#"[
          {"traceID":"1","spanID":"a","operationName":"root","startTime":1000,"duration":1000,"process":{"serviceName":"web"}},
          {"traceID":"1","spanID":"b","operationName":"late","startTime":1500,"duration":500,"references":[{"refType":"CHILD_OF","spanID":"a"}],"process":{"serviceName":"db"}}]"#;
        let trace = formats::decode(json).unwrap().remove(0);
        let out = render(&trace, &Picture::new(crate::render::View::Waterfall, 80));
        let root = &out.lines[2].text;
        let late = &out.lines[3].text;
        assert!(root.starts_with("web: root"), "{root}");
        assert!(late.starts_with("  db: late"), "{late}");
        let bar = |line: &str| line.chars().position(|c| c == '█').unwrap();
        assert!(bar(late) > bar(root) + 10, "the late span's bar starts halfway\n{root}\n{late}");
        assert_eq!(out.span_at(3, 0), Some(1));
    }
}
