//! Connections the server can cut: the TCP listener the binary serves on, and a registry that
//! finds the connection carrying a socket's transport. Also [`close_unread`], which keeps hyper
//! from closing a keep-alive connection without saying so, and [`serve`], which runs the
//! connections with a deadline on each request's head.
//!
//! Why: section 8 of the contract says a slow socket is disconnected so that it reconnects and
//! recovers by position. socketioxide can only disconnect a socket by queueing a namespace
//! DISCONNECT packet, and a stock socket.io-client treats that as "io server disconnect" and
//! does not reconnect on its own. Closing the transport instead ("transport close") makes every
//! client reconnect with its backoff, but socketioxide has no public per-socket way to close an
//! Engine.IO session. So the server cuts the TCP connection under it: reads and writes on a cut
//! [`Conn`] fail at once, hyper and Engine.IO see a transport error, and the session closes the
//! same way a dropped network link would.
//!
//! Which connection: a socket's id is its Engine.IO session id (socketioxide uses the session
//! id for the default namespace), and every request after the handshake names it in `sid`.
//! [`Transports::track`] records the connection of a session's websocket upgrade; a websocket
//! opened without polling first carries its own connection in the handshake request, found
//! through [`ConnInfo`] ([`direct_websocket`]). A long-polling session is not cut but refused
//! ([`track`]).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use futures_util::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// The TCP listener the server runs on: every accepted connection can be cut, and has
/// `TCP_NODELAY` set (events are small frames that must not wait on Nagle's algorithm).
pub struct Listener(TcpListener);

impl Listener {
    /// Wraps a bound listener.
    pub fn new(listener: TcpListener) -> Self {
        Self(listener)
    }

    /// The address it is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Conn, SocketAddr) {
        loop {
            match self.0.accept().await {
                Ok((io, addr)) => {
                    if let Err(e) = io.set_nodelay(true) {
                        tracing::debug!(error = %e, "TCP_NODELAY not set");
                    }
                    let conn = Conn {
                        io,
                        cut: Arc::new(Cut::default()),
                    };
                    return (conn, addr);
                }
                // As axum's own TcpListener does: a failed accept (out of file descriptors,
                // a connection reset before it was taken) must not end the server.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

#[derive(Default)]
struct Cut {
    cut: AtomicBool,
    reader: AtomicWaker,
    writer: AtomicWaker,
}

/// A handle that cuts one connection.
#[derive(Clone)]
pub struct CutHandle(Arc<Cut>);

impl CutHandle {
    /// Makes every pending and later read and write of the connection fail.
    pub fn cut(&self) {
        self.0.cut.store(true, Ordering::SeqCst);
        self.0.reader.wake();
        self.0.writer.wake();
    }
}

/// One accepted TCP connection.
pub struct Conn {
    io: TcpStream,
    cut: Arc<Cut>,
}

impl Conn {
    fn check(&self) -> io::Result<()> {
        if self.cut.cut.load(Ordering::SeqCst) {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection cut by the server",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cut.reader.register(cx.waker());
        this.check()?;
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.cut.writer.register(cx.waker());
        this.check()?;
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.cut.writer.register(cx.waker());
        this.check()?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.cut.writer.register(cx.waker());
        this.check()?;
        Pin::new(&mut this.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// What every request served through a [`Listener`] carries (as axum's `ConnectInfo`): the
/// peer address and the handle that cuts its connection.
#[derive(Clone)]
pub struct ConnInfo {
    /// The TCP peer.
    pub addr: SocketAddr,
    /// Cuts the connection this request came on.
    pub cut: CutHandle,
}

impl ConnInfo {
    fn of(conn: &Conn, addr: SocketAddr) -> Self {
        ConnInfo {
            addr,
            cut: CutHandle(conn.cut.clone()),
        }
    }
}

impl Connected<IncomingStream<'_, Listener>> for ConnInfo {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Self {
        ConnInfo::of(stream.io(), *stream.remote_addr())
    }
}

/// Serves `app` on `listener` over HTTP/1.1 with upgrades, as `axum::serve(listener,
/// app.into_make_service_with_connect_info::<ConnInfo>()).with_graceful_shutdown(shutdown)`
/// would (stops accepting once `shutdown` resolves, then lets each connection finish the
/// request it is on), plus the one setting axum::serve does not offer: hyper's header-read
/// timeout, which needs a timer. Without it a client that sends half a request head, or
/// connects and sends nothing, holds a file descriptor for as long as it likes; at 20,000 per
/// process that is a cheap way to lock everyone else out. `header_read_timeout` zero turns it
/// off.
///
/// HTTP/1.1 only, as Node's `http` server: hyper-util's HTTP/1-or-2 builder first waits,
/// without any deadline, for the bytes that tell the versions apart, so a silent connection
/// would be held again; and plain-text HTTP/2 is nothing a Socket.IO client or a browser speaks
/// (a TLS proxy in front terminates theirs).
pub async fn serve(
    mut listener: Listener,
    app: axum::Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    use hyper::server::conn::http1;
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;
    use tokio::sync::watch;
    use tower::ServiceExt;

    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout((!header_read_timeout.is_zero()).then_some(header_read_timeout));
    // `stop` tells the connections to finish; each holds a `done` until it has.
    let (stop, stopping) = watch::channel(());
    let (done, _) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (conn, addr) = tokio::select! {
            accepted = axum::serve::Listener::accept(&mut listener) => accepted,
            () = &mut shutdown => break,
        };
        let info = ConnInfo::of(&conn, addr);
        let service = app
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(info.clone()));
                req.map(axum::body::Body::new)
            });
        let connection = builder
            .serve_connection(TokioIo::new(conn), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stopping = stopping.clone();
        let held = done.subscribe();
        tokio::spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            // A timed-out head, a reset or a cut connection: the client's doing, not the
            // server's, so not worth more than a trace.
            if let Err(e) = ended {
                tracing::trace!(error = %e, "connection ended");
            }
            drop(held);
        });
    }
    drop(listener);
    let _ = stop.send(());
    done.closed().await;
}

