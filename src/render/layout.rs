//! Columns that fit a width: each column has a priority and a minimum, and when the line
//! is too narrow the least important columns give way first, down to their minimum and
//! then entirely, while names are cut in the middle rather than at the end.
//!
//! [`Table`] draws aligned rows (span statistics, the network calls, the lists of the
//! aggregated flame graph and of a comparison); [`Table::layout`] gives the columns'
//! places to views that paint rows onto a canvas; [`fit_parts`] fits one flowing line
//! whose parts are not aligned with other lines (a title, a row of the service map).

use std::ops::Range;

use super::style::{Group, StyledLine};
use super::text::{Keep, elide, elide_distinct, width};

/// Where a column's text goes when it is narrower than the column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// One column: how important it is, and how narrow and how wide it may get.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// Higher stays longer: when the columns do not fit, the lowest priority goes first.
    pub priority: u8,
    /// Cells below which the column is dropped rather than narrowed; a column whose
    /// widest text is narrower needs only that. Columns that are never cut have no
    /// minimum below their widest text.
    pub min: usize,
    /// Cells the column never grows beyond (texts longer are cut).
    pub max: usize,
    /// How important showing more than `min` cells is (a name's full length): below the
    /// priority of columns that should rather stay than let it grow.
    pub comfort: u8,
    pub align: Align,
    /// Which part of a too-long text survives.
    pub keep: Keep,
    /// Takes every cell the other columns leave (a time axis); its texts are ignored.
    pub fill: bool,
}

impl Column {
    /// A column of numbers: never cut, right-aligned.
    pub fn number(priority: u8) -> Self {
        Column {
            priority,
            min: usize::MAX,
            max: usize::MAX,
            comfort: priority,
            align: Align::Right,
            keep: Keep::Start,
            fill: false,
        }
    }

    /// A column of names: cut in the middle down to `min` cells, left-aligned.
    pub fn name(priority: u8, min: usize) -> Self {
        Column { min, keep: Keep::Ends, align: Align::Left, ..Column::number(priority) }
    }

    /// A column of short words (a kind, a mark), left-aligned and never cut.
    pub fn word(priority: u8) -> Self {
        Column { align: Align::Left, ..Column::number(priority) }
    }

    /// A column taking the cells the others leave, at least `min`.
    pub fn filler(priority: u8, min: usize) -> Self {
        Column { min, fill: true, ..Column::word(priority) }
    }

    pub fn max(self, max: usize) -> Self {
        Column { max, ..self }
    }

    pub fn keep(self, keep: Keep) -> Self {
        Column { keep, ..self }
    }

    pub fn comfort(self, comfort: u8) -> Self {
        Column { comfort, ..self }
    }
}

/// A column's place on the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    pub x: usize,
    pub width: usize,
}

/// Cells of each column (`None`: dropped) for columns whose widest texts are
/// `naturals`, in `width` cells with `gap` cells between neighbours.
///
/// Cells are handed out by importance: a column's place (its minimum) at its
/// `priority`, the rest of its widest text at its `comfort`. So the least important
/// columns are the first to go, and a name is cut (down to its minimum) only for columns
/// more important than its comfort. What is left goes to the filler. The most important
/// column is always shown, cut to the width if need be.
pub fn solve(columns: &[Column], naturals: &[usize], width: usize, gap: usize) -> Vec<Option<usize>> {
    let wanted = |i: usize| if columns[i].fill { columns[i].min } else { naturals[i].min(columns[i].max) };
    let floor = |i: usize| columns[i].min.min(wanted(i));
    // (priority, is the comfort claim, column): places before comforts of equal priority.
    let mut claims: Vec<(u8, bool, usize)> = (0..columns.len())
        .filter(|&i| columns[i].fill || naturals[i] > 0)
        .flat_map(|i| [(columns[i].priority, false, i), (columns[i].comfort, true, i)])
        .collect();
    claims.sort_by_key(|&(priority, comfort, i)| (std::cmp::Reverse(priority), comfort, i));
    let mut widths: Vec<Option<usize>> = vec![None; columns.len()];
    let mut used = 0;
    for (_, comfort, i) in claims {
        match (comfort, widths[i]) {
            (false, _) => {
                let need = floor(i) + if used > 0 { gap } else { 0 };
                if used == 0 || used + need <= width {
                    widths[i] = Some(floor(i).min(width));
                    used = (used + need).min(width);
                }
            }
            (true, Some(w)) if !columns[i].fill => {
                let more = (wanted(i) - w).min(width - used);
                widths[i] = Some(w + more);
                used += more;
            }
            (true, _) => {}
        }
    }
    if let Some(filler) = (0..columns.len()).find(|&i| columns[i].fill && widths[i].is_some()) {
        widths[filler] = widths[filler].map(|w| w + width - used);
    }
    widths
}

