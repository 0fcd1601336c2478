//! The OpenAPI description (`GET /api/v1/openapi.json`) against the server it describes: it is
//! OpenAPI 3.1 in shape and every `$ref` resolves; the router serves exactly the operations it
//! lists (same paths, same methods) and asks for the key exactly where it says; and its
//! request schemas say what the validators accept (fields, required fields, enum values,
//! lengths, the id, room and event-name patterns). `scripts/test-api-fuzz` then runs
//! schemathesis against the real binary from the same document.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use regex::Regex;
use serde_json::{Value, json};
use switchyard_host::auth::JwtKeys;
use switchyard_host::core::event::is_valid_event_name;
use switchyard_host::core::schema::{
    event_name_pattern, id_pattern, non_blank_pattern, room_pattern,
};
use switchyard_host::core::{Room, UserId};
use switchyard_host::{Config, Switchyard};
use tower::ServiceExt;

const KEY: &str = "sk_openapi_test_key";

fn app() -> Router {
    switchyard_host::app(Switchyard::new(Config::new(
        JwtKeys::new(Some("openapi-test-secret"), None).unwrap(),
        vec![KEY.to_owned()],
    )))
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    body: Value,
}

async fn send(app: &Router, req: Request<Body>) -> Reply {
    let res = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(req))
        .await
        .expect("the app answers within 10 s")
        .unwrap();
    let status = res.status();
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&bytes)))
    };
    Reply {
        status,
        content_type,
        body,
    }
}

fn request(method: Method, uri: &str, key: bool, body: Option<&Value>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if key {
        b = b.header(header::AUTHORIZATION, format!("Bearer {KEY}"));
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn spec(app: &Router) -> Value {
    let r = send(
        app,
        request(Method::GET, "/api/v1/openapi.json", false, None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    r.body
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Every `(method, path, operation)` of the document.
fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(METHODS.contains(&method.as_str()), "{method} {path}");
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

/// Resolves a local `$ref` (`#/components/schemas/X`, JSON-pointer escaping included).
fn resolve<'a>(spec: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    spec.pointer(pointer)
}

fn each_ref(v: &Value, found: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                found.push(r.clone());
            }
            m.values().for_each(|v| each_ref(v, found));
        }
        Value::Array(a) => a.iter().for_each(|v| each_ref(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_every_ref_resolves() {
    let app = app();
    let spec = spec(&app).await;
    let version = spec["openapi"].as_str().unwrap();
    assert!(version.starts_with("3.1."), "openapi: {version}");
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());

    let mut refs = Vec::new();
    each_ref(&spec, &mut refs);
    assert!(refs.len() > 20, "{refs:?}");
    for r in &refs {
        assert!(r.starts_with("#/components/"), "{r} is not local");
        assert!(resolve(&spec, r).is_some(), "{r} does not resolve");
    }

    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    let mut ids = BTreeSet::new();
    let param = Regex::new(r"\{([^}]+)\}").unwrap();
    for (method, path, op) in operations(&spec) {
        let what = format!("{method} {path}");
        assert!(path.starts_with("/api/v1/"), "{what}");
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}"));
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        // Path parameters: exactly the template's, each required.
        let template: BTreeSet<String> = param
            .captures_iter(&path)
            .map(|c| c[1].to_owned())
            .collect();
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "path")
                    .map(|p| {
                        assert_eq!(p["required"], true, "{what}: {p}");
                        assert!(p["schema"].is_object(), "{what}: {p}");
                        p["name"].as_str().unwrap().to_owned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(template, declared, "{what}");
        // Responses: at least one success; every error response is the error body.
        let responses = op["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{what}");
        for (status, response) in responses {
            assert!(response["description"].is_string(), "{what} {status}");
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{what} {status}"
                );
            }
        }
        for requirement in op["security"].as_array().unwrap() {
            for name in requirement.as_object().unwrap().keys() {
                assert!(schemes.contains_key(name), "{what}: scheme {name}");
            }
        }
    }
    // The key is sent as the API reads it: `Authorization: Bearer <key>`.
    assert_eq!(schemes.len(), 1);
    let scheme = schemes.values().next().unwrap();
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
}

#[tokio::test]
async fn the_error_body_lists_every_http_code_and_field_code() {
    use switchyard_host::core::{ErrorCode, Surface};
    let spec = spec(&app()).await;
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect()
    };
    let on = |s| -> Vec<String> { ErrorCode::on(s).map(|c| c.as_str().to_owned()).collect() };
    let schemas = &spec["components"]["schemas"];
    assert_eq!(
        names(&schemas["ErrorDetail"]["properties"]["code"]["enum"]),
        on(Surface::Http)
    );
    assert_eq!(
        names(&schemas["FieldError"]["properties"]["code"]["enum"]),
        on(Surface::Field)
    );
    assert_eq!(
        names(&schemas["ErrorDetail"]["required"]),
        ["code", "message"]
    );
}

/// A value for a path parameter that the handler accepts.
fn sample(name: &str) -> &'static str {
    match name {
        "userId" | "ticketId" | "meterId" => "probe-1",
        "room" => "ticket_probe-1",
        "socketId" => "AAAAAAAAAAAAAAAA",
        other => panic!("no sample for path parameter {other}: add one"),
    }
}