/// Engine.IO session id → the connection its client currently waits on, and the sessions the
/// server has given up on.
#[derive(Default)]
pub struct Transports {
    // Weak: an entry must not keep a closed connection's state alive; dead entries are swept.
    by_sid: Mutex<HashMap<String, Weak<Cut>>>,
    // A long-polling client may have no request pending when its session is cut, and would
    // then fetch the queued DISCONNECT on its next poll ("io server disconnect": no
    // reconnect). Its later requests are refused instead, which it treats as a lost transport.
    doomed: Mutex<HashMap<String, Instant>>,
}

/// How long a cut session's id stays refused: long past any client's retry of it.
const DOOMED_FOR: Duration = Duration::from_secs(120);

impl Transports {
    /// Records that `sid`'s transport is now the connection of `info` (a websocket upgrade).
    pub fn track(&self, sid: &str, info: &ConnInfo) {
        let mut map = self.lock();
        // Bounded by the live connections: before growing, drop what closed connections left.
        if map.len() >= 1024 && map.len().is_power_of_two() {
            map.retain(|_, cut| cut.strong_count() > 0);
        }
        map.insert(sid.to_owned(), Arc::downgrade(&info.cut.0));
    }

    /// Forgets a session (its socket is gone).
    pub fn forget(&self, sid: &str) {
        self.lock().remove(sid);
    }

    /// Drops the entries of connections that have closed, and refusals that have run out.
    pub fn sweep(&self) {
        self.lock().retain(|_, cut| cut.strong_count() > 0);
        let now = Instant::now();
        self.doomed_lock()
            .retain(|_, since| now.duration_since(*since) < DOOMED_FOR);
    }

    fn is_doomed(&self, sid: &str) -> bool {
        self.doomed_lock().contains_key(sid)
    }