/// A styled cell.
#[derive(Clone, Debug, Default)]
pub struct Cell {
    pub text: String,
    pub group: Option<Group>,
}

impl Cell {
    pub fn new(text: impl Into<String>, group: Option<Group>) -> Self {
        Cell { text: text.into(), group }
    }
}

/// Rows of cells under a header, drawn with aligned columns that fit the width.
pub struct Table {
    columns: Vec<Column>,
    header: Option<Vec<Cell>>,
    rows: Vec<Vec<Cell>>,
    gap: usize,
}

/// Where a table's columns go and the text of each cell, fitted and aligned.
pub struct Layout {
    pub slots: Vec<Option<Slot>>,
    pub header: Option<Vec<Option<String>>>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// A table of `columns`, one space between them.
    pub fn new(columns: Vec<Column>) -> Self {
        Table { columns, header: None, rows: Vec::new(), gap: 1 }
    }

    /// Cells between neighbouring columns.
    pub fn gap(self, gap: usize) -> Self {
        Table { gap, ..self }
    }

    pub fn header(&mut self, cells: Vec<Cell>) {
        self.header = Some(cells);
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// Places the columns in `width` cells and fits every cell to its column: names
    /// of one column cut so that different names stay different.
    pub fn layout(&self, width: usize) -> Layout {
        let naturals: Vec<usize> = (0..self.columns.len())
            .map(|c| self.header.iter().chain(&self.rows).map(|row| self::width(cell(row, c))).max().unwrap_or(0))
            .collect();
        let widths = solve(&self.columns, &naturals, width, self.gap);
        let mut slots = vec![None; self.columns.len()];
        let mut x = 0;
        for (c, w) in widths.iter().enumerate() {
            if let Some(w) = *w {
                slots[c] = Some(Slot { x, width: w });
                x += w + self.gap;
            }
        }
        let mut rows: Vec<Vec<Option<String>>> = vec![vec![None; self.columns.len()]; self.rows.len()];
        let mut header = self.header.as_ref().map(|_| vec![None; self.columns.len()]);
        for (c, slot) in slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let column = &self.columns[c];
            if column.fill {
                continue;
            }
            let texts: Vec<(&str, usize)> = self.rows.iter().map(|row| (cell(row, c), slot.width)).collect();
            for (r, text) in elide_distinct(&texts, column.keep).into_iter().enumerate() {
                rows[r][c] = Some(align(&text, slot.width, column.align));
            }
            if let (Some(header), Some(cells)) = (header.as_mut(), self.header.as_ref()) {
                header[c] = Some(align(&elide(cell(cells, c), slot.width, column.keep), slot.width, column.align));
            }
        }
        Layout { slots, header, rows }
    }

    /// The header (when there is one) and the rows, in `width` cells.
    pub fn render(&self, width: usize) -> Vec<StyledLine> {
        let (header, rows) = self.draw(width);
        header.into_iter().chain(rows).map(|row| row.line).collect()
    }

