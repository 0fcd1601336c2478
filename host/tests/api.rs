//! The HTTP API in process: `switchyard_host::app(hub)` driven with `tower::ServiceExt::oneshot`,
//! no port. Success shapes of every route, every error status and body, the body-size
//! boundary, demo-only routes, and metrics. (The Node suite in tests/e2e runs the same contract
//! against the real binary; these are the fast, in-process checks.)

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use switchyard_host::auth::JwtKeys;
use switchyard_host::config::DemoConfig;
use switchyard_host::core::Limit;
use switchyard_host::{Config, Switchyard};
use tower::ServiceExt;

const SECRET: &str = "api-test-secret";
const KEY: &str = "sk_api_test_key";
const SECOND_KEY: &str = "sk_second_key";

fn config() -> Config {
    Config::new(
        JwtKeys::new(Some(SECRET), None).unwrap(),
        vec![KEY.to_owned(), SECOND_KEY.to_owned()],
    )
}

fn demo_config() -> Config {
    let mut c = config();
    c.demo = Some(DemoConfig {
        token_secret: SECRET.to_owned(),
        // No built page here: `/` answers the "not built" page.
        dir: std::env::temp_dir().join("switchyard-api-test-no-such-dir"),
        feed_interval: Duration::ZERO,
    });
    c
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// Asserts the contract's error body and returns it.
    fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        let body = self.json();
        assert_eq!(body["error"]["code"], code, "body: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{body}"
        );
        let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["error"], "{body}");
        body
    }

    fn detail_codes(&self) -> Vec<String> {
        let body = self.error(StatusCode::BAD_REQUEST, "validation_failed");
        body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                assert!(d["path"].is_string() && d["message"].is_string(), "{d}");
                d["code"].as_str().unwrap().to_owned()
            })
            .collect()
    }
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(req))
        .await
        .expect("the app answers within 10 s")
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// A request with the API key and, if given, a JSON body.
fn api(method: Method, uri: &str, body: Option<Value>) -> Request<Body> {
    let b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

fn raw(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    b.body(body.into()).unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::builder().uri(uri).body(Body::empty()).unwrap()
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn assert_id(v: &Value) {
    assert!(v.as_str().is_some_and(|s| !s.is_empty()), "id: {v}");
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_route_answers_with_its_success_shape() {
    let hub = Switchyard::new(config());
    // `get_server` is the same router as `app`.
    let app = hub.get_server();

    let r = send(
        &app,
        api(
            Method::POST,
            "/api/v1/users/tech-42/notifications",
            Some(json!({"type": "info", "message": "Job 7 assigned", "data": {"job": 7}})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let body = r.json();
    assert_eq!(keys(&body), ["id", "online"]);
    assert_id(&body["id"]);
    assert_eq!(body["online"], false);

    for (uri, payload) in [
        (
            "/api/v1/tickets/T-100/updates",
            json!({"status": "in_progress", "assignedTo": "tech-42"}),
        ),
        (
            "/api/v1/meters/m-1001/readings",
            json!({"reading": 1234.5, "timestamp": now_rfc3339(), "unit": "kWh"}),
        ),
        (
            "/api/v1/announcements",
            json!({"type": "maintenance", "message": "Down at 22:00", "scheduledTime": "2030-01-01T22:00:00+01:00"}),
        ),
        (
            "/api/v1/rooms/ticket_T-100/events",
            json!({"event": "job_done", "data": {"n": 1}}),
        ),
        ("/api/v1/broadcast", json!({"event": "job_done"})),
        (
            "/api/v1/broadcast",
            json!({"event": "config_changed", "data": [1, "two", null]}),
        ),
    ] {
        let r = send(&app, api(Method::POST, uri, Some(payload))).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{uri}: {}", r.text);
        let body = r.json();
        assert_eq!(keys(&body), ["id"], "{uri}");
        assert_id(&body["id"]);
    }

    let r = send(
        &app,
        api(Method::GET, "/api/v1/users/tech-42/presence", None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({"userId": "tech-42", "online": false, "sockets": []})
    );

    let r = send(&app, api(Method::GET, "/api/v1/sockets", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"count": 0, "sockets": []}));

    let r = send(
        &app,
        api(Method::DELETE, "/api/v1/users/tech-42/sockets", None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({"disconnected": 0}));

    // PUT/DELETE of a socket's room need a connected socket: see tests/socket.rs. Without one:
    for method in [Method::PUT, Method::DELETE] {
        let r = send(
            &app,
            api(
                method,
                "/api/v1/sockets/AAAAAAAAAAAAAAAA/rooms/ticket_1",
                None,
            ),
        )
        .await;
        r.error(StatusCode::NOT_FOUND, "not_found");
    }

    // Unauthenticated endpoints.
    for uri in ["/healthz", "/readyz"] {
        let r = send(&app, get(uri)).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}");
        assert_eq!(r.json(), json!({"status": "ok"}));
    }
}

#[tokio::test]
async fn the_handle_and_the_api_agree() {
    let hub = Switchyard::new(config());
    let app = switchyard_host::app(hub.clone());
    let user = "tech-7".parse().unwrap();
    assert!(!hub.is_user_online(&user).await.unwrap());
    assert_eq!(hub.get_user_socket_id(&user).await.unwrap(), None);
    assert_eq!(hub.get_socket_count().await.unwrap(), 0);
    assert!(hub.get_connected_sockets().await.unwrap().is_empty());
    assert_eq!(hub.handle_user_logout(&user).await.unwrap(), 0);
    let sent = hub
        .send_notification(&user, json!({"type": "success", "message": "ok"}))
        .await
        .unwrap();
    assert!(!sent.online);
    assert!(!sent.id.is_empty());

    // The handle validates exactly like the API.
    let err = hub
        .send_notification(&user, json!({"type": "loud", "message": ""}))
        .await
        .unwrap_err();
    let switchyard_host::HubError::Validation(v) = err else {
        panic!("{err:?}")
    };
    assert_eq!(v.codes(), ["unknown_value", "empty"]);
    let r = send(
        &app,
        api(
            Method::POST,
            "/api/v1/users/tech-7/notifications",
            Some(json!({"type": "loud", "message": ""})),
        ),
    )
    .await;
    assert_eq!(r.detail_codes(), ["unknown_value", "empty"]);

    // A server-owned event name is refused by both.
    assert!(hub.emit_to_all("notification", json!({})).await.is_err());
    let r = send(
        &app,
        api(
            Method::POST,
            "/api/v1/broadcast",
            Some(json!({"event": "notification", "data": {}})),
        ),
    )
    .await;
    let body = r.error(StatusCode::BAD_REQUEST, "validation_failed");
    assert_eq!(body["error"]["details"][0]["path"], "event", "{body}");
    assert_eq!(r.detail_codes(), ["invalid_format"]);
}

#[tokio::test]
async fn missing_or_unknown_api_key_is_401() {
    let app = switchyard_host::app(Switchyard::new(config()));
    let uri = "/api/v1/sockets";
    let without = Request::builder().uri(uri).body(Body::empty()).unwrap();
    send(&app, without)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    for value in [
        "Bearer wrong".to_owned(),
        format!("Bearer {KEY}x"),
        format!("Bearer {}", &KEY[..KEY.len() - 1]),
        format!("Basic {KEY}"),
        format!("bearer{KEY}"),
        KEY.to_owned(),
        "Bearer ".to_owned(),
    ] {
        let req = Request::builder()
            .uri(uri)
            .header(header::AUTHORIZATION, &value)
            .body(Body::empty())
            .unwrap();
        send(&app, req)
            .await
            .error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // Every configured key works; the check comes before body parsing (an unparsable body
    // without a key is still 401).
    let req = Request::builder()
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {SECOND_KEY}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, StatusCode::OK);
    let req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/broadcast")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from("{"))
        .unwrap();
    send(&app, req)
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn wrong_content_type_is_415() {
    let app = switchyard_host::app(Switchyard::new(config()));
    let body = json!({"event": "job_done"}).to_string();
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let r = send(
            &app,
            raw(Method::POST, "/api/v1/broadcast", ct, body.clone()),
        )
        .await;
        r.error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type");
    }
    let r = send(
        &app,
        raw(
            Method::POST,
            "/api/v1/broadcast",
            Some("application/json; charset=utf-8"),
            body,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let app = switchyard_host::app(Switchyard::new(config()));
    let deep = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
    let deep_object = format!(
        r#"{{"type":"info","message":"m","data":{}null{}}}"#,
        r#"{"a":"#.repeat(1000),
        "}".repeat(1000)
    );
    for body in [
        "",
        "{",
        "{bad}",
        r#"{"type":"info"} trailing"#,
        "\u{feff}{}",
        "[1,]",
        r#"{"a":NaN}"#,
        &deep,
        &deep_object,
    ] {
        let r = send(
            &app,
            raw(
                Method::POST,
                "/api/v1/users/u1/notifications",
                Some("application/json"),
                body.to_owned(),
            ),
        )
        .await;
        r.error(StatusCode::BAD_REQUEST, "invalid_json");
    }
    // Invalid UTF-8.
    let r = send(
        &app,
        raw(
            Method::POST,
            "/api/v1/broadcast",
            Some("application/json"),
            vec![b'"', 0xff, 0xfe, b'"'],
        ),
    )
    .await;
    r.error(StatusCode::BAD_REQUEST, "invalid_json");
}

#[tokio::test]
async fn validation_failures_list_every_error() {
    // Room for a custom event's 64 KiB data limit inside the body limit.
    let mut c = config();
    c.limits.max_body_bytes = Limit::new(256 * 1024);
    let app = switchyard_host::app(Switchyard::new(c));
    for (uri, body, codes) in [
        (
            "/api/v1/users/u1/notifications",
            json!({"type": 1, "message": "   ", "data": [], "x": 0}),
            vec!["type", "empty", "type", "unknown_field"],
        ),
        ("/api/v1/users/u1/notifications", json!([]), vec!["type"]),
        (
            "/api/v1/tickets/T1/updates",
            json!({}),
            vec!["empty_update"],
        ),
        (
            "/api/v1/meters/m1/readings",
            json!({"reading": "1", "timestamp": "2999-01-01T00:00:00Z", "unit": "KWH"}),
            vec!["type", "in_future", "unknown_value"],
        ),
        (
            "/api/v1/announcements",
            json!({"type": "alert", "message": "x".repeat(2001), "scheduledTime": "soon"}),
            vec!["unknown_value", "too_long", "invalid_format"],
        ),
        (
            "/api/v1/rooms/ticket_1/events",
            json!({"event": "Bad-Name", "data": 1, "room": "x"}),
            vec!["invalid_format", "unknown_field"],
        ),
        (
            "/api/v1/broadcast",
            json!({"data": {"x": "y".repeat(64 * 1024)}}),
            vec!["required", "too_large"],
        ),
    ] {
        let r = send(&app, api(Method::POST, uri, Some(body))).await;
        assert_eq!(r.detail_codes(), codes, "{uri}: {}", r.text);
    }
}

#[tokio::test]
async fn path_parameters_are_validated() {
    let app = switchyard_host::app(Switchyard::new(config()));
    let long = "a".repeat(65);
    let note = json!({"type": "info", "message": "m"});
    for (method, uri, body) in [
        (
            Method::POST,
            "/api/v1/users/a%20b/notifications".to_owned(),
            Some(note.clone()),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{long}/notifications"),
            Some(note.clone()),
        ),
        (
            Method::POST,
            "/api/v1/users/%F0%9F%98%80/notifications".to_owned(),
            Some(note.clone()),
        ),
        // Not UTF-8 once decoded: axum's own path rejection, still `invalid_id`.
        (
            Method::POST,
            "/api/v1/users/%FF/notifications".to_owned(),
            Some(note.clone()),
        ),
        (
            Method::POST,
            "/api/v1/tickets/T%2F1/updates".to_owned(),
            Some(json!({"status": "open"})),
        ),
        (
            Method::POST,
            "/api/v1/meters/m%00/readings".to_owned(),
            Some(json!({})),
        ),
        (
            Method::GET,
            "/api/v1/users/jos%C3%A9/presence".to_owned(),
            None,
        ),
        (Method::DELETE, "/api/v1/users/a+b/sockets".to_owned(), None),
    ] {
        let r = send(&app, api(method, &uri, body)).await;
        r.error(StatusCode::BAD_REQUEST, "invalid_id");
    }
    // A bad path wins over a bad body.
    let r = send(
        &app,
        api(
            Method::POST,
            "/api/v1/users/a%20b/notifications",
            Some(json!({})),
        ),
    )
    .await;
    r.error(StatusCode::BAD_REQUEST, "invalid_id");

    let event = json!({"event": "job_done"});
    for uri in [
        "/api/v1/rooms/nope/events",
        "/api/v1/rooms/user_/events",
        "/api/v1/rooms/system_Ops/events",
        "/api/v1/rooms/ticket_%2A/events",
        "/api/v1/rooms/%FF/events",
    ] {
        let r = send(&app, api(Method::POST, uri, Some(event.clone()))).await;
        r.error(StatusCode::BAD_REQUEST, "invalid_room");
    }
    for method in [Method::PUT, Method::DELETE] {
        let r = send(
            &app,
            api(method, "/api/v1/sockets/AAAAAAAAAAAAAAAA/rooms/nope", None),
        )
        .await;
        r.error(StatusCode::BAD_REQUEST, "invalid_room");
    }
    // A socket id that is not UTF-8 names no socket: 404, like any unknown id (it was
    // `invalid_room`, naming the wrong parameter).
    for method in [Method::PUT, Method::DELETE] {
        let r = send(
            &app,
            api(method, "/api/v1/sockets/%FF/rooms/ticket_1", None),
        )
        .await;
        r.error(StatusCode::NOT_FOUND, "not_found");
    }
}

#[tokio::test]
async fn unknown_things_are_404_and_wrong_methods_405() {
    let app = switchyard_host::app(Switchyard::new(config()));
    for sid in ["AAAAAAAAAAAAAAAA", "not-a-socket-id", "x"] {
        for method in [Method::PUT, Method::DELETE] {
            let r = send(
                &app,
                api(
                    method,
                    &format!("/api/v1/sockets/{sid}/rooms/ticket_1"),
                    None,
                ),
            )
            .await;
            r.error(StatusCode::NOT_FOUND, "not_found");
        }
    }
    for uri in ["/api/v1/nope", "/api/v1/users/u1", "/api/v2/sockets"] {
        let r = send(&app, api(Method::GET, uri, None)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{uri}");
    }
    send(&app, api(Method::GET, "/api/v1/nope", None))
        .await
        .error(StatusCode::NOT_FOUND, "not_found");
    for (method, uri) in [
        (Method::GET, "/api/v1/broadcast"),
        (Method::DELETE, "/api/v1/announcements"),
        (Method::POST, "/api/v1/sockets"),
        (Method::GET, "/api/v1/users/u1/notifications"),
        (
            Method::PATCH,
            "/api/v1/sockets/AAAAAAAAAAAAAAAA/rooms/ticket_1",
        ),
        (Method::POST, "/api/v1/users/u1/presence"),
    ] {
        let r = send(&app, api(method, uri, None)).await;
        r.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    }
}

#[tokio::test]
async fn body_limit_boundary() {
    const LIMIT: usize = 700;
    let mut c = config();
    c.limits.max_body_bytes = Limit::new(LIMIT as u64);
    let app = switchyard_host::app(Switchyard::new(c));
    let uri = "/api/v1/users/u1/notifications";

    let at = send(
        &app,
        raw(
            Method::POST,
            uri,
            Some("application/json"),
            common::notification_of_len(LIMIT),
        ),
    )
    .await;
    assert_eq!(at.status, StatusCode::ACCEPTED, "{}", at.text);
    let over = send(
        &app,
        raw(
            Method::POST,
            uri,
            Some("application/json"),
            common::notification_of_len(LIMIT + 1),
        ),
    )
    .await;
    over.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Without a length up front (a chunked body), the limit still holds.
    let chunked = |len: usize| {
        let body = common::notification_of_len(len);
        let (a, b) = body.split_at(len / 2);
        let chunks: Vec<Result<String, std::io::Error>> = vec![Ok(a.to_owned()), Ok(b.to_owned())];
        Body::from_stream(futures_util::stream::iter(chunks))
    };
    let r = send(
        &app,
        raw(Method::POST, uri, Some("application/json"), chunked(LIMIT)),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let r = send(
        &app,
        raw(
            Method::POST,
            uri,
            Some("application/json"),
            chunked(LIMIT + 1),
        ),
    )
    .await;
    r.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    // Every POST route has the limit.
    for uri in [
        "/api/v1/tickets/T1/updates",
        "/api/v1/meters/m1/readings",
        "/api/v1/announcements",
        "/api/v1/rooms/ticket_1/events",
        "/api/v1/broadcast",
    ] {
        let r = send(
            &app,
            raw(
                Method::POST,
                uri,
                Some("application/json"),
                "x".repeat(LIMIT + 1),
            ),
        )
        .await;
        r.error(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    }
}

#[tokio::test]
async fn demo_routes_do_not_exist_outside_demo_mode() {
    let app = switchyard_host::app(Switchyard::new(config()));
    for req in [
        Request::builder()
            .method(Method::POST)
            .uri("/demo/token")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"userId":"u1"}"#))
            .unwrap(),
        get("/demo/config"),
        get("/demo/api/v1/sockets"),
        api(Method::GET, "/demo/api/v1/sockets", None),
        get("/"),
        get("/index.html"),
    ] {
        let uri = req.uri().clone();
        assert_eq!(send(&app, req).await.status, StatusCode::NOT_FOUND, "{uri}");
    }
}

async fn demo_token(app: &Router, body: Value) -> Reply {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/demo/token")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

#[tokio::test]
async fn demo_mode_routes() {
    let hub = Switchyard::new(demo_config());
    let app = switchyard_host::app(hub.clone());

    // A token with the requested grants, accepted by `handle_user_auth`.
    let r = demo_token(
        &app,
        json!({"userId": "tech-1", "rooms": ["meter_42", "ticket_*"]}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(keys(&body), ["exp", "token"]);
    let user = hub
        .handle_user_auth(body["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(user.user().as_str(), "tech-1");
    // 12 hours by default; `exp` in the body is the token's own.
    assert_eq!(body["exp"], user.exp.to_string());
    let in_12h = time::OffsetDateTime::now_utc().unix_timestamp() + 12 * 3600;
    assert!(
        (user.exp.unix_millis() / 1000 - in_12h).abs() <= 2,
        "{body}"
    );
    // A short-lived token on request, from 1 s up to the 12 hours.
    for ttl in [1_i64, 5, 43_200] {
        let r = demo_token(&app, json!({"userId": "tech-1", "ttlSeconds": ttl})).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let user = hub
            .handle_user_auth(r.json()["token"].as_str().unwrap())
            .unwrap();
        let want = time::OffsetDateTime::now_utc().unix_timestamp() + ttl;
        assert!((user.exp.unix_millis() / 1000 - want).abs() <= 1, "{ttl}");
    }
    let patterns: Vec<String> = user
        .grants
        .patterns()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(patterns, ["meter_42", "ticket_*"]);
    for (room, allowed) in [
        ("meter_42", true),
        ("meter_420", false),
        ("ticket_T-9", true),
        ("user_tech-1", true),
        ("user_other", false),
        ("system_presence", false),
    ] {
        assert_eq!(
            user.grants.allows(&room.parse().unwrap()),
            allowed,
            "{room}"
        );
    }

    // Without rooms: the default grants. With an empty list: only the user's own room.
    let r = demo_token(&app, json!({"userId": "tech-2"})).await;
    let user = hub
        .handle_user_auth(r.json()["token"].as_str().unwrap())
        .unwrap();
    let patterns: Vec<String> = user
        .grants
        .patterns()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(patterns, switchyard_host::demo::DEFAULT_GRANTS);
    let r = demo_token(&app, json!({"userId": "tech-3", "rooms": []})).await;
    let user = hub
        .handle_user_auth(r.json()["token"].as_str().unwrap())
        .unwrap();
    assert!(user.grants.patterns().is_empty());

    // Refusals.
    for (body, path, code) in [
        (json!({"userId": "a b"}), "userId", "invalid_id"),
        (json!({"userId": ""}), "userId", "invalid_id"),
        (json!({"userId": "x".repeat(65)}), "userId", "invalid_id"),
        (json!({"userId": 5}), "userId", "type"),
        (json!({}), "userId", "required"),
        (
            json!({"userId": "u1", "rooms": ["ticket_*", "tick*"]}),
            "rooms[1]",
            "invalid_format",
        ),
        (
            json!({"userId": "u1", "rooms": ["**"]}),
            "rooms[0]",
            "invalid_format",
        ),
        (
            json!({"userId": "u1", "rooms": ["system_Ops"]}),
            "rooms[0]",
            "invalid_format",
        ),
        (json!({"userId": "u1", "rooms": [7]}), "rooms[0]", "type"),
        (
            json!({"userId": "u1", "rooms": "ticket_*"}),
            "rooms",
            "type",
        ),
        (
            json!({"userId": "u1", "admin": true}),
            "admin",
            "unknown_field",
        ),
        (json!(["u1"]), "", "type"),
        (
            json!({"userId": "u1", "ttlSeconds": 0}),
            "ttlSeconds",
            "type",
        ),
        (
            json!({"userId": "u1", "ttlSeconds": 43_201}),
            "ttlSeconds",
            "type",
        ),
        (
            json!({"userId": "u1", "ttlSeconds": "5"}),
            "ttlSeconds",
            "type",
        ),
    ] {
        let r = demo_token(&app, body.clone()).await;
        let err = r.error(StatusCode::BAD_REQUEST, "validation_failed");
        let d = &err["error"]["details"][0];
        assert_eq!(
            (d["path"].as_str(), d["code"].as_str()),
            (Some(path), Some(code)),
            "{body}: {err}"
        );
    }

    // Every error at once, like every other input.
    let r = demo_token(
        &app,
        json!({"userId": 5, "rooms": ["tick*", 7], "admin": true}),
    )
    .await;
    let err = r.error(StatusCode::BAD_REQUEST, "validation_failed");
    let found: Vec<(&str, &str)> = err["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["path"].as_str().unwrap(), d["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [
            ("userId", "type"),
            ("rooms[0]", "invalid_format"),
            ("rooms[1]", "type"),
            ("admin", "unknown_field")
        ]
    );

    // A token signed with another secret is not accepted.
    let other = Switchyard::new(Config::new(
        JwtKeys::new(Some("another-secret"), None).unwrap(),
        vec![KEY.to_owned()],
    ));
    let r = demo_token(&app, json!({"userId": "tech-1"})).await;
    assert!(
        other
            .handle_user_auth(r.json()["token"].as_str().unwrap())
            .is_err()
    );

    // The feed description, this node and its store (for the Cluster panel), the key-less
    // API copy and the (unbuilt) page.
    let nodes = send(&app, get("/demo/api/v1/nodes")).await;
    assert_eq!(nodes.status, StatusCode::OK, "{}", nodes.text);
    let r = send(&app, get("/demo/config")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.json(),
        json!({
            "feed": {"meters": switchyard_host::demo::FEED_METERS, "tickets": switchyard_host::demo::FEED_TICKETS},
            "node": nodes.json()["nodes"][0]["id"],
            "store": "memory",
        })
    );
    let r = send(&app, get("/demo/api/v1/sockets")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), json!({"count": 0, "sockets": []}));
    let r = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/demo/api/v1/users/u1/notifications")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"type":"info","message":"m"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // The real API still needs a key in demo mode.
    send(&app, get("/api/v1/sockets"))
        .await
        .error(StatusCode::UNAUTHORIZED, "unauthorized");
    let r = send(&app, get("/")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text.contains("not built"), "{}", r.text);
}

#[tokio::test]
async fn metrics_count_api_calls_and_events() {
    let app = switchyard_host::app(Switchyard::new(config()));
    for _ in 0..2 {
        let r = send(
            &app,
            api(
                Method::POST,
                "/api/v1/broadcast",
                Some(json!({"event": "job_done"})),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::ACCEPTED);
    }
    let r = send(
        &app,
        api(
            Method::POST,
            "/api/v1/users/u1/notifications",
            Some(json!({})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let r = send(&app, get("/metrics")).await;
    assert_eq!(r.status, StatusCode::OK);
    let ct = r.headers[header::CONTENT_TYPE].to_str().unwrap();
    assert!(
        ct.starts_with("application/openmetrics-text") || ct.starts_with("text/plain"),
        "{ct}"
    );
    let text = &r.text;
    for line in [
        "switchyard_api_requests_total{route=\"/api/v1/broadcast\",status=\"202\"} 2\n",
        "switchyard_api_requests_total{route=\"/api/v1/users/{userId}/notifications\",status=\"400\"} 1\n",
        // Custom event names come from API callers: one bounded label for all of them.
        "switchyard_events_sent_total{event=\"custom\"} 2\n",
        "switchyard_connected_sockets 0\n",
        "switchyard_online_users 0\n",
        "# TYPE switchyard_api_requests counter\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    // Route labels are templates: the raw user id never shows up; nor does a custom event name.
    assert!(!text.contains("/users/u1/"), "{text}");
    assert!(!text.contains("job_done"), "{text}");
}

/// Over HTTP, nesting past serde_json's 128 levels is `invalid_json` (above). Through the Rust
/// handle a caller can pass any depth; 1000 levels go through validation without exhausting a
/// test thread's 2 MiB stack (debug build), and are judged like any other data.
#[tokio::test]
async fn deep_data_through_the_handle() {
    let hub = Switchyard::new(config());
    let user = "tech-1".parse().unwrap();
    let deep = (0..1000).fold(json!(null), |v, _| json!({ "a": v }));
    let sent = hub
        .send_notification(&user, json!({"type": "info", "message": "m", "data": deep}))
        .await
        .unwrap();
    assert!(!sent.online);
    let wide = (0..1000).fold(json!(null), |v, _| json!({ "k".repeat(20): v }));
    let err = hub
        .send_notification(&user, json!({"type": "info", "message": "m", "data": wide}))
        .await
        .unwrap_err();
    let switchyard_host::HubError::Validation(v) = err else {
        panic!("{err:?}")
    };
    assert_eq!(v.codes(), ["too_large"]);
    let deep = (0..1000).fold(json!([1]), |v, _| json!([v]));
    hub.emit_to_all("deep_event", deep).await.unwrap();
}
