//! The critical path as the flame graph and waterfall mark it: each span's sections, and
//! a footer line saying what the marked cells mean.

use super::canvas::CRITICAL_BAR;
use super::units::{duration, plural};
use crate::analysis::critical_path::critical_path;
use crate::model::Trace;

/// Each span's critical sections as `(start_ns, end_ns)`, indexed like `trace.spans`;
/// all empty when the path is not wanted.
pub fn sections_by_span(trace: &Trace, wanted: bool) -> Vec<Vec<(u64, u64)>> {
    let mut by_span = vec![Vec::new(); if wanted { trace.spans.len() } else { 0 }];
    if wanted {
        for section in critical_path(trace) {
            by_span[section.span].push((section.start_ns, section.end_ns));
        }
    }
    by_span
}

/// `━ critical path: 412ms of 480ms, through 7 spans`, or `None` when not wanted: the
/// line character the marked bar cells are drawn with, so the legend reads without
/// colour too.
pub fn legend(trace: &Trace, by_span: &[Vec<(u64, u64)>]) -> Option<String> {
    if by_span.is_empty() {
        return None;
    }
    let on_path = by_span.iter().filter(|s| !s.is_empty()).count();
    // Sections never outlast the trace; a hostile trace's must not overflow the sum.
    let total = by_span
        .iter()
        .flatten()
        .fold(0u64, |sum, (start, end)| sum.saturating_add(end.saturating_sub(*start)))
        .min(trace.duration_ns());
    Some(format!(
        "{CRITICAL_BAR} critical path: {} of {}, through {on_path} span{}",
        duration(total),
        duration(trace.duration_ns()),
        plural(on_path)
    ))
}
