//! The receivers: traces sent by applications, written into the [`Store`]. Three
//! protocols, as Jaeger and otel-tui take them:
//!
//! - OTLP/HTTP (`otlp_http`): `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON,
//!   on 4318;
//! - OTLP/gRPC (`grpc`): `TraceService/Export` and `LogsService/Export` over HTTP/2, on
//!   4317, the default of most SDKs and of the Collector's `otlp` exporter;
//! - Zipkin v2 (`zipkin`): `POST /api/v2/spans`, JSON, on 9411.
//!
//! They share one [`Intake`]: the store, one memory budget and one queue of batches being
//! decoded or committed. Whatever the protocol, a body is read under the size limit,
//! decompressed and decoded under the budget (`body`, [`budget`], [`decoded_size`]),
//! stored as OTLP, and acknowledged only once committed; refusals ([`Refusal`]) say why,
//! and tell the sender to retry when retrying can help. Connections are bounded in time
//! and number by the [`server`] every receiver runs on.

mod body;
pub mod budget;
pub mod decoded_size;
mod grpc;
mod otlp_http;
mod refusal;
pub mod server;
pub mod supervisor;
mod zipkin;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

pub use body::Encoding;
use body::{Batch, Compression, Payload};
use budget::{MemoryBudget, Reservation};
pub use refusal::{Reason, Refusal};
use server::ConnectionLimits;

use crate::error::Error;
use crate::query::now_ns;
use crate::store::{IngestReport, Store};

/// The three ways traces arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    OtlpHttp,
    OtlpGrpc,
    Zipkin,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::OtlpHttp, Protocol::OtlpGrpc, Protocol::Zipkin];

    /// `OTLP/HTTP`, `OTLP/gRPC`, `Zipkin`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::OtlpHttp => "OTLP/HTTP",
            Protocol::OtlpGrpc => "OTLP/gRPC",
            Protocol::Zipkin => "Zipkin",
        }
    }

    /// The option (`receivers.otlp_grpc`) and flag (`--otlp-grpc`) stem.
    pub fn key(self) -> &'static str {
        match self {
            Protocol::OtlpHttp => "otlp_http",
            Protocol::OtlpGrpc => "otlp_grpc",
            Protocol::Zipkin => "zipkin",
        }
    }

    /// Where a sender is pointed to reach a receiver on `address`: the URL an SDK's
    /// exporter takes (for gRPC, the endpoint without a path).
    pub fn url(self, address: SocketAddr) -> String {
        match self {
            Protocol::OtlpHttp => format!("http://{address}/v1/traces"),
            Protocol::OtlpGrpc => format!("http://{address}"),
            Protocol::Zipkin => format!("http://{address}/api/v2/spans"),
        }
    }

    /// Each protocol's well-known port, on loopback.
    pub fn default_address(self) -> SocketAddr {
        let port = match self {
            Protocol::OtlpHttp => 4318,
            Protocol::OtlpGrpc => 4317,
            Protocol::Zipkin => 9411,
        };
        SocketAddr::from(([127, 0, 0, 1], port))
    }
}

/// What an OTLP export carries: spans, or log records (stored with their trace and span
/// ids, shown beside the spans' events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Traces,
    Logs,
}

impl Signal {
    fn payload(self, encoding: Encoding) -> Payload {
        match self {
            Signal::Traces => Payload::Otlp(encoding),
            Signal::Logs => Payload::OtlpLogs(encoding),
        }
    }
}

/// Where a listener listens, or `off` when it is not wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listen {
    Off,
    At(SocketAddr),
}

impl std::str::FromStr for Listen {
    type Err = String;

    /// `127.0.0.1:4317`, `http://127.0.0.1:4317` or `off`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.trim() {
            "off" | "none" | "false" => Ok(Listen::Off),
            address => {
                let bare = address.trim_start_matches("http://").trim_end_matches('/');
                bare.parse().map(Listen::At).map_err(|_| {
                    format!("{text:?} is not an address to listen on; use HOST:PORT such as 127.0.0.1:4317, or off")
                })
            }
        }
    }
}