fn concrete(path: &str) -> String {
    Regex::new(r"\{([^}]+)\}")
        .unwrap()
        .replace_all(path, |c: &regex::Captures<'_>| sample(&c[1]).to_owned())
        .into_owned()
}

fn is_fallback(r: &Reply) -> bool {
    r.status == StatusCode::METHOD_NOT_ALLOWED
        || (r.status == StatusCode::NOT_FOUND && r.body["error"]["message"] == "no such API route")
}

#[tokio::test]
async fn the_router_serves_exactly_the_documented_operations() {
    let app = app();
    let spec = spec(&app).await;
    let documented: BTreeSet<(String, String)> = operations(&spec)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let paths: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for path in paths {
        let uri = concrete(path);
        for method in ["get", "put", "post", "delete", "patch"] {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = send(&app, request(m, &uri, true, Some(&json!({})))).await;
            let listed = documented.contains(&(method.to_owned(), path.clone()));
            assert_eq!(
                !is_fallback(&r),
                listed,
                "{method} {uri}: {} {} (documented: {listed})",
                r.status,
                r.body
            );
            if !listed {
                assert_eq!(r.body["error"]["code"], "method_not_allowed");
            }
        }
        // One segment more or less is no route.
        for other in [
            format!("{uri}/x"),
            uri.rsplit_once('/').unwrap().0.to_owned(),
        ] {
            if paths_match(&documented, &other) {
                continue;
            }
            let r = send(&app, request(Method::GET, &other, true, None)).await;
            assert!(
                r.status == StatusCode::NOT_FOUND
                    && r.body["error"]["message"] == "no such API route",
                "GET {other}: {} {}",
                r.status,
                r.body
            );
        }
    }
}

fn paths_match(documented: &BTreeSet<(String, String)>, uri: &str) -> bool {
    documented.iter().any(|(_, p)| concrete(p) == uri)
}

#[tokio::test]
async fn the_key_is_required_exactly_where_the_document_says() {
    let app = app();
    let spec = spec(&app).await;
    for (method, path, op) in operations(&spec) {
        let needs_key = op["security"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r.as_object().unwrap().is_empty());
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = send(&app, request(m, &concrete(&path), false, Some(&json!({})))).await;
        assert_eq!(
            r.status == StatusCode::UNAUTHORIZED,
            needs_key,
            "{method} {path} without a key: {} {}",
            r.status,
            r.body
        );
        if needs_key {
            assert_eq!(r.body["error"]["code"], "unauthorized");
        }
    }
}

/// The request body schema of `POST path` (resolved).
fn body_schema(spec: &Value, path: &str) -> Value {
    let s = &spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let r = s["$ref"].as_str().unwrap();
    resolve(spec, r).unwrap().clone()
}

fn deref<'a>(spec: &'a Value, s: &'a Value) -> &'a Value {
    match s["$ref"].as_str() {
        Some(r) => resolve(spec, r).unwrap(),
        None => s,
    }
}

/// A property's schema without the `null` alternative of an optional field.
fn value_schema<'a>(spec: &'a Value, s: &'a Value) -> &'a Value {
    let s = deref(spec, s);
    match s["oneOf"].as_array() {
        Some(items) => {
            let not_null: Vec<&Value> = items.iter().filter(|i| i["type"] != "null").collect();
            if not_null.len() == 1 {
                deref(spec, not_null[0])
            } else {
                s
            }
        }
        None => s,
    }
}

fn detail_codes(r: &Reply) -> Vec<(String, String)> {
    r.body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| {
                    (
                        e["path"].as_str().unwrap().to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn post(app: &Router, uri: &str, body: &Value) -> Reply {
    send(app, request(Method::POST, uri, true, Some(body))).await
}

#[tokio::test]
async fn the_request_schemas_say_what_the_validators_accept() {
    let app = app();
    let spec = spec(&app).await;
    let mut checked = 0;
    for (method, path, op) in operations(&spec) {
        if op.get("requestBody").is_none() {
            continue;
        }
        assert_eq!(method, "post", "{path}");
        checked += 1;
        let uri = concrete(&path);
        let top = body_schema(&spec, &path);
        let example = top["examples"][0].as_object().unwrap().clone();
        // An object, or all of an object and further rules (the ticket update's "at least one").
        let schema = match top["allOf"].as_array() {
            Some(all) => all[0].clone(),
            None => top.clone(),
        };
        let properties = schema["properties"].as_object().unwrap();
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().map(|v| v.as_str().unwrap()).collect())
            .unwrap_or_default();
        let ok = |r: &Reply, what: &str| {
            assert_eq!(r.status, StatusCode::ACCEPTED, "{path} {what}: {}", r.body);
        };
        ok(
            &post(&app, &uri, &Value::Object(example.clone())).await,
            "example",
        );
        if top.get("allOf").is_some() {
            // The ticket update's "at least one field with a value": nulls do not count.
            for body in [json!({}), json!({"status": null, "priority": null})] {
                let r = post(&app, &uri, &body).await;
                assert_eq!(
                    detail_codes(&r),
                    [(String::new(), "empty_update".to_owned())],
                    "{path} {body}"
                );
            }
        }

        // Unknown fields are refused, as `additionalProperties: false` says.
        assert_eq!(schema["additionalProperties"], false, "{path}");
        let mut extra = example.clone();
        extra.insert("surplus".into(), json!(1));
        let r = post(&app, &uri, &Value::Object(extra)).await;
        assert_eq!(
            detail_codes(&r),
            [("surplus".to_owned(), "unknown_field".to_owned())],
            "{path}"
        );

        for (name, prop) in properties {
            let prop = value_schema(&spec, prop);
            // Optional fields take null as "left out".
            if !required.contains(&name.as_str()) && name != "assignedTo" {
                let mut null = example.clone();
                null.insert(name.clone(), Value::Null);
                let r = post(&app, &uri, &Value::Object(null)).await;
                ok(&r, &format!("{name} = null"));
            }
            // Without it: `required` exactly when the schema requires it.
            let mut without = example.clone();
            if without.remove(name).is_some() {
                let r = post(&app, &uri, &Value::Object(without.clone())).await;
                if required.contains(&name.as_str()) {
                    assert!(
                        detail_codes(&r).contains(&(name.clone(), "required".into())),
                        "{path} without {name}: {}",
                        r.body
                    );
                } else if !without.is_empty() {
                    ok(&r, &format!("without {name}"));
                }
            }
            // Every listed value is accepted, and the validator knows the field.
            let mut with = example.clone();
            let values: Vec<Value> = match prop["enum"].as_array() {
                Some(values) => values.clone(),
                None => vec![],
            };
            for v in &values {
                with.insert(name.clone(), v.clone());
                ok(
                    &post(&app, &uri, &Value::Object(with.clone())).await,
                    &format!("{name} = {v}"),
                );
            }
            if !values.is_empty() {
                with.insert(name.clone(), json!("NOT-LISTED"));
                let r = post(&app, &uri, &Value::Object(with.clone())).await;
                assert_eq!(
                    detail_codes(&r),
                    [(name.clone(), "unknown_value".to_owned())],
                    "{path} {name}"
                );
            }
            // String lengths: the bounds are the validator's.
            if let Some(max) = prop["maxLength"].as_u64() {
                let max = usize::try_from(max).unwrap();
                // Lengths count characters, not bytes: a two-byte one where the pattern allows.
                let fill = if prop["pattern"].is_string() {
                    "a"
                } else {
                    "é"
                };
                let mut long = example.clone();
                long.insert(name.clone(), json!(fill.repeat(max)));
                ok(
                    &post(&app, &uri, &Value::Object(long.clone())).await,
                    &format!("{name} of {max} characters"),
                );
                long.insert(name.clone(), json!(fill.repeat(max + 1)));
                let r = post(&app, &uri, &Value::Object(long)).await;
                // Text is `too_long`; an id of any wrong shape is `invalid_id`.
                let codes = detail_codes(&r);
                assert!(
                    codes == [(name.clone(), "too_long".to_owned())]
                        || codes == [(name.clone(), "invalid_id".to_owned())],
                    "{path} {name} of {} characters: {codes:?}",
                    max + 1
                );
            }
            if prop["minLength"].as_u64() == Some(1) {
                let mut empty = example.clone();
                empty.insert(name.clone(), json!(""));
                let r = post(&app, &uri, &Value::Object(empty)).await;
                let codes = detail_codes(&r);
                assert!(
                    codes == [(name.clone(), "empty".to_owned())]
                        || codes == [(name.clone(), "invalid_id".to_owned())],
                    "{path} {name} empty: {codes:?}"
                );
            }
            if prop["format"] == "date-time" {
                let mut bad = example.clone();
                bad.insert(name.clone(), json!("yesterday"));
                let r = post(&app, &uri, &Value::Object(bad)).await;
                assert_eq!(
                    detail_codes(&r),
                    [(name.clone(), "invalid_format".to_owned())],
                    "{path} {name}"
                );
            }
        }
    }
    assert_eq!(checked, 6, "every operation with a body was checked");
}

/// Printable ASCII, a few controls and some non-ASCII characters.
fn sample_chars() -> Vec<char> {
    (0u8..128)
        .map(char::from)
        .chain(['é', 'ß', 'Ω', '\u{200b}', '😀'])
        .collect()
}

#[test]
fn the_patterns_are_the_parsers_rules() {
    let id = Regex::new(&id_pattern()).unwrap();
    let room = Regex::new(&room_pattern()).unwrap();
    let event = Regex::new(&event_name_pattern()).unwrap();
    for c in sample_chars() {
        for s in [c.to_string(), format!("a{c}"), format!("{c}a")] {
            assert_eq!(id.is_match(&s), UserId::parse(&s).is_ok(), "id {s:?}");
            for prefix in [
                "user_", "ticket_", "meter_", "system_", "other_", "user", "",
            ] {
                let r = format!("{prefix}{s}");
                assert_eq!(room.is_match(&r), r.parse::<Room>().is_ok(), "room {r:?}");
            }
            // Reserved names are left out: the pattern cannot say them (the description does).
            if !switchyard_host::core::event::RESERVED.contains(&s.as_str()) {
                assert_eq!(event.is_match(&s), is_valid_event_name(&s), "event {s:?}");
            }
        }
    }
    for len in [63, 64, 65] {
        let s = "a".repeat(len);
        assert_eq!(id.is_match(&s), UserId::parse(&s).is_ok(), "{len}");
        assert_eq!(event.is_match(&s), is_valid_event_name(&s), "{len}");
        for prefix in ["user_", "system_"] {
            let r = format!("{prefix}{s}");
            assert_eq!(room.is_match(&r), r.parse::<Room>().is_ok(), "{r}");
        }
    }
}

/// Every string of the document, at any depth.
fn strings_of<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|v| strings_of(v, out)),
        Value::Object(o) => o.values().for_each(|v| strings_of(v, out)),
        _ => {}
    }
}

