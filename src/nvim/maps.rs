//! The service-map floats a user has open: the map and what the float shows, so that
//! `<CR>`, `r`, `u`, `m` and going back are answered without fetching.

use std::num::NonZeroUsize;

use lru::LruCache;
use serde::Serialize;

use super::protocol::Drawing;
use crate::analysis::service_map::ServiceMap;
use crate::error::{Error, Result};
use crate::render::service_map::{MapView, render};

const MAX_OPEN_MAPS: usize = 8;

struct OpenMap {
    map: ServiceMap,
    view: MapView,
    width: usize,
    /// What the float showed before a service's details, to go back to.
    before_details: Option<MapView>,
}

/// A map float's drawing, and which service each named part of it stands for.
#[derive(Serialize)]
pub struct MapPayload {
    pub map_id: u64,
    #[serde(flatten)]
    pub drawing: Drawing,
    /// `[line, start, end, service]`: 0-based line, byte columns, service name.
    pub services: Vec<(usize, usize, usize, String)>,
    /// `tree`, `callers`, `migration` or `details`: what the float shows.
    pub view: &'static str,
}

pub struct Maps {
    next_id: u64,
    open: LruCache<u64, OpenMap>,
}

impl Default for Maps {
    fn default() -> Self {
        Maps { next_id: 1, open: LruCache::new(NonZeroUsize::new(MAX_OPEN_MAPS).unwrap_or(NonZeroUsize::MIN)) }
    }
}

impl Maps {
    /// Opens a map (or replaces map `reuse`, for a live refresh) rooted at `root`, drawn
    /// in `width` columns.
    pub fn open(
        &mut self,
        map: ServiceMap,
        root: Option<&str>,
        reuse: Option<u64>,
        width: usize,
    ) -> Result<MapPayload> {
        let asked = match root.filter(|r| !r.is_empty()) {
            Some(name) => MapView::Tree { root: Some(find(&map, name)?) },
            None => MapView::Tree { root: None },
        };
        // A refresh keeps its id and what the float showed, when that service is still there.
        let (id, view, before_details) = match reuse.and_then(|id| Some((id, self.open.peek(&id)?))) {
            Some((id, previous)) => {
                let view = keep(&previous.map, previous.view, &map).unwrap_or(asked);
                let before = previous.before_details.and_then(|before| keep(&previous.map, before, &map));
                (id, view, before)
            }
            None => {
                self.next_id += 1;
                (self.next_id - 1, asked, None)
            }
        };
        self.open.put(id, OpenMap { map, view, width, before_details });
        self.draw(id)
    }

    /// `tree`, `root`, `callers`, `migration` or `details`, about `service`; or `back`
    /// from a service's details to what the float showed before them.
    pub fn act(&mut self, id: u64, action: &str, service: &str) -> Result<MapPayload> {
        let open = self.open.get_mut(&id).ok_or_else(|| gone(id))?;
        let of = || find(&open.map, service);
        let view = match action {
            "tree" => MapView::Tree { root: None },
            "root" => MapView::Tree { root: Some(of()?) },
            "callers" => MapView::Callers { of: of()? },
            "details" => MapView::Details { of: of()? },
            "migration" => MapView::Migration,
            "back" => open.before_details.take().unwrap_or(MapView::Tree { root: None }),
            other => return Err(Error::invalid(format!("unknown map action {other:?}"))),
        };
        if matches!(view, MapView::Details { .. }) && !matches!(open.view, MapView::Details { .. }) {
            open.before_details = Some(open.view);
        }
        open.view = view;
        self.draw(id)
    }

    pub fn close(&mut self, id: u64) {
        self.open.pop(&id);
    }

    fn draw(&mut self, id: u64) -> Result<MapPayload> {
        let open = self.open.get(&id).ok_or_else(|| gone(id))?;
        let rendered = render(&open.map, open.view, open.width);
        let services =
            rendered.targets.iter().map(|t| (t.line, t.start, t.end, open.map.services[t.span].name.clone())).collect();
        let view = match open.view {
            MapView::Tree { .. } => "tree",
            MapView::Callers { .. } => "callers",
            MapView::Migration => "migration",
            MapView::Details { .. } => "details",
        };
        Ok(MapPayload {
            map_id: id,
            drawing: Drawing::new("Vitals service map".to_string(), &rendered),
            services,
            view,
        })
    }
}

/// The same view on a rebuilt map, by service name.
fn keep(old: &ServiceMap, view: MapView, new: &ServiceMap) -> Option<MapView> {
    let moved = |i: usize| new.index(&old.services[i].name);
    Some(match view {
        MapView::Tree { root: None } => view,
        MapView::Tree { root: Some(r) } => MapView::Tree { root: Some(moved(r)?) },
        MapView::Callers { of } => MapView::Callers { of: moved(of)? },
        MapView::Details { of } => MapView::Details { of: moved(of)? },
        MapView::Migration => view,
    })
}

fn find(map: &ServiceMap, name: &str) -> Result<usize> {
    map.index(name).ok_or_else(|| Error::invalid(format!("no service {name:?} on the map")))
}

fn gone(id: u64) -> Error {
    Error::invalid(format!("service map {id} is no longer open; open it again"))
}
