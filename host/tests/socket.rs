//! The Socket.IO endpoint on a real port (127.0.0.1:0), served by `switchyard_host::serve` in a
//! task and driven by the Rust client `rust_socketio`, together with the public handle
//! [`Switchyard`]: handshake auth, subscribe acks and limits, deliveries through the handle,
//! presence, the message-size limit, and graceful shutdown.
//!
//! Every wait is bounded. "Did not arrive" is checked with a barrier where possible: events to
//! one socket arrive in the order they were emitted, so once a later event is seen, an earlier
//! one that was going to arrive would have.

#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::Server;
use futures_util::FutureExt;
use jsonwebtoken::{EncodingKey, Header, encode};
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{Value, json};
use switchyard_host::auth::JwtKeys;
use switchyard_host::core::{ErrorCode, Limit, Room, UserId};
use switchyard_host::{Config, HubError};
use tokio::sync::{mpsc, oneshot};
use tokio::time::timeout;
use tower::ServiceExt;

const SECRET: &str = "socket-test-secret";
const KEY: &str = "sk_socket_test";
/// The longest any single expected thing may take.
const WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Server

async fn start(configure: impl FnOnce(&mut Config)) -> Server {
    let mut config = Config::new(
        JwtKeys::new(Some(SECRET), None).unwrap(),
        vec![KEY.to_owned()],
    );
    configure(&mut config);
    common::serve(config).await
}

impl Server {
    /// Calls the HTTP API of this very hub in process (same sockets, same rooms).
    async fn api(&self, method: Method, uri: &str) -> StatusCode {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {KEY}"))
            .body(Body::empty())
            .unwrap();
        switchyard_host::app(self.hub.clone())
            .oneshot(req)
            .await
            .unwrap()
            .status()
    }

