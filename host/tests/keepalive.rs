//! Keep-alive connections after a refused request, over raw TCP against a served hub: a client
//! that reuses its connection never finds it closed under it without having been told.
//!
//! hyper closes a connection whose request body was left unread unless the rest is already in
//! its buffer, and the response does not say so; the host reads the small bodies of callers
//! with a valid API key before the request goes on (`conn::read_small_body`) and marks every
//! other such response `Connection: close` (`conn::close_unread`).
//!
//! And the other way round: a connection that does not send a whole request head within
//! `--header-read-timeout`, a new one or a kept-alive one between requests, is closed.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard_host::Config;
use switchyard_host::auth::JwtKeys;
use switchyard_host::conn::READ_AHEAD;
use switchyard_host::core::Limit;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SECRET: &str = "keepalive-test-secret";
const KEY: &str = "sk_keepalive_key";

fn config() -> Config {
    Config::new(
        JwtKeys::new(Some(SECRET), None).unwrap(),
        vec![KEY.to_owned()],
    )
}

/// One HTTP/1.1 connection, driven by hand.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

impl Http {
    async fn connect(addr: SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// Sends a request head; `length` is its Content-Length, if any.
    async fn head(&mut self, method: &str, path: &str, headers: &[(&str, &str)], length: usize) {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if method == "POST" {
            head.push_str(&format!("content-length: {length}\r\n"));
        }
        head.push_str("\r\n");
        self.send(head.as_bytes()).await;
    }

    async fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk))
            .await
            .expect("the server answers within 10 s")
            .unwrap();
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    async fn reply(&mut self) -> Reply {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            assert!(
                self.fill().await > 0,
                "the connection closed before a reply"
            );
        };
        let head = String::from_utf8(self.buf[..end].to_vec()).unwrap();
        self.buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap();
                (n.trim().to_owned(), v.trim().to_owned())
            })
            .collect();
        let reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        let len: usize = reply
            .header("content-length")
            .map_or(0, |v| v.parse().unwrap());
        while self.buf.len() < len {
            assert!(self.fill().await > 0, "the connection closed mid-body");
        }
        Reply {
            body: self.buf.drain(..len).collect(),
            ..reply
        }
    }

    /// Whether the server closes the connection (within 5 s) with nothing more to say.
    async fn closed_by_server(&mut self) -> bool {
        self.closed_within(Duration::from_secs(5)).await
    }

    /// Whether the server closes the connection within `wait`, with nothing more to say.
    async fn closed_within(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 64];
        matches!(
            tokio::time::timeout(wait, self.stream.read(&mut chunk)).await,
            Ok(Ok(0) | Err(_))
        )
    }

    /// A health check on this connection: proof it is still served.
    async fn healthy(&mut self) -> Reply {
        self.head("GET", "/healthz", &[], 0).await;
        self.reply().await
    }
}

/// [`common::notification_of_len`] as bytes.
fn notification(len: usize) -> Vec<u8> {
    common::notification_of_len(len).into_bytes()
}

const PUBLISH: &str = "/api/v1/users/u1/notifications";

/// A publish with `key`, its body sent 100 ms after its head: refused before its body was
/// looked at, hyper alone would answer first, find the body not there yet and close the
/// connection without a word. Also says whether the answer came before the body was sent.
async fn with_late_body(http: &mut Http, key: &str, len: usize) -> (Reply, bool) {
    let auth = format!("Bearer {key}");
    let ct = ("content-type", "application/json");
    http.head("POST", PUBLISH, &[("authorization", &auth), ct], len)
        .await;
    let body = notification(len);
    let early = tokio::time::timeout(Duration::from_millis(100), http.fill())
        .await
        .is_ok();
    if early {
        let reply = http.reply().await;
        // The server may have closed already: what becomes of the body is not the point.
        let _ = http.stream.write_all(&body).await;
        return (reply, true);
    }
    http.send(&body).await;
    (http.reply().await, false)
}

