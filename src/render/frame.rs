//! What surrounds every trace picture: a title line, a time ruler and a footer of
//! warnings, so flame graph and waterfall read the same way.

use super::layout::{Part, fit_parts};
use super::style::{Group, StyledLine};
use super::text::{Keep, wrap_styled};
use super::units::{duration, plural};
use crate::model::Trace;

/// `frontend: GET /dispatch  712ms · 52 spans · 5 services · 1 error · 4bd8…`; in a
/// narrow window the trace id goes first, then the counts, and the name is cut in the
/// middle.
pub fn title(trace: &Trace, width: usize) -> StyledLine {
    let Some(root) = trace.root() else {
        return StyledLine::styled("empty trace", Group::Title);
    };
    let spans = trace.spans.len();
    let services = trace.services().len();
    let errors = trace.error_count();
    let mut parts = vec![
        Part::elastic(format!("{}: {}", root.service(), root.operation), Some(Group::Title), 9, 16, Keep::Ends)
            .comfort(6),
        Part::fixed(format!("  {}", duration(trace.duration_ns())), Some(Group::Duration), 8),
        Part::fixed(format!(" · {spans} span{}", plural(spans)), Some(Group::Dim), 5),
        Part::fixed(format!(" · {services} service{}", plural(services)), Some(Group::Dim), 4),
    ];
    if errors > 0 {
        parts.push(Part::fixed(format!(" · {errors} error{}", plural(errors)), Some(Group::Error), 7));
    }
    parts.push(Part::fixed(format!(" · {}", trace.id), Some(Group::Dim), 1));
    fit_parts(&parts, width)
}

/// A time axis of `width` columns starting at column `indent`, labelled at the quarters.
pub fn ruler(total_ns: u64, width: usize, indent: usize) -> StyledLine {
    let mut axis: Vec<char> = vec![' '; width];
    let mut place = |col: usize, label: String| {
        let len = label.chars().count();
        let start = col.min(width.saturating_sub(len));
        let free = axis[start.saturating_sub(1)..(start + len + 1).min(width)].iter().all(|c| *c == ' ');
        if start + len <= width && free {
            axis.splice(start..start + len, label.chars());
        }
    };
    place(0, "0".to_string());
    place(width, duration(total_ns));
    for quarter in 1..4 {
        let col = width * quarter / 4;
        // In u128: a trace with wild timestamps can last close to u64::MAX ns.
        let at = (total_ns as u128 * quarter as u128 / 4) as u64;
        place(col, format!("│{}", duration(at)));
    }
    let mut line = StyledLine::plain(" ".repeat(indent));
    line.push(axis.iter().collect::<String>().trim_end(), Some(Group::Dim));
    line
}

/// Warnings about the trace, then notes about what the picture marks or leaves out,
/// wrapped to `width`.
pub fn footer(trace: &Trace, notes: impl IntoIterator<Item = String>, width: usize) -> Vec<StyledLine> {
    let warnings = trace.warnings.iter().map(|w| StyledLine::styled(&format!("⚠ {w}"), Group::Warning));
    let notes = notes.into_iter().map(|note| StyledLine::styled(&note, Group::Dim));
    let lines: Vec<StyledLine> = warnings.chain(notes).flat_map(|line| wrap_styled(&line, width, 2)).collect();
    if lines.is_empty() {
        return lines;
    }
    std::iter::once(StyledLine::default()).chain(lines).collect()
}
