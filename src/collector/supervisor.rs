//! Keeping each receiver on its port across several editors.
//!
//! Every Neovim host with the `otlp` provider runs [`Receivers`] over the same store: a
//! supervisor per protocol. The first host to bind a port receives on it; the others find
//! it taken and try again every couple of seconds, reading the shared store meanwhile.
//! When the receiving host exits, the port frees and one of the others takes over;
//! senders retry what failed in between, and the store keeps a retried span once. Each
//! port is handed over on its own, so 4317 follows the same rules as 4318.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use super::{Counters, Counts, Intake, Limits, Listen, Protocol, bind, budget, server};
use crate::query::now_ns;
use crate::store::Store;

/// How often a waiting supervisor tries the port again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(2);
/// How often a receiving process enforces retention.
const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Where each receiver listens. From the plugin's `receivers` option: an address, or
/// `false` for off.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq)]
#[serde(default)]
pub struct Addresses {
    pub otlp_http: Listen,
    pub otlp_grpc: Listen,
    pub zipkin: Listen,
}

impl Default for Addresses {
    /// The editor's defaults: OTLP/HTTP on 4318 and OTLP/gRPC on 4317, Zipkin off.
    fn default() -> Self {
        Addresses {
            otlp_http: Listen::At(Protocol::OtlpHttp.default_address()),
            otlp_grpc: Listen::At(Protocol::OtlpGrpc.default_address()),
            zipkin: Listen::Off,
        }
    }
}

