//! Demo mode: the web dashboard at `/`, a token route, the API without a key under
//! `/demo/api/v1` (so the page can play the application's backend), and a simulated feed.
//! None of these routes exist outside demo mode.

use std::path::Path;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::json;
use socketioxide::adapter::Adapter;
use switchyard_core::protocol::TokenRequest;
use switchyard_core::{ErrorCode, Timestamp};
use tower_http::services::ServeDir;

use crate::clock::now;
use crate::config::DemoConfig;
use crate::delivery::HubError;
use crate::edge::api::{self, ApiError, ApiJson};
use crate::handle::Switchyard;

/// The meters and tickets the simulated feed uses.
pub const FEED_METERS: [&str; 3] = ["m-1001", "m-1002", "m-1003"];
/// Tickets the feed moves through their statuses.
pub const FEED_TICKETS: [&str; 3] = ["T-100", "T-101", "T-102"];
/// Grants a demo token gets when the request names none.
pub const DEFAULT_GRANTS: [&str; 3] = ["ticket_*", "meter_*", "system_*"];
/// How long a demo token lives when the request does not say (the longest it may ask for).
const TOKEN_TTL_SECS: u32 = TokenRequest::MAX_TTL_SECS;

pub(crate) fn routes<A: Adapter>(hub: &Switchyard<A>, demo: &DemoConfig) -> Router<Switchyard<A>> {
    let index = demo.dir.join("index.html");
    let page = if index.is_file() {
        // No single-page fallback: the page has no client-side routes, and a missing asset
        // should be a 404, not index.html served as a script.
        Router::new().fallback_service(ServeDir::new(&demo.dir))
    } else {
        let dir = demo.dir.display().to_string();
        Router::new().fallback(move || missing_page(dir.clone()))
    };
    Router::new()
        .route("/demo/token", post(token::<A>))
        .route("/demo/config", get(config::<A>))
        .nest("/demo/api/v1", api::routes(hub, None))
        .merge(page)
}

async fn missing_page(dir: String) -> Response {
    let body = format!(
        "<!doctype html><title>Switchyard demo</title><h1>The web demo is not built</h1>\
         <p>No <code>index.html</code> in <code>{}</code>. Run <code>scripts/demo</code>, which builds it, \
         or pass <code>--demo-dir</code>.</p>",
        html_escape(&dir)
    );
    (StatusCode::SERVICE_UNAVAILABLE, Html(body)).into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /demo/config`: what the feed sends, and for the Cluster panel the node this page is
/// served by and where its state lives (`memory` on a single node, `redis` in a cluster).
async fn config<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    let hub = hub.hub();
    let store = if hub.cluster().is_some() {
        "redis"
    } else {
        "memory"
    };
    axum::Json(json!({
        "feed": { "meters": FEED_METERS, "tickets": FEED_TICKETS },
        "node": hub.config.node_id,
        "store": store,
    }))
    .into_response()
}

/// `POST /demo/token { userId, rooms?, ttlSeconds? }` → `{ token, exp }`, signed with the demo
/// secret; `exp` is the token's expiry (RFC 3339 UTC), for the page to refresh before it.
async fn token<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ApiJson(body): ApiJson,
) -> Result<Response, ApiError> {
    let Some(demo) = hub.hub().config.demo.as_ref() else {
        return Err(ApiError::new(ErrorCode::NotFound, "demo mode is off"));
    };
    let request = TokenRequest::read(&body).map_err(|e| ApiError::from(HubError::Validation(e)))?;
    let user = request.user;
    let rooms: Vec<String> = match request.rooms {
        Some(patterns) => patterns.iter().map(ToString::to_string).collect(),
        None => DEFAULT_GRANTS.map(str::to_owned).to_vec(),
    };
    let ttl = i64::from(request.ttl_secs.unwrap_or(TOKEN_TTL_SECS));
    let exp = now().unix_millis() / 1000 + ttl;
    let claims = json!({ "sub": user, "exp": exp, "rooms": rooms });
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(demo.token_secret.as_bytes()),
    )
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot sign: {e}")))?;
    let exp = Timestamp::from_unix_millis(exp * 1000)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("cannot write exp: {e}")))?;
    Ok(axum::Json(json!({ "token": token, "exp": exp })).into_response())
}

/// The simulated feed: meter readings every tick, a ticket moving every few ticks, and now and
/// then an announcement. It goes through the public handle, like any embedding application.
pub(crate) async fn feed<A: Adapter>(hub: Switchyard<A>, every: Duration) {
    if every.is_zero() {
        return;
    }
    let statuses = ["open", "in_progress", "on_hold", "resolved", "closed"];
    let units = ["kWh", "kWh", "m3"];
    let mut level = [1200.0_f64, 830.5, 64.2];
    let mut ticks: u64 = 0;
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        interval.tick().await;
        if hub.hub().lifecycle.is_shutting_down() {
            return;
        }
        ticks += 1;
        let now = now();
        for (i, meter) in FEED_METERS.iter().enumerate() {
            level[i] += fastrand::f64() * 2.5;
            let reading = json!({ "reading": (level[i] * 100.0).round() / 100.0, "timestamp": now.to_string(), "unit": units[i] });
            if let Ok(meter) = meter.parse() {
                let _ = hub.handle_meter_reading(&meter, reading).await;
            }
        }
        if ticks.is_multiple_of(4) {
            let ticket = FEED_TICKETS[fastrand::usize(..FEED_TICKETS.len())];
            let update = json!({ "status": statuses[fastrand::usize(..statuses.len())], "message": "updated by the field simulator" });
            if let Ok(ticket) = ticket.parse() {
                let _ = hub.handle_ticket_update(&ticket, update).await;
            }
        }
        if ticks.is_multiple_of(45) {
            let _ = hub
                .send_announcement(json!({ "type": "info", "message": format!("Simulated feed: {} readings sent so far", ticks * 3) }))
                .await;
        }
    }
}

/// Whether `dir` holds a built page (for the start-up message).
pub fn page_built(dir: &Path) -> bool {
    dir.join("index.html").is_file()
}