    /// The number of sessions tracked.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Cuts the connection of `sid`'s websocket, or else `fallback` (see [`direct_websocket`]);
    /// false when neither is known. From now on the session's requests are refused either way,
    /// so a long-polling client reconnects too.
    pub fn cut(&self, sid: &str, fallback: Option<&ConnInfo>) -> bool {
        self.doomed_lock().insert(sid.to_owned(), Instant::now());
        let tracked = self.lock().get(sid).and_then(Weak::upgrade).map(CutHandle);
        match tracked.or_else(|| fallback.map(|f| f.cut.clone())) {
            Some(handle) => {
                handle.cut();
                true
            }
            None => false,
        }
    }

    fn doomed_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.doomed.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Weak<Cut>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single calls).
        self.by_sid.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One parameter of an Engine.IO request's query (`EIO`, `transport`, `sid`): its value, `""`
/// when it has none; `None` when the query lacks it.
pub fn engine_param<'a>(uri: &'a axum::http::Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

/// The Engine.IO session a request belongs to (`sid` in its query), if any.
fn sid_of(req: &Request) -> Option<&str> {
    engine_param(req.uri(), "sid").filter(|sid| !sid.is_empty())
}

/// Middleware in front of the Socket.IO endpoint: refuses the requests of a cut session the way
/// Engine.IO refuses an unknown one, and records the connection of each websocket upgrade
/// (only once the server has switched protocols, so made-up ids never get an entry).
///
/// Long-polling connections are never cut: a browser shares its keep-alive connections with
/// the page's other requests. A cut polling session instead has its next GET answered with the
/// refusal; that GET still goes to Engine.IO first, so what was queued for the session is
/// taken off its queue (and dropped: the client recovers it by position), which lets the
/// server close the socket at once rather than at the heartbeat timeout.
pub async fn track(
    State(transports): State<Arc<Transports>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(sid) = sid_of(&req).map(str::to_owned) else {
        if engine_param(req.uri(), "EIO").is_some() {
            own_head(&mut req);
        }
        return next.run(req).await;
    };
    let get = req.method() == Method::GET;
    let polling = engine_param(req.uri(), "transport") == Some("polling");
    if transports.is_doomed(&sid) {
        if get && polling {
            drop(next.run(req).await);
        }
        return unknown_session();
    }
    let info = req.extensions().get::<ConnectInfo<ConnInfo>>().cloned();
    let res = next.run(req).await;
    if let (true, StatusCode::SWITCHING_PROTOCOLS, Some(ConnectInfo(info))) =
        (get, res.status(), info)
    {
        transports.track(&sid, &info);
    }
    res
}

/// Replaces a request's URI and header values with copies of their own.
///
/// hyper parses them as slices of the connection's read buffer (8-16 KiB), and Engine.IO keeps
/// the head of a session's opening request for the whole life of the session
/// (`Socket::req_parts`), which pinned that whole buffer: about half of the server's memory
/// per connection (heaptrack: 18.5 KiB of 36 per websocket client). The copies are a few
/// hundred bytes, once per session.
fn own_head(req: &mut Request) {
    if let Ok(uri) = req.uri().to_string().parse::<axum::http::Uri>() {
        // The router's copy of the URI (kept in the extensions) shares the buffer too.
        if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>() {
            original.0 = uri.clone();
        }
        *req.uri_mut() = uri;
    }
    let headers = std::mem::take(req.headers_mut());
    let owned = req.headers_mut();
    owned.reserve(headers.len());
    let mut name = None;
    for (next, value) in headers {
        // `into_iter` names a header once, then gives its further values without a name.
        if let Some(next) = next {
            name = Some(next);
        }
        let Some(name) = &name else { continue };
        let sensitive = value.is_sensitive();
        let mut copy = axum::http::HeaderValue::from_bytes(value.as_bytes()).unwrap_or(value);
        copy.set_sensitive(sensitive);
        owned.append(name.clone(), copy);
    }
}

