//! Styled lines: text plus highlight ranges, and the spans each part of the text stands for.

use std::fmt;

use serde::Serialize;

use super::text::{clean, width};
use crate::model::SpanIndex;

/// Number of distinct service colours (as many as Jaeger UI's palette): enough that two
/// services of one trace rarely share one.
pub const SERVICE_COLOURS: u8 = 20;

/// A semantic highlight. The Neovim plugin defines a highlight group for each
/// (`Vitals` + name, with `default = true`); the terminal maps each to ANSI colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Title,
    Dim,
    Duration,
    Error,
    Warning,
    Key,
    Label,
    /// A service's colour as text colour (names, waterfall bars, flame-graph fill).
    Service(u8),
    /// A service's colour as background (flame-graph labels).
    Flame(u8),
    /// A failed span's flame-graph label.
    FlameError,
    /// A call path that got slower (or is new) in a comparison: bars, then labels.
    Slower,
    SlowerLabel,
    /// A call path that got faster in a comparison: bars, then labels.
    Faster,
    FasterLabel,
    /// A call path whose time moved within noise in a comparison: bars, then labels.
    Neutral,
    NeutralLabel,
    /// A span the user asked to see (the repeated calls of an N+1).
    Marked,
    /// A service's health on the service map.
    Healthy,
    Degraded,
    Critical,
    /// Label cells over a critical-path section (a band in neither a service's nor the
    /// error colour); the section's bar cells are a dark line through the bar instead.
    CriticalLabel,
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Group::Title => f.write_str("VitalsTitle"),
            Group::Dim => f.write_str("VitalsDim"),
            Group::Duration => f.write_str("VitalsDuration"),
            Group::Error => f.write_str("VitalsError"),
            Group::Warning => f.write_str("VitalsWarning"),
            Group::Key => f.write_str("VitalsKey"),
            Group::Label => f.write_str("VitalsLabel"),
            Group::Service(n) => write!(f, "VitalsService{}", n + 1),
            Group::Flame(n) => write!(f, "VitalsFlame{}", n + 1),
            Group::FlameError => f.write_str("VitalsFlameError"),
            Group::Slower => f.write_str("VitalsSlower"),
            Group::SlowerLabel => f.write_str("VitalsSlowerLabel"),
            Group::Faster => f.write_str("VitalsFaster"),
            Group::FasterLabel => f.write_str("VitalsFasterLabel"),
            Group::Neutral => f.write_str("VitalsNeutral"),
            Group::NeutralLabel => f.write_str("VitalsNeutralLabel"),
            Group::Marked => f.write_str("VitalsMarked"),
            Group::Healthy => f.write_str("VitalsHealthy"),
            Group::Degraded => f.write_str("VitalsDegraded"),
            Group::Critical => f.write_str("VitalsCritical"),
            Group::CriticalLabel => f.write_str("VitalsCriticalLabel"),
        }
    }
}

impl Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A highlighted byte range of a line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Highlight {
    pub start: usize,
    pub end: usize,
    pub group: Group,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StyledLine {
    pub text: String,
    pub highlights: Vec<Highlight>,
}

impl StyledLine {
    pub fn plain(text: impl Into<String>) -> Self {
        let mut line = StyledLine::default();
        line.push(&text.into(), None);
        line
    }

    /// A line of one colour.
    pub fn styled(text: &str, group: Group) -> Self {
        let mut line = StyledLine::default();
        line.push(text, Some(group));
        line
    }

    /// Appends text (control characters made visible, see [`clean`]), highlighted when a
    /// group is given; returns its byte range.
    pub fn push(&mut self, text: &str, group: Option<Group>) -> std::ops::Range<usize> {
        let start = self.text.len();
        self.text.push_str(&clean(text));
        if let Some(group) = group.filter(|_| !text.is_empty()) {
            self.highlights.push(Highlight { start, end: self.text.len(), group });
        }
        start..self.text.len()
    }

    /// Display width in terminal cells.
    pub fn width(&self) -> usize {
        width(&self.text)
    }

    /// Pads with spaces up to `width` columns.
    pub fn pad_to(&mut self, width: usize) {
        let missing = width.saturating_sub(self.width());
        self.text.extend(std::iter::repeat_n(' ', missing));
    }
}

/// A region of a rendered line that stands for a span, so that a key pressed on it (`<CR>`)
/// can be resolved to that span. Byte offsets, as editors report cursor columns in bytes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Target {
    pub line: usize,
    pub start: usize,
    pub end: usize,
    pub span: SpanIndex,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Rendered {
    pub lines: Vec<StyledLine>,
    pub targets: Vec<Target>,
}

impl Rendered {
    /// The span drawn at a line and byte column, if any. A cursor beside a bar rather than
    /// on it picks the nearest bar to its left, or else the first one on the line, as a
    /// user pressing `<CR>` in the blank part of a row would expect.
    pub fn span_at(&self, line: usize, column: usize) -> Option<SpanIndex> {
        let on_line = || self.targets.iter().filter(move |t| t.line == line);
        on_line()
            .find(|t| (t.start..t.end).contains(&column))
            .or_else(|| on_line().filter(|t| t.start <= column).max_by_key(|t| t.start))
            .or_else(|| on_line().next())
            .map(|t| t.span)
    }

    /// All lines as plain text, for tests and non-terminal output.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            out.push_str(line.text.trim_end());
            out.push('\n');
        }
        out
    }
}
