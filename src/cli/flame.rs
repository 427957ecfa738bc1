//! `vitals flame`: the aggregated flame graph of many traces, for people or as JSON.

use super::args::FlameFlags;
use super::{load_traces_of, terminal_width, write_stdout};
use crate::analysis::aggregate::aggregate;
use crate::error::{Error, Result};
use crate::render::{aggregate as draw, ansi};

pub fn flame(flags: FlameFlags) -> Result<()> {
    let traces = load_traces_of(&flags.input, flags.service.as_deref())?;
    let flame = aggregate(&traces, flags.service.as_deref());
    if flags.json {
        let text = serde_json::to_string_pretty(&flame).map_err(|e| Error::invalid(e.to_string()))?;
        return write_stdout(&format!("{text}\n"));
    }
    let title = flags.service.unwrap_or_else(|| flags.input.display().to_string());
    let rendered = draw::render(&flame, &title, flags.width.unwrap_or_else(terminal_width));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
    write_stdout(&ansi::to_terminal(&rendered.lines, colour))
}