impl Addresses {
    pub fn of(&self, protocol: Protocol) -> Listen {
        match protocol {
            Protocol::OtlpHttp => self.otlp_http,
            Protocol::OtlpGrpc => self.otlp_grpc,
            Protocol::Zipkin => self.zipkin,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Not wanted.
    Off,
    Starting,
    /// This process holds the port and writes what arrives.
    Receiving {
        address: SocketAddr,
    },
    /// Another process holds the port; this one reads the shared store.
    Waiting {
        address: SocketAddr,
        reason: String,
    },
}

/// What a status view shows about a receiver.
#[derive(Clone, Debug, Serialize)]
pub struct ReceiverStatus {
    pub protocol: Protocol,
    #[serde(flatten)]
    pub role: Role,
    #[serde(flatten)]
    pub counts: Counts,
}

/// One protocol's receiver: on its port, or waiting for it.
pub struct Receiver {
    protocol: Protocol,
    address: SocketAddr,
    task: JoinHandle<()>,
    role: Arc<Mutex<Role>>,
    counters: Arc<Counters>,
}

impl Receiver {
    /// Starts receiving `protocol` on `address`, or waiting for the port to free.
    /// `receiving` counts the receivers of the process that hold their port.
    fn start(intake: &Intake, protocol: Protocol, address: SocketAddr, receiving: &Arc<AtomicUsize>) -> Receiver {
        let role = Arc::new(Mutex::new(Role::Starting));
        let counters = Arc::new(Counters::default());
        let supervisor = Supervisor {
            intake: intake.clone(),
            protocol,
            address,
            role: Arc::clone(&role),
            counters: Arc::clone(&counters),
            receiving: Arc::clone(receiving),
        };
        Receiver { protocol, address, task: tokio::spawn(supervisor.run()), role, counters }
    }

    pub fn status(&self) -> ReceiverStatus {
        ReceiverStatus {
            protocol: self.protocol,
            role: self.role.lock().map(|r| r.clone()).unwrap_or(Role::Starting),
            counts: self.counters.counts(),
        }
    }
}

/// Stopping the supervisor frees the port for the next editor.
impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The receivers of one process over one store: one memory budget and one queue for all,
/// and retention enforced while any of them receives.
pub struct Receivers {
    intake: Intake,
    running: Vec<Receiver>,
    receiving: Arc<AtomicUsize>,
    retention: JoinHandle<()>,
}

impl Receivers {
    pub fn start(store: Arc<Store>, addresses: Addresses) -> Receivers {
        server::raise_file_limit();
        budget::return_large_blocks_to_the_system();
        let receiving = Arc::new(AtomicUsize::new(0));
        let retention = tokio::spawn(enforce_retention_while(Arc::clone(&store), Arc::clone(&receiving)));
        let mut receivers =
            Receivers { intake: Intake::new(store, Limits::default()), running: Vec::new(), receiving, retention };
        receivers.update(addresses);
        receivers
    }

    /// Moves each receiver to its new address, starting or stopping it; a receiver whose
    /// address did not change keeps its port and its counts.
    pub fn update(&mut self, addresses: Addresses) {
        self.running.retain(|receiver| addresses.of(receiver.protocol) == Listen::At(receiver.address));
        for protocol in Protocol::ALL {
            if let Listen::At(address) = addresses.of(protocol)
                && !self.running.iter().any(|r| r.protocol == protocol)
            {
                self.running.push(Receiver::start(&self.intake, protocol, address, &self.receiving));
            }
        }
    }

    pub fn store(&self) -> &Arc<Store> {
        self.intake.store()
    }

    /// Every protocol's receiver, those turned off included, in [`Protocol::ALL`]'s order.
    pub fn statuses(&self) -> Vec<ReceiverStatus> {
        Protocol::ALL.iter().map(|&protocol| self.status(protocol)).collect()
    }

    pub fn status(&self, protocol: Protocol) -> ReceiverStatus {
        match self.running.iter().find(|r| r.protocol == protocol) {
            Some(receiver) => receiver.status(),
            None => ReceiverStatus { protocol, role: Role::Off, counts: Counts::default() },
        }
    }
}

impl Drop for Receivers {
    fn drop(&mut self) {
        self.retention.abort();
    }
}

/// Watches over one receiver's port for as long as its task runs.
struct Supervisor {
    intake: Intake,
    protocol: Protocol,
    address: SocketAddr,
    role: Arc<Mutex<Role>>,
    counters: Arc<Counters>,
    receiving: Arc<AtomicUsize>,
}

impl Supervisor {
    async fn run(self) {
        let name = self.protocol.name();
        loop {
            match bind(self.address).await {
                Ok(listener) => {
                    let address = listener.local_addr().unwrap_or(self.address);
                    self.set(Role::Receiving { address });
                    let _holding = Holding::new(&self.receiving);
                    let served = self
                        .intake
                        .serve(self.protocol, listener, Arc::clone(&self.counters), server::ConnectionLimits::default())
                        .await;
                    tracing::warn!("{name} receiver on {address} stopped: {served:?}");
                }
                Err(e) => self.set(Role::Waiting { address: self.address, reason: e.to_string() }),
            }
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }

    fn set(&self, new: Role) {
        if let Ok(mut current) = self.role.lock() {
            if *current != new {
                tracing::info!("{} receiver: {new:?}", self.protocol.name());
            }
            *current = new;
        }
    }
}

/// Counts a receiver holding its port until dropped (its task stopped or aborted).
struct Holding(Arc<AtomicUsize>);

impl Holding {
    fn new(receiving: &Arc<AtomicUsize>) -> Holding {
        receiving.fetch_add(1, Ordering::AcqRel);
        Holding(Arc::clone(receiving))
    }
}

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Enforces retention now and then while `receiving` counts a receiver holding its port:
/// the editors that only read the store leave it to the one that writes.
async fn enforce_retention_while(store: Arc<Store>, receiving: Arc<AtomicUsize>) {
    loop {
        if receiving.load(Ordering::Acquire) > 0 {
            enforce_retention_once(&store).await;
            tokio::time::sleep(RETENTION_INTERVAL).await;
        } else {
            tokio::time::sleep(RETRY_INTERVAL).await;
        }
    }
}

/// Evicts past-retention traces now and then, for as long as the task runs.
pub(crate) async fn enforce_retention(store: Arc<Store>) {
    loop {
        enforce_retention_once(&store).await;
        tokio::time::sleep(RETENTION_INTERVAL).await;
    }
}

async fn enforce_retention_once(store: &Arc<Store>) {
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || store.enforce_retention(now_ns())).await {
        Ok(Ok(evicted)) if evicted > 0 => tracing::info!("retention evicted {evicted} traces"),
        Ok(Err(e)) => tracing::warn!("retention failed: {e}"),
        _ => {}
    }
}
