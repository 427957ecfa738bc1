//! The trace floats a user has open: what each shows and at which width, so that keys
//! pressed in a float (`<CR>`, `w`, `c`, `n`, `s`, `L`, a resize) are answered without
//! fetching anything.

use std::num::NonZeroUsize;
use std::sync::Arc;

use lru::LruCache;

use super::protocol::{DetailPayload, Drawing, LogsPayload, ViewPayload};
use crate::analysis::calls::CodeLocation;
use crate::error::{Error, Result};
use crate::model::{LogRecord, SpanIndex, Trace};
use crate::render::{self, Picture, Rendered, View};

/// Floats closed without telling the host (a crashed plugin) are forgotten past this.
const MAX_OPEN_VIEWS: usize = 32;

struct OpenView {
    trace: Arc<Trace>,
    picture: Picture,
    /// The time view (flame graph or waterfall) to go back to from calls or statistics.
    timeline: View,
    rendered: Rendered,
    /// The trace's stored logs (read when it was opened), and what the provider cannot
    /// show of them.
    logs: Vec<LogRecord>,
    logs_note: Option<String>,
}

/// What a key pressed in a trace float asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Switch {
    /// `w`: flame graph ⇄ waterfall.
    Timeline,
    /// `c`: mark the critical path, or stop marking it.
    CriticalPath,
    /// `n` and `s`: show this view, or go back to the timeline when it is showing.
    Toggle(View),
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
    /// Opens a view of `trace` drawn as `picture` says, with the cursor on `focus` (a span
    /// id) when it is drawn.
    pub fn open(&mut self, trace: Arc<Trace>, picture: Picture, focus: &str) -> ViewPayload {
        let id = self.next_id;
        self.next_id += 1;
        let view = picture.view;
        let rendered = render::render_trace(&trace, &picture);
        let mut payload = payload(id, &trace, &picture, &rendered);
        let focused = (!focus.is_empty()).then(|| trace.find_span(focus)).flatten();
        payload.focus = focused
            .and_then(|span| rendered.targets.iter().find(|t| t.span == span))
            .map(|target| (target.line, target.start));
        let timeline = if matches!(view, View::Flame | View::Waterfall) { view } else { View::Flame };
        self.open.put(id, OpenView { trace, picture, timeline, rendered, logs: Vec::new(), logs_note: None });
        payload
    }

    /// Draws an open view again at another width.
    pub fn resize(&mut self, id: u64, width: usize) -> Result<ViewPayload> {
        self.redraw(id, |picture, _| picture.width = width.max(1))
    }

    /// Switches what an open view shows.
    pub fn switch(&mut self, id: u64, switch: Switch) -> Result<ViewPayload> {
        self.redraw(id, |picture, timeline| match switch {
            Switch::Timeline => {
                *timeline = if *timeline == View::Flame { View::Waterfall } else { View::Flame };
                picture.view = *timeline;
            }
            Switch::CriticalPath => {
                picture.critical_path = !picture.critical_path;
                picture.view = *timeline;
            }
            Switch::Toggle(view) if picture.view == view => picture.view = *timeline,
            Switch::Toggle(view) => picture.view = view,
        })
    }

    fn redraw(&mut self, id: u64, change: impl FnOnce(&mut Picture, &mut View)) -> Result<ViewPayload> {
        let open = self.open.get_mut(&id).ok_or_else(|| gone(id))?;
        change(&mut open.picture, &mut open.timeline);
        open.rendered = render::render_trace(&open.trace, &open.picture);
        Ok(payload(id, &open.trace, &open.picture, &open.rendered))
    }

    /// Gives an open view its trace's stored logs, and `note`: what the provider cannot show.
    pub fn attach_logs(&mut self, id: u64, logs: Vec<LogRecord>, note: Option<String>) -> Result<()> {
        let open = self.open.get_mut(&id).ok_or_else(|| gone(id))?;
        (open.logs, open.logs_note) = (logs, note);
        Ok(())
    }

    /// The detail of the span under the cursor, or `None` when the cursor is on no span.
    pub fn detail(&mut self, id: u64, line: usize, col: usize, width: usize) -> Result<Option<DetailPayload>> {
        let open = self.open.get(&id).ok_or_else(|| gone(id))?;
        Ok(open.rendered.span_at(line, col).map(|span| {
            let drawn = render::detail::render(&open.trace, span, &open.logs, width.max(40));
            let s = &open.trace.spans[span];
            DetailPayload {
                drawing: Drawing::new(format!("{}: {}", s.service(), s.operation), &drawn.rendered),
                code: CodeLocation::nearest(&open.trace, span),
                jumps: drawn.jumps,
            }
        }))
    }

    /// The log lines of the span under the cursor (with `descendants`, of the spans under
    /// it too), or `None` when the cursor is on no span.
    pub fn logs(
        &mut self,
        id: u64,
        line: usize,
        col: usize,
        width: usize,
        descendants: bool,
    ) -> Result<Option<LogsPayload>> {
        let open = self.open.get(&id).ok_or_else(|| gone(id))?;
        Ok(open.rendered.span_at(line, col).map(|span| {
            let note = open.logs_note.as_deref();
            let drawn = render::logs::of_span(&open.trace, span, descendants, &open.logs, note, width.max(40));
            let s = &open.trace.spans[span];
            LogsPayload {
                drawing: Drawing::new(format!("Logs: {}: {}", s.service(), s.operation), &drawn.rendered),
                jumps: drawn.jumps,
            }
        }))
    }

    /// The trace of an open view and the span under the cursor, if any.
    pub fn span_at(&mut self, id: u64, line: usize, col: usize) -> Result<Option<(Arc<Trace>, SpanIndex)>> {
        let open = self.open.get(&id).ok_or_else(|| gone(id))?;
        Ok(open.rendered.span_at(line, col).map(|span| (Arc::clone(&open.trace), span)))
    }

    pub fn close(&mut self, id: u64) {
        self.open.pop(&id);
    }
}

fn gone(id: u64) -> Error {
    Error::invalid(format!("trace view {id} is no longer open; open the trace again"))
}

fn payload(id: u64, trace: &Trace, picture: &Picture, rendered: &Rendered) -> ViewPayload {
    let mut title = match trace.root() {
        Some(root) => format!("{}: {}", root.service(), root.operation),
        None => format!("trace {}", trace.id),
    };
    if !picture.handoffs.is_empty() {
        title = format!("transaction of {} traces from {title}", trace.trace_ids().len());
    }
    ViewPayload {
        view_id: id,
        focus: None,
        view: picture.view,
        critical_path: picture.critical_path,
        trace_id: trace.id.to_string(),
        drawing: Drawing::new(title, rendered),
    }
}