/// Middleware around the whole router: a response given before its request's body was read to
/// the end says `Connection: close`.
///
/// hyper closes such a connection once the response is written (unless the rest of the body
/// is already in its buffer), and the response does not say so. A keep-alive client then puts
/// the connection back in its pool, and its next request on it fails with "socket hang up" or
/// "other side closed": for a backend, a lost publish after a harmless 413. Found by the e2e
/// hostile-packets test, whose next API call failed that way after an Engine.IO 400 that
/// stopped at the first bad packet. With the header the client opens a fresh connection.
pub async fn close_unread(req: Request, next: Next) -> Response {
    use axum::body::HttpBody;
    // No body (every GET, the websocket upgrades): nothing can be left unread. HTTP/2 has no
    // `Connection` header; a stream there is reset on its own.
    if req.body().is_end_stream() || req.version() > axum::http::Version::HTTP_11 {
        return next.run(req).await;
    }
    let read = Arc::new(AtomicBool::new(false));
    let req = req.map(|body| {
        axum::body::Body::new(ReadToEnd {
            inner: body,
            read: Arc::clone(&read),
        })
    });
    let mut res = next.run(req).await;
    if !read.load(Ordering::Acquire) {
        res.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    res
}

/// Reads a small request body of known length (every API call a backend makes) before the
/// request goes on, so that a refusal that never looks at it (429) keeps its connection
/// instead of closing it under [`close_unread`]. The API calls it once the key is verified:
/// an unknown caller's body is never read, and its 401 closes the connection. It runs inside
/// the API's in-flight tracking, so a call whose body is still arriving when shutdown starts
/// is waited for. `Err` is the answer when the client went away mid-body.
pub async fn read_small_body(req: Request) -> Result<Request, Response> {
    use axum::body::HttpBody;
    let small = req
        .body()
        .size_hint()
        .exact()
        .is_some_and(|n| n <= READ_AHEAD);
    if !small || req.body().is_end_stream() {
        return Ok(req);
    }
    let (parts, body) = req.into_parts();
    let Ok(read) = http_body_util::BodyExt::collect(body).await else {
        // Nobody reads this answer.
        return Err((
            StatusCode::BAD_REQUEST,
            [(axum::http::header::CONNECTION, "close")],
        )
            .into_response());
    };
    let body = axum::body::Body::from(read.to_bytes());
    Ok(Request::from_parts(parts, body))
}

/// The largest request body [`read_small_body`] reads before the request goes on: over every
/// body the API's clients send in normal use but the largest `data`, and small enough that
/// reading one a refusal did not need costs nothing worth counting.
pub const READ_AHEAD: u64 = 16 * 1024;

/// A request body that records when it has been read to its end.
struct ReadToEnd {
    inner: axum::body::Body,
    read: Arc<AtomicBool>,
}

impl axum::body::HttpBody for ReadToEnd {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        // The end is either the last frame (a reader that stops once `is_end_stream` says so,
        // as `collect` does not but others may) or the `None` after it.
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            Poll::Ready(Some(Err(_))) | Poll::Pending => false,
        };
        if ended {
            self.read.store(true, Ordering::Release);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Engine.IO's own answer to an unknown session: clients treat it as a lost transport.
fn unknown_session() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        r#"{"code":1,"message":"Session ID unknown"}"#,
    )
        .into_response()
}

