//! Evaluates a board as traffic arrives: woken by the store's announcement of each
//! committed batch, at most once per [`EVERY`] (a busy receiver commits many batches a
//! second), and every [`IDLE`] without traffic, so that a rule firing when the requests
//! stop clears once its window is empty. The reads go to a blocking thread on the
//! store's reader connection: ingest never waits for them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::time::Instant;

use super::board::{Board, Event};
use crate::query::now_ns;
use crate::store::Store;

/// The shortest time between two evaluations.
pub const EVERY: Duration = Duration::from_secs(1);
/// The longest, without traffic.
pub const IDLE: Duration = Duration::from_secs(10);

/// What changed at an evaluation: the rules that fired or cleared, and the statusline.
pub struct Update {
    pub events: Vec<Event>,
    pub statusline: String,
}

/// Runs until the task is dropped (or the store goes away), telling `changed` of every
/// evaluation whose events or statusline differ from the last one.
pub async fn watch(store: Arc<Store>, board: Arc<Mutex<Board>>, mut changed: impl FnMut(Update) + Send) {
    let mut arrivals = store.subscribe();
    let mut shown = String::new();
    let mut last: Option<Instant> = None;
    loop {
        tokio::select! {
            heard = arrivals.recv() => if let Err(RecvError::Closed) = heard { return },
            _ = tokio::time::sleep(IDLE) => {}
        }
        if let Some(last) = last {
            tokio::time::sleep_until(last + EVERY).await;
        }
        // What arrived meanwhile is in this evaluation too.
        while !matches!(arrivals.try_recv(), Err(TryRecvError::Empty | TryRecvError::Closed)) {}
        last = Some(Instant::now());
        let (store, board) = (Arc::clone(&store), Arc::clone(&board));
        let evaluated = tokio::task::spawn_blocking(move || {
            let mut board = board.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let events = board.evaluate(&store, now_ns());
            events.map(|events| Update { events, statusline: board.statusline() })
        })
        .await;
        match evaluated {
            Ok(Ok(update)) => {
                if !update.events.is_empty() || update.statusline != shown {
                    shown.clone_from(&update.statusline);
                    changed(update);
                }
            }
            Ok(Err(e)) => tracing::warn!("could not evaluate the alert rules: {e}"),
            Err(e) => tracing::error!("the alert evaluation failed: {e}"),
        }
    }
}
