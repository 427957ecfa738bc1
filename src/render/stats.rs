//! The span statistics of a trace as a table, like Jaeger UI's "Trace Statistics": one
//! block grouped by service, one by operation; most self time first.

use super::frame;
use super::style::{Group, Rendered, StyledLine};
use super::units::{duration, truncate};
use crate::analysis::self_times;
use crate::analysis::stats::{GroupBy, SpanStats, span_stats};
use crate::model::Trace;

const MIN_WIDTH: usize = 60;
/// count, total, avg, min, max, self, % — each right-aligned in this many columns.
const NUMBER_COLUMNS: [(&str, usize); 7] =
    [("count", 6), ("total", 9), ("avg", 9), ("min", 9), ("max", 9), ("self", 9), ("% self", 7)];

pub fn render(trace: &Trace, width: usize) -> Rendered {
    let width = width.max(MIN_WIDTH);
    let own = self_times(trace);
    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    for (heading, by) in [("By service", GroupBy::Service), ("By operation", GroupBy::Operation)] {
        out.lines.push(StyledLine::default());
        table(&mut out.lines, heading, &span_stats(trace, &own, &by), width);
    }
    out.lines.extend(frame::footer(trace, None));
    out
}

fn table(lines: &mut Vec<StyledLine>, heading: &str, rows: &[SpanStats], width: usize) {
    let numbers: usize = NUMBER_COLUMNS.iter().map(|(_, w)| w + 1).sum();
    let name_width = width.saturating_sub(numbers).clamp(12, 60);
    let mut header = StyledLine::default();
    header.push(&format!("{heading:<name_width$}"), Some(Group::Title));
    for (name, w) in NUMBER_COLUMNS {
        header.push(&format!(" {name:>w$}"), Some(Group::Dim));
    }
    lines.push(header);
    for row in rows {
        let mut line = StyledLine::default();
        line.push(&format!("{:<name_width$}", truncate(&row.group, name_width)), Some(Group::Label));
        let cells = [
            row.count.to_string(),
            duration(row.total_ns),
            duration(row.avg_ns),
            duration(row.min_ns),
            duration(row.max_ns),
            duration(row.self_total_ns),
            format!("{:.1}", row.percent_of_trace),
        ];
        let last = cells.len() - 1;
        for (column, ((_, w), cell)) in NUMBER_COLUMNS.iter().zip(cells).enumerate() {
            let group = if column == last { Group::Duration } else { Group::Dim };
            line.push(&format!(" {cell:>w$}", w = *w), Some(group));
        }
        lines.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::trace;

    #[test]
    fn tables_by_service_and_by_operation_most_self_time_first() {
        let t = trace(&[
            (1, 0, "web", "GET /", 0, 100),
            (2, 1, "db", "SELECT", 10, 30),
            (3, 1, "db", "SELECT", 50, 10),
            (4, 1, "cache", "GET", 70, 5),
        ])
        .done();
        let text = render(&t, 120).plain_text();
        let lines: Vec<&str> = text.lines().collect();
        let at = |needle: &str| lines.iter().position(|l| l.starts_with(needle)).unwrap();
        assert!(at("By service") < at("web ") && at("web ") < at("db ") && at("db ") < at("cache "), "{text}");
        let db = lines[at("db SELECT")];
        let cells: Vec<&str> = db.split_whitespace().collect();
        assert_eq!(cells[2..], ["2", "40.0ms", "20.0ms", "10.0ms", "30.0ms", "40.0ms", "40.0"], "{text}");
    }
}