/// From the plugin: an address as text, or `false` for off.
impl<'de> Deserialize<'de> for Listen {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Flag(bool),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text.parse().map_err(serde::de::Error::custom),
            Raw::Flag(false) => Ok(Listen::Off),
            Raw::Flag(true) => Err(serde::de::Error::custom("give the address to listen on, or false for off")),
        }
    }
}

/// How much the receivers take on before they refuse.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest body accepted, compressed or not.
    pub max_body: usize,
    /// Batches being decoded or committed at once; past it, senders are told to retry.
    pub max_queued_batches: usize,
    /// The memory all requests in flight may hold together. Clones share it: give every
    /// receiver of a process a clone of one `Limits`.
    pub memory: MemoryBudget,
}

/// The largest body by default: SDKs send batches of ~512 spans, a few hundred KB.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;
/// The memory budget of a process's receivers by default.
pub const DEFAULT_MEMORY: usize = 128 << 20;

impl Default for Limits {
    /// 16 MiB bodies, 16 batches in flight, 128 MiB for all requests in flight.
    fn default() -> Self {
        Limits { max_body: DEFAULT_MAX_BODY, max_queued_batches: 16, memory: MemoryBudget::new(DEFAULT_MEMORY) }
    }
}

/// What one receiver has seen, for status views.
#[derive(Debug, Default)]
pub struct Counters {
    batches: AtomicU64,
    spans: AtomicU64,
    logs: AtomicU64,
    /// Spans (and log records) of accepted batches that the store refused (invalid ids).
    rejected_spans: AtomicU64,
    /// Refused batches, by [`Reason`].
    refused: [AtomicU64; Reason::ALL.len()],
    last_batch_ns: AtomicU64,
    last_refusal: Mutex<Option<String>>,
}

/// The counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Counts {
    pub batches: u64,
    pub spans: u64,
    /// Log records stored.
    pub logs: u64,
    pub rejected_spans: u64,
    /// Refused batches by reason, the reasons with none left out.
    pub refused: Vec<(Reason, u64)>,
    pub last_batch_ns: u64,
    /// `413: the body is larger than 16 MiB …`: the last refusal, with the status it got.
    pub last_refusal: Option<String>,
}

impl Counts {
    pub fn refused_batches(&self) -> u64 {
        self.refused.iter().map(|(_, n)| n).sum()
    }
}

