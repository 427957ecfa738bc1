//! The waterfall timeline: one row per span in tree order, names indented by depth on the
//! left, a bar at the span's offset on the right.

use super::canvas::{BAR, Row};
use super::critical;
use super::frame;
use super::palette;
use super::style::{Group, Rendered};
use super::units::{duration, truncate};
use crate::model::{SpanIndex, Trace};

const MIN_WIDTH: usize = 40;
const MAX_INDENT_LEVELS: usize = 16;

/// Draws `trace`; with `critical_path`, the bar cells of each critical section are marked,
/// and the names of the `marked` spans stand out.
pub fn render(trace: &Trace, width: usize, critical_path: bool, marked: &[SpanIndex]) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let critical = critical::sections_by_span(trace, critical_path);
    let name_width = name_column_width(trace, width);
    let timeline = width - name_width - 1;
    let t0 = trace.start_ns();
    let total = trace.duration_ns().max(1) as u128;
    let col = |t: u64| (t.saturating_sub(t0) as u128 * timeline as u128 / total).min(timeline as u128) as usize;

    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    out.lines.push(frame::ruler(trace.duration_ns(), timeline, name_width + 1));
    for i in trace.tree.preorder() {
        let span = &trace.spans[i];
        let failed = span.is_error();
        let mut row = Row::new(width);
        let indent = 2 * trace.tree.depth(i).min(MAX_INDENT_LEVELS);
        let name = format!("{}: {}", span.service(), span.operation);
        let room = name_width.saturating_sub(indent + 1);
        row.put(
            indent.min(name_width - 1),
            &truncate(&name, room.max(1)),
            Some(palette::text(span.service(), failed)),
            Some(i),
        );

        let c0 = col(span.start_ns).min(timeline - 1);
        let c1 = col(span.end_ns()).clamp(c0 + 1, timeline);
        let bar_start = name_width + 1 + c0;
        row.fill(bar_start, c1 - c0, BAR, Some(palette::text(span.service(), failed)), Some(i));
        let took = duration(span.duration_ns);
        let len = took.chars().count();
        // Beside the bar where there is room, else on the bar itself.
        if c1 + 1 + len <= timeline {
            row.put(name_width + 1 + c1 + 1, &took, Some(Group::Duration), Some(i));
        } else if c0 > len {
            row.put(bar_start - len - 1, &took, Some(Group::Duration), Some(i));
        } else {
            row.put(bar_start, &took, Some(palette::bar(span.service(), failed)), Some(i));
        }
        for &(start, end) in critical.get(i).into_iter().flatten() {
            let from = col(start).min(timeline - 1);
            let line = palette::bar(span.service(), failed);
            row.mark_critical(name_width + 1 + from, name_width + 1 + col(end).max(from + 1), i, line);
        }
        if marked.contains(&i) {
            row.mark(0, name_width, i);
        }
        let (line, targets) = row.into_line(out.lines.len());
        out.lines.push(line);
        out.targets.extend(targets);
    }
    out.lines.extend(frame::footer(trace, critical::legend(trace, &critical)));
    out
}

/// Wide enough for the indented names, but never more than two fifths of the width.
fn name_column_width(trace: &Trace, width: usize) -> usize {
    let longest = trace
        .tree
        .preorder()
        .map(|i| {
            let span = &trace.spans[i];
            2 * trace.tree.depth(i).min(MAX_INDENT_LEVELS)
                + span.service().chars().count()
                + span.operation.chars().count()
                + 3
        })
        .max()
        .unwrap_or(0);
    longest.clamp(16, width * 2 / 5)
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
        let out = render(&trace, 80, false, &[]);
        let root = &out.lines[2].text;
        let late = &out.lines[3].text;
        assert!(root.starts_with("web: root"), "{root}");
        assert!(late.starts_with("  db: late"), "{late}");
        let bar = |line: &str| line.chars().position(|c| c == '█').unwrap();
        assert!(bar(late) > bar(root) + 10, "the late span's bar starts halfway\n{root}\n{late}");
        assert_eq!(out.span_at(3, 0), Some(1));
    }
}
