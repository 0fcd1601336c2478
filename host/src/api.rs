//! The HTTP API for backend services (`/api/v1`): JSON in and out, one error body for every
//! failure, every route a thin translation to a [`Switchyard`] method.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::json;
use socketioxide::adapter::Adapter;
use switchyard_core::routing::Target;
use switchyard_core::{FieldError, Input, MeterId, Room, TicketId, UserId, ValidationErrors};

use crate::hub::{HubError, Switchyard};

/// An error answer: status plus `{ "error": { code, message, details? } }`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Option<Vec<FieldError>>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    fn validation(errors: ValidationErrors) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "validation_failed",
            // A one-line summary (where and which code); `details` has the messages.
            message: format!(
                "the request failed validation: {}",
                errors
                    .iter()
                    .map(|e| if e.path.is_empty() {
                        e.code.to_string()
                    } else {
                        format!("{} ({})", e.path, e.code)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            details: Some(errors.0),
        }
    }

    fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Validation(v) => Self::validation(v),
            HubError::SocketNotFound(_) => Self::not_found(e.to_string()),
            HubError::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            HubError::ShuttingDown => shutting_down(),
        }
    }
}

fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "shutting_down",
        "the server is shutting down",
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = json!(details);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

/// A JSON body read as untrusted [`Input`], with the contract's statuses for each failure.
pub struct ApiJson(pub Input);

impl<S: Send + Sync> FromRequest<S> for ApiJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<Input>::from_request(req, state).await {
            Ok(Json(input)) => Ok(ApiJson(input)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "the request body is over the size limit",
                ))
            }
            Err(e) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
        }
    }
}

/// Parses a path segment as a user, ticket or meter id (`invalid_id`).
fn id<T: std::str::FromStr<Err = switchyard_core::IdError>>(
    raw: Result<Path<String>, PathRejection>,
) -> Result<T, ApiError> {
    let Path(s) =
        raw.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.body_text()))?;
    s.parse().map_err(|e: switchyard_core::IdError| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_id", e.to_string())
    })
}

fn room(s: &str) -> Result<Room, ApiError> {
    s.parse().map_err(|e: switchyard_core::RoomError| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.to_string())
    })
}

type ApiResult<T> = Result<T, ApiError>;

fn accepted(body: impl Serialize) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

async fn send_notification<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let user: UserId = id(user)?;
    Ok(accepted(hub.notify_input(&user, &body).await?))
}

async fn ticket_update<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ticket: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let ticket: TicketId = id(ticket)?;
    Ok(accepted(
        json!({ "id": hub.ticket_input(&ticket, &body).await? }),
    ))
}

async fn meter_reading<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    meter: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let meter: MeterId = id(meter)?;
    Ok(accepted(
        json!({ "id": hub.meter_input(&meter, &body).await? }),
    ))
}

async fn announcement<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    Ok(accepted(json!({ "id": hub.announce_input(&body).await? })))
}

async fn room_event<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let Path(raw) =
        raw.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.body_text()))?;
    let target = Target::Room(room(&raw)?);
    Ok(accepted(
        json!({ "id": hub.custom_input(target, &body).await? }),
    ))
}

async fn broadcast<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    Ok(accepted(
        json!({ "id": hub.custom_input(Target::All, &body).await? }),
    ))
}

async fn presence<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let user: UserId = id(user)?;
    let sockets = hub.get_user_socket_ids(&user);
    Ok(
        Json(json!({ "userId": user, "online": !sockets.is_empty(), "sockets": sockets }))
            .into_response(),
    )
}

async fn sockets<A: Adapter>(State(hub): State<Switchyard<A>>) -> Response {
    let sockets = hub.get_connected_sockets();
    Json(json!({ "count": sockets.len(), "sockets": sockets })).into_response()
}

fn socket_room(raw: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, Room)> {
    let Path((sid, r)) =
        raw.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_room", e.body_text()))?;
    Ok((sid, room(&r)?))
}

async fn join_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.join_room(&sid, &room)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.leave_room(&sid, &room)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_user<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let user: UserId = id(user)?;
    Ok(Json(json!({ "disconnected": hub.handle_user_logout(&user) })).into_response())
}

async fn no_route() -> ApiError {
    ApiError::not_found("no such API route")
}

async fn no_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// The API routes, without authentication (the caller adds it, or not in demo mode).
pub(crate) fn routes<A: Adapter>(hub: &Switchyard<A>) -> Router<Switchyard<A>> {
    Router::new()
        .route(
            "/users/{user_id}/notifications",
            post(send_notification::<A>),
        )
        .route("/users/{user_id}/presence", get(presence::<A>))
        .route(
            "/users/{user_id}/sockets",
            axum::routing::delete(logout_user::<A>),
        )
        .route("/tickets/{ticket_id}/updates", post(ticket_update::<A>))
        .route("/meters/{meter_id}/readings", post(meter_reading::<A>))
        .route("/announcements", post(announcement::<A>))
        .route("/rooms/{room}/events", post(room_event::<A>))
        .route("/broadcast", post(broadcast::<A>))
        .route("/sockets", get(sockets::<A>))
        .route(
            "/sockets/{socket_id}/rooms/{room}",
            put(join_room::<A>).delete(leave_room::<A>),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(hub.shared.limits().max_body_bytes))
}

/// Requires `Authorization: Bearer <api key>`.
pub(crate) async fn require_api_key<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    req: Request,
    next: Next,
) -> Response {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match key {
        Some(k) if hub.shared.api_keys.check(k) => next.run(req).await,
        _ => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
        )
        .into_response(),
    }
}

/// Counts requests by route and status, refuses new calls once shutdown starts, and tracks
/// calls in flight so shutdown can wait for them.
pub(crate) async fn track<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let shared = &hub.shared;
    // Counted before the flag is read: shutdown sets the flag and then waits for the count to
    // reach zero, so a call is either refused here or waited for there.
    let _guard = InFlight::enter(&shared.in_flight);
    let response = if shared.shutting_down.load(Ordering::SeqCst) {
        shutting_down().into_response()
    } else {
        next.run(req).await
    };
    shared
        .metrics
        .api_request(&route, response.status().as_u16());
    response
}

/// Decrements on drop, so a call whose client went away mid-request is not counted forever.
struct InFlight<'a>(&'a AtomicUsize);

impl<'a> InFlight<'a> {
    fn enter(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::SeqCst);
        Self(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
