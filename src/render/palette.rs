//! Stable service colours within one trace: services are numbered in the order they first
//! appear walking from the root, so the request's entry service always gets colour 1 and
//! two services of one trace share a colour only past [`SERVICE_COLOURS`].

use std::collections::HashMap;

use super::style::{Group, SERVICE_COLOURS};
use crate::model::Trace;

pub struct Palette<'t> {
    index: HashMap<&'t str, u8>,
}

impl<'t> Palette<'t> {
    pub fn of(trace: &'t Trace) -> Self {
        Palette::numbered(trace.services())
    }

    /// Colours services in the order given.
    pub fn numbered(services: impl IntoIterator<Item = &'t str>) -> Self {
        let mut index = HashMap::new();
        for service in services {
            let next = (index.len() % SERVICE_COLOURS as usize) as u8;
            index.entry(service).or_insert(next);
        }
        Palette { index }
    }

    fn colour(&self, service: &str) -> u8 {
        self.index.get(service).copied().unwrap_or(0)
    }

    /// Text colour for a span: its service's, or the error colour when it failed.
    pub fn text(&self, service: &str, failed: bool) -> Group {
        if failed { Group::Error } else { Group::Service(self.colour(service)) }
    }

    /// Background colour for a flame-graph label.
    pub fn bar(&self, service: &str, failed: bool) -> Group {
        if failed { Group::FlameError } else { Group::Flame(self.colour(service)) }
    }
}
