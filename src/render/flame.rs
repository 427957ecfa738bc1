//! The icicle flame graph: time on x, depth on y, the root on top.
//!
//! Each span is a bar over the columns of its time range, on the first free row below its
//! parent: concurrent siblings that would overlap get rows of their own instead of
//! hiding each other. Bars narrower than a column are drawn only where their cell is
//! free; the footer counts those left out (the waterfall shows every span).

use super::canvas::{BAR, Row};
use super::critical;
use super::frame;
use super::palette;
use super::style::{Rendered, StyledLine};
use super::text::{elide_middle, width as cells};
use super::units::duration;
use crate::model::{SpanIndex, Trace};

/// How far below its natural row a wide bar may move to find room.
const MAX_LANES: usize = 32;
const MIN_WIDTH: usize = 20;
/// Cells below which a bar carries no cut name (`PO…e` tells nothing).
const MIN_CUT_LABEL: usize = 6;

/// Draws `trace`; with `critical_path`, the cells of each critical section are marked,
/// and the bars of the `marked` spans stand out.
pub fn render(trace: &Trace, width: usize, critical_path: bool, marked: &[SpanIndex]) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let critical = critical::sections_by_span(trace, critical_path);
    let t0 = trace.start_ns();
    let total = trace.duration_ns().max(1) as u128;
    let col = |t: u64| (t.saturating_sub(t0) as u128 * width as u128 / total).min(width as u128) as usize;

    let mut rows: Vec<Row> = Vec::new();
    let mut row_of: Vec<Option<usize>> = vec![None; trace.spans.len()];
    let mut hidden = 0usize;
    for i in trace.tree.preorder() {
        let span = &trace.spans[i];
        let base = match trace.tree.parent(i) {
            None => 0,
            Some(parent) => match row_of[parent] {
                Some(row) => row + 1,
                None => {
                    hidden += 1;
                    continue;
                }
            },
        };
        let c0 = col(span.start_ns).min(width - 1);
        let c1 = col(span.end_ns()).clamp(c0 + 1, width);
        let lanes = if c1 - c0 == 1 { 1 } else { MAX_LANES };
        let free = (base..base + lanes).find(|&r| rows.get(r).is_none_or(|row| row.is_free(c0, c1)));
        let Some(r) = free else {
            hidden += 1;
            continue;
        };
        while rows.len() <= r {
            rows.push(Row::new(width));
        }
        let failed = span.is_error();
        let bar = c1 - c0;
        // The last cell stays blank so that neighbouring bars read as separate.
        let inner = if bar >= 2 { bar - 1 } else { bar };
        rows[r].fill(c0, inner, BAR, Some(palette::text(span.service(), failed)), Some(i));
        if bar >= 2 {
            rows[r].fill(c0 + inner, 1, ' ', None, Some(i));
        }
        if let Some(label) = label(span.service(), &span.operation, span.duration_ns, inner) {
            rows[r].put(c0, &label, Some(palette::bar(span.service(), failed)), Some(i));
        }
        for &(start, end) in critical.get(i).into_iter().flatten() {
            let from = col(start).min(width - 1);
            rows[r].mark_critical(from, col(end).max(from + 1), i, palette::bar(span.service(), failed));
        }
        if marked.contains(&i) {
            rows[r].mark(c0, c1, i);
        }
        row_of[i] = Some(r);
    }

    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    out.lines.push(frame::ruler(trace.duration_ns(), width, 0));
    for row in rows {
        let (line, targets) = row.into_line(out.lines.len());
        out.lines.push(line);
        out.targets.extend(targets);
    }
    let hidden =
        (hidden > 0).then(|| format!("{hidden} spans too narrow to draw at this width; the waterfall shows all"));
    out.lines.extend(frame::footer(trace, critical::legend(trace, &critical).into_iter().chain(hidden), width));
    if out.lines.len() == 2 {
        out.lines.push(StyledLine::plain("(no spans)"));
    }
    out
}