/// "Not blank" in the document is the validators' rule over all of Unicode: schemathesis once
/// sent `"\u{85}"` as a message, schema-valid under `\S`, and got 400 `empty`.
#[test]
fn the_non_blank_pattern_is_the_validators_rule() {
    use switchyard_host::core::Input;
    use switchyard_host::core::payload::validate_notification;
    let pattern = non_blank_pattern();
    let doc = serde_json::to_value(switchyard_host::api::openapi()).unwrap();
    let mut strings = Vec::new();
    strings_of(&doc, &mut strings);
    assert!(
        strings.iter().filter(|s| **s == pattern).count() >= 2,
        "notification and announcement messages use the pattern"
    );
    assert!(!strings.contains(&r"\S"), "no pattern says \\S");

    let re = Regex::new(&pattern).unwrap();
    let now = switchyard_host::core::Timestamp::from_unix_millis(0).unwrap();
    let accepted = |m: &str| {
        let input = Input::from(json!({ "type": "info", "message": m }));
        validate_notification(&input, now).is_ok()
    };
    let mut spaces = 0;
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        spaces += usize::from(c.is_whitespace());
        // The validator is slow in a debug build: all of the BMP, a sample above it.
        if u32::from(c) > 0xFFFF && u32::from(c) % 97 != 0 {
            assert!(!c.is_whitespace(), "{c:?} is space outside the BMP");
            continue;
        }
        for s in [c.to_string(), format!(" {c}\t"), format!("{c}{c}")] {
            assert_eq!(re.is_match(&s), accepted(&s), "{s:?}");
        }
    }
    assert_eq!(spaces, 25, "Unicode's White_Space has 25 characters");
    for (s, ok) in [
        ("", false),
        (" \u{85}\u{3000}", false),
        ("\u{feff}", true),
        ("a", true),
    ] {
        assert_eq!((re.is_match(s), accepted(s)), (ok, ok), "{s:?}");
    }
}

