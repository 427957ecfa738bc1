//! Keeping one receiver on the OTLP port across several editors.
//!
//! Every Neovim host with the `otlp` provider runs a supervisor over the same store. The
//! first to bind the port receives; the others find it taken and try again every couple
//! of seconds, reading the shared store meanwhile. When the receiving host exits, the
//! port frees and one of the others takes over; senders retry what failed in between,
//! and the store keeps a retried span once.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinHandle;

use super::{Counters, Limits, bind, budget, router, serve, server};
use crate::query::now_ns;
use crate::store::Store;

/// How often a waiting supervisor tries the port again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// How often the receiving process enforces retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    Starting,
    /// This process holds the port and writes what arrives.
    Receiving {
        address: String,
    },
    /// Another process holds the port; this one reads the shared store.
    Waiting {
        address: String,
        reason: String,
    },
}

/// What a status view shows about the receiver.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiverStatus {
    #[serde(flatten)]
    pub role: Role,
    pub batches: u64,
    pub spans: u64,
    pub rejected_batches: u64,
    pub last_batch_ns: u64,
    pub last_rejection: Option<String>,
}

pub struct Receiver {
    task: JoinHandle<()>,
    role: Arc<Mutex<Role>>,
    counters: Arc<Counters>,
}

impl Receiver {
    /// Starts receiving on `address` into `store`, or waiting for the port to free.
    pub fn start(store: Arc<Store>, address: SocketAddr) -> Receiver {
        let role = Arc::new(Mutex::new(Role::Starting));
        let counters = Arc::new(Counters::default());
        let task = tokio::spawn(supervise(store, address, Arc::clone(&role), Arc::clone(&counters)));
        Receiver { task, role, counters }
    }

    pub fn status(&self) -> ReceiverStatus {
        let c = &self.counters;
        ReceiverStatus {
            role: self.role.lock().map(|r| r.clone()).unwrap_or(Role::Starting),
            batches: c.batches.load(Ordering::Relaxed),
            spans: c.spans.load(Ordering::Relaxed),
            rejected_batches: c.rejected_batches.load(Ordering::Relaxed),
            last_batch_ns: c.last_batch_ns.load(Ordering::Relaxed),
            last_rejection: c.last_rejection.lock().ok().and_then(|r| r.clone()),
        }
    }
}

/// Stopping the supervisor frees the port for the next editor.
impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn supervise(store: Arc<Store>, address: SocketAddr, role: Arc<Mutex<Role>>, counters: Arc<Counters>) {
    let set = |new: Role| {
        if let Ok(mut current) = role.lock() {
            if *current != new {
                tracing::info!("receiver: {new:?}");
            }
            *current = new;
        }
    };
    server::raise_file_limit();
    budget::return_large_blocks_to_the_system();
    // One budget for the life of this process's receiver, whichever times it binds.
    let limits = Limits::default();
    loop {
        match bind(address).await {
            Ok(listener) => {
                let bound = listener.local_addr().map_or(address.to_string(), |a| a.to_string());
                set(Role::Receiving { address: bound });
                let evictor = tokio::spawn(enforce_retention(Arc::clone(&store)));
                let served = serve(listener, router(Arc::clone(&store), limits.clone(), Arc::clone(&counters))).await;
                evictor.abort();
                tracing::warn!("receiver on {address} stopped: {served:?}");
            }
            Err(e) => set(Role::Waiting { address: address.to_string(), reason: e.to_string() }),
        }
        tokio::time::sleep(RETRY_INTERVAL).await;
    }
}

/// Evicts past-retention traces now and then, for as long as the task runs.
pub(crate) async fn enforce_retention(store: Arc<Store>) {
    loop {
        let store = Arc::clone(&store);
        match tokio::task::spawn_blocking(move || store.enforce_retention(now_ns())).await {
            Ok(Ok(evicted)) if evicted > 0 => tracing::info!("retention evicted {evicted} traces"),
            Ok(Err(e)) => tracing::warn!("retention failed: {e}"),
            _ => {}
        }
        tokio::time::sleep(RETENTION_INTERVAL).await;
    }
}
