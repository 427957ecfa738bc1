//! Serving HTTP so that no client can hold the server: the receivers and the query API all
//! run on this, in `vitals serve` and in the editor's own receiver. HTTP/1.1 for OTLP/HTTP,
//! Zipkin and the query API; HTTP/2 (cleartext, as gRPC senders speak it) for OTLP/gRPC.
//!
//! Each connection is watched: a request head must arrive within the header timeout of
//! its first byte (HTTP/1.1; HTTP/2 bounds its headers by size), a body within the body
//! timeout of its head, a connection with no request in progress is closed after the
//! idle timeout (HTTP/2 with a GOAWAY, so that the sender opens a new one), and a
//! response nobody reads is abandoned once it stalls for the body timeout. At most
//! `max_connections` are open (kept below the file limit, so that accepting never runs
//! out of descriptors): at the cap, a new connection closes the one that has waited
//! longest without a request in progress, so idle or slow clients cannot keep good
//! requests out. When a response is sent before its request was read (a refusal), the
//! connection stays open for a moment, discarding what the client still sends, so that
//! it reads the answer instead of a reset.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode};
use bytes::Bytes;
use futures::FutureExt;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tower::ServiceExt;

/// The largest request head, which is also the most a connection buffers while reading.
const MAX_HEAD: usize = 32 << 10;
/// How long, and how much, a connection answered before its request was read keeps
/// discarding input.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 << 20;
/// File descriptors kept for everything but connections: the store, logs, the runtime.
const RESERVED_FILES: u64 = 128;
/// The most listeners a process runs, which share the file limit: three receivers and the
/// query API.
const LISTENERS: u64 = 4;
/// Requests one HTTP/2 connection may have in progress at once. Senders export a batch or
/// a few at a time; the memory budget and the queue bound what they cost together.
const MAX_STREAMS: u32 = 100;

/// What each connection may cost, in time and in number.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// A request head must arrive within this of its first byte.
    pub header_timeout: Duration,
    /// A request body must arrive within this of its head; a response that stops moving
    /// for this long is abandoned.
    pub body_timeout: Duration,
    /// A connection waiting for its next request is closed after this.
    pub idle_timeout: Duration,
    /// Connections open at once on one listener.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    /// 10 s for a head, 30 s for a body, 60 s idle, and up to 1024 connections per
    /// listener, fewer when the file limit is low (the listeners share it).
    fn default() -> Self {
        let files = rustix::process::getrlimit(rustix::process::Resource::Nofile).current.unwrap_or(u64::MAX);
        let fitting = files.saturating_sub(RESERVED_FILES) / LISTENERS;
        ConnectionLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: fitting.clamp(16, 1024) as usize,
        }
    }
}

/// Raises the process's open-file limit to its hard limit, so that the connection caps
/// have room; returns the limit now in force.
pub fn raise_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("could not raise the open-file limit: {e}");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The error a request body gives once the body timeout has passed.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Which HTTP a listener speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http1,
    /// HTTP/2 over cleartext, with prior knowledge (gRPC's `h2c`).
    Http2,
}

/// Serves `router` over HTTP/1.1 on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, router: Router, limits: ConnectionLimits) -> io::Result<()> {
    serve_version(listener, router, limits, Version::Http1).await
}

/// Serves `router` over `version` on `listener` until the task is dropped.
pub async fn serve_version(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    version: Version,
) -> io::Result<()> {
    let registry = Arc::new(Registry::default());
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: make room and try again shortly.
                tracing::warn!("accepting a connection failed: {e}");
                registry.evict_one();
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = registry.admit(limits.max_connections, version).await;
        let (router, registry) = (router.clone(), Arc::clone(&registry));
        tokio::spawn(async move {
            match version {
                Version::Http1 => serve_http1(stream, router, limits, &connection).await,
                Version::Http2 => serve_http2(stream, router, limits, &connection).await,
            }
            registry.release(&connection);
        });
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset | io::ErrorKind::Interrupted)
}

