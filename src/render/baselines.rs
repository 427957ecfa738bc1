//! Saved baselines as a list, for people: a line each with the service, the name, the
//! window of traffic it pinned (UTC), when it was saved, and how many requests it counts.

use std::time::{Duration, UNIX_EPOCH};

use super::style::{Group, StyledLine};
use super::units::grouped;
use crate::analysis::baselines::Baseline;

/// `2026-11-24 13:05` (UTC).
fn at(ns: u64) -> String {
    let stamp = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_nanos(ns)).to_string();
    stamp.get(..16).unwrap_or(&stamp).replace('T', " ")
}

/// The baselines, a line each under a header; a sentence when there are none.
pub fn render(baselines: &[Baseline]) -> Vec<StyledLine> {
    if baselines.is_empty() {
        let hint = "No saved baselines: :VitalsBaseline save [name] (vitals baseline save SERVICE [NAME]) pins a \
                    service's current numbers";
        return vec![StyledLine::styled(hint, Group::Dim)];
    }
    let service_width = baselines.iter().map(|b| b.service.chars().count()).max().unwrap_or(0).max(7);
    let name_width = baselines.iter().map(|b| b.name.chars().count()).max().unwrap_or(0).max(4);
    let mut header = StyledLine::default();
    header.push(
        &format!(
            "{:<service_width$}  {:<name_width$}  {:<35}  {:<16}  {:>8}",
            "service", "name", "window (UTC)", "saved", "requests"
        ),
        Some(Group::Title),
    );
    let mut lines = vec![header];
    for baseline in baselines {
        let mut line = StyledLine::default();
        line.push(&format!("{:<service_width$}  ", baseline.service), Some(Group::Label));
        line.push(&format!("{:<name_width$}  ", baseline.name), Some(Group::Key));
        let window = format!("{} – {}", at(baseline.window.start_ns), at(baseline.window.end_ns));
        line.push(&format!("{window:<35}  {:<16}  ", at(baseline.saved_ns)), Some(Group::Dim));
        line.push(&format!("{:>8}", grouped(baseline.requests())), None);
        lines.push(line);
    }
    lines
}