impl Counters {
    pub fn counts(&self) -> Counts {
        Counts {
            batches: self.batches.load(Ordering::Relaxed),
            spans: self.spans.load(Ordering::Relaxed),
            logs: self.logs.load(Ordering::Relaxed),
            rejected_spans: self.rejected_spans.load(Ordering::Relaxed),
            refused: Reason::ALL
                .iter()
                .map(|&reason| (reason, self.refused[reason.index()].load(Ordering::Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            last_batch_ns: self.last_batch_ns.load(Ordering::Relaxed),
            last_refusal: self.last_refusal.lock().ok().and_then(|last| last.clone()),
        }
    }

    fn accepted(&self, signal: Signal, report: &IngestReport) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        let accepted = match signal {
            Signal::Traces => &self.spans,
            Signal::Logs => &self.logs,
        };
        accepted.fetch_add(report.accepted as u64, Ordering::Relaxed);
        self.rejected_spans.fetch_add(report.rejected as u64, Ordering::Relaxed);
        self.last_batch_ns.store(now_ns(), Ordering::Relaxed);
    }

    /// Counts a refusal, answered with `answer` (`413`, `RESOURCE_EXHAUSTED`).
    fn refused(&self, refusal: &Refusal, answer: &str) {
        self.refused[refusal.reason().index()].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_refusal.lock() {
            *last = Some(format!("{answer}: {}", refusal.message()));
        }
    }
}

/// What the receivers of one process share: the store, the limits (and so one memory
/// budget) and the queue of batches being decoded or committed.
#[derive(Clone)]
pub struct Intake {
    store: Arc<Store>,
    limits: Limits,
    queue: Arc<Semaphore>,
}

impl Intake {
    pub fn new(store: Arc<Store>, limits: Limits) -> Intake {
        let queue = Arc::new(Semaphore::new(limits.max_queued_batches));
        Intake { store, limits, queue }
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The routes of one receiver, counting into `counters`.
    pub fn router(&self, protocol: Protocol, counters: Arc<Counters>) -> Router {
        let endpoint = Arc::new(Endpoint { intake: self.clone(), counters, protocol });
        match protocol {
            Protocol::OtlpHttp => otlp_http::router(endpoint),
            Protocol::OtlpGrpc => grpc::router(endpoint),
            Protocol::Zipkin => zipkin::router(endpoint),
        }
    }

    /// Receives `protocol` on `listener` until the task is dropped.
    pub async fn serve(
        &self,
        protocol: Protocol,
        listener: tokio::net::TcpListener,
        counters: Arc<Counters>,
        connections: ConnectionLimits,
    ) -> std::io::Result<()> {
        let version = match protocol {
            Protocol::OtlpGrpc => server::Version::Http2,
            Protocol::OtlpHttp | Protocol::Zipkin => server::Version::Http1,
        };
        server::serve_version(listener, self.router(protocol, counters), connections, version).await
    }
}

pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

/// A body as it arrived, before decompression and decoding.
struct Received {
    bytes: Vec<u8>,
    compression: Compression,
    payload: Payload,
}

/// One receiver's side of the intake.
struct Endpoint {
    intake: Intake,
    counters: Arc<Counters>,
    protocol: Protocol,
}

impl Endpoint {
    fn limits(&self) -> &Limits {
        &self.intake.limits
    }

    /// An empty reservation of the shared memory budget, for a request beginning.
    fn reserve(&self) -> Reservation {
        self.intake.limits.memory.reserve()
    }

    /// Decompresses, decodes and stores a body; answers once the batch is committed. The
    /// reservation holds what the request holds; decoding grows it before it allocates.
    async fn take(&self, received: Received, reservation: Reservation) -> Result<IngestReport, Refusal> {
        let Ok(_permit) = self.intake.queue.try_acquire() else {
            return Err(Refusal::QueueFull);
        };
        let store = Arc::clone(&self.intake.store);
        let max_body = self.intake.limits.max_body;
        // Decompression, decoding and the commit are blocking work.
        let signal = match received.payload {
            Payload::OtlpLogs(_) => Signal::Logs,
            Payload::Otlp(_) | Payload::ZipkinJson => Signal::Traces,
        };
        let outcome = tokio::task::spawn_blocking(move || {
            let mut reservation = reservation;
            let bytes = body::decompress(received.bytes, received.compression, max_body, &mut reservation)?;
            let batch = body::decode(&bytes, received.payload, &mut reservation)?;
            // The reservation of the bytes stays: it stands for the rows the store encodes.
            drop(bytes);
            let stored = match batch {
                Batch::Spans(spans) => store.ingest(spans, now_ns()),
                Batch::Prepared(spans) => store.ingest_prepared(spans, now_ns()),
                Batch::Logs(logs) => store.ingest_logs(logs, now_ns()),
            };
            stored.map_err(|e| match e {
                // Retrying cannot mend a damaged file; anything else (a full disk, a lock) may pass.
                Error::Damaged { .. } => Refusal::Damaged(format!("storing failed: {e}")),
                e => Refusal::Unavailable(format!("storing failed: {e}")),
            })
        })
        .await
        .unwrap_or_else(|e| Err(Refusal::Failed(e.to_string())));
        if let Ok(report) = &outcome {
            self.counters.accepted(signal, report);
        }
        outcome
    }

    /// Counts and logs a refusal answered with `answer` (`413`, `RESOURCE_EXHAUSTED`).
    fn refused(&self, refusal: &Refusal, answer: &str) {
        tracing::warn!(receiver = self.protocol.name(), "refused a batch ({answer}): {}", refusal.message());
        self.counters.refused(refusal, answer);
    }
}
