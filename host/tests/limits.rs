//! The rate limits of contract section 10 at their boundaries: per socket events/s (a real
//! server on 127.0.0.1:0 driven by `rust_socketio`), per API key requests/s and per client
//! address handshakes/s (the real router, in process, with the peer address a served router
//! would see), and `0` turning each off.
//!
//! Rates are small (2 to 5 per second, bursts of twice that) so that a burst is used up long
//! before one token refills, and every "allowed again" waits well past one token's period.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use common::Server;
use futures_util::FutureExt;
use http_body_util::BodyExt;
use jsonwebtoken::{EncodingKey, Header, encode};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{Value, json};
use switchyard_host::auth::JwtKeys;
use switchyard_host::core::Limit;
use switchyard_host::{Config, Switchyard};
use tokio::sync::oneshot;
use tokio::time::timeout;
use tower::ServiceExt;

const SECRET: &str = "limits-test-secret";
const KEYS: [&str; 2] = ["sk_limits_one", "sk_limits_two"];
const WAIT: Duration = Duration::from_secs(10);

fn config(configure: impl FnOnce(&mut Config)) -> Config {
    let mut config = Config::new(
        JwtKeys::new(Some(SECRET), None).unwrap(),
        KEYS.iter().map(|k| (*k).to_owned()).collect(),
    );
    configure(&mut config);
    config
}

fn token(user: &str) -> String {
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    encode(
        &Header::default(),
        &json!({"sub": user, "exp": exp}),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

struct Reply {
    status: StatusCode,
    retry_after: Option<String>,
    body: Value,
}

async fn send(app: &axum::Router, req: Request<Body>) -> Reply {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let retry_after = res
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Reply {
        status,
        retry_after,
        body,
    }
}

fn api_get(key: &str) -> Request<Body> {
    Request::get("/api/v1/sockets")
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

/// The sample of `name` with `labels` in the exposition (0 when absent).
async fn metric(app: &axum::Router, name: &str, labels: &str) -> u64 {
    let res = app
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

fn assert_rate_limited(r: &Reply) {
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "rate_limited", "{}", r.body);
    assert!(r.body["error"]["message"].is_string(), "{}", r.body);
    let secs: u64 = r
        .retry_after
        .as_deref()
        .expect("Retry-After is set")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(secs >= 1, "Retry-After {secs}");
}

// ---------------------------------------------------------------------------------------------
// Per API key

#[tokio::test]
async fn api_requests_per_key_boundary() {
    let app = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.api_requests_per_sec = Limit::new(5);
    })));
    // A burst of twice the rate, then 429.
    for i in 0..10 {
        let r = send(&app, api_get(KEYS[0])).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}: {}", r.body);
    }
    let over = send(&app, api_get(KEYS[0])).await;
    assert_rate_limited(&over);
    assert_rate_limited(&send(&app, api_get(KEYS[0])).await);
    // Each key has its own budget, and a bad key is refused as unknown, not as limited (the
    // limit is checked after the key, so a stranger cannot spend a real key's budget).
    assert_eq!(send(&app, api_get(KEYS[1])).await.status, StatusCode::OK);
    let stranger = send(&app, api_get("sk_nope")).await;
    assert_eq!(stranger.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        metric(&app, "switchyard_rate_limited_total", "kind=\"api\"").await,
        2
    );
    assert_eq!(
        metric(&app, "switchyard_rate_limiter_keys", "kind=\"api\"").await,
        2,
        "one entry per configured key"
    );
    // One token per 200 ms: after 500 ms the key is allowed again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(send(&app, api_get(KEYS[0])).await.status, StatusCode::OK);
}

