//! The editor's alerts: the rules of the `alerts` option watched on the embedded store
//! (see [`crate::alerts::watch`]); each change is pushed to
//! `require('vitals.alerts')._update`, which notifies once per fired or cleared rule and
//! caches the statusline's text, so that `require("vitals").statusline()` costs nothing.

use std::sync::{Arc, Mutex};

use nvim_rs::Neovim;
use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::protocol::{Drawing, to_value};
use crate::alerts::show::{ListedTrace, listing};
use crate::alerts::watch::{Update, watch};
use crate::alerts::{Board, Event, Rule};
use crate::error::Result;
use crate::store::Store;

#[derive(Default)]
pub struct Alerts {
    board: Option<Arc<Mutex<Board>>>,
    /// Whether the rules are watched (only the embedded store announces arrivals).
    watched: bool,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Alerts {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// What the plugin is told at each change.
#[derive(Serialize)]
struct Push {
    events: Vec<Event>,
    statusline: String,
}

/// `:VitalsAlerts`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ListParams {
    pub utc_offset_s: i64,
}

#[derive(Serialize)]
struct ListPayload {
    #[serde(flatten)]
    drawing: Drawing,
    traces: Vec<ListedTrace>,
}

impl Alerts {
    /// Watches `rules` on `store` from now on (none: the provider has no store of its
    /// own), forgetting the rules watched before.
    pub fn restart<W>(&mut self, rules: Vec<Rule>, store: Option<Arc<Store>>, nvim: Neovim<W>)
    where
        W: futures::AsyncWrite + Send + Unpin + 'static,
    {
        *self = Alerts::default();
        // A new board starts all clear: the statusline of the rules watched before must
        // not stay.
        let clear = nvim.clone();
        tokio::spawn(async move { push(&clear, Push { events: Vec::new(), statusline: String::new() }).await });
        if rules.is_empty() {
            return;
        }
        let board = Arc::new(Mutex::new(Board::new(rules)));
        self.board = Some(Arc::clone(&board));
        let Some(store) = store else { return };
        self.watched = true;
        self.task = Some(tokio::spawn(watch(store, board, move |Update { events, statusline }| {
            let nvim = nvim.clone();
            tokio::spawn(async move { push(&nvim, Push { events, statusline }).await });
        })));
    }

    /// The rules, their state and history, drawn for the float.
    pub fn list(&self, p: ListParams) -> Result<Value> {
        let board = self.board.as_ref().map(|b| b.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let (rendered, traces) = listing(board.iter().flat_map(|b| b.watched.iter()), p.utc_offset_s);
        let title = match (&board, self.watched) {
            (Some(_), false) => "Vitals alerts (not watched: they need the otlp provider)",
            _ => "Vitals alerts",
        };
        to_value(&ListPayload { drawing: Drawing::new(title.to_string(), &rendered), traces })
    }
}

async fn push<W>(nvim: &Neovim<W>, push: Push)
where
    W: futures::AsyncWrite + Send + Unpin + 'static,
{
    let Ok(value) = to_value(&push) else { return };
    if let Err(e) = nvim.exec_lua("require('vitals.alerts')._update(...)", vec![value]).await {
        tracing::warn!("could not tell the editor of an alert: {e}");
    }
}