    /// Waits until the hub's presence table shows `n` sockets.
    async fn wait_socket_count(&self, n: usize) {
        let hub = self.hub.clone();
        let waited = timeout(WAIT, async move {
            while hub.get_socket_count().await.unwrap() != n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await;
        if waited.is_err() {
            panic!(
                "socket count stayed {} (wanted {n})",
                self.hub.get_socket_count().await.unwrap()
            )
        }
    }
}

fn token_with(claims: Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn exp_in(secs: i64) -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp() + secs
}

fn token(user: &str, rooms: &[&str]) -> String {
    token_with(
        json!({"sub": user, "exp": exp_in(600), "rooms": rooms}),
        SECRET,
    )
}

fn uid(s: &str) -> UserId {
    s.parse().unwrap()
}

fn room(s: &str) -> Room {
    s.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Client

/// A connected `rust_socketio` client and everything it has received, in order:
/// `(event, first argument)`, with `open` (CONNECT), `close` (server DISCONNECT) and `error`
/// (connect errors and transport errors) as events too.
struct TestClient {
    client: Client,
    rx: mpsc::UnboundedReceiver<(String, Value)>,
    seen: Vec<(String, Value)>,
}

fn first_arg(payload: Payload) -> Value {
    match payload {
        Payload::Text(mut values) if !values.is_empty() => values.swap_remove(0),
        Payload::Text(_) => Value::Null,
        other => json!(format!("{other:?}")),
    }
}

async fn connect_with(url: &str, auth: Option<Value>, transport: TransportType) -> TestClient {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut builder = ClientBuilder::new(url)
        .transport_type(transport)
        .reconnect(false);
    for name in ["open", "close", "error"] {
        let tx = tx.clone();
        builder = builder.on(name, move |payload, _| {
            let _ = tx.send((name.to_owned(), first_arg(payload)));
            async {}.boxed()
        });
    }
    let any = tx.clone();
    builder = builder.on_any(move |event, payload, _| {
        let _ = any.send((event.to_string(), first_arg(payload)));
        async {}.boxed()
    });
    if let Some(auth) = auth {
        builder = builder.auth(auth);
    }
    let client = timeout(WAIT, builder.connect())
        .await
        .expect("engine.io connects in time")
        .expect("engine.io connects");
    TestClient {
        client,
        rx,
        seen: Vec::new(),
    }
}

/// Connects with a token and waits for `welcome`.
async fn connect_as(server: &Server, user: &str, rooms: &[&str]) -> (TestClient, Value) {
    let mut c = connect_with(
        &server.url(),
        Some(json!({"token": token(user, rooms)})),
        TransportType::Any,
    )
    .await;
    let welcome = c.wait_for("welcome").await;
    (c, welcome)
}

impl TestClient {
    /// The next `event` (earlier other events are kept for later waits).
    async fn wait_for(&mut self, event: &str) -> Value {
        if let Some(i) = self.seen.iter().position(|(e, _)| e == event) {
            return self.seen.remove(i).1;
        }
        let got = timeout(WAIT, async {
            while let Some((e, v)) = self.rx.recv().await {
                if e == event {
                    return Some(v);
                }
                self.seen.push((e, v));
            }
            None
        })
        .await;
        match got {
            Ok(Some(v)) => v,
            Ok(None) => panic!("client closed before {event:?}; saw {:?}", self.seen),
            Err(_) => panic!("no {event:?} within {WAIT:?}; saw {:?}", self.seen),
        }
    }

    /// Drains what has arrived so far and says whether `event` is among it.
    fn has_seen(&mut self, event: &str) -> bool {
        while let Ok(item) = self.rx.try_recv() {
            self.seen.push(item);
        }
        self.seen.iter().any(|(e, _)| e == event)
    }

    /// Emits `event` with `args` and waits for the acknowledgement's first argument.
    async fn ack(&self, event: &str, args: Vec<Value>) -> Value {
        self.ack_within(event, args, WAIT)
            .await
            .unwrap_or_else(|| panic!("no ack for {event:?} within {WAIT:?}"))
    }

    async fn ack_within(&self, event: &str, args: Vec<Value>, wait: Duration) -> Option<Value> {
        let rx = self.emit_ack(event, args, wait).await;
        let payload = timeout(wait, rx).await.ok()?.ok()?;
        Some(ack_arg(payload))
    }

    /// Emits `event` with an acknowledgement callback; the ack arrives on the receiver.
    async fn emit_ack(
        &self,
        event: &str,
        args: Vec<Value>,
        wait: Duration,
    ) -> oneshot::Receiver<Payload> {
        let (tx, rx) = oneshot::channel::<Payload>();
        let tx = Arc::new(Mutex::new(Some(tx)));
        self.client
            .emit_with_ack(event, Payload::Text(args), wait, move |payload, _| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(payload);
                }
                async {}.boxed()
            })
            .await
            .unwrap();
        rx
    }

    async fn subscribe(&self, room: &str) -> Value {
        self.ack("subscribe", vec![json!({ "room": room })]).await
    }

    async fn disconnect(self) {
        let _ = timeout(WAIT, self.client.disconnect()).await;
    }
}

/// rust_socketio hands an ack's arguments over one array level deeper than an event's.
fn ack_arg(payload: Payload) -> Value {
    match first_arg(payload) {
        Value::Array(mut inner) if inner.len() == 1 => inner.swap_remove(0),
        other => panic!("unexpected ack shape {other}"),
    }
}

fn ack_code(ack: &Value) -> &str {
    assert_eq!(ack["ok"], false, "{ack}");
    assert!(ack["error"]["message"].is_string(), "{ack}");
    ack["error"]["code"].as_str().unwrap()
}

fn assert_ok_room(ack: &Value, room: &str) {
    assert_eq!(ack, &json!({"ok": true, "room": room}));
}

/// A subscribe ack: `{ ok, room }` plus where the room's stream stands (contract section 8), or
/// for `system_presence` (no stream) the presence snapshot instead.
fn assert_subscribed(ack: &Value, room: &str) {
    let mut rest = ack.clone();
    let fields = rest.as_object_mut().unwrap();
    if room == "system_presence" {
        assert!(
            fields.remove("online").is_some_and(|v| v.is_array()),
            "{ack}"
        );
        assert!(fields.remove("count").is_some_and(|v| v.is_u64()), "{ack}");
    } else {
        let epoch = fields.remove("epoch");
        assert!(
            epoch.is_some_and(|e| e.as_str().is_some_and(|e| !e.is_empty())),
            "{ack}"
        );
        assert!(fields.remove("offset").is_some_and(|v| v.is_u64()), "{ack}");
    }
    assert_eq!(rest, json!({"ok": true, "room": room}));
}

fn assert_server_time(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("not a string: {v}"));
    let b = s.as_bytes();
    assert!(
        s.len() == 24 && b[10] == b'T' && b[19] == b'.' && s.ends_with('Z'),
        "not RFC 3339 UTC with milliseconds: {s}"
    );
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_gets_welcome() {
    let server = start(|_| {}).await;
    let (mut c, welcome) = connect_as(&server, "tech-1", &[]).await;
    assert!(c.has_seen("open"));
    let sid = welcome["socketId"].as_str().unwrap().to_owned();
    assert_eq!(welcome["userId"], "tech-1");
    assert_eq!(welcome["rooms"], json!(["user_tech-1"]));
    assert_server_time(&welcome["serverTime"]);
    let keys: Vec<&String> = welcome.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["rooms", "serverTime", "socketId", "streams", "userId"]
    );
    // Where the own inbox and `broadcast` stand; no `recovered`, since no `since` was given.
    let streams = welcome["streams"].as_object().unwrap();
    assert_eq!(
        streams.keys().collect::<Vec<_>>(),
        ["broadcast", "user_tech-1"]
    );
    for s in streams.values() {
        assert!(s["epoch"].is_string() && s["offset"].is_u64(), "{s}");
        assert!(s.get("recovered").is_none(), "{s}");
    }