    /// The header (when there is one) and the rows in `width` cells, with where each
    /// cell's text went, for views that make a cell clickable.
    pub fn draw(&self, width: usize) -> (Option<DrawnRow>, Vec<DrawnRow>) {
        let layout = self.layout(width);
        let header = match (&self.header, &layout.header) {
            (Some(cells), Some(texts)) => Some(draw_row(cells, texts, self.gap)),
            _ => None,
        };
        let rows = self.rows.iter().zip(&layout.rows).map(|(cells, texts)| draw_row(cells, texts, self.gap)).collect();
        (header, rows)
    }
}

/// A row drawn by [`Table::draw`]: its line, and the byte range of each shown cell's
/// text (without its padding).
pub struct DrawnRow {
    pub line: StyledLine,
    pub cells: Vec<Option<Range<usize>>>,
}

fn cell(row: &[Cell], column: usize) -> &str {
    row.get(column).map_or("", |cell| cell.text.as_str())
}

fn align(text: &str, cells: usize, align: Align) -> String {
    let pad = " ".repeat(cells.saturating_sub(width(text)));
    match align {
        Align::Left => format!("{text}{pad}"),
        Align::Right => format!("{pad}{text}"),
    }
}

fn draw_row(cells: &[Cell], texts: &[Option<String>], gap: usize) -> DrawnRow {
    let mut line = StyledLine::default();
    let mut ranges = vec![None; texts.len()];
    let first = texts.iter().position(Option::is_some);
    for (c, text) in texts.iter().enumerate() {
        let Some(text) = text else { continue };
        if Some(c) != first {
            line.push(&" ".repeat(gap), None);
        }
        let group = cells.get(c).and_then(|cell| cell.group);
        // Highlight the text, not the padding around it.
        let lead = text.len() - text.trim_start_matches(' ').len();
        let body = text.trim_matches(' ');
        line.push(&text[..lead], None);
        ranges[c] = Some(line.push(body, group));
        line.push(&text[lead + body.len()..], None);
    }
    let trimmed = line.text.trim_end().len();
    line.text.truncate(trimmed);
    DrawnRow { line, cells: ranges }
}

/// A part of a flowing line: its text (separators included), colour, and how it gives
/// way when the line is too narrow.
pub struct Part {
    pub text: String,
    pub group: Option<Group>,
    pub column: Column,
}

impl Part {
    /// A part kept whole or dropped whole.
    pub fn fixed(text: impl Into<String>, group: Option<Group>, priority: u8) -> Self {
        Part { text: text.into(), group, column: Column::word(priority) }
    }

    /// A part that may be cut down to `min` cells, keeping what `keep` says.
    pub fn elastic(text: impl Into<String>, group: Option<Group>, priority: u8, min: usize, keep: Keep) -> Self {
        Part { text: text.into(), group, column: Column::name(priority, min).keep(keep) }
    }

    /// How important showing all of an elastic part is (see [`Column::comfort`]).
    pub fn comfort(self, comfort: u8) -> Self {
        Part { column: self.column.comfort(comfort), ..self }
    }
}

/// Joins `parts` into a line of at most `width` cells: parts that do not fit are
/// dropped, least important first, after elastic ones were cut to their minimum.
pub fn fit_parts(parts: &[Part], width: usize) -> StyledLine {
    place_parts(parts, width).line
}

