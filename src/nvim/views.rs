//! The trace floats a user has open: what each shows and at which width, so that keys
//! pressed in a float (`<CR>`, `w`, a resize) are answered without fetching anything.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::protocol::{Drawing, ViewPayload};
use crate::error::{Error, Result};
use crate::model::Trace;
use crate::render::{self, Rendered, View};

/// Floats closed without telling the host (a crashed plugin) are forgotten past this.
const MAX_OPEN_VIEWS: usize = 32;

struct OpenView {
    trace: Arc<Trace>,
    view: View,
    width: usize,
    rendered: Rendered,
}

pub struct Views {
    next_id: u64,
    open: LruCache<u64, OpenView>,
}

impl Default for Views {
    fn default() -> Self {
        Views { next_id: 1, open: LruCache::new(NonZeroUsize::new(MAX_OPEN_VIEWS).unwrap_or(NonZeroUsize::MIN)) }
    }
}

impl Views {
    /// Opens a view of `trace`, with the cursor on `focus` (a span id) when it is drawn.
    pub fn open(&mut self, trace: Arc<Trace>, view: View, width: usize, focus: &str) -> ViewPayload {
        let id = self.next_id;
        self.next_id += 1;
        let rendered = render::render_trace(&trace, view, width);
        let mut payload = payload(id, &trace, view, &rendered);
        let focused = (!focus.is_empty()).then(|| trace.find_span(focus)).flatten();
        payload.focus = focused
            .and_then(|span| rendered.targets.iter().find(|t| t.span == span))
            .map(|target| (target.line, target.start));
        self.open.put(id, OpenView { trace, view, width, rendered });
        payload
    }

    /// Draws an open view again, in another view kind and/or at another width.
    pub fn redraw(&mut self, id: u64, view: Option<View>, width: Option<usize>) -> Result<ViewPayload> {
        let open = self.open.get_mut(&id).ok_or_else(|| gone(id))?;
        open.view = view.unwrap_or(open.view);
        open.width = width.filter(|w| *w > 0).unwrap_or(open.width);
        open.rendered = render::render_trace(&open.trace, open.view, open.width);
        Ok(payload(id, &open.trace, open.view, &open.rendered))
    }

    pub fn toggle(&mut self, id: u64) -> Result<ViewPayload> {
        let current = self.open.peek(&id).ok_or_else(|| gone(id))?.view;
        let next = match current {
            View::Flame => View::Waterfall,
            View::Waterfall => View::Flame,
        };
        self.redraw(id, Some(next), None)
    }

    /// The detail of the span under the cursor, or `None` when the cursor is on no span.
    pub fn detail(&mut self, id: u64, line: usize, col: usize, width: usize) -> Result<Option<Drawing>> {
        let open = self.open.get(&id).ok_or_else(|| gone(id))?;
        Ok(open.rendered.span_at(line, col).map(|span| {
            let rendered = render::detail::render(&open.trace, span, width.max(40));
            let s = &open.trace.spans[span];
            Drawing::new(format!("{}: {}", s.service(), s.operation), &rendered)
        }))
    }

    pub fn close(&mut self, id: u64) {
        self.open.pop(&id);
    }
}

fn gone(id: u64) -> Error {
    Error::invalid(format!("trace view {id} is no longer open; open the trace again"))
}

fn payload(id: u64, trace: &Trace, view: View, rendered: &Rendered) -> ViewPayload {
    let title = match trace.root() {
        Some(root) => format!("{}: {}", root.service(), root.operation),
        None => format!("trace {}", trace.id),
    };
    ViewPayload {
        view_id: id,
        focus: None,
        view,
        trace_id: trace.id.to_string(),
        drawing: Drawing::new(title, rendered),
    }
}
