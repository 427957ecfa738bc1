//! A row of character cells that bars and labels are painted onto, then turned into a
//! [`StyledLine`] with merged highlight runs and click targets.

use super::style::{Group, Highlight, StyledLine, Target};
use super::text::{char_width, clean};
use crate::model::SpanIndex;

const NO_SPAN: u32 = u32::MAX;

/// The character bars are drawn with.
pub const BAR: char = '█';

/// The character of a bar's critical-path cells: a dark line through the bar, as Jaeger
/// UI draws it, so the critical path never takes a colour of its own (that read as an
/// error) and shows without colour too (piped output, a monochrome terminal).
pub const CRITICAL_BAR: char = '━';
/// The time a message waited in a queue, between its producer and its consumer.
pub const GAP: char = '┄';

/// Stands in the cell after a character two cells wide.
const WIDE_TAIL: char = '\0';

#[derive(Clone, Copy)]
struct Cell {
    ch: char,
    group: Option<Group>,
    span: u32,
    used: bool,
}

const EMPTY: Cell = Cell { ch: ' ', group: None, span: NO_SPAN, used: false };

#[derive(Clone)]
pub struct Row {
    cells: Vec<Cell>,
}

impl Row {
    pub fn new(width: usize) -> Self {
        Row { cells: vec![EMPTY; width] }
    }

    pub fn width(&self) -> usize {
        self.cells.len()
    }

    pub fn is_free(&self, from: usize, to: usize) -> bool {
        self.cells[from.min(self.width())..to.min(self.width())].iter().all(|c| !c.used)
    }

    /// Paints `text` from column `col`; whatever does not fit the row is cut off. A
    /// character two cells wide takes two cells (a space when only one is left).
    pub fn put(&mut self, col: usize, text: &str, group: Option<Group>, span: Option<SpanIndex>) {
        let span = span.map_or(NO_SPAN, |s| s as u32);
        let mut at = col;
        for ch in clean(text).chars() {
            let cells = char_width(ch);
            if cells == 0 || at >= self.width() {
                continue;
            }
            let ch = if at + cells > self.width() { ' ' } else { ch };
            self.cells[at] = Cell { ch, group, span, used: true };
            if cells == 2 && ch != ' ' {
                self.cells[at + 1] = Cell { ch: WIDE_TAIL, group, span, used: true };
            }
            at += cells;
        }
    }

    /// Paints `count` copies of `ch` from column `col`.
    pub fn fill(&mut self, col: usize, count: usize, ch: char, group: Option<Group>, span: Option<SpanIndex>) {
        let span = span.map_or(NO_SPAN, |s| s as u32);
        for cell in self.cells.iter_mut().skip(col).take(count) {
            *cell = Cell { ch, group, span, used: true };
        }
    }

    /// Marks the cells of `span` in columns `from..to` as critical-path time: bar cells
    /// become a dark line through the bar (`━` on `line`, the bar's label colour), label
    /// cells the [`Group::CriticalLabel`] band; the blank closing a bar stays blank.
    pub fn mark_critical(&mut self, from: usize, to: usize, span: SpanIndex, line: Group) {
        let to = to.min(self.width());
        for cell in self.cells[from.min(to)..to].iter_mut().filter(|c| c.span == span as u32 && c.group.is_some()) {
            if cell.ch == BAR || cell.ch == CRITICAL_BAR {
                cell.ch = CRITICAL_BAR;
                cell.group = Some(line);
            } else {
                cell.group = Some(Group::CriticalLabel);
            }
        }
    }

    /// Marks the cells of `span` in columns `from..to` (a span the user asked to see, such
    /// as one of an N+1's repeated calls).
    pub fn mark(&mut self, from: usize, to: usize, span: SpanIndex) {
        let to = to.min(self.width());
        for cell in self.cells[from.min(to)..to].iter_mut().filter(|c| c.span == span as u32) {
            cell.group = Some(Group::Marked);
        }
    }

    /// Turns the painted cells into text, highlights and the targets of line `line`.
    pub fn into_line(self, line: usize) -> (StyledLine, Vec<Target>) {
        let last_used = self.cells.iter().rposition(|c| c.used).map_or(0, |p| p + 1);
        let mut styled = StyledLine::default();
        let mut targets: Vec<Target> = Vec::new();
        let cells = &self.cells[..last_used];
        for (at, cell) in cells.iter().enumerate() {
            // A wide character and the cell after it must still be a pair: one painted
            // over by a bar or a label is drawn as a space, so the row keeps its width.
            let wide = char_width(cell.ch) == 2;
            let ch = match cell.ch {
                WIDE_TAIL if at > 0 && char_width(cells[at - 1].ch) == 2 => continue,
                WIDE_TAIL => ' ',
                _ if wide && cells.get(at + 1).is_none_or(|next| next.ch != WIDE_TAIL) => ' ',
                ch => ch,
            };
            let start = styled.text.len();
            styled.text.push(ch);
            let end = styled.text.len();
            if let Some(group) = cell.group {
                match styled.highlights.last_mut() {
                    Some(h) if h.end == start && h.group == group => h.end = end,
                    _ => styled.highlights.push(Highlight { start, end, group }),
                }
            }
            if cell.span != NO_SPAN {
                match targets.last_mut() {
                    Some(t) if t.end == start && t.span == cell.span as usize => t.end = end,
                    _ => targets.push(Target { line, start, end, span: cell.span as usize }),
                }
            }
        }
        (styled, targets)
    }
}