/// The router as one connection's service: each request is marked in progress until its
/// response is sent, its body is timed, and a handler that panics answers 500.
fn service(
    router: Router,
    limits: ConnectionLimits,
    connection: Arc<Connection>,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> {
    hyper::service::service_fn(move |request: Request<Incoming>| {
        connection.begin_request();
        let request = request.map(|body| Body::new(TimedBody::new(body, limits.body_timeout)));
        let response = AssertUnwindSafe(router.clone().oneshot(request)).catch_unwind();
        // Ends the request when the response is sent, or when it is dropped unsent.
        let guard = RequestGuard(Arc::clone(&connection));
        async move {
            let response = match response.await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => {
                    tracing::error!("a request handler panicked");
                    Response::builder()
                        .status(StatusCode::INTERNAL_SERVER_ERROR)
                        .body(Body::from("the server failed on this request"))
                        .unwrap_or_default()
                }
            };
            Ok::<_, Infallible>(response.map(|body| Body::new(ResponseBody { body, _guard: guard })))
        }
    })
}

/// Drives a connection until it ends, or until its watchdog or an eviction closes it
/// (then `None`).
async fn watch<F: Future>(
    mut served: Pin<&mut F>,
    connection: &Connection,
    limits: &ConnectionLimits,
) -> Option<F::Output> {
    loop {
        let wake = connection.deadline(limits).unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            finished = served.as_mut() => return Some(finished),
            _ = connection.changed.notified() => {}
            _ = connection.evicted.notified() => if connection.phase() != Phase::Busy { return None },
            _ = tokio::time::sleep_until(wake.into()) => if connection.expired(limits) { return None },
        }
    }
}

async fn serve_http1(stream: TcpStream, router: Router, limits: ConnectionLimits, connection: &Arc<Connection>) {
    let _ = stream.set_nodelay(true);
    let watched = Watched { stream, connection: Arc::clone(connection) };
    let served = hyper::server::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .serve_connection(TokioIo::new(watched), service(router, limits, Arc::clone(connection)))
        .without_shutdown();
    tokio::pin!(served);
    if let Some(Ok(parts)) = watch(served, connection, &limits).await {
        connection.set(Phase::Idle);
        linger(parts.io.into_inner().stream).await;
    }
}

async fn serve_http2(stream: TcpStream, router: Router, limits: ConnectionLimits, connection: &Arc<Connection>) {
    let _ = stream.set_nodelay(true);
    let watched = Watched { stream, connection: Arc::clone(connection) };
    let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .max_header_list_size(MAX_HEAD as u32)
        .max_concurrent_streams(MAX_STREAMS)
        .serve_connection(TokioIo::new(watched), service(router, limits, Arc::clone(connection)));
    tokio::pin!(served);
    if watch(served.as_mut(), connection, &limits).await.is_none() && connection.phase() != Phase::Busy {
        // Idle: a GOAWAY tells the sender to open a new connection for its next batch.
        served.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(LINGER, served).await;
    }
}

/// Closes a finished connection politely: stops sending, then reads and discards what
/// the client still sends for a moment, so that an answer sent before its request was
/// read is not lost to a reset.
async fn linger(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = vec![0u8; 64 << 10];
    let _ = tokio::time::timeout(LINGER, async {
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(n) if n > 0 => discarded += n,
                _ => break,
            }
        }
    })
    .await;
}

/// Where a connection is between requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request; nothing of it has arrived.
    Idle = 0,
    /// Part of a request head has arrived (HTTP/1.1).
    Head = 1,
    /// Requests are being served.
    Busy = 2,
}

/// One open connection, as its watchdog and the registry see it.
struct Connection {
    id: u64,
    /// Idle or Head; Busy while requests are in progress.
    phase: AtomicU8,
    /// Requests in progress: at most one over HTTP/1.1, several over HTTP/2.
    requests: AtomicUsize,
    /// Whether bytes arriving while idle begin a request head: over HTTP/2 they may be a
    /// ping or a window update on a connection kept for later.
    heads: bool,
    /// When the phase began, in ms since [`epoch`].
    since: AtomicU64,
    /// When a write began to wait on a client that does not read, in ms since [`epoch`]
    /// (0 when writes are not stalled).
    stalled_since: AtomicU64,
    /// Wakes the watchdog when the phase changes, so that it watches the new deadline.
    changed: Notify,
    evicted: Notify,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    // Never 0, which means "not stalled".
    epoch().elapsed().as_millis() as u64 + 1
}

