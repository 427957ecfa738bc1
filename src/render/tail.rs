//! The live tail: a line per trace as traces arrive (newest on top in the editor's float,
//! one after another in the terminal):
//!
//! `14:03:21 ✗2 web: POST /checkout   1.24s ██████▍   26 spans N+1 ×6 · slow query 900ms  web, checkout +2`
//!
//! A row's columns depend on the width alone, never on the other rows: lines printed one
//! at a time in a terminal line up, and a float's columns stay put when a wider row comes.

use super::layout::{Align, Column, Part, fit_parts, solve};
use super::palette;
use super::style::{Group, Highlight, Rendered, StyledLine};
use super::summary_line::services;
use super::text::{Keep, elide, width};
use super::units::{clock, duration, duration_us};
use crate::analysis::findings::FindingKind;
use crate::analysis::glance::Glance;

/// Cells of the duration bar.
const BAR_CELLS: usize = 8;
/// Eighths of a cell, from one eighth to a whole cell.
const EIGHTHS: [char; 8] = ['▏', '▎', '▍', '▌', '▋', '▊', '▉', '█'];

#[derive(Clone, Copy)]
enum Cell {
    Time,
    Errors,
    Root,
    Duration,
    Bar,
    Spans,
    Marks,
    Services,
}

const CELLS: [Cell; 8] =
    [Cell::Time, Cell::Errors, Cell::Root, Cell::Duration, Cell::Bar, Cell::Spans, Cell::Marks, Cell::Services];

impl Cell {
    /// How the cell gives way on a narrow line, and the cells it takes at most.
    fn column(self) -> (Column, usize) {
        match self {
            Cell::Time => (Column::word(7), 8),
            Cell::Errors => (Column::word(8), 3),
            // The root widens last: the bar and the span count come first.
            Cell::Root => (Column::name(10, 20).comfort(3), 36),
            Cell::Duration => (Column::number(9), 6),
            Cell::Bar => (Column::word(6), BAR_CELLS),
            Cell::Spans => (Column::number(5), 9),
            Cell::Marks => (Column::name(8, 7).keep(Keep::Start).comfort(2), 30),
            Cell::Services => (Column::name(4, 8).keep(Keep::Start).comfort(1), 32),
        }
    }

    fn header(self) -> &'static str {
        match self {
            Cell::Time => "started",
            Cell::Errors => "",
            Cell::Root => "root",
            Cell::Duration => "took",
            Cell::Bar => "",
            Cell::Spans => "spans",
            Cell::Marks => "found",
            Cell::Services => "services",
        }
    }
}

/// Where each cell of a row goes at one width: `None` for a cell left out.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns {
    widths: Vec<Option<usize>>,
}

impl Columns {
    pub fn fit(width: usize) -> Columns {
        let (columns, naturals): (Vec<Column>, Vec<usize>) = CELLS.iter().map(|c| c.column()).unzip();
        Columns { widths: solve(&columns, &naturals, width, 1) }
    }

    /// A line of one text per cell, each cut to its column and aligned in it.
    fn line(&self, texts: impl IntoIterator<Item = (String, Option<Group>)>) -> StyledLine {
        let mut line = StyledLine::default();
        for ((cell, (text, group)), shown) in CELLS.iter().zip(texts).zip(&self.widths) {
            let Some(cells) = *shown else { continue };
            if !line.text.is_empty() {
                line.push(" ", None);
            }
            let (column, _) = cell.column();
            let text = elide(&text, cells, column.keep);
            let pad = " ".repeat(cells.saturating_sub(width(&text)));
            if column.align == Align::Right {
                line.push(&pad, None);
            }
            line.push(&text, group);
            if column.align == Align::Left {
                line.push(&pad, None);
            }
        }
        let trimmed = line.text.trim_end_matches(' ').len();
        line.text.truncate(trimmed);
        line
    }
}

/// The names of the columns, dimmed.
pub fn header(columns: &Columns) -> StyledLine {
    columns.line(CELLS.iter().map(|c| (c.header().to_string(), Some(Group::Dim))))
}

/// One trace: when it started (in the user's zone, `utc_offset_s` east of UTC), its
/// errors, root, duration with a bar against `scale_ns` (the longest duration around),
/// span count, the N+1s and slow queries found in it, and its services.
pub fn row(glance: &Glance, columns: &Columns, scale_ns: u64, utc_offset_s: i64) -> StyledLine {
    let summary = &glance.summary;
    let errors = match summary.error_count {
        0 => String::new(),
        n if n > 99 => "✗99".to_string(),
        n => format!("✗{n}"),
    };
    let spans = match summary.span_count {
        1 => "1 span".to_string(),
        n => format!("{n} spans"),
    };
    columns.line([
        (clock(summary.start_ns, utc_offset_s), Some(Group::Dim)),
        (errors, Some(Group::Error)),
        (
            format!("{}: {}", summary.root_service, summary.root_operation),
            Some(Group::Service(palette::colour(&summary.root_service))),
        ),
        (duration(summary.duration_ns), Some(Group::Duration)),
        (bar(summary.duration_ns, scale_ns), Some(Group::Duration)),
        (spans, None),
        (marks(glance), Some(Group::Warning)),
        (services(summary), Some(Group::Dim)),
    ])
}

