//! An icicle of weighted call paths (no time axis): each path a bar as wide as its
//! weight's share, under its parent, siblings left to right in the order given. Shared by
//! the aggregated and the differential flame graphs.

use super::canvas::{BAR, Row};
use super::style::{Group, StyledLine, Target};
use super::text::{LEVEL, elide_middle, width as cells};

/// Rows beyond which deeper paths are not drawn.
const MAX_DEPTH: usize = 40;
/// Cells below which a bar carries no cut name (`PO…e` tells nothing).
const MIN_CUT_LABEL: usize = 6;

/// One call path. `bars[0]` is the root: not drawn, it stands for the full width.
pub struct Bar<'a> {
    pub parent: Option<usize>,
    pub weight: u64,
    pub service: &'a str,
    pub operation: &'a str,
    /// Shown after the name where it fits: a share, a change.
    pub note: String,
    /// The bar's colour (text colour of the bar cells).
    pub fill: Group,
    /// The label's colour (a background).
    pub label: Group,
}

pub struct Icicle {
    pub lines: Vec<StyledLine>,
    /// Targets name bars by their index in `bars`.
    pub targets: Vec<Target>,
    /// Bars narrower than a column (or too deep) that were left out.
    pub hidden: usize,
}

/// Draws `bars` (parents before children) in `width` columns; lines are numbered from
/// `first_line` in the targets.
pub fn draw(bars: &[Bar], width: usize, first_line: usize) -> Icicle {
    let total = bars.first().map_or(0, |root| root.weight).max(1);
    let col = |weight: u64| (weight as u128 * width as u128 / total as u128) as usize;
    // Where each bar starts (in weight from the left), and where its next child goes.
    let mut start = vec![0u64; bars.len()];
    let mut next_child = vec![0u64; bars.len()];
    let mut depth = vec![0usize; bars.len()];
    let mut rows: Vec<Row> = Vec::new();
    let mut hidden = 0;
    for (i, bar) in bars.iter().enumerate().skip(1) {
        let parent = bar.parent.unwrap_or(0);
        start[i] = next_child[parent];
        next_child[parent] = next_child[parent].saturating_add(bar.weight);
        next_child[i] = start[i];
        depth[i] = if parent == 0 { 0 } else { depth[parent] + 1 };
        let (c0, c1) = (col(start[i]), col(start[i].saturating_add(bar.weight)).min(width));
        if bar.weight == 0 {
            continue;
        }
        if c1 <= c0 || depth[i] >= MAX_DEPTH {
            hidden += 1;
            continue;
        }
        while rows.len() <= depth[i] {
            rows.push(Row::new(width));
        }
        let row = &mut rows[depth[i]];
        let cells = c1 - c0;
        // The last cell stays blank so that neighbouring bars read as separate.
        let inner = if cells >= 2 { cells - 1 } else { cells };
        row.fill(c0, inner, BAR, Some(bar.fill), Some(i));
        if let Some(text) = label(bar, inner) {
            row.put(c0, &text, Some(bar.label), Some(i));
        }
    }
    let mut lines = Vec::new();
    let mut targets = Vec::new();
    for row in rows {
        lines.push(row.draw(first_line + lines.len(), &mut targets));
    }
    Icicle { lines, targets, hidden }
}

/// The longest label that fits: `service: operation  note`, then shorter forms.
fn label(bar: &Bar, room: usize) -> Option<String> {
    let (service, operation, note) = (bar.service, bar.operation, &bar.note);
    [format!("{service}: {operation}  {note}"), format!("{operation}  {note}"), operation.to_string()]
        .into_iter()
        .find(|candidate| cells(candidate) <= room)
        .or_else(|| (room >= MIN_CUT_LABEL).then(|| elide_middle(operation, room)))
}

/// A call path for people: `web GET /checkout › api PlaceOrder › db SELECT`, from the
/// first level below the root (node 0) down to `node` (tables cut it from the left, the
/// most specific part last). `at(i)` gives node i's parent, service and operation. A call
/// repeated level after level (recursion, a page including itself) is written once with
/// its depth, `strongman post page ×5`, so that paths of different depths read apart.
pub fn path_name<'a>(node: usize, at: impl Fn(usize) -> (Option<usize>, &'a str, &'a str)) -> String {
    let mut parts: Vec<(String, usize)> = Vec::new();
    let mut current = Some(node);
    let mut steps = 0;
    while let Some(i) = current.filter(|&i| i != 0) {
        let (parent, service, operation) = at(i);
        let part = format!("{service} {operation}");
        match parts.last_mut() {
            Some((last, repeats)) if *last == part => *repeats += 1,
            _ => parts.push((part, 1)),
        }
        current = parent;
        steps += 1;
        if steps > 1_000_000 {
            break;
        }
    }
    parts.reverse();
    let parts: Vec<String> = parts
        .into_iter()
        .map(|(part, repeats)| if repeats > 1 { format!("{part} ×{repeats}") } else { part })
        .collect();
    parts.join(LEVEL)
}