impl Connection {
    fn phase(&self) -> Phase {
        if self.requests.load(Ordering::Acquire) > 0 {
            return Phase::Busy;
        }
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Idle,
            _ => Phase::Head,
        }
    }

    fn set(&self, phase: Phase) {
        self.since.store(now_ms(), Ordering::Release);
        self.phase.store(phase as u8, Ordering::Release);
        self.changed.notify_one();
    }

    fn begin_request(&self) {
        self.requests.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
    }

    /// The last request in progress ending makes the connection idle from now.
    fn end_request(&self) {
        if self.requests.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.set(Phase::Idle);
        }
    }

    /// When the current phase runs out of time, if it can.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let at = |ms: u64, timeout: Duration| epoch() + Duration::from_millis(ms) + timeout;
        match self.phase() {
            Phase::Idle => Some(at(self.since.load(Ordering::Acquire), limits.idle_timeout)),
            Phase::Head => Some(at(self.since.load(Ordering::Acquire), limits.header_timeout)),
            Phase::Busy => match self.stalled_since.load(Ordering::Acquire) {
                0 => None,
                stalled => Some(at(stalled, limits.body_timeout)),
            },
        }
    }

    fn expired(&self, limits: &ConnectionLimits) -> bool {
        self.deadline(limits).is_some_and(|deadline| deadline <= Instant::now())
    }
}

/// The open connections of one listener.
#[derive(Default)]
struct Registry {
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    released: Notify,
}

impl Registry {
    /// Registers a new connection, making room at the cap by closing the connection that
    /// has waited longest without a request, or waiting for one to finish.
    async fn admit(&self, max: usize, version: Version) -> Arc<Connection> {
        loop {
            let released = self.released.notified();
            {
                let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
                if open.len() < max {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let connection = Arc::new(Connection {
                        id,
                        phase: AtomicU8::new(Phase::Idle as u8),
                        requests: AtomicUsize::new(0),
                        heads: version == Version::Http1,
                        since: AtomicU64::new(now_ms()),
                        stalled_since: AtomicU64::new(0),
                        changed: Notify::new(),
                        evicted: Notify::new(),
                    });
                    open.insert(id, Arc::clone(&connection));
                    return connection;
                }
            }
            self.evict_one();
            let _ = tokio::time::timeout(Duration::from_millis(100), released).await;
        }
    }

    /// Asks the connection that has waited longest without a request to close.
    fn evict_one(&self) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let longest_waiting =
            open.values().filter(|c| c.phase() != Phase::Busy).min_by_key(|c| c.since.load(Ordering::Acquire));
        if let Some(connection) = longest_waiting {
            connection.evicted.notify_one();
        }
    }

    fn release(&self, connection: &Connection) {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).remove(&connection.id);
        self.released.notify_waiters();
    }
}

/// The socket, telling its connection when a request begins to arrive and when writes stall.
struct Watched {
    stream: TcpStream,
    connection: Arc<Connection>,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > before && this.connection.heads && this.connection.phase() == Phase::Idle {
            this.connection.set(Phase::Head);
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write(cx, data);
        let stalled = &this.connection.stalled_since;
        if written.is_pending() {
            let _ = stalled.compare_exchange(0, now_ms(), Ordering::AcqRel, Ordering::Acquire);
        } else {
            stalled.store(0, Ordering::Release);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        let stalled = &this.connection.stalled_since;
        if written.is_pending() {
            let _ = stalled.compare_exchange(0, now_ms(), Ordering::AcqRel, Ordering::Acquire);
        } else {
            stalled.store(0, Ordering::Release);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// A request body that fails with [`BodyTimedOut`] once its time is up.
struct TimedBody {
    body: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl TimedBody {
    fn new(body: Incoming, timeout: Duration) -> TimedBody {
        TimedBody { body, deadline: Box::pin(tokio::time::sleep(timeout)) }
    }
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        ready!(self.deadline.as_mut().poll(cx));
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Ends its request on its connection when dropped.
struct RequestGuard(Arc<Connection>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.end_request();
    }
}

/// A response body that ends its request once it is sent (or dropped).
struct ResponseBody {
    body: Body,
    _guard: RequestGuard,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