/// A row as the terminal prints it: the trace id (to open it with `vitals trace`), then
/// the row in the columns given.
pub fn with_id(glance: &Glance, columns: &Columns, scale_ns: u64, utc_offset_s: i64) -> StyledLine {
    let mut line = StyledLine::default();
    line.push(&glance.summary.trace_id, Some(Group::Dim));
    line.push("  ", None);
    let shift = line.text.len();
    let row = row(glance, columns, scale_ns, utc_offset_s);
    line.text.push_str(&row.text);
    line.highlights.extend(row.highlights.into_iter().map(|h| Highlight {
        start: h.start + shift,
        end: h.end + shift,
        ..h
    }));
    line
}

/// `N+1 ×6 · slow query 900ms`: the worst of each kind, with how many more there are.
pub fn marks(glance: &Glance) -> String {
    let mut parts = Vec::new();
    let more = |n: usize| if n > 1 { format!(" (+{})", n - 1) } else { String::new() };
    if let Some((worst, n)) = glance.worst(FindingKind::NPlusOne) {
        parts.push(format!("N+1 ×{}{}", worst.count, more(n)));
    }
    if let Some((worst, n)) = glance.worst(FindingKind::SlowQuery) {
        parts.push(format!("slow query {}{}", duration_us(worst.total_us), more(n)));
    }
    parts.join(" · ")
}

/// A bar of up to [`BAR_CELLS`] cells, in eighths, for `ns` of `scale_ns`; at least an
/// eighth for any time at all.
fn bar(ns: u64, scale_ns: u64) -> String {
    if ns == 0 || scale_ns == 0 {
        return String::new();
    }
    let eighths = ((ns.min(scale_ns) as u128 * (BAR_CELLS * 8) as u128 / scale_ns as u128) as usize).max(1);
    let mut text = EIGHTHS[7].to_string().repeat(eighths / 8);
    if let Some(part) = (eighths % 8).checked_sub(1) {
        text.push(EIGHTHS[part]);
    }
    text
}

/// What the tail's first line says about it.
pub struct State<'a> {
    /// The filter as typed, "" for every trace.
    pub filter: &'a str,
    /// Where traces come from: `from the receivers`, `polling jaeger at … every 2s`.
    pub source: &'a str,
    /// Traces listed now.
    pub listed: usize,
    /// While paused: the traces that arrived since.
    pub paused: Option<usize>,
    /// Batches of spans the tail fell too far behind to see.
    pub missed: u64,
    /// Why the last poll failed, while it does.
    pub problem: Option<&'a str>,
}

/// `● live · checkout error=true · 12 traces · from the receivers`, or `⏸ paused · 7 new`.
pub fn status(state: &State, width: usize) -> StyledLine {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let filter = if state.filter.is_empty() { "every trace" } else { state.filter };
    let mut parts = vec![match state.paused {
        Some(new) => Part::fixed(format!("⏸ paused · {} new", new), Some(Group::Warning), 10),
        None => Part::fixed("● live", Some(Group::Title), 10),
    }];
    parts.push(Part::elastic(format!(" · {filter}"), Some(Group::Label), 9, 8, Keep::Start));
    parts.push(Part::fixed(format!(" · {}", plural(state.listed as u64, "trace", "traces")), None, 7));
    if state.missed > 0 {
        let missed = format!(" · ⚠ fell behind: {} of spans not shown", plural(state.missed, "batch", "batches"));
        parts.push(Part::fixed(missed, Some(Group::Warning), 8));
    }
    if let Some(problem) = state.problem {
        parts.push(Part::elastic(format!(" · ⚠ {problem}"), Some(Group::Error), 8, 12, Keep::Start));
    }
    parts.push(Part::elastic(format!(" · {}", state.source), Some(Group::Dim), 3, 12, Keep::Start));
    fit_parts(&parts, width)
}

/// The whole list: the state, the column names and a row per trace (`rows` newest first),
/// or what it waits for.
pub fn render(rows: &[&Glance], state: &State, width: usize, utc_offset_s: i64) -> Rendered {
    let columns = Columns::fit(width);
    let mut lines = vec![status(state, width), header(&columns)];
    let scale = rows.iter().map(|g| g.summary.duration_ns).max().unwrap_or(0);
    lines.extend(rows.iter().map(|glance| row(glance, &columns, scale, utc_offset_s)));
    if rows.is_empty() {
        lines.push(StyledLine::styled("Waiting for traces…", Group::Dim));
    }
    Rendered { lines, targets: Vec::new() }
}

