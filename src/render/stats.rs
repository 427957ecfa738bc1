//! The span statistics of a trace as a table, like Jaeger UI's "Trace Statistics": one
//! block grouped by service, one by operation; most self time first.

use super::frame;
use super::layout::{Cell, Column, Table};
use super::style::{Group, Rendered, StyledLine};
use super::units::duration;
use crate::analysis::self_times;
use crate::analysis::stats::{GroupBy, SpanStats, span_stats};
use crate::model::Trace;

pub fn render(trace: &Trace, width: usize) -> Rendered {
    let own = self_times(trace);
    let mut out = Rendered::default();
    out.lines.push(frame::title(trace, width));
    for (heading, by) in [("By service", GroupBy::Service), ("By operation", GroupBy::Operation)] {
        out.lines.push(StyledLine::default());
        out.lines.extend(table(heading, &span_stats(trace, &own, &by)).render(width));
    }
    out.lines.extend(frame::footer(trace, None, width));
    out
}

/// The name, then the numbers; in a narrow window min, max, avg and total give way (in
/// that order), while count, self time and its share stay, and names are cut in the
/// middle only once those fit.
fn table(heading: &str, rows: &[SpanStats]) -> Table {
    let mut table = Table::new(vec![
        Column::name(9, 16).comfort(5),
        Column::number(8),
        Column::number(4),
        Column::number(3),
        Column::number(1),
        Column::number(2),
        Column::number(7),
        Column::number(6),
    ])
    .gap(2);
    let mut header = vec![Cell::new(heading, Some(Group::Title))];
    header.extend(["count", "total", "avg", "min", "max", "self", "% self"].map(|h| Cell::new(h, Some(Group::Dim))));
    table.header(header);
    for row in rows {
        let mut cells = vec![Cell::new(row.group.clone(), Some(Group::Label))];
        cells.extend(
            [
                row.count.to_string(),
                duration(row.total_ns),
                duration(row.avg_ns),
                duration(row.min_ns),
                duration(row.max_ns),
                duration(row.self_total_ns),
            ]
            .map(|text| Cell::new(text, Some(Group::Dim))),
        );
        cells.push(Cell::new(format!("{:.1}", row.percent_of_trace), Some(Group::Duration)));
        table.row(cells);
    }
    table
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
