//! `vitals flame`: the aggregated flame graph of many traces, for people or as JSON.

use super::args::FlameFlags;
use super::{load_traces_of, print_json, print_lines, terminal_width};
use crate::analysis::aggregate::aggregate;
use crate::error::Result;
use crate::render::aggregate as draw;

pub fn flame(flags: FlameFlags) -> Result<()> {
    let traces = load_traces_of(&flags.input, flags.service.as_deref())?;
    let flame = aggregate(&traces, flags.service.as_deref());
    if flags.json {
        return print_json(&flame);
    }
    let title = flags.service.unwrap_or_else(|| flags.input.display().to_string());
    let rendered = draw::render(&flame, &title, flags.width.unwrap_or_else(terminal_width));
    print_lines(&rendered.lines)
}