/// Publishes with the key until one is refused 429 (the limiter's budget is spent then); each
/// answer keeps the connection.
async fn spend_the_budget(http: &mut Http) {
    let body = notification(60);
    let auth = format!("Bearer {KEY}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    for _ in 0..10 {
        http.head("POST", PUBLISH, &headers, body.len()).await;
        http.send(&body).await;
        let r = http.reply().await;
        assert!(!r.says_close(), "{:?}", r.headers);
        if r.status == 429 {
            return;
        }
        assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    }
    panic!("10 publishes at 1 per second, none refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_with_a_small_body_keeps_the_connection() {
    let mut c = config();
    c.limits.api_requests_per_sec = Limit::new(1);
    let server = common::serve(c).await;
    let mut http = Http::connect(server.addr).await;
    for len in [60, READ_AHEAD as usize] {
        let mut refused = false;
        // The budget is spent, but a token may come back within the 100 ms the body takes
        // (then the call is accepted, which also reads it); so until one is refused.
        for _ in 0..10 {
            spend_the_budget(&mut http).await;
            let (r, early) = with_late_body(&mut http, KEY, len).await;
            assert!(!early, "{len} bytes: the body is read before the answer");
            assert!(
                r.status == 429 || r.status == 202,
                "{}",
                String::from_utf8_lossy(&r.body)
            );
            assert!(!r.says_close(), "{len} bytes: {:?}", r.headers);
            assert_eq!(http.healthy().await.status, 200, "{len} bytes");
            if r.status == 429 {
                refused = true;
                break;
            }
        }
        assert!(refused, "{len} bytes: never refused");
    }
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_that_leaves_a_body_unread_says_the_connection_closes() {
    let server = common::serve(config()).await;
    // An unknown key: its body is never read, however small, and the 401 says so.
    for len in [60, READ_AHEAD as usize + 1] {
        let mut http = Http::connect(server.addr).await;
        let (r, early) = with_late_body(&mut http, "wrong", len).await;
        assert!(early, "{len} bytes: the refusal does not wait for the body");
        assert_eq!(r.status, 401);
        assert!(r.says_close(), "{len} bytes: {:?}", r.headers);
        assert!(
            http.closed_by_server().await,
            "{len} bytes: the server closes it"
        );
    }
    // A valid key and a body over READ_AHEAD: it streams, so a 429 comes before it is read.
    let mut c = config();
    c.limits.api_requests_per_sec = Limit::new(1);
    let limited = common::serve(c).await;
    let mut http = Http::connect(limited.addr).await;
    for attempt in 0.. {
        spend_the_budget(&mut http).await;
        let (r, early) = with_late_body(&mut http, KEY, READ_AHEAD as usize + 1).await;
        // A token that came back in the meantime: accepted, read whole, kept; again.
        if r.status == 202 && attempt < 10 {
            assert!(!r.says_close(), "{:?}", r.headers);
            continue;
        }
        assert!(early, "the refusal does not wait for a large body");
        assert_eq!(r.status, 429);
        assert!(r.says_close(), "{:?}", r.headers);
        assert!(http.closed_by_server().await, "the server closes it");
        break;
    }
    limited.stop(Duration::from_secs(5)).await;
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_publish_says_the_connection_closes() {
    const LIMIT: usize = 32 * 1024;
    let mut c = config();
    c.limits.max_body_bytes = Limit::new(LIMIT as u64);
    let server = common::serve(c).await;
    let auth = format!("Bearer {KEY}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];

    // At the limit: read whole (its data is over the contract's 16 KiB, which only reading
    // it can tell), answered, kept.
    let mut http = Http::connect(server.addr).await;
    http.head("POST", PUBLISH, &headers, LIMIT).await;
    http.send(&notification(LIMIT)).await;
    let r = http.reply().await;
    assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        String::from_utf8_lossy(&r.body).contains(r#""path":"data","code":"too_large""#),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(!r.says_close(), "{:?}", r.headers);
    assert_eq!(http.healthy().await.status, 200);

    // One byte over: refused, but the body was read to its end on the way, so kept.
    http.head("POST", PUBLISH, &headers, LIMIT + 1).await;
    http.send(&notification(LIMIT + 1)).await;
    let r = http.reply().await;
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(!r.says_close(), "{:?}", r.headers);
    assert_eq!(http.healthy().await.status, 200);

    // Twice the limit: refused once the limit is read, the rest left, and the answer says so.
    http.head("POST", PUBLISH, &headers, 2 * LIMIT).await;
    // Whether the server has stopped reading or closed meanwhile is not the point.
    let body = notification(2 * LIMIT);
    let _ = tokio::time::timeout(Duration::from_secs(2), http.stream.write_all(&body)).await;
    let r = http.reply().await;
    assert_eq!(r.status, 413, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        String::from_utf8_lossy(&r.body).contains("payload_too_large"),
        "{}",
        String::from_utf8_lossy(&r.body)
    );
    assert!(r.says_close(), "{:?}", r.headers);
    assert!(http.closed_by_server().await, "the server closes it");
    server.stop(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_post_refused_midway_says_the_connection_closes() {
    let server = common::serve(config()).await;
    let mut http = Http::connect(server.addr).await;
    http.head("GET", "/socket.io/?EIO=4&transport=polling", &[], 0)
        .await;
    let open = http.reply().await;
    assert_eq!(open.status, 200);
    let open = String::from_utf8(open.body).unwrap();
    let sid = open
        .split(r#""sid":""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no sid in {open}"));
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let ct = [("content-type", "text/plain;charset=UTF-8")];

    // A good POST on the same connection keeps it.
    http.head("POST", &path, &ct, 1).await;
    http.send(b"2").await;
    let r = http.reply().await;
    assert_eq!(r.status, 200);
    assert!(!r.says_close(), "{:?}", r.headers);

    // 60,000 separators: Engine.IO stops at the first empty packet.
    let body = vec![0x1e; 60_000];
    http.head("POST", &path, &ct, body.len()).await;
    http.send(&body).await;
    let r = http.reply().await;
    assert_eq!(r.status, 400);
    assert!(r.says_close(), "{:?}", r.headers);
    assert!(http.closed_by_server().await, "the server closes it");
    server.stop(Duration::from_secs(5)).await;
}

fn with_header_read_timeout(t: Duration) -> Config {
    let mut c = config();
    c.limits.header_read_timeout = t;
    c
}

const HALF_A_HEAD: &[u8] = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n";

/// `--header-read-timeout`: a head that arrives in time is served, however slowly it comes; a
/// connection that has not sent a whole head once the timeout passes is closed, and not
/// before. Kept-alive connections count from the end of their last response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_must_arrive_within_the_header_read_timeout() {
    let t = Duration::from_millis(800);
    // The timer cannot fire early; the client starts its clock a little after the server.
    let at_least = t * 3 / 4;
    let server = common::serve(with_header_read_timeout(t)).await;

    // Half a head, the rest after a quarter of the timeout: served.
    let mut http = Http::connect(server.addr).await;
    http.send(HALF_A_HEAD).await;
    tokio::time::sleep(t / 4).await;
    http.send(b"\r\n").await;
    assert_eq!(http.reply().await.status, 200);
    // Then idle on keep-alive: closed once the timeout passes.
    let idle = Instant::now();
    assert!(
        http.closed_by_server().await,
        "an idle connection is closed"
    );
    assert!(
        idle.elapsed() >= at_least,
        "closed after {:?}",
        idle.elapsed()
    );

    // Half a head and nothing more, or nothing at all: closed.
    for (what, bytes) in [("half a head", HALF_A_HEAD), ("nothing", b"".as_slice())] {
        let mut http = Http::connect(server.addr).await;
        let start = Instant::now();
        http.send(bytes).await;
        assert!(http.closed_by_server().await, "{what}: closed");
        let after = start.elapsed();
        assert!(after >= at_least, "{what}: closed after {after:?}");
    }
    server.stop(Duration::from_secs(5)).await;
}

/// The timeout is for the head only: a request body may take longer (the API and Engine.IO
/// bound what they read themselves), and so may the response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_is_not_cut_by_the_header_read_timeout() {
    let t = Duration::from_millis(300);
    let server = common::serve(with_header_read_timeout(t)).await;
    let mut http = Http::connect(server.addr).await;
    let body = notification(200);
    let auth = format!("Bearer {KEY}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    http.head("POST", PUBLISH, &headers, body.len()).await;
    http.send(&body[..100]).await;
    tokio::time::sleep(t * 3).await;
    http.send(&body[100..]).await;
    let r = http.reply().await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    server.stop(Duration::from_secs(5)).await;
}

/// `--header-read-timeout 0`: no limit; a half-sent head waits for its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_read_timeout_zero_waits_for_the_head() {
    let server = common::serve(with_header_read_timeout(Duration::ZERO)).await;
    let mut http = Http::connect(server.addr).await;
    http.send(HALF_A_HEAD).await;
    // Past twice the timeout of the test above, and more than 2 s of the default's 10.
    assert!(!http.closed_within(Duration::from_secs(2)).await);
    http.send(b"\r\n").await;
    assert_eq!(http.reply().await.status, 200);
    server.stop(Duration::from_secs(5)).await;
}