#[tokio::test]
async fn api_limit_zero_is_off() {
    let app = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.api_requests_per_sec = Limit::OFF;
    })));
    for i in 0..500 {
        let r = send(&app, api_get(KEYS[0])).await;
        assert_eq!(r.status, StatusCode::OK, "request {i}");
    }
    assert_eq!(
        metric(&app, "switchyard_rate_limited_total", "kind=\"api\"").await,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// Per client address (Engine.IO handshakes)

fn handshake(peer: &str, forwarded_for: Option<&str>) -> Request<Body> {
    let mut req = Request::get("/socket.io/?EIO=4&transport=polling");
    if let Some(xff) = forwarded_for {
        req = req.header("x-forwarded-for", xff);
    }
    let mut req = req.body(Body::empty()).unwrap();
    let peer: SocketAddr = peer.parse().unwrap();
    // What `serve` (into_make_service_with_connect_info) puts into every request.
    req.extensions_mut().insert(ConnectInfo(peer));
    req
}

#[tokio::test]
async fn handshakes_per_address_boundary() {
    let app = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.connects_per_sec = Limit::new(5);
    })));
    for i in 0..10 {
        let r = send(&app, handshake("10.0.0.1:4000", None)).await;
        assert_eq!(r.status, StatusCode::OK, "handshake {i}");
    }
    let over = send(&app, handshake("10.0.0.1:4001", None)).await;
    assert_rate_limited(&over);
    // Requests of an open session carry a `sid` and are not handshakes: never refused here
    // (engine.io answers an unknown sid itself).
    let poll = Request::get("/socket.io/?EIO=4&transport=polling&sid=nosuchsession")
        .body(Body::empty())
        .unwrap();
    assert_ne!(send(&app, poll).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Another address has its own budget; IPv6 addresses are keyed by their /64.
    assert_eq!(
        send(&app, handshake("10.0.0.2:4000", None)).await.status,
        StatusCode::OK
    );
    for i in 0..10 {
        let peer = format!("[2001:db8:1:2::{i:x}]:4000");
        assert_eq!(
            send(&app, handshake(&peer, None)).await.status,
            StatusCode::OK
        );
    }
    assert_rate_limited(&send(&app, handshake("[2001:db8:1:2:ffff::1]:4000", None)).await);
    assert_eq!(
        send(&app, handshake("[2001:db8:1:3::1]:4000", None))
            .await
            .status,
        StatusCode::OK
    );
    // Proxy headers are not trusted by default: a forged X-Forwarded-For changes nothing.
    assert_rate_limited(&send(&app, handshake("10.0.0.1:4002", Some("192.0.2.77"))).await);
    assert_eq!(
        metric(&app, "switchyard_rate_limited_total", "kind=\"connect\"").await,
        3
    );
    assert_eq!(
        metric(&app, "switchyard_rate_limiter_keys", "kind=\"connect\"").await,
        4
    );
    // One token per 200 ms: after 500 ms the address may connect again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        send(&app, handshake("10.0.0.1:4003", None)).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn trusted_proxy_headers_key_by_the_forwarded_address() {
    let app = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.connects_per_sec = Limit::new(5);
        c.limits.trust_proxy_headers = true;
    })));
    // Every client behind the one proxy address has its own budget ...
    for i in 0..10 {
        let xff = format!("198.51.100.7, 10.9.9.{i}");
        assert_eq!(
            send(&app, handshake("10.0.0.1:4000", Some(&xff)))
                .await
                .status,
            StatusCode::OK
        );
    }
    // ... keyed by the first entry only.
    assert_rate_limited(&send(&app, handshake("10.0.0.1:4000", Some("198.51.100.7"))).await);
    assert_eq!(
        send(&app, handshake("10.0.0.1:4000", Some("198.51.100.8")))
            .await
            .status,
        StatusCode::OK
    );
    // Without the header (or with garbage in it) the peer's address counts.
    for _ in 0..10 {
        assert_eq!(
            send(&app, handshake("10.0.0.1:4000", Some("not-an-ip")))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_rate_limited(&send(&app, handshake("10.0.0.1:4000", None)).await);
}

#[tokio::test]
async fn connect_limit_zero_is_off() {
    let app = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.connects_per_sec = Limit::OFF;
    })));
    for i in 0..300 {
        let r = send(&app, handshake("10.0.0.1:4000", None)).await;
        assert_eq!(r.status, StatusCode::OK, "handshake {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// --connect-timeout

/// Opens a polling session (no Socket.IO CONNECT follows) and answers its sid.
async fn open_session(app: &axum::Router) -> String {
    let res = app
        .clone()
        .oneshot(handshake("10.0.0.1:4000", None))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let open: Value = serde_json::from_str(text.strip_prefix('0').unwrap()).unwrap();
    open["sid"].as_str().unwrap().to_owned()
}

/// Whether the session still exists: a pong posted to it is taken (an unknown sid is 400).
async fn session_alive(app: &axum::Router, sid: &str) -> bool {
    let req = Request::post(format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))
        .header(header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(Body::from("3"))
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status() == StatusCode::OK
}

#[tokio::test]
async fn connect_timeout_closes_sessions_and_zero_is_off() {
    let short = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.connect_timeout = Duration::from_millis(300);
    })));
    let off = switchyard_host::app(Switchyard::new(config(|c| {
        c.limits.connect_timeout = Duration::ZERO;
    })));
    let (a, b) = (open_session(&short).await, open_session(&off).await);
    assert!(session_alive(&short, &a).await && session_alive(&off, &b).await);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!session_alive(&short, &a).await, "closed after 300 ms");
    assert!(session_alive(&off, &b).await, "0: no deadline");
}

// ---------------------------------------------------------------------------------------------
// Per socket, on a real server

async fn start(configure: impl FnOnce(&mut Config)) -> Server {
    common::serve(config(configure)).await
}

impl Server {
    async fn metric(&self, name: &str, labels: &str) -> u64 {
        metric(&switchyard_host::app(self.hub.clone()), name, labels).await
    }