#[test]
fn the_enums_are_cores_lists() {
    use switchyard_host::core::payload::{
        AnnouncementType, MeterUnit, NotificationType, TicketPriority, TicketStatus,
    };
    let doc = serde_json::to_value(switchyard_host::api::openapi()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for (name, names) in [
        ("NotificationType", NotificationType::NAMES),
        ("TicketStatus", TicketStatus::NAMES),
        ("TicketPriority", TicketPriority::NAMES),
        ("MeterUnit", MeterUnit::NAMES),
        ("AnnouncementType", AnnouncementType::NAMES),
    ] {
        assert_eq!(schemas[name]["enum"], json!(names), "{name}");
    }
}

/// The router cannot serve an API route the document lacks: every route of `edge/api.rs` is
/// added through `op!`, which takes path, method and description from one `#[utoipa::path]`,
/// and the assembly mounts the API only by nesting that router under `/api/v1`.
#[test]
fn api_routes_come_only_from_the_documented_list() {
    let api = include_str!("../src/edge/api.rs");
    for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
        assert!(
            !api.contains(call),
            "edge/api.rs calls {call}: add routes with op!(handler::<A>) so they are documented"
        );
    }
    let server = include_str!("../src/server.rs");
    assert_eq!(
        server.matches("\"/api/v1").count(),
        1,
        "server.rs names /api/v1 once, in .nest(\"/api/v1\", api)"
    );
    assert!(server.contains(".nest(\"/api/v1\", api)"));
}
