//! Pure functions from traces and findings to styled text: lines plus highlight ranges
//! named by *semantic* groups. The same output feeds the Neovim float (groups become
//! highlight groups), the terminal (groups become ANSI colours) and, later, LSP hovers.

pub mod aggregate;
pub mod annotations;
pub mod ansi;
pub mod baselines;
mod canvas;
pub mod compare;
mod critical;
pub mod detail;
pub mod document;
pub mod findings;
pub mod flame;
mod frame;
mod icicle;
pub mod layout;
pub mod logs;
pub mod network;
mod palette;
pub mod regressions;
pub mod report;
pub mod service_map;
pub mod stats;
pub mod status;
pub mod style;
pub mod summary_line;
pub mod tail;
pub mod text;
pub mod trends;
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
    /// Only the outgoing calls (HTTP, RPC, database, messaging) in start order.
    Network,
    /// Span statistics grouped by service and by operation.
    Stats,
}

/// How to draw a trace: the view, its width in columns, whether to mark the critical
/// path, and spans to mark (flame graph and waterfall).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub view: View,
    pub width: usize,
    pub critical_path: bool,
    pub marked: Vec<crate::model::SpanIndex>,
    /// The queue hand-offs of a stitched transaction (see
    /// [`crate::analysis::transaction`]), each a row of the waterfall.
    pub handoffs: Vec<crate::analysis::transaction::Handoff>,
    /// Spans of the trace that spans of other traces link to, once for each linking span
    /// (the store's index of links knows them); with the links each span carries, they
    /// make the waterfall's `→ 2 linked` badges.
    pub linked_from: Vec<crate::model::SpanIndex>,
}

impl Picture {
    pub fn new(view: View, width: usize) -> Self {
        Picture { view, width, critical_path: false, marked: Vec::new(), handoffs: Vec::new(), linked_from: Vec::new() }
    }
}

/// Draws a trace as `picture` says.
pub fn render_trace(trace: &crate::model::Trace, picture: &Picture) -> Rendered {
    match picture.view {
        View::Flame => flame::render(trace, picture.width, picture.critical_path, &picture.marked),
        View::Waterfall => waterfall::render(trace, picture),
        View::Network => network::render(trace, picture.width),
        View::Stats => stats::render(trace, picture.width),
    }
}
