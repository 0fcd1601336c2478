//! The README's embedding recipe: the hub's router merged into an application's own router
//! still serves the Socket.IO endpoint, the API and the application's routes.

#![allow(clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use switchyard_host::auth::JwtKeys;
use switchyard_host::{Config, Switchyard};
use tower::ServiceExt;

#[tokio::test]
async fn merged_into_an_application_router() {
    let config = Config::new(JwtKeys::new(Some("s"), None).unwrap(), vec!["k".into()]);
    let hub = Switchyard::new(config);
    let app = axum::Router::new()
        .route("/my/own/route", axum::routing::get(|| async { "mine" }))
        .merge(hub.get_server());

    let get = |uri: &str, key: Option<&str>| {
        let mut req = Request::get(uri);
        if let Some(k) = key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap())
    };

    let own = get("/my/own/route", None).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.into_body().collect().await.unwrap().to_bytes(), "mine");

    // An Engine.IO long-polling handshake: "0{"sid":…}".
    let handshake = get("/socket.io/?EIO=4&transport=polling", None)
        .await
        .unwrap();
    assert_eq!(handshake.status(), StatusCode::OK);
    let body = handshake.into_body().collect().await.unwrap().to_bytes();
    assert!(body.starts_with(b"0{\"sid\":"), "{body:?}");

    let sockets = get("/api/v1/sockets", Some("k")).await.unwrap();
    assert_eq!(sockets.status(), StatusCode::OK);
    let unauthorized = get("/api/v1/sockets", None).await.unwrap();
    assert_eq!(unauthorized.status(), StatusCode::UNAUTHORIZED);
}