/// The line of the first row in [`render`]'s lines.
pub const FIRST_ROW: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::TraceSummary;
    use crate::analysis::glance::Mark;

    fn glance(root: &str, duration_ns: u64, errors: usize, marks: Vec<Mark>) -> Glance {
        Glance {
            summary: TraceSummary {
                trace_id: "1".into(),
                root_service: "web".into(),
                root_operation: root.into(),
                start_ns: (14 * 3600 + 3 * 60 + 21) * 1_000_000_000,
                duration_ns,
                span_count: 26,
                services: vec!["web".into(), "checkout".into(), "cart".into(), "postgres".into(), "redis".into()],
                error_count: errors,
                matched_spans: None,
            },
            marks,
            has_root: true,
        }
    }

    fn mark(kind: FindingKind, count: usize, total_us: u64) -> Mark {
        Mark { kind, count, total_us, span_ids: Vec::new() }
    }

    #[test]
    fn a_row_shows_time_errors_root_duration_bar_spans_marks_and_services() {
        let marks = vec![
            mark(FindingKind::SlowQuery, 1, 900_000),
            mark(FindingKind::NPlusOne, 6, 90_000),
            mark(FindingKind::NPlusOne, 5, 50_000),
        ];
        let slow = glance("POST /checkout", 1_240_000_000, 2, marks);
        let line = row(&slow, &Columns::fit(160), 1_240_000_000, 0).text;
        for part in [
            "14:03:21",
            "✗2",
            "web: POST /checkout",
            "1.24s ████████",
            "26 spans",
            "N+1 ×6 (+1) · slow query 900ms",
            "web, checkout, cart +2",
        ] {
            assert!(line.contains(part), "{line:?} lacks {part:?}");
        }
        let half = row(&glance("GET /", 620_000_000, 0, Vec::new()), &Columns::fit(160), 1_240_000_000, 3600).text;
        assert!(half.starts_with("15:03:21") && half.contains("620ms ████ "), "{half:?}");
        assert!(!half.contains('✗'));
        let tiny = row(&glance("GET /", 1, 0, Vec::new()), &Columns::fit(160), 1_240_000_000, 0).text;
        assert!(tiny.contains("1ns ▏"), "any time shows: {tiny:?}");
    }

    #[test]
    fn rows_line_up_whatever_they_hold_and_fit_narrow_windows() {
        let short = glance("GET /", 5_000_000, 0, Vec::new());
        let long = glance("POST /api/v2/customers/{id}/orders/{order}/items", 1_240_000_000, 12, Vec::new());
        for width in [60, 80, 120, 200] {
            let columns = Columns::fit(width);
            let lines: Vec<String> = [&short, &long].iter().map(|g| row(g, &columns, 1_240_000_000, 0).text).collect();
            let column_of = |line: &str, text: &str| width_to(line, text);
            assert_eq!(column_of(&lines[0], "spans"), column_of(&lines[1], "spans"), "at {width}: {lines:#?}");
            for line in &lines {
                assert!(crate::render::text::width(line) <= width, "at {width}: {line:?}");
                assert!(line.contains("14:03:21") && line.contains("web: "), "at {width}: {line:?}");
            }
        }
        let narrow = row(&long, &Columns::fit(80), 1_240_000_000, 0).text;
        assert!(narrow.contains("✗12") && narrow.contains("1.24s") && narrow.contains("/items"), "{narrow:?}");
    }

    /// Display cells before `text` in `line`.
    fn width_to(line: &str, text: &str) -> Option<usize> {
        line.find(text).map(|at| crate::render::text::width(&line[..at]))
    }

    #[test]
    fn the_first_line_says_live_or_paused_what_is_filtered_and_what_went_wrong() {
        let state = State {
            filter: "checkout error=true",
            source: "from the receivers",
            listed: 1,
            paused: None,
            missed: 0,
            problem: None,
        };
        assert_eq!(status(&state, 120).text, "● live · checkout error=true · 1 trace · from the receivers");
        let paused = State { paused: Some(7), missed: 3, problem: Some("connection refused"), ..state };
        let text = status(&paused, 200).text;
        for part in ["⏸ paused · 7 new", "fell behind: 3 batches", "⚠ connection refused"] {
            assert!(text.contains(part), "{text:?} lacks {part:?}");
        }
        assert!(status(&paused, 40).width() <= 40);
        let empty = render(&[], &State { filter: "", ..paused }, 80, 0);
        assert!(empty.lines[0].text.contains("every trace"));
        assert_eq!(empty.lines[FIRST_ROW].text, "Waiting for traces…");
    }
}