    // The handle sees the same socket.
    let user = uid("tech-1");
    assert!(server.hub.is_user_online(&user).await.unwrap());
    assert_eq!(
        server
            .hub
            .get_user_socket_id(&user)
            .await
            .unwrap()
            .as_deref(),
        Some(sid.as_str())
    );
    assert_eq!(server.hub.get_socket_count().await.unwrap(), 1);
    let sockets = server.hub.get_connected_sockets().await.unwrap();
    assert_eq!(sockets.len(), 1);
    assert_eq!(sockets[0].id, sid);
    assert_eq!(sockets[0].user_id, user);
    assert_eq!(sockets[0].rooms, ["user_tech-1"]);
    // `get_io`: the socketioxide instance underneath.
    let io_sockets = server.hub.get_io().of("/").unwrap().sockets();
    assert_eq!(io_sockets.len(), 1);
    assert_eq!(io_sockets[0].id.to_string(), sid);

    c.disconnect().await;
    server.wait_socket_count(0).await;
    assert!(!server.hub.is_user_online(&user).await.unwrap());
    assert_eq!(server.hub.get_user_socket_id(&user).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused_with_unauthorized() {
    let server = start(|_| {}).await;
    let cases = [
        ("no auth", None),
        ("no token", Some(json!({}))),
        ("token not a string", Some(json!({"token": 42}))),
        ("garbage", Some(json!({"token": "not.a.jwt"}))),
        (
            "wrong secret",
            Some(json!({"token": token_with(json!({"sub": "u1", "exp": exp_in(600)}), "other")})),
        ),
        (
            "expired",
            Some(json!({"token": token_with(json!({"sub": "u1", "exp": exp_in(-5)}), SECRET)})),
        ),
        (
            "no exp",
            Some(json!({"token": token_with(json!({"sub": "u1"}), SECRET)})),
        ),
        (
            "no sub",
            Some(json!({"token": token_with(json!({"exp": exp_in(600)}), SECRET)})),
        ),
        (
            "invalid sub",
            Some(json!({"token": token_with(json!({"sub": "a b", "exp": exp_in(600)}), SECRET)})),
        ),
        (
            "invalid room pattern",
            Some(
                json!({"token": token_with(json!({"sub": "u1", "exp": exp_in(600), "rooms": ["tick*"]}), SECRET)}),
            ),
        ),
    ];
    for (why, auth) in cases {
        let mut c = connect_with(&server.url(), auth, TransportType::Any).await;
        let err = c.wait_for("error").await;
        let text = err.as_str().unwrap_or_default();
        assert!(
            text.contains(r#"{"message":"unauthorized"}"#),
            "{why}: {err}"
        );
        assert!(!c.has_seen("open") && !c.has_seen("welcome"), "{why}");
        c.disconnect().await;
    }
    assert_eq!(server.hub.get_socket_count().await.unwrap(), 0);
    assert!(server.hub.get_connected_sockets().await.unwrap().is_empty());
    assert!(!server.hub.is_user_online(&uid("u1")).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_acks_and_the_subscription_limit() {
    let server = start(|c| c.limits.max_subscriptions_per_socket = Limit::new(2)).await;
    let (c, _) = connect_as(&server, "tech-1", &["ticket_*", "meter_42"]).await;

    assert_subscribed(&c.subscribe("ticket_1").await, "ticket_1");
    assert_subscribed(&c.subscribe("meter_42").await, "meter_42");
    // At the limit: a third room is refused, but rooms already held and the own user room
    // are not new subscriptions.
    assert_eq!(ack_code(&c.subscribe("ticket_3").await), "limit_exceeded");
    assert_subscribed(&c.subscribe("ticket_1").await, "ticket_1");
    assert_subscribed(&c.subscribe("user_tech-1").await, "user_tech-1");
    // Leaving one makes room for another.
    assert_ok_room(
        &c.ack("unsubscribe", vec![json!({"room": "ticket_1"})])
            .await,
        "ticket_1",
    );
    assert_subscribed(&c.subscribe("ticket_3").await, "ticket_3");

    assert_eq!(ack_code(&c.subscribe("meter_43").await), "forbidden");
    assert_eq!(
        ack_code(&c.subscribe("user_someone-else").await),
        "forbidden"
    );
    assert_eq!(ack_code(&c.subscribe("system_presence").await), "forbidden");
    assert_eq!(ack_code(&c.subscribe("nope").await), "invalid_room");
    assert_eq!(ack_code(&c.subscribe("ticket_a b").await), "invalid_room");
    for bad in [
        vec![json!({"room": 5})],
        vec![json!({})],
        vec![json!("ticket_1")],
        vec![json!({"room": "ticket_1", "extra": true})],
        vec![],
    ] {
        let ack = c.ack("subscribe", bad.clone()).await;
        assert_eq!(ack_code(&ack), "invalid_payload", "{bad:?}");
    }
    let ack = c
        .ack("unsubscribe", vec![json!({"room": "user_tech-1"})])
        .await;
    assert_eq!(ack_code(&ack), "forbidden");
    let ack = c.ack("shout", vec![json!({"x": 1})]).await;
    assert_eq!(ack_code(&ack), "unknown_event");

    let info = server.hub.get_connected_sockets().await.unwrap();
    assert_eq!(info[0].rooms, ["meter_42", "ticket_3", "user_tech-1"]);

    // logout: the ack, then the server disconnects the socket.
    let mut c = c;
    assert_eq!(c.ack("logout", vec![]).await, json!({"ok": true}));
    c.wait_for("close").await;
    server.wait_socket_count(0).await;
    c.disconnect().await;
}

/// The backend's joinRoom is trusted with any room, but not with any number of them: it counts
/// against the same per-socket limit as the client's subscribe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_joins_count_against_the_subscription_limit() {
    let server = start(|c| c.limits.max_subscriptions_per_socket = Limit::new(2)).await;
    let hub = &server.hub;
    let (c, welcome) = connect_as(&server, "tech-1", &["ticket_*"]).await;
    let sid = welcome["socketId"].as_str().unwrap().to_owned();

    hub.join_room(&sid, &room("meter_m-1")).await.unwrap();
    assert_subscribed(&c.subscribe("ticket_1").await, "ticket_1");
    // At the limit: the backend is refused like the client.
    let over = hub.join_room(&sid, &room("meter_m-2")).await.unwrap_err();
    assert_eq!(over.code(), ErrorCode::LimitExceeded);
    let uri = format!("/api/v1/sockets/{sid}/rooms/meter_m-2");
    assert_eq!(server.api(Method::PUT, &uri).await, StatusCode::CONFLICT);
    assert_eq!(ack_code(&c.subscribe("ticket_2").await), "limit_exceeded");
    // Rooms already held and the own user room are not new.
    hub.join_room(&sid, &room("meter_m-1")).await.unwrap();
    hub.join_room(&sid, &room("ticket_1")).await.unwrap();
    hub.join_room(&sid, &room("user_tech-1")).await.unwrap();
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["meter_m-1", "ticket_1", "user_tech-1"]
    );
    // A backend leave makes room for a client subscribe, and the other way round.
    hub.leave_room(&sid, &room("meter_m-1")).await.unwrap();
    assert_subscribed(&c.subscribe("ticket_2").await, "ticket_2");
    assert_eq!(server.api(Method::PUT, &uri).await, StatusCode::CONFLICT);
    let ack = c
        .ack("unsubscribe", vec![json!({"room": "ticket_2"})])
        .await;
    assert_ok_room(&ack, "ticket_2");
    assert_eq!(server.api(Method::PUT, &uri).await, StatusCode::NO_CONTENT);
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_per_user_refuses_the_second() {
    let server = start(|c| c.limits.max_sockets_per_user = Limit::new(1)).await;
    let (first, _) = connect_as(&server, "tech-1", &[]).await;
    let mut second = connect_with(
        &server.url(),
        Some(json!({"token": token("tech-1", &[])})),
        TransportType::Any,
    )
    .await;
    let err = second.wait_for("error").await;
    assert!(
        err.as_str()
            .unwrap_or_default()
            .contains("too_many_sockets"),
        "{err}"
    );
    assert!(!second.has_seen("welcome"));
    // Another user is not affected.
    let (other, _) = connect_as(&server, "tech-2", &[]).await;
    assert_eq!(server.hub.get_socket_count().await.unwrap(), 2);
    // Once the first socket is gone, the user may connect again.
    first.disconnect().await;
    server.wait_socket_count(1).await;
    let (again, _) = connect_as(&server, "tech-1", &[]).await;
    assert_eq!(server.hub.get_socket_count().await.unwrap(), 2);
    for c in [second, other, again] {
        c.disconnect().await;
    }
}

/// Volatile emits (socketioxide's `volatile()`, reachable by an embedder through `get_io`) go
/// through the patched engineioxide's `Volatile` slot (vendor/, patch 0007) on both transports:
/// the websocket writer's `select!` and the long-polling encoder. Switchyard itself never sends
/// one, so this is the test that would catch the patch losing them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn volatile_emits_reach_websocket_and_polling_clients() {
    let server = start(|_| {}).await;
    let mut clients = Vec::new();
    for (user, transport) in [
        ("vol-ws", TransportType::Websocket),
        ("vol-poll", TransportType::Polling),
    ] {
        let mut c = connect_with(
            &server.url(),
            Some(json!({"token": token(user, &[])})),
            transport,
        )
        .await;
        c.wait_for("welcome").await;
        clients.push(c);
    }
    // One at a time: a volatile packet that finds the previous one still waiting replaces it.
    for n in 1..=3 {
        server
            .hub
            .get_io()
            .volatile()
            .emit("flash", &json!({ "n": n }))
            .await
            .unwrap();
        for c in &mut clients {
            assert_eq!(c.wait_for("flash").await, json!({ "n": n }));
        }
    }
    // Ordinary events still flow after them.
    server
        .hub
        .get_io()
        .emit("after", &json!({ "ok": true }))
        .await
        .unwrap();
    for c in &mut clients {
        assert_eq!(c.wait_for("after").await, json!({ "ok": true }));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_through_the_handle() {
    let server = start(|_| {}).await;
    let hub = &server.hub;
    let (mut phone, _) = connect_as(&server, "tech-1", &["ticket_*", "meter_*"]).await;
    let (mut laptop, _) = connect_as(&server, "tech-1", &[]).await;
    let (mut other, _) = connect_as(&server, "tech-2", &[]).await;
    assert_eq!(hub.get_socket_count().await.unwrap(), 3);
    assert_subscribed(&phone.subscribe("ticket_T-1").await, "ticket_T-1");
    assert_subscribed(&phone.subscribe("meter_m-1").await, "meter_m-1");

    // A notification reaches every socket of its user, and only those.
    let sent = hub
        .send_notification(
            &uid("tech-1"),
            json!({"type": "warning", "message": "Truck late", "data": {"eta": 15}}),
        )
        .await
        .unwrap();
    assert!(sent.online);
    for c in [&mut phone, &mut laptop] {
        let n = c.wait_for("notification").await;
        assert_eq!(n["id"], sent.id.as_str());
        assert_eq!(n["type"], "warning");
        assert_eq!(n["message"], "Truck late");
        assert_eq!(n["data"], json!({"eta": 15}));
        assert_server_time(&n["createdAt"]);
    }

    // Ticket update and meter reading reach the subscriber only.
    hub.handle_ticket_update(
        &"T-1".parse().unwrap(),
        json!({"status": "resolved", "assignedTo": null}),
    )
    .await
    .unwrap();
    let t = phone.wait_for("ticket_updated").await;
    assert_eq!(t["ticketId"], "T-1");
    assert_eq!(t["status"], "resolved");
    assert_eq!(t["assignedTo"], Value::Null);
    assert_server_time(&t["updatedAt"]);

    hub.handle_meter_reading(
        &"m-1".parse().unwrap(),
        json!({"reading": 42.5, "timestamp": "2024-01-15T11:00:00+01:00", "unit": "m3"}),
    )
    .await
    .unwrap();
    let m = phone.wait_for("meter_reading").await;
    assert_eq!(
        m,
        json!({"meterId": "m-1", "reading": 42.5, "timestamp": "2024-01-15T10:00:00.000Z", "unit": "m3"})
    );

    // A custom event to a room, then to everyone.
    hub.emit_to_room(&room("ticket_T-1"), "job_done", json!({"job": 7}))
        .await
        .unwrap();
    assert_eq!(phone.wait_for("job_done").await, json!({"job": 7}));
    hub.emit_to_all("config_changed", json!(["a", 1]))
        .await
        .unwrap();
    // An announcement goes to everyone.
    let id = hub
        .send_announcement(json!({"type": "outage", "message": "Grid down in sector 4"}))
        .await
        .unwrap();
    for c in [&mut phone, &mut laptop, &mut other] {
        assert_eq!(c.wait_for("config_changed").await, json!(["a", 1]));
        let a = c.wait_for("announcement").await;
        assert_eq!(a["id"], id.as_str());
        assert_eq!(a["type"], "outage");
    }
    // The barrier above (announcement after everything else) shows what did not arrive.
    assert!(!laptop.has_seen("ticket_updated") && !laptop.has_seen("meter_reading"));
    assert!(!laptop.has_seen("job_done"));
    assert!(!other.has_seen("notification") && !other.has_seen("ticket_updated"));

    // Invalid input is refused by the handle and delivers nothing.
    let err = hub
        .handle_meter_reading(
            &"m-1".parse().unwrap(),
            json!({"reading": "x", "timestamp": "now", "unit": "kwh"}),
        )
        .await
        .unwrap_err();
    let HubError::Validation(v) = err else {
        panic!("{err:?}")
    };
    assert_eq!(v.codes(), ["type", "invalid_format", "unknown_value"]);
    assert!(
        hub.emit_to_room(&room("ticket_T-1"), "Bad", json!(1))
            .await
            .is_err()
    );
    assert!(hub.emit_to_all("welcome", json!({})).await.is_err());
    assert!(
        hub.send_announcement(json!({"type": "info", "message": ""}))
            .await
            .is_err()
    );
    assert!(
        hub.handle_ticket_update(&"T-1".parse().unwrap(), json!({}))
            .await
            .is_err()
    );

    // A notification to an offline user is accepted, and says so.
    let sent = hub
        .send_notification(&uid("nobody"), json!({"type": "info", "message": "m"}))
        .await
        .unwrap();
    assert!(!sent.online);

    for c in [phone, laptop, other] {
        c.disconnect().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_through_the_handle_and_the_api() {
    let server = start(|_| {}).await;
    let hub = &server.hub;
    let (mut c, welcome) = connect_as(&server, "tech-1", &[]).await;
    let sid = welcome["socketId"].as_str().unwrap().to_owned();
    let ticket = room("ticket_T-9");

    // join_room needs no grant.
    hub.join_room(&sid, &ticket).await.unwrap();
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["ticket_T-9", "user_tech-1"]
    );
    hub.handle_ticket_update(&"T-9".parse().unwrap(), json!({"priority": "urgent"}))
        .await
        .unwrap();
    assert_eq!(c.wait_for("ticket_updated").await["priority"], "urgent");

    hub.leave_room(&sid, &ticket).await.unwrap();
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["user_tech-1"]
    );
    hub.handle_ticket_update(&"T-9".parse().unwrap(), json!({"priority": "low"}))
        .await
        .unwrap();
    // Barrier: a notification after the update.
    hub.send_notification(
        &uid("tech-1"),
        json!({"type": "info", "message": "barrier"}),
    )
    .await
    .unwrap();
    c.wait_for("notification").await;
    assert!(!c.has_seen("ticket_updated"));

    // The own user room cannot be left; unknown sockets are reported.
    assert!(matches!(
        hub.leave_room(&sid, &room("user_tech-1")).await,
        Err(ref e) if e.code() == ErrorCode::Forbidden
    ));
    for bad in ["AAAAAAAAAAAAAAAA", "nope", ""] {
        assert!(matches!(
            hub.join_room(bad, &ticket).await,
            Err(HubError::SocketNotFound(_))
        ));
        assert!(matches!(
            hub.leave_room(bad, &ticket).await,
            Err(HubError::SocketNotFound(_))
        ));
    }

    // The same through the HTTP API.
    let uri = format!("/api/v1/sockets/{sid}/rooms/meter_m-7");
    assert_eq!(server.api(Method::PUT, &uri).await, StatusCode::NO_CONTENT);
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["meter_m-7", "user_tech-1"]
    );
    assert_eq!(
        server.api(Method::DELETE, &uri).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["user_tech-1"]
    );
    let own = format!("/api/v1/sockets/{sid}/rooms/user_tech-1");
    assert_eq!(
        server.api(Method::DELETE, &own).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        server
            .api(Method::GET, "/api/v1/users/tech-1/presence")
            .await,
        StatusCode::OK
    );
    c.disconnect().await;
    server.wait_socket_count(0).await;
    // A socket that has gone is unknown.
    assert!(matches!(
        hub.join_room(&sid, &ticket).await,
        Err(HubError::SocketNotFound(_))
    ));
    assert_eq!(server.api(Method::PUT, &uri).await, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_and_logout() {
    let server = start(|_| {}).await;
    let hub = &server.hub;
    let (mut watcher, _) = connect_as(&server, "ops-1", &["system_presence"]).await;
    assert_subscribed(
        &watcher.subscribe("system_presence").await,
        "system_presence",
    );

    let user = uid("tech-5");
    let (mut a, wa) = connect_as(&server, "tech-5", &[]).await;
    let online = watcher.wait_for("user_online").await;
    assert_eq!(online["userId"], "tech-5");
    assert_server_time(&online["at"]);
    let (mut b, wb) = connect_as(&server, "tech-5", &[]).await;
    assert!(hub.is_user_online(&user).await.unwrap());
    assert_eq!(hub.get_socket_count().await.unwrap(), 3);
    // The oldest by id order.
    let mut ids = [
        wa["socketId"].as_str().unwrap().to_owned(),
        wb["socketId"].as_str().unwrap().to_owned(),
    ];
    ids.sort();
    assert_eq!(
        hub.get_user_socket_id(&user).await.unwrap().as_deref(),
        Some(ids[0].as_str())
    );
    assert_eq!(hub.get_user_socket_ids(&user).await.unwrap(), ids);

    // Logging the user out disconnects both sockets, and the user goes offline once.
    assert_eq!(hub.handle_user_logout(&user).await.unwrap(), 2);
    a.wait_for("close").await;
    b.wait_for("close").await;
    let offline = watcher.wait_for("user_offline").await;
    assert_eq!(offline["userId"], "tech-5");
    server.wait_socket_count(1).await;
    assert!(!hub.is_user_online(&user).await.unwrap());
    assert_eq!(hub.get_user_socket_id(&user).await.unwrap(), None);
    assert_eq!(hub.handle_user_logout(&user).await.unwrap(), 0);
    // Only one user_online was sent for tech-5 (the second socket did not announce it).
    hub.send_notification(&uid("ops-1"), json!({"type": "info", "message": "barrier"}))
        .await
        .unwrap();
    watcher.wait_for("notification").await;
    assert!(!watcher.has_seen("user_online") && !watcher.has_seen("user_offline"));

    for c in [watcher, a, b] {
        c.disconnect().await;
    }
}

/// `subscribe` padded with an extra field, serialised to exactly `len` bytes of Socket.IO
/// packet data (`["subscribe",{...}]`).
fn padded_subscribe(len: usize) -> Value {
    let empty = json!(["subscribe", {"pad": "", "room": "ticket_1"}]).to_string();
    let args = json!({"pad": "x".repeat(len - empty.len()), "room": "ticket_1"});
    assert_eq!(json!(["subscribe", args]).to_string().len(), len);
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_message_size_limit() {
    const LIMIT: usize = 2048;
    let server = start(|c| c.limits.max_socket_message_bytes = Limit::new(LIMIT as u64)).await;
    let mut c = connect_with(
        &server.url(),
        Some(json!({"token": token("tech-1", &["ticket_*"])})),
        TransportType::Websocket,
    )
    .await;
    c.wait_for("welcome").await;

    // The websocket message is "4" (engine.io message) "2" (socket.io event), the ack id
    // (rust_socketio draws 0–999: at most 3 digits), then the data. At most LIMIT bytes in all:
    // the server reads it and answers (here invalid_payload, for the padding field).
    let under = padded_subscribe(LIMIT - 2 - 3);
    let ack = c.ack("subscribe", vec![under]).await;
    assert_eq!(ack_code(&ack), "invalid_payload");
    let ack = c.subscribe("ticket_1").await;
    assert_subscribed(&ack, "ticket_1");

    // Well over the limit: the server closes the connection, and there is no ack.
    let over = padded_subscribe(2 * LIMIT);
    let rx = c.emit_ack("subscribe", vec![over], WAIT).await;
    server.wait_socket_count(0).await;
    assert!(!server.hub.is_user_online(&uid("tech-1")).await.unwrap());
    // An ack sent before the close would already be on its way; allow it a moment to show.
    let late = timeout(Duration::from_millis(500), rx).await;
    assert!(
        !matches!(late, Ok(Ok(_))),
        "an oversized message was answered: {late:?}"
    );
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_tells_clients_and_returns_ok() {
    let mut server = start(|_| {}).await;
    let (mut c, _) = connect_as(&server, "tech-1", &[]).await;
    let hub = server.hub.clone();

    server.stop.take().unwrap().send(()).unwrap();
    let notice = c.wait_for("system_shutdown").await;
    assert_eq!(notice["reconnect"], true);
    assert_server_time(&notice["at"]);

    let result = timeout(WAIT, &mut server.task)
        .await
        .expect("serve returns after shutdown")
        .unwrap();
    assert!(result.is_ok(), "{result:?}");

    // Afterwards the handle refuses to deliver and the API says it is shutting down.
    let err = hub
        .send_notification(&uid("tech-1"), json!({"type": "info", "message": "m"}))
        .await
        .unwrap_err();
    assert!(matches!(err, HubError::ShuttingDown), "{err:?}");
    assert!(hub.get_io().of("/").is_none());
    assert_eq!(
        server.api(Method::GET, "/api/v1/sockets").await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let health = switchyard_host::app(hub.clone())
        .oneshot(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::SERVICE_UNAVAILABLE);
    // New connections are refused: nothing listens any more.
    assert!(tokio::net::TcpStream::connect(server.addr).await.is_err());
    c.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_payloads_get_coded_answers() {
    let server = start(|_| {}).await;
    let (mut c, _) = connect_as(&server, "tech-1", &["*"]).await;
    for (args, code) in [
        (vec![json!({"room": "user_\u{202e}1"})], "invalid_room"),
        (vec![json!({"room": "ticket_1\u{0}"})], "invalid_room"),
        (vec![json!({"room": "meter_😀"})], "invalid_room"),
        (vec![json!({"room": "x".repeat(1000)})], "invalid_room"),
        (
            vec![json!({"__proto__": {"room": "ticket_1"}})],
            "invalid_payload",
        ),
        (vec![json!({"room": ["ticket_1"]})], "invalid_payload"),
        (vec![json!(null)], "invalid_payload"),
    ] {
        let ack = c.ack("subscribe", args.clone()).await;
        assert_eq!(ack_code(&ack), code, "{args:?}");
    }
    // Nested past serde_json's 128-level parse limit: the payload cannot be read, which is
    // answered like any other unreadable payload, and the server keeps serving.
    let deep = (0..1000).fold(json!("ticket_1"), |v, _| json!({ "room": v }));
    let ack = c.ack("subscribe", vec![deep]).await;
    assert_eq!(ack_code(&ack), "invalid_payload");
    assert_subscribed(&c.subscribe("ticket_1").await, "ticket_1");
    let (fresh, _) = connect_as(&server, "tech-2", &[]).await;
    assert!(server.hub.is_user_online(&uid("tech-2")).await.unwrap());
    assert!(!c.has_seen("close"));
    c.disconnect().await;
    fresh.disconnect().await;
}

/// Contract section 10, token lifetime: `refresh` refusals change nothing, an accepted one moves
/// the expiry and leaves the rooms the new grants take away (not a backend-joined one, not the
/// own room), and the socket is told `session_expired { at }` and disconnected at the new exp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_expire_unless_refreshed_and_a_refresh_narrows_the_rooms() {
    let server = start(|_| {}).await;
    let hub = &server.hub;
    let first = exp_in(2);
    let claims = |sub: &str, exp: i64, rooms: &[&str]| {
        token_with(json!({"sub": sub, "exp": exp, "rooms": rooms}), SECRET)
    };
    let at = |exp: i64| {
        switchyard_host::core::Timestamp::from_unix_millis(exp * 1000)
            .unwrap()
            .to_string()
    };
    let mut c = connect_with(
        &server.url(),
        Some(json!({"token": claims("tech-1", first, &["ticket_*", "meter_*"])})),
        TransportType::Any,
    )
    .await;
    let sid = c.wait_for("welcome").await["socketId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_subscribed(&c.subscribe("ticket_1").await, "ticket_1");
    assert_subscribed(&c.subscribe("meter_1").await, "meter_1");
    hub.join_room(&sid, &room("meter_9")).await.unwrap();

    let refresh = |token: String| c.ack("refresh", vec![json!({ "token": token })]);
    let other = claims("tech-2", exp_in(600), &["*"]);
    assert_eq!(ack_code(&refresh(other).await), "forbidden");
    let expired = claims("tech-1", exp_in(-5), &["*"]);
    assert_eq!(ack_code(&refresh(expired).await), "unauthorized");
    let early = token_with(
        json!({"sub": "tech-1", "exp": exp_in(600), "nbf": exp_in(600)}),
        SECRET,
    );
    assert_eq!(ack_code(&refresh(early).await), "unauthorized");
    assert_eq!(
        ack_code(&c.ack("refresh", vec![json!({"jwt": "x"})]).await),
        "invalid_payload"
    );

    let second = first + 2;
    let ack = refresh(claims("tech-1", second, &["ticket_*"])).await;
    assert_eq!(
        ack,
        json!({"ok": true, "exp": at(second), "left": ["meter_1"]})
    );
    assert_eq!(
        hub.get_connected_sockets().await.unwrap()[0].rooms,
        ["meter_9", "ticket_1", "user_tech-1"]
    );

    // Past the first exp: still connected, no longer in meter_1, still in the backend's room.
    let wait = u64::try_from(first * 1000 + 500 - time_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
    let reading = || json!({"reading": 1, "timestamp": "2024-01-15T10:00:00Z", "unit": "Wh"});
    for meter in ["1", "9"] {
        hub.handle_meter_reading(&meter.parse().unwrap(), reading())
            .await
            .unwrap();
    }
    hub.send_notification(
        &uid("tech-1"),
        json!({"type": "info", "message": "barrier"}),
    )
    .await
    .unwrap();
    c.wait_for("notification").await;
    assert_eq!(c.wait_for("meter_reading").await["meterId"], "9");
    assert!(!c.has_seen("meter_reading") && !c.has_seen("session_expired"));

    // At the second exp: told, then disconnected.
    c.wait_for("close").await;
    assert!(time_ms() >= second * 1000, "not before the exp");
    assert!(
        c.seen.iter().any(|(e, _)| e == "session_expired"),
        "session_expired came before the close: {:?}",
        c.seen
    );
    assert_eq!(
        c.wait_for("session_expired").await,
        json!({"at": at(second)})
    );
    server.wait_socket_count(0).await;
    c.disconnect().await;
}

/// Every socket's expiry sits in one queue served by one task: sockets armed in any order end
/// each at its own exp, one armed after the others with a sooner exp first, and one that
/// disconnects before its exp takes its place out without disturbing the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_sockets_expire_each_at_its_own_exp() {
    let server = start(|_| {}).await;
    // Armed latest first, so each later arm is the soonest deadline yet.
    let exps = [exp_in(4), exp_in(3), exp_in(2)];
    let greeted = |user: &str, exp: i64| {
        let tok = token_with(json!({"sub": user, "exp": exp}), SECRET);
        let url = server.url();
        async move {
            let mut c = connect_with(&url, Some(json!({ "token": tok })), TransportType::Any).await;
            c.wait_for("welcome").await;
            c
        }
    };
    let mut clients = Vec::new();
    for (i, exp) in exps.iter().enumerate() {
        clients.push((greeted(&format!("tech-{i}"), *exp).await, *exp));
    }
    // One more that leaves first; its queued expiry goes with it.
    let gone = greeted("tech-x", exp_in(2)).await;
    gone.disconnect().await;
    server.wait_socket_count(3).await;

    // Soonest exp first.
    clients.reverse();
    for (c, exp) in &mut clients {
        assert!(c.wait_for("session_expired").await["at"].is_string());
        c.wait_for("close").await;
        let now = time_ms();
        assert!(now >= *exp * 1000, "not before its exp ({now} < {exp}000)");
        assert!(now < *exp * 1000 + 1500, "at its exp ({now} vs {exp}000)");
    }
    server.wait_socket_count(0).await;
}

fn time_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap()
}
