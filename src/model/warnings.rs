//! Problems found while assembling a trace, counted per kind so that a 100,000-span trace
//! with broken parents yields one readable line, not 100,000.

use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WarningKind {
    MissingParent,
    DuplicateId,
    Cycle,
    ClockSkew,
    MissingTime,
    StartOutOfRange,
    EndsBeforeStart,
    TooLong,
    SeveralRoots,
}

#[derive(Default)]
pub struct WarningLog {
    by_kind: BTreeMap<WarningKind, (usize, String)>,
}

impl WarningLog {
    /// Records one occurrence; only the first example of each kind is kept.
    pub fn add(&mut self, kind: WarningKind, example: impl FnOnce() -> String) {
        self.by_kind.entry(kind).and_modify(|(count, _)| *count += 1).or_insert_with(|| (1, example()));
    }

    pub fn into_messages(self) -> Vec<String> {
        self.by_kind.into_iter().map(|(kind, (count, example))| describe(kind, count, &example)).collect()
    }
}

fn describe(kind: WarningKind, count: usize, example: &str) -> String {
    let (one, many) = match kind {
        WarningKind::MissingParent => ("span's parent is missing", "spans' parents are missing"),
        WarningKind::DuplicateId => ("span id is used twice", "span ids are used more than once"),
        WarningKind::Cycle => ("parent cycle was broken", "parent cycles were broken"),
        WarningKind::ClockSkew => {
            ("span lies outside its parent (clock skew?)", "spans lie outside their parents (clock skew?)")
        }
        WarningKind::MissingTime => ("span has no start time", "spans have no start time"),
        WarningKind::StartOutOfRange => (
            "span starts before 1970 or after 2262, shown with no start time",
            "spans start before 1970 or after 2262, shown with no start time",
        ),
        WarningKind::EndsBeforeStart => (
            "span ends before it starts, shown as taking no time",
            "spans end before they start, shown as taking no time",
        ),
        WarningKind::TooLong => (
            "span lasts longer than 30 days, shown as taking no time",
            "spans last longer than 30 days, shown as taking no time",
        ),
        WarningKind::SeveralRoots => ("root", "roots"),
    };
    if kind == WarningKind::SeveralRoots {
        return format!("trace has {example} {many}, shown side by side");
    }
    if count == 1 { format!("1 {one}: {example}") } else { format!("{count} {many}, e.g. {example}") }
}
