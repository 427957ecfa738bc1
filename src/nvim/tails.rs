//! The live-tail floats a user has open. Each follows its source in a task of its own and
//! pushes its list to the float whenever it changed (at most once per [`tail::FRAME`]),
//! through `require('vitals.tail')._update`: the editor never asks and never waits.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nvim_rs::Neovim;
use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::protocol::{Drawing, to_value};
use crate::error::{Error, Result};
use crate::model::SmolStr;
use crate::tail::{self, Filter, Tail};

/// Tails open at once, at most; opening another closes the oldest.
const MAX_OPEN_TAILS: usize = 8;

/// `:VitalsTail [service] [filters]`.
#[derive(Deserialize)]
#[serde(default)]
pub struct OpenParams {
    /// The command's words, read as `:VitalsSearch` reads them.
    pub words: Vec<String>,
    pub width: usize,
    /// Where the user is: seconds east of UTC, for the times of day.
    pub utc_offset_s: i64,
    pub max_rows: usize,
    /// How often a remote backend is polled.
    pub poll_ms: u64,
    pub slow_query_ms: u64,
}

impl Default for OpenParams {
    fn default() -> Self {
        OpenParams {
            words: Vec::new(),
            width: 120,
            utc_offset_s: 0,
            max_rows: tail::DEFAULT_ROWS,
            poll_ms: 2000,
            slow_query_ms: 500,
        }
    }
}

/// A key pressed in a tail float: `pause`, `resume`, `clear`, `filter` (with `words`) or
/// `resize` (with `width`).
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ActionParams {
    pub tail_id: u64,
    pub action: String,
    pub words: Vec<String>,
    pub width: usize,
}

/// A tail float's drawing, what each listed line opens, and its state.
#[derive(Serialize)]
pub struct Payload {
    pub tail_id: u64,
    #[serde(flatten)]
    pub drawing: Drawing,
    pub rows: Vec<RowItem>,
    pub paused: bool,
    /// The filter's words, to change them.
    pub words: Vec<String>,
}

/// A listed trace: its 0-based line, and the spans of its N+1s and slow queries, marked
/// when it opens.
#[derive(Serialize)]
pub struct RowItem {
    pub line: usize,
    pub trace_id: String,
    pub marks: Vec<SmolStr>,
}

struct OpenTail {
    tail: Arc<Tail>,
    width: Arc<AtomicUsize>,
    utc_offset_s: i64,
    /// Pushes the list as it changes; stopped with the float.
    pusher: tokio::task::JoinHandle<()>,
    opened: u64,
}

impl Drop for OpenTail {
    fn drop(&mut self) {
        self.pusher.abort();
    }
}

#[derive(Default)]
pub struct Tails {
    next_id: u64,
    open: HashMap<u64, OpenTail>,
}

impl Tails {
    /// Registers a started tail, drawn in `width` columns, and starts pushing its changes
    /// to the float `nvim` will show; answers its first drawing.
    pub fn open<W>(&mut self, tail: Tail, p: &OpenParams, nvim: Neovim<W>) -> Result<Value>
    where
        W: futures::AsyncWrite + Send + Unpin + 'static,
    {
        self.next_id += 1;
        let id = self.next_id;
        if self.open.len() >= MAX_OPEN_TAILS
            && let Some(oldest) = self.open.iter().min_by_key(|(_, t)| t.opened).map(|(id, _)| *id)
        {
            self.open.remove(&oldest);
        }
        let tail = Arc::new(tail);
        let width = Arc::new(AtomicUsize::new(p.width.max(40)));
        let utc_offset_s = p.utc_offset_s;
        let pusher = {
            let (tail, width) = (Arc::clone(&tail), Arc::clone(&width));
            tokio::spawn(async move {
                tail.show_changes(|| {
                    let payload = payload(id, &tail, width.load(Ordering::Relaxed), utc_offset_s);
                    let nvim = nvim.clone();
                    async move { push(&nvim, payload).await }
                })
                .await
            })
        };
        let first = payload(id, &tail, width.load(Ordering::Relaxed), utc_offset_s);
        self.open.insert(id, OpenTail { tail, width, utc_offset_s, pusher, opened: id });
        to_value(&first)
    }

    /// Pauses, resumes, clears, filters anew or redraws a tail; answers its drawing.
    pub fn act(&mut self, p: ActionParams) -> Result<Value> {
        let open = self.open.get(&p.tail_id).ok_or_else(|| Error::invalid("This live tail was closed"))?;
        match p.action.as_str() {
            "pause" => open.tail.feed().pause(),
            "resume" => open.tail.feed().resume(),
            "clear" => open.tail.feed().clear(),
            "filter" => open.tail.set_filter(Filter::from_words(&p.words)?)?,
            "resize" => open.width.store(p.width.max(40), Ordering::Relaxed),
            other => return Err(Error::invalid(format!("unknown live tail action {other:?}"))),
        }
        to_value(&payload(p.tail_id, &open.tail, open.width.load(Ordering::Relaxed), open.utc_offset_s))
    }

    pub fn close(&mut self, id: u64) {
        self.open.remove(&id);
    }
}

/// The float's content now.
fn payload(tail_id: u64, tail: &Tail, width: usize, utc_offset_s: i64) -> Payload {
    let drawn = tail.draw(width, utc_offset_s);
    let filter = tail.filter();
    let words = filter.words().to_vec();
    let title = match words.is_empty() {
        true => "Vitals tail: every trace".to_string(),
        false => format!("Vitals tail: {}", words.join(" ")),
    };
    let rows = drawn
        .rows
        .into_iter()
        .map(|(line, row)| RowItem {
            line,
            trace_id: row.glance.summary.trace_id,
            marks: row.glance.marks.into_iter().flat_map(|m| m.span_ids).collect(),
        })
        .collect();
    let paused = tail.feed().is_paused();
    Payload { tail_id, drawing: Drawing::new(title, &drawn.rendered), rows, paused, words }
}

/// Shows a drawing in its float; false once the float is gone (or the editor is).
async fn push<W>(nvim: &Neovim<W>, payload: Payload) -> bool
where
    W: futures::AsyncWrite + Send + Unpin + 'static,
{
    let Ok(value) = to_value(&payload) else { return false };
    match nvim.exec_lua("return require('vitals.tail')._update(...)", vec![value]).await {
        Ok(shown) => shown.as_bool().unwrap_or(false),
        Err(e) => {
            tracing::warn!("could not show the live tail: {e}");
            false
        }
    }
}
