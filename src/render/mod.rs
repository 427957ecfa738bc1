//! Pure functions from traces and findings to styled text: lines plus highlight ranges
//! named by *semantic* groups. The same output feeds the Neovim float (groups become
//! highlight groups), the terminal (groups become ANSI colours) and, later, LSP hovers.

pub mod ansi;
mod canvas;
pub mod detail;
pub mod findings;
pub mod flame;
mod frame;
mod palette;
pub mod report;
pub mod status;
pub mod style;
pub mod summary_line;
pub mod units;
pub mod waterfall;

pub use style::{Group, Rendered, StyledLine, Target};

/// Which picture of a trace to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// Icicle flame graph: time on x, depth on y.
    #[default]
    Flame,
    /// One row per span, indented by depth, a bar at its offset.
    Waterfall,
}

/// Draws a trace in the chosen view at the given width (in columns).
pub fn render_trace(trace: &crate::model::Trace, view: View, width: usize) -> Rendered {
    match view {
        View::Flame => flame::render(trace, width),
        View::Waterfall => waterfall::render(trace, width),
    }
}