/// [`fit_parts`], with where each part's text went (`None`: dropped).
pub fn place_parts(parts: &[Part], width: usize) -> DrawnRow {
    let columns: Vec<Column> = parts.iter().map(|p| p.column).collect();
    let naturals: Vec<usize> = parts.iter().map(|p| self::width(&p.text)).collect();
    let widths = solve(&columns, &naturals, width, 0);
    let mut line = StyledLine::default();
    let mut cells = Vec::with_capacity(parts.len());
    for (part, shown) in parts.iter().zip(widths) {
        cells.push(shown.map(|shown| line.push(&elide(&part.text, shown, part.column.keep), part.group)));
    }
    DrawnRow { line, cells }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats_columns() -> Vec<Column> {
        vec![
            Column::name(9, 12).comfort(5),
            Column::number(8),
            Column::number(3),
            Column::number(1),
            Column::number(2),
            Column::number(7),
        ]
    }

    #[test]
    fn the_least_important_columns_go_first_and_names_give_way_to_important_ones() {
        let naturals = [30, 5, 6, 6, 6, 6];
        let solve = |width| solve(&stats_columns(), &naturals, width, 1);
        assert_eq!(solve(100), [Some(30), Some(5), Some(6), Some(6), Some(6), Some(6)], "everything fits");
        assert_eq!(solve(57), [Some(30), Some(5), Some(6), None, Some(6), Some(6)], "the least important goes");
        assert_eq!(solve(43), [Some(30), Some(5), None, None, None, Some(6)]);
        assert_eq!(
            solve(30),
            [Some(17), Some(5), None, None, None, Some(6)],
            "the name is cut rather than lose a column more important than its comfort"
        );
        assert_eq!(solve(20), [Some(14), Some(5), None, None, None, None]);
        assert_eq!(solve(5), [Some(5), None, None, None, None, None], "the most important column stays, cut");
    }

    #[test]
    fn a_filler_takes_the_rest() {
        let columns = [Column::name(9, 10).max(40).comfort(4), Column::filler(5, 10)];
        assert_eq!(solve(&columns, &[60, 0], 120, 1), [Some(40), Some(79)]);
        assert_eq!(solve(&columns, &[60, 0], 30, 1), [Some(19), Some(10)]);
    }

    #[test]
    fn a_table_aligns_fits_and_keeps_names_apart() {
        let mut table = Table::new(vec![Column::name(9, 10).comfort(5), Column::number(8), Column::number(1)]);
        table.header(vec![Cell::new("By service", None), Cell::new("count", None), Cell::new("min", None)]);
        for (name, count) in [("checkout-service", "4"), ("checkout-worker", "12")] {
            table.row(vec![Cell::new(name, Some(Group::Label)), Cell::new(count, None), Cell::new("1.2ms", None)]);
        }
        let wide = table.render(40);
        assert_eq!(wide[1].text, "checkout-service     4 1.2ms");
        assert_eq!(wide[2].text, "checkout-worker     12 1.2ms");
        assert_eq!(wide[1].highlights[0].group, Group::Label);
        assert_eq!(&wide[1].text[wide[1].highlights[0].start..wide[1].highlights[0].end], "checkout-service");
        let narrow = table.render(16);
        assert!(narrow.iter().all(|l| l.width() <= 16), "{narrow:?}");
        assert_eq!(narrow[0].text, "By service count");
        assert_ne!(narrow[1].text[..10], narrow[2].text[..10], "{narrow:?}");
    }

    #[test]
    fn a_flowing_line_drops_its_least_important_parts() {
        let parts = [
            Part::elastic("│  └─ payment", Some(Group::Label), 9, 8, Keep::Ends),
            Part::fixed("  ×4", None, 6),
            Part::fixed(" (0.6/min)", None, 1),
            Part::fixed("  · p95 1.54s", None, 4),
            Part::fixed(" · degraded", None, 8),
            Part::fixed("  ◆ bottleneck", None, 8),
        ];
        let full = fit_parts(&parts, 80).text;
        assert_eq!(full, "│  └─ payment  ×4 (0.6/min)  · p95 1.54s · degraded  ◆ bottleneck");
        assert_eq!(fit_parts(&parts, 60).text, "│  └─ payment  ×4  · p95 1.54s · degraded  ◆ bottleneck");
        assert_eq!(fit_parts(&parts, 45).text, "│  └─ payment  ×4 · degraded  ◆ bottleneck");
        assert_eq!(fit_parts(&parts, 20).text, "│  └─ payment  ×4", "a smaller part that fits stays");
    }
}
