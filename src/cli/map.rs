//! `vitals map`: the service dependency map of a trace folder or a dependency list.

use super::args::MapFlags;
use super::{print_json, print_lines, terminal_width};
use crate::analysis::dependencies::parse_dependencies;
use crate::analysis::service_map::{ServiceMap, Thresholds};
use crate::error::{Error, Result};
use crate::providers::file::load_path;
use crate::render::service_map::{MapView, render};

pub fn map(flags: MapFlags) -> Result<()> {
    let traces = match &flags.input {
        Some(path) => load_path(path)?,
        None => Vec::new(),
    };
    let map = match &flags.dependencies {
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| Error::invalid(format!("Cannot read {}: {e}", path.display())))?;
            ServiceMap::from_dependencies(&parse_dependencies(&bytes)?)
        }
        None => ServiceMap::from_traces(&traces, &Thresholds::default()),
    };
    if flags.json {
        return print_json(&map);
    }
    let find = |name: &str| map.index(name).ok_or_else(|| Error::invalid(format!("no service {name:?} on the map")));
    let view = match (&flags.service, &flags.callers, flags.migration) {
        (_, _, true) => MapView::Migration,
        (_, Some(callee), _) => MapView::Callers { of: find(callee)? },
        (Some(root), _, _) => MapView::Tree { root: Some(find(root)?) },
        _ => MapView::Tree { root: None },
    };
    let rendered = render(&map, view, flags.width.unwrap_or_else(terminal_width));
    print_lines(&rendered.lines)
}
