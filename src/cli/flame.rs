//! `vitals flame`: the aggregated flame graph of many traces, for people or as JSON.

use super::args::FlameFlags;
use super::{load_traces_of, print_json, print_lines, terminal_width};
use crate::analysis::aggregate::{Weight, aggregate};
use crate::error::Result;
use crate::render::aggregate as draw;

pub fn flame(flags: FlameFlags) -> Result<()> {
    let traces = load_traces_of(&flags.input, flags.service.as_deref())?;
    let weight = if flags.memory { Weight::Allocated } else { Weight::SelfTime };
    if flags.json {
        return print_json(&aggregate(&traces, flags.service.as_deref(), weight));
    }
    let title = flags.service.clone().unwrap_or_else(|| flags.input.display().to_string());
    let width = flags.width.unwrap_or_else(terminal_width);
    let (_, rendered) = draw::profile(&traces, flags.service.as_deref(), weight, &title, width);
    print_lines(&rendered.lines)
}