    /// A client connected as `user`, once its welcome has arrived.
    async fn client(&self, user: &str) -> Client {
        let (tx, rx) = oneshot::channel::<()>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        let client = ClientBuilder::new(self.url())
            .transport_type(TransportType::Websocket)
            .reconnect(false)
            .auth(json!({"token": token(user)}))
            .on("welcome", move |_, _| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                async {}.boxed()
            })
            .connect()
            .await
            .unwrap();
        timeout(WAIT, rx).await.unwrap().unwrap();
        client
    }
}

/// Emits `event` and waits for its acknowledgement's first argument.
async fn ack(client: &Client, event: &str, arg: Value) -> Value {
    let (tx, rx) = oneshot::channel::<Payload>();
    let tx = Arc::new(Mutex::new(Some(tx)));
    client
        .emit_with_ack(event, arg, WAIT, move |payload, _| {
            if let Some(tx) = tx.lock().unwrap().take() {
                let _ = tx.send(payload);
            }
            async {}.boxed()
        })
        .await
        .unwrap();
    match timeout(WAIT, rx).await.unwrap().unwrap() {
        // rust_socketio hands an ack's arguments over one array level deeper than an event's.
        Payload::Text(mut v) => match v.swap_remove(0) {
            Value::Array(mut inner) => inner.swap_remove(0),
            other => other,
        },
        other => panic!("unexpected ack {other:?}"),
    }
}

fn code(ack: &Value) -> &str {
    ack["error"]["code"].as_str().unwrap_or("(none)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_events_boundary() {
    // 2 per second, bursts of 4: one token every 500 ms.
    let server = start(|c| c.limits.socket_events_per_sec = Limit::new(2)).await;
    let a = server.client("u-a").await;
    let b = server.client("u-b").await;
    // Every client event counts: subscribe, unsubscribe, refresh and an unknown one.
    assert_eq!(
        ack(&a, "subscribe", json!({"room": "ticket_1"})).await["error"]["code"],
        "forbidden"
    );
    let left = ack(&a, "unsubscribe", json!({"room": "ticket_1"})).await;
    assert_eq!(left["ok"], true, "{left}");
    assert_eq!(
        code(&ack(&a, "refresh", json!({"token": "not-a-token"})).await),
        "unauthorized"
    );
    assert_eq!(code(&ack(&a, "shout", json!({})).await), "unknown_event");
    // The fifth in the burst is refused, whatever the event.
    let over = ack(&a, "subscribe", json!({"room": "ticket_1"})).await;
    assert_eq!(over["ok"], false, "{over}");
    assert_eq!(code(&over), "rate_limited", "{over}");
    assert!(over["error"]["message"].is_string());
    assert_eq!(code(&ack(&a, "logout", json!({})).await), "rate_limited");
    assert_eq!(
        code(&ack(&a, "refresh", json!({"token": token("u-a")})).await),
        "rate_limited"
    );
    // An event without an ack is dropped and counted.
    a.emit("shout", json!({})).await.unwrap();
    // Another socket has its own budget (and the barrier: its answer comes after the drop).
    assert_eq!(code(&ack(&b, "shout", json!({})).await), "unknown_event");
    let counted = timeout(WAIT, async {
        loop {
            let n = server
                .metric("switchyard_rate_limited_total", "kind=\"socket_event\"")
                .await;
            if n >= 4 {
                return n;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    assert_eq!(counted, 4);
    // After the refill of one token (500 ms), one event is allowed again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(code(&ack(&a, "shout", json!({})).await), "unknown_event");
    a.disconnect().await.unwrap();
    b.disconnect().await.unwrap();
    server.stop(WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_events_zero_is_off() {
    let server = start(|c| c.limits.socket_events_per_sec = Limit::OFF).await;
    let a = server.client("u-a").await;
    for i in 0..300 {
        let answer = ack(&a, "shout", json!({})).await;
        assert_eq!(code(&answer), "unknown_event", "event {i}");
    }
    assert_eq!(
        server
            .metric("switchyard_rate_limited_total", "kind=\"socket_event\"")
            .await,
        0
    );
    a.disconnect().await.unwrap();
    server.stop(WAIT).await;
}

/// `--max-sockets-per-user 0` and `--max-subscriptions-per-socket 0` turn those limits off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_and_subscription_limits_zero_are_off() {
    let server = start(|c| {
        c.limits.max_sockets_per_user = Limit::OFF;
        c.limits.max_subscriptions_per_socket = Limit::OFF;
        c.limits.socket_events_per_sec = Limit::OFF;
    })
    .await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(server.client("same-user").await);
    }
    assert_eq!(server.hub.get_socket_count().await.unwrap(), 20);
    let sid = server.hub.get_connected_sockets().await.unwrap()[0]
        .id
        .clone();
    for i in 0..150 {
        let room: switchyard_host::core::Room = format!("ticket_t{i}").parse().unwrap();
        server.hub.join_room(&sid, &room).await.unwrap();
    }
    for c in clients {
        c.disconnect().await.unwrap();
    }
    server.stop(WAIT).await;
}
