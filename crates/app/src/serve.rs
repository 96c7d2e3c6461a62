//! Serving connections ourselves rather than with `axum::serve`, which has no
//! timeouts and no cap: an attacker holding sockets open (silent, or dripping
//! headers or a body) could otherwise use up the server's open files.
//!
//! - headers: hyper's `header_read_timeout`, which runs whenever the connection
//!   waits for a request head, so it also ends silent and idle keep-alive sockets;
//! - body: a deadline for the whole body from the moment the head arrived
//!   (`DeadlineBody`; tower-http's timeout restarts at every chunk, which a
//!   byte every few seconds defeats), answered with 408 and a closed connection;
//! - idle: no byte moving either way for this long ends a connection (a reader
//!   that stopped reading, a peer gone without a word); live streams send
//!   keep-alive comments, so they are not cut;
//! - a cap on open connections: past it the oldest connection that has not yet
//!   sent a request is closed to make room, so idle sockets cannot lock real
//!   clients out; when every connection is busy the newcomer gets a short 503.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::Config;

/// What the accept loop enforces (from the config).
#[derive(Debug, Clone, Copy)]
pub struct ServeLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl ServeLimits {
    pub fn from_config(c: &Config) -> ServeLimits {
        ServeLimits {
            header_timeout: Duration::from_secs(c.header_timeout_secs),
            body_timeout: Duration::from_secs(c.body_timeout_secs),
            idle_timeout: Duration::from_secs(c.idle_timeout_secs),
            max_connections: c.max_connections,
        }
    }
}

/// How long open connections may take to finish once shutdown starts (live
/// streams never finish on their own).
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Refusals being written at once at most; past it a refused socket is just closed.
const MAX_REFUSALS: usize = 64;

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 45\r\n\r\nThe server is too busy. Try again in a moment";

struct Slot {
    /// Set once a request head has arrived; until then the connection may be evicted.
    requested: AtomicBool,
    close: Notify,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: BTreeMap<u64, Arc<Slot>>,
}

impl Table {
    /// Makes room for a new connection if it can; None means refuse it.
    fn admit(&mut self, max: usize) -> Option<(u64, Arc<Slot>)> {
        if self.open.len() >= max {
            let oldest_idle = self.open.iter().find(|(_, s)| !s.requested.load(Ordering::Relaxed)).map(|(id, _)| *id);
            if let Some(slot) = oldest_idle.and_then(|id| self.open.remove(&id)) {
                slot.close.notify_one();
            }
        }
        if self.open.len() >= max {
            return None;
        }
        self.next_id += 1;
        let slot = Arc::new(Slot { requested: AtomicBool::new(false), close: Notify::new() });
        self.open.insert(self.next_id, slot.clone());
        Some((self.next_id, slot))
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open
/// connections finish their requests (at most `DRAIN_TIME`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let table = Arc::new(Mutex::new(Table::default()));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of files or a connection reset before accept: keep serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let admitted = table.lock().unwrap_or_else(|p| p.into_inner()).admit(limits.max_connections);
        let Some((id, slot)) = admitted else {
            if let Ok(permit) = refusals.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(permit);
                });
            }
            continue;
        };
        let conn = Connection { router: router.clone(), limits, slot, peer, stop: stop_rx.clone() };
        let table = table.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            conn.run(stream, &builder).await;
            table.lock().unwrap_or_else(|p| p.into_inner()).open.remove(&id);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let deadline = Instant::now() + DRAIN_TIME;
    while Instant::now() < deadline && !table.lock().unwrap_or_else(|p| p.into_inner()).open.is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// Writes the short 503 and closes, reading what the client sent meanwhile so
/// the close does not turn into a reset that loses the answer.
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(REFUSAL).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

struct Connection {
    router: Router,
    limits: ServeLimits,
    slot: Arc<Slot>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, builder: &hyper::server::conn::http1::Builder) {
        let activity = Activity::new();
        let io = TokioIo::new(Watched { inner: stream, activity: activity.clone() });
        let (router, slot, peer, body_timeout) =
            (self.router.clone(), self.slot.clone(), self.peer, self.limits.body_timeout);
        let service = tower::service_fn(move |req: Request<Incoming>| {
            slot.requested.store(true, Ordering::Relaxed);
            handle(router.clone(), req, peer, body_timeout)
        });
        let conn = builder.serve_connection(io, TowerToHyperService::new(service));
        tokio::pin!(conn);
        let mut draining = *self.stop.borrow();
        if draining {
            conn.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = self.slot.close.notified() => return,
                _ = activity.idle_for(self.limits.idle_timeout) => return,
                changed = self.stop.changed(), if !draining => {
                    draining = true;
                    if changed.is_ok() {
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        }
    }
}

/// One request: the client's address for `ClientIp`, the body under its
/// deadline, and a 408 that closes the connection when the deadline passed.
async fn handle(
    router: Router,
    req: Request<Incoming>,
    peer: SocketAddr,
    body_timeout: Duration,
) -> Result<Response, Infallible> {
    let expired = Arc::new(AtomicBool::new(false));
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body =
        DeadlineBody { inner: body, deadline: Instant::now() + body_timeout, sleep: None, expired: expired.clone() };
    let res = router.oneshot(Request::from_parts(parts, Body::new(body))).await?;
    if expired.load(Ordering::Relaxed) {
        let mut res = (StatusCode::REQUEST_TIMEOUT, "The request took too long to arrive.").into_response();
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return Ok(res);
    }
    Ok(res)
}

/// A request body that fails once its deadline has passed.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("the request body took too long to arrive".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// When bytes last moved on a connection, in milliseconds since it opened.
#[derive(Clone)]
struct Activity {
    opened: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn new() -> Activity {
        Activity { opened: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) }
    }

    fn touch(&self) {
        self.last_ms.store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `limit`.
    async fn idle_for(&self, limit: Duration) {
        loop {
            let due = self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + limit;
            if Instant::now() >= due {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

/// The socket, noting every byte read or written.
struct Watched {
    inner: TcpStream,
    activity: Activity,
}

impl AsyncRead for Watched {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_evicts_the_oldest_connection_that_never_asked_anything() {
        let mut t = Table::default();
        let (a, slot_a) = t.admit(2).unwrap();
        let (_, slot_b) = t.admit(2).unwrap();
        slot_a.requested.store(true, Ordering::Relaxed);
        // A is busy, B never sent a request: B makes room for C.
        let (c, slot_c) = t.admit(2).unwrap();
        assert!(!t.open.values().any(|s| Arc::ptr_eq(s, &slot_b)));
        assert_eq!(t.open.keys().copied().collect::<Vec<_>>(), vec![a, c]);
        // Both busy: the newcomer is refused.
        slot_c.requested.store(true, Ordering::Relaxed);
        assert!(t.admit(2).is_none());
    }
}
