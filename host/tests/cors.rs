//! `--cors-origins`: listed origins get CORS headers on the API and on Socket.IO long-polling
//! (which browsers on another origin need); other origins get none; without the flag, none.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Method, Request, header};
use switchyard_host::auth::JwtKeys;
use switchyard_host::{Config, Switchyard};
use tower::ServiceExt;

const APP: &str = "https://app.example";

fn app(origins: &[&str]) -> axum::Router {
    let mut config = Config::new(JwtKeys::new(Some("s"), None).unwrap(), vec!["k".into()]);
    config.cors_origins = origins.iter().map(|o| (*o).to_owned()).collect();
    Switchyard::new(config).get_server()
}

async fn allow_origin(
    router: axum::Router,
    method: Method,
    uri: &str,
    origin: &str,
) -> Option<String> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(uri)
        .header(header::ORIGIN, origin);
    if method == Method::OPTIONS {
        req = req
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization,content-type",
            );
    }
    let res = router
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    res.headers()
        .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn listed_origins_only() {
    let router = app(&[APP]);
    let preflight = allow_origin(router.clone(), Method::OPTIONS, "/api/v1/broadcast", APP).await;
    assert_eq!(preflight.as_deref(), Some(APP));
    let polling = allow_origin(
        router.clone(),
        Method::GET,
        "/socket.io/?EIO=4&transport=polling",
        APP,
    )
    .await;
    assert_eq!(polling.as_deref(), Some(APP));
    let other = allow_origin(
        router,
        Method::OPTIONS,
        "/api/v1/broadcast",
        "https://evil.example",
    )
    .await;
    assert_eq!(other, None);
}

#[tokio::test]
async fn wildcard_and_none() {
    let any = allow_origin(
        app(&["*"]),
        Method::OPTIONS,
        "/api/v1/broadcast",
        "https://x.example",
    )
    .await;
    assert_eq!(any.as_deref(), Some("*"));
    let none = allow_origin(app(&[]), Method::GET, "/healthz", APP).await;
    assert_eq!(none, None);
}
