//! The HTTP API for backend services (`/api/v1`): JSON in and out, one error body for every
//! failure, every route a thin translation to a [`Switchyard`] method.

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
use switchyard_core::{
    ErrorCode, FieldError, Input, MeterId, Room, RoomError, TicketId, UserId, ValidationErrors,
};

use crate::auth::ApiKeys;
use crate::delivery::HubError;
use crate::handle::Switchyard;
use crate::metrics::RateKind;
use crate::rate::RetryAfter;

/// An error answer: status plus `{ "error": { code, message, details? } }`.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    details: Option<Vec<FieldError>>,
}

/// The HTTP status of each code an API error can carry (contract section 4).
pub fn status_of(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::InvalidId | C::InvalidRoom | C::InvalidJson | C::ValidationFailed => {
            StatusCode::BAD_REQUEST
        }
        C::Unauthorized => StatusCode::UNAUTHORIZED,
        C::Forbidden => StatusCode::FORBIDDEN,
        C::NotFound => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::LimitExceeded => StatusCode::CONFLICT,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::ShuttingDown | C::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        // Codes that never head an API error body (field, ack and handshake codes); a unit
        // test checks that every code of the HTTP surface has its own status above.
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    /// A new error; its status follows from the code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
        }
    }

    fn validation(errors: ValidationErrors) -> Self {
        Self {
            code: ErrorCode::ValidationFailed,
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
}

impl From<HubError> for ApiError {
    fn from(e: HubError) -> Self {
        match e {
            HubError::Validation(v) => Self::validation(v),
            // The refusal's own reason, not the variant's wrapper text.
            HubError::Refused(a) => Self::new(a.code, a.message),
            other => Self::new(other.code(), other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(details) = self.details {
            error["details"] = json!(details);
        }
        (status_of(self.code), Json(json!({ "error": error }))).into_response()
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
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "the request body is over the size limit",
                ))
            }
            Err(e) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                format!("the body is not valid JSON: {}", e.body_text()),
            )),
        }
    }
}

/// Parses a path segment as a user, ticket or meter id (`invalid_id`).
fn id<T: std::str::FromStr<Err = switchyard_core::IdError>>(
    raw: Result<Path<String>, PathRejection>,
) -> Result<T, ApiError> {
    let Path(s) = raw.map_err(|e| ApiError::new(ErrorCode::InvalidId, e.body_text()))?;
    s.parse()
        .map_err(|e: switchyard_core::IdError| ApiError::new(ErrorCode::InvalidId, e.to_string()))
}

fn room(s: &str) -> Result<Room, ApiError> {
    s.parse()
        .map_err(|e: switchyard_core::RoomError| ApiError::new(RoomError::CODE, e.to_string()))
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
    let Path(raw) = raw.map_err(|e| ApiError::new(RoomError::CODE, e.body_text()))?;
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
    let sockets = hub.get_user_socket_ids(&user).await?;
    Ok(
        Json(json!({ "userId": user, "online": !sockets.is_empty(), "sockets": sockets }))
            .into_response(),
    )
}

async fn sockets<A: Adapter>(State(hub): State<Switchyard<A>>) -> ApiResult<Response> {
    let sockets = hub.get_connected_sockets().await?;
    Ok(Json(json!({ "count": sockets.len(), "sockets": sockets })).into_response())
}

fn socket_room(raw: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, Room)> {
    let Path((sid, r)) = raw.map_err(|e| ApiError::new(RoomError::CODE, e.body_text()))?;
    Ok((sid, room(&r)?))
}

async fn join_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.join_room(&sid, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn leave_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.leave_room(&sid, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn logout_user<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let user: UserId = id(user)?;
    let disconnected = hub.handle_user_logout(&user).await?;
    Ok(Json(json!({ "disconnected": disconnected })).into_response())
}

async fn no_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such API route")
}

async fn no_method() -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
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
        .layer(body_limit(hub.hub().limits().max_body_bytes))
}

fn body_limit(max: switchyard_core::Limit) -> DefaultBodyLimit {
    match max.get() {
        Some(n) => DefaultBodyLimit::max(usize::try_from(n.get()).unwrap_or(usize::MAX)),
        None => DefaultBodyLimit::disable(),
    }
}

/// What the API-key middleware needs: the keys, and the hub for the per-key rate limit and its
/// metrics.
pub(crate) struct ApiGate<A: Adapter> {
    keys: ApiKeys,
    hub: Switchyard<A>,
}

// By hand: a derive would ask `A: Clone`, which adapters are not.
impl<A: Adapter> Clone for ApiGate<A> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            hub: self.hub.clone(),
        }
    }
}

impl<A: Adapter> ApiGate<A> {
    pub(crate) fn new(keys: ApiKeys, hub: Switchyard<A>) -> Self {
        Self { keys, hub }
    }
}

/// Requires `Authorization: Bearer <api key>`, then spends one of that key's requests
/// (`--api-requests-per-sec`): over it, 429 `rate_limited` with `Retry-After`. The limit is
/// checked only after the key is verified, so the limiter has one entry per configured key and
/// an unknown caller cannot use up a real key's budget.
pub(crate) async fn require_api_key<A: Adapter>(
    State(gate): State<ApiGate<A>>,
    req: Request,
    next: Next,
) -> Response {
    let key = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(index) = key.and_then(|k| gate.keys.matching(k)) else {
        return ApiError::new(
            ErrorCode::Unauthorized,
            "a valid API key is required: Authorization: Bearer <key>",
        )
        .into_response();
    };
    let hub = gate.hub.hub();
    if let Some(limiter) = &hub.rates.api
        && let Err(wait) = limiter.check(&index)
    {
        hub.metrics.rate_limited(RateKind::Api);
        return rate_limited(
            format!(
                "more than {} requests per second with this API key",
                hub.config.limits.api_requests_per_sec
            ),
            wait,
        );
    }
    next.run(req).await
}

/// 429 `rate_limited` in the API's error shape, with `Retry-After` in whole seconds (at least 1).
pub(crate) fn rate_limited(message: String, wait: RetryAfter) -> Response {
    let secs = wait.whole_seconds();
    let mut response = ApiError::new(
        ErrorCode::RateLimited,
        format!("{message}; retry after {secs} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    response
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
    let hub = hub.hub();
    // Counted in before the flag is read: shutdown sets the flag and then waits for the count
    // to reach zero, so a call is either refused here or waited for there.
    let _guard = hub.lifecycle.enter();
    let response = if hub.lifecycle.is_shutting_down() {
        ApiError::from(HubError::ShuttingDown).into_response()
    } else {
        next.run(req).await
    };
    hub.metrics.api_request(&route, response.status().as_u16());
    response
}

#[cfg(test)]
mod tests {
    use switchyard_core::Surface;

    use super::*;

    #[test]
    fn every_api_code_has_its_own_status() {
        for code in ErrorCode::on(Surface::Http) {
            let status = status_of(code);
            assert_eq!(
                status == StatusCode::INTERNAL_SERVER_ERROR,
                code == ErrorCode::Internal,
                "{code} -> {status}"
            );
        }
    }
}
