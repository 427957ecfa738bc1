//! What surrounds every trace picture: a title line, a time ruler and a footer of
//! warnings, so flame graph and waterfall read the same way.

use super::style::{Group, StyledLine};
use super::units::{duration, truncate};
use crate::model::Trace;

/// `frontend: GET /dispatch  712ms · 52 spans · 5 services · 1 error · 4bd8…`
pub fn title(trace: &Trace, width: usize) -> StyledLine {
    let mut line = StyledLine::default();
    let Some(root) = trace.root() else {
        line.push("empty trace", Some(Group::Title));
        return line;
    };
    let name = truncate(&format!("{}: {}", root.service(), root.operation), width / 2);
    line.push(&name, Some(Group::Title));
    line.push("  ", None);
    line.push(&duration(trace.duration_ns()), Some(Group::Duration));
    let services = trace.services().len();
    let stats = format!(
        " · {} span{} · {} service{}",
        trace.spans.len(),
        plural(trace.spans.len()),
        services,
        plural(services)
    );
    line.push(&stats, Some(Group::Dim));
    let errors = trace.error_count();
    if errors > 0 {
        line.push(" · ", Some(Group::Dim));
        line.push(&format!("{errors} error{}", plural(errors)), Some(Group::Error));
    }
    let id = trace.id.to_string();
    if line.width() + id.len() + 3 <= width {
        line.push(&format!(" · {id}"), Some(Group::Dim));
    }
    line
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
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

/// Warnings about the trace, then notes about what the picture marks or leaves out.
pub fn footer(trace: &Trace, notes: impl IntoIterator<Item = String>) -> Vec<StyledLine> {
    let mut lines = vec![StyledLine::default()];
    for warning in &trace.warnings {
        let mut line = StyledLine::default();
        line.push(&format!("⚠ {warning}"), Some(Group::Warning));
        lines.push(line);
    }
    for note in notes {
        let mut line = StyledLine::default();
        line.push(&note, Some(Group::Dim));
        lines.push(line);
    }
    if lines.len() == 1 {
        lines.clear();
    }
    lines
}