/// The connection to cut for a socket whose handshake was `handshake`: its own, when the
/// handshake was a websocket opened directly (then that connection is the transport).
pub fn direct_websocket(handshake: &axum::http::request::Parts) -> Option<&ConnInfo> {
    let direct = engine_param(&handshake.uri, "transport") == Some("websocket")
        && engine_param(&handshake.uri, "sid").is_none();
    direct
        .then(|| handshake.extensions.get::<ConnectInfo<ConnInfo>>())
        .flatten()
        .map(|c| &c.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut l = Listener::new(listener);
        let client = tokio::spawn(TcpStream::connect(addr));
        let (conn, _) = axum::serve::Listener::accept(&mut l).await;
        (conn, client.await.expect("join").expect("connect"))
    }

    #[tokio::test]
    async fn a_cut_connection_fails_a_pending_read_and_every_write() {
        let (mut conn, mut client) = pair().await;
        let handle = CutHandle(conn.cut.clone());
        client.write_all(b"hi").await.expect("write");
        let mut buf = [0u8; 2];
        conn.read_exact(&mut buf)
            .await
            .expect("read before the cut");
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1];
            let r = conn.read(&mut buf).await;
            (r, conn)
        });
        tokio::task::yield_now().await;
        handle.cut();
        let (r, mut conn) = reader.await.expect("join");
        assert_eq!(
            r.expect_err("the pending read fails").kind(),
            io::ErrorKind::ConnectionAborted
        );
        assert!(conn.write_all(b"x").await.is_err(), "writes fail too");
        drop(conn);
        let mut rest = Vec::new();
        let n = client.read_to_end(&mut rest).await.unwrap_or(0);
        assert_eq!(n, 0, "the peer sees the connection end");
    }

    #[test]
    fn engine_params_are_read_by_name() {
        let uri: axum::http::Uri = "/socket.io/?EIO=4&transport=polling&sid=abc&t"
            .parse()
            .expect("uri");
        assert_eq!(engine_param(&uri, "transport"), Some("polling"));
        assert_eq!(engine_param(&uri, "sid"), Some("abc"));
        assert_eq!(engine_param(&uri, "t"), Some(""), "a bare key");
        assert_eq!(engine_param(&uri, "si"), None, "not a prefix match");
        let bare: axum::http::Uri = "/socket.io/".parse().expect("uri");
        assert_eq!(engine_param(&bare, "sid"), None);
    }

    #[tokio::test]
    async fn transports_cut_the_tracked_connection_and_forget_closed_ones() {
        let (conn, _client) = pair().await;
        let info = ConnInfo {
            addr: "127.0.0.1:1".parse().expect("addr"),
            cut: CutHandle(conn.cut.clone()),
        };
        let t = Transports::default();
        t.track("s1", &info);
        assert!(!t.cut("unknown", None), "nothing to cut");
        assert!(t.cut("s1", None));
        assert!(conn.check().is_err(), "the tracked connection is cut");
        drop(info);
        drop(conn);
        t.sweep();
        assert!(t.is_empty(), "a closed connection's entry is swept");
    }

    /// What hyper gives the middleware: a URI and header values that are slices of one read
    /// buffer. After `own_head` none of them points into it, and nothing is lost.
    #[test]
    fn own_head_copies_the_head_out_of_the_read_buffer() {
        use axum::body::Bytes;
        use axum::http::{HeaderValue, Uri};
        let raw =
            Bytes::from("/socket.io/?EIO=4&transport=websocket|tok-1|tok-2|secret|".repeat(64));
        let range = raw.as_ptr() as usize..raw.as_ptr() as usize + raw.len();
        let shared = |from: usize, to: usize| raw.slice(from..to);
        let uri = Uri::from_maybe_shared(shared(0, 37)).expect("uri");
        let mut req = Request::new(axum::body::Body::empty());
        *req.uri_mut() = uri.clone();
        req.extensions_mut().insert(axum::extract::OriginalUri(uri));
        let value = |from, to| HeaderValue::from_maybe_shared(shared(from, to)).expect("value");
        req.headers_mut().append("x-token", value(38, 43));
        req.headers_mut().append("x-token", value(44, 49));
        let mut secret = value(50, 56);
        secret.set_sensitive(true);
        req.headers_mut().insert("authorization", secret);
        let inside = |p: *const u8| range.contains(&(p as usize));
        assert!(
            inside(req.headers()["authorization"].as_bytes().as_ptr()),
            "the test shares"
        );

        own_head(&mut req);

        assert_eq!(req.uri(), "/socket.io/?EIO=4&transport=websocket");
        assert!(!inside(req.uri().path().as_ptr()));
        let original = &req
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .expect("kept")
            .0;
        assert_eq!(original, req.uri());
        assert!(!inside(original.path().as_ptr()));
        let tokens: Vec<&HeaderValue> = req.headers().get_all("x-token").iter().collect();
        assert_eq!(tokens, ["tok-1", "tok-2"], "every value, in order");
        let auth = &req.headers()["authorization"];
        assert_eq!(auth, "secret");
        assert!(auth.is_sensitive(), "still kept out of debug prints");
        assert_eq!(req.headers().len(), 3);
        for v in req.headers().values() {
            assert!(
                !inside(v.as_bytes().as_ptr()),
                "no value points into the buffer"
            );
        }
    }
}