/// The longest label that fits in `room` columns: `service: operation  12.3ms`, then
/// shorter forms, down to the operation name cut in the middle.
fn label(service: &str, operation: &str, ns: u64, room: usize) -> Option<String> {
    let took = duration(ns);
    [format!("{service}: {operation}  {took}"), format!("{operation}  {took}"), operation.to_string()]
        .into_iter()
        .find(|candidate| cells(candidate) <= room)
        .or_else(|| (room >= MIN_CUT_LABEL).then(|| elide_middle(operation, room)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats;

    fn sample() -> Trace {
        let json = br#"[
          {"traceID":"1","spanID":"a","operationName":"GET /checkout","startTime":1000,"duration":1000,"process":{"serviceName":"frontend"}},
          {"traceID":"1","spanID":"b","operationName":"charge","startTime":1100,"duration":400,"references":[{"refType":"CHILD_OF","spanID":"a"}],"process":{"serviceName":"payment"}},
          {"traceID":"1","spanID":"c","operationName":"reserve","startTime":1300,"duration":500,"references":[{"refType":"CHILD_OF","spanID":"a"}],"process":{"serviceName":"inventory"},
           "tags":[{"key":"error","type":"bool","value":true}]}]"#;
        formats::decode(json).unwrap().remove(0)
    }

    #[test]
    fn bars_are_labelled_and_concurrent_siblings_get_their_own_rows() {
        let trace = sample();
        let out = render(&trace, 100, false, &[]);
        let text = out.plain_text();
        assert!(text.contains("frontend: GET /checkout  1.00ms"), "{text}");
        assert!(text.contains("payment: charge  400µs"), "{text}");
        // `reserve` overlaps `charge` in time, so it sits one row further down.
        let row_of = |needle: &str| out.lines.iter().skip(2).position(|l| l.text.contains(needle)).unwrap();
        assert_eq!(row_of("charge") + 1, row_of("reserve"));
        assert_eq!(row_of("GET /checkout") + 1, row_of("charge"));
    }

    #[test]
    fn every_bar_is_a_target_for_its_span_and_errors_are_marked() {
        let trace = sample();
        let out = render(&trace, 100, false, &[]);
        let line = out.lines.iter().position(|l| l.text.contains("reserve")).unwrap();
        let col = out.lines[line].text.find("reserve").unwrap();
        let span = out.span_at(line, col).unwrap();
        assert_eq!(trace.spans[span].operation, "reserve");
        let groups: Vec<String> = out.lines[line].highlights.iter().map(|h| h.group.to_string()).collect();
        assert!(groups.contains(&"VitalsFlameError".to_string()), "{groups:?}");
    }

    #[test]
    fn a_broken_trace_still_draws_every_span_and_says_what_was_repaired() {
        // b and c are each other's parent; d's parent was never received.
        let json = br#"[
          {"traceID":"1","spanID":"a","operationName":"root","startTime":1000,"duration":100,"process":{"serviceName":"web"}},
          {"traceID":"1","spanID":"b","operationName":"ping","startTime":1010,"duration":10,"references":[{"refType":"CHILD_OF","spanID":"c"}],"process":{"serviceName":"web"}},
          {"traceID":"1","spanID":"c","operationName":"pong","startTime":1020,"duration":10,"references":[{"refType":"CHILD_OF","spanID":"b"}],"process":{"serviceName":"web"}},
          {"traceID":"1","spanID":"d","operationName":"orphan","startTime":1050,"duration":10,"references":[{"refType":"CHILD_OF","spanID":"zz"}],"process":{"serviceName":"web"}}]"#;
        let trace = formats::decode(json).unwrap().remove(0);
        let text = render(&trace, 120, false, &[]).plain_text();
        for part in ["root", "ping", "pong", "orphan", "parent cycle was broken", "parent is missing", "3 roots"] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
    }

    #[test]
    fn absurd_timestamps_do_not_overflow() {
        let json = br#"[{"traceID":"1","spanID":"a","operationName":"root","startTime":1,"duration":18446744073709551},
          {"traceID":"1","spanID":"b","operationName":"child","startTime":18446744073709551,"duration":18446744073709551,
           "references":[{"refType":"CHILD_OF","spanID":"a"}]}]"#;
        let trace = formats::decode(json).unwrap().remove(0);
        for width in [1, 80] {
            assert!(render(&trace, width, false, &[]).plain_text().contains("root"));
            assert!(
                crate::render::waterfall::render(
                    &trace,
                    &crate::render::Picture::new(crate::render::View::Waterfall, width)
                )
                .plain_text()
                .contains("unknown: ch")
            );
        }
    }

    #[test]
    fn bars_scale_to_the_width() {
        let trace = sample();
        for width in [20, 60, 200] {
            let out = render(&trace, width, false, &[]);
            assert!(out.lines.iter().skip(2).all(|l| l.width() <= width), "width {width}");
            let root_row = &out.lines[2];
            assert_eq!(root_row.width(), width, "the root spans the whole trace at width {width}");
        }
    }

    #[test]
    fn the_critical_path_is_marked_only_on_spans_that_decided_the_duration() {
        use crate::analysis::testing::trace;
        use crate::render::Group;
        // `price` runs alongside `stock` but finishes first, so it never blocks the root.
        let t = trace(&[
            (1, 0, "web", "checkout", 0, 100),
            (2, 1, "stock", "reserve", 10, 80),
            (3, 1, "pricing", "price", 20, 30),
        ])
        .done();
        let plain = render(&t, 100, false, &[]);
        assert!(plain.lines.iter().flat_map(|l| &l.highlights).all(|h| h.group != Group::CriticalLabel));
        assert!(!plain.plain_text().contains(crate::render::canvas::CRITICAL_BAR));
        let marked = render(&t, 100, true, &[]);
        let critical_spans: std::collections::BTreeSet<&str> = marked
            .targets
            .iter()
            .filter(|target| {
                marked.lines[target.line].highlights.iter().any(|h| {
                    let text = &marked.lines[target.line].text[h.start..h.end];
                    (h.group == Group::CriticalLabel || text.contains(crate::render::canvas::CRITICAL_BAR))
                        && h.start < target.end
                        && target.start < h.end
                })
            })
            .map(|target| t.spans[target.span].operation.as_str())
            .collect();
        assert_eq!(critical_spans.into_iter().collect::<Vec<_>>(), ["checkout", "reserve"]);
        assert!(marked.plain_text().contains("━ critical path: 100ms of 100ms, through 2 spans"));
    }
}
