//! The HTTP API for backend services (`/api/v1`): JSON in and out, one error body for every
//! failure, every route a thin translation to a [`Switchyard`] method.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, MatchedPath, Path, Request, State};
use axum::handler::Handler;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::{Json, Router};
use serde::Serialize;
use socketioxide::adapter::Adapter;
use switchyard_core::routing::Target;
use switchyard_core::schema::{
    AnnouncementInput, CustomEventInput, MeterReadingInput, NotificationInput, TicketUpdateInput,
};
use switchyard_core::{
    ErrorCode, FieldError, Input, MeterId, Room, RoomError, TicketId, UserId, ValidationErrors,
};
use utoipa::__dev::{SchemaReferences, Tags};
use utoipa::ToSchema;
use utoipa_axum::PathItemExt;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::auth::ApiKeys;
use crate::delivery::HubError;
use crate::handle::{NotificationSent, SocketInfo, Switchyard};
use crate::metrics::RateKind;
use crate::rate::RetryAfter;

mod doc;

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

/// Every error answer's body: `{ "error": { code, message, details? } }`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// The `error` member of every error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// What went wrong, as a stable code; the status follows from it.
    #[schema(schema_with = doc::http_codes)]
    pub code: ErrorCode,
    /// What went wrong, for a person.
    pub message: String,
    /// With `validation_failed`: every field error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Vec<FieldError>, required = false)]
    pub details: Option<Vec<FieldError>>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                details: self.details,
            },
        };
        (status_of(self.code), Json(body)).into_response()
    }
}

/// A JSON body read as untrusted [`Input`], with the contract's statuses for each failure.
pub struct ApiJson(pub Input<'static>);

impl<S: Send + Sync> FromRequest<S> for ApiJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<Input<'static>>::from_request(req, state).await {
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

/// `202 { id }`: the delivery was accepted; `id` is its delivery id (the events' `meta.id`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The delivery id.
    pub id: String,
}

/// `GET /users/{userId}/presence`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserPresence {
    /// The user asked about.
    pub user_id: UserId,
    /// Whether the user has at least one socket connected.
    pub online: bool,
    /// The user's socket ids, sorted.
    pub sockets: Vec<String>,
}

/// `GET /sockets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SocketList {
    /// How many sockets are connected.
    pub count: usize,
    /// Every connected socket, sorted by id.
    pub sockets: Vec<SocketInfo>,
}

/// `GET /nodes`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    /// Every live node.
    pub nodes: Vec<crate::handle::NodeStatus>,
}

/// `DELETE /users/{userId}/sockets`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disconnected {
    /// How many sockets were disconnected.
    pub disconnected: usize,
}

fn accepted(body: impl Serialize) -> Response {
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// Sends a `notification` to every socket of one user (`sendNotification`).
#[utoipa::path(
    post,
    path = "/users/{userId}/notifications",
    tag = "publish",
    operation_id = "sendNotification",
    params(("userId" = inline(UserId), Path, description = "The user whose sockets receive it.")),
    request_body = NotificationInput,
    responses(
        (status = 202, description = "Accepted; `online` says whether the user had a socket connected.", body = NotificationSent),
        doc::PublishToIdErrors,
    ),
)]
async fn send_notification<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let user: UserId = id(user)?;
    Ok(accepted(hub.notify_input(&user, &body).await?))
}

/// Sends `ticket_updated` to room `ticket_<ticketId>` (`handleTicketUpdate`).
#[utoipa::path(
    post,
    path = "/tickets/{ticketId}/updates",
    tag = "publish",
    operation_id = "handleTicketUpdate",
    params(("ticketId" = inline(TicketId), Path, description = "The ticket.")),
    request_body = TicketUpdateInput,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        doc::PublishToIdErrors,
    ),
)]
async fn ticket_update<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ticket: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let ticket: TicketId = id(ticket)?;
    Ok(accepted(Accepted {
        id: hub.ticket_input(&ticket, &body).await?,
    }))
}

/// Sends `meter_reading` to room `meter_<meterId>` (`handleMeterReading`).
#[utoipa::path(
    post,
    path = "/meters/{meterId}/readings",
    tag = "publish",
    operation_id = "handleMeterReading",
    params(("meterId" = inline(MeterId), Path, description = "The meter.")),
    request_body = MeterReadingInput,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        doc::PublishToIdErrors,
    ),
)]
async fn meter_reading<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    meter: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let meter: MeterId = id(meter)?;
    Ok(accepted(Accepted {
        id: hub.meter_input(&meter, &body).await?,
    }))
}

/// Sends an `announcement` to everyone (`sendAnnouncement`).
#[utoipa::path(
    post,
    path = "/announcements",
    tag = "publish",
    operation_id = "sendAnnouncement",
    request_body = AnnouncementInput,
    responses(
        (status = 202, description = "Accepted; `id` is the announcement's id.", body = Accepted),
        doc::PublishErrors,
    ),
)]
async fn announcement<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    Ok(accepted(Accepted {
        id: hub.announce_input(&body).await?,
    }))
}

/// Sends a custom event to one room (`emitToRoom`).
#[utoipa::path(
    post,
    path = "/rooms/{room}/events",
    tag = "publish",
    operation_id = "emitToRoom",
    params(("room" = inline(Room), Path, description = "The room whose sockets receive it.")),
    request_body = CustomEventInput,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        doc::PublishToRoomErrors,
    ),
)]
async fn room_event<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    let Path(raw) = raw.map_err(|e| ApiError::new(RoomError::CODE, e.body_text()))?;
    let target = Target::Room(room(&raw)?);
    Ok(accepted(Accepted {
        id: hub.custom_input(target, &body).await?,
    }))
}

/// Sends a custom event to every connected socket (`emitToAll`).
#[utoipa::path(
    post,
    path = "/broadcast",
    tag = "publish",
    operation_id = "emitToAll",
    request_body = CustomEventInput,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
        doc::PublishErrors,
    ),
)]
async fn broadcast<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    ApiJson(body): ApiJson,
) -> ApiResult<Response> {
    Ok(accepted(Accepted {
        id: hub.custom_input(Target::All, &body).await?,
    }))
}

/// Whether a user is online, and their sockets (`isUserOnline`, `getUserSocketId`).
#[utoipa::path(
    get,
    path = "/users/{userId}/presence",
    tag = "presence",
    operation_id = "getUserPresence",
    params(("userId" = inline(UserId), Path, description = "The user.")),
    responses(
        (status = 200, description = "The user's presence.", body = UserPresence),
        doc::PathErrors,
    ),
)]
async fn presence<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<UserPresence>> {
    let user: UserId = id(user)?;
    let sockets = hub.get_user_socket_ids(&user).await?;
    Ok(Json(UserPresence {
        user_id: user,
        online: !sockets.is_empty(),
        sockets,
    }))
}

/// Every connected socket (`getConnectedSockets`, `getSocketCount`).
#[utoipa::path(
    get,
    path = "/sockets",
    tag = "presence",
    operation_id = "getConnectedSockets",
    responses(
        (status = 200, description = "The connected sockets.", body = SocketList),
        doc::KeyedErrors,
    ),
)]
async fn sockets<A: Adapter>(State(hub): State<Switchyard<A>>) -> ApiResult<Json<SocketList>> {
    let sockets = hub.get_connected_sockets().await?;
    Ok(Json(SocketList {
        count: sockets.len(),
        sockets,
    }))
}

/// The live nodes (contract section 9); a single node lists itself.
#[utoipa::path(
    get,
    path = "/nodes",
    tag = "presence",
    operation_id = "getNodes",
    responses(
        (status = 200, description = "The live nodes.", body = NodeList),
        doc::KeyedErrors,
    ),
)]
async fn nodes<A: Adapter>(State(hub): State<Switchyard<A>>) -> ApiResult<Json<NodeList>> {
    Ok(Json(NodeList {
        nodes: hub.get_nodes().await?,
    }))
}

fn socket_room(raw: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(String, Room)> {
    let Path((sid, r)) = raw.map_err(|e| match &e {
        // A socket id is looked up, not validated: one that is not even UTF-8 names no socket.
        PathRejection::FailedToDeserializePathParams(d)
            if matches!(d.kind(), ErrorKind::InvalidUtf8InPathParam { key } if key == "socketId") =>
        {
            ApiError::new(
                ErrorCode::NotFound,
                "no connected socket with that id (it is not UTF-8)",
            )
        }
        _ => ApiError::new(RoomError::CODE, e.body_text()),
    })?;
    Ok((sid, room(&r)?))
}

/// Puts a socket in a room on the backend's behalf (`joinRoom`).
#[utoipa::path(
    put,
    path = "/sockets/{socketId}/rooms/{room}",
    tag = "rooms",
    operation_id = "joinRoom",
    params(
        ("socketId" = String, Path, description = "The socket's id."),
        ("room" = inline(Room), Path, description = "The room to join."),
    ),
    responses(
        (status = 204, description = "Joined (or already in it)."),
        doc::JoinErrors,
    ),
)]
async fn join_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.join_room(&sid, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes a socket out of a room (`leaveRoom`); its own user room cannot be left.
#[utoipa::path(
    delete,
    path = "/sockets/{socketId}/rooms/{room}",
    tag = "rooms",
    operation_id = "leaveRoom",
    params(
        ("socketId" = String, Path, description = "The socket's id."),
        ("room" = inline(Room), Path, description = "The room to leave."),
    ),
    responses(
        (status = 204, description = "Left (or was not in it)."),
        doc::LeaveErrors,
    ),
)]
async fn leave_room<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    raw: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<StatusCode> {
    let (sid, room) = socket_room(raw)?;
    hub.leave_room(&sid, &room).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Disconnects every socket of a user (`handleUserLogout`).
#[utoipa::path(
    delete,
    path = "/users/{userId}/sockets",
    tag = "presence",
    operation_id = "handleUserLogout",
    params(("userId" = inline(UserId), Path, description = "The user.")),
    responses(
        (status = 200, description = "How many sockets were disconnected.", body = Disconnected),
        doc::PathErrors,
    ),
)]
async fn logout_user<A: Adapter>(
    State(hub): State<Switchyard<A>>,
    user: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Disconnected>> {
    let user: UserId = id(user)?;
    let disconnected = hub.handle_user_logout(&user).await?;
    Ok(Json(Disconnected { disconnected }))
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

/// One operation: its route and its description, both from the handler's `#[utoipa::path]`
/// (`P` is the struct the attribute generates), so the two cannot differ.
fn documented<P, H, T, S>(handler: H) -> UtoipaMethodRouter<S>
where
    P: utoipa::Path + SchemaReferences + for<'t> Tags<'t>,
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    let methods = P::methods();
    let router = methods.iter().fold(MethodRouter::new(), |router, method| {
        router.on(method.to_method_filter(), handler.clone())
    });
    let mut operation = P::operation();
    operation
        .tags
        .get_or_insert_with(Vec::new)
        .extend(P::tags().into_iter().map(str::to_owned));
    let mut paths = utoipa::openapi::path::Paths::new();
    paths.add_path_operation(P::path(), methods, operation);
    (schemas, paths, router)
}

/// `op!(handler::<A>)`: [`documented`] for a handler and the path struct of its attribute.
macro_rules! op {
    ($handler:ident :: <$a:ty>) => {
        utoipa_axum::paste! { documented::<[<__path_ $handler>], _, _, _>($handler::<$a>) }
    };
}

/// Every operation that needs an API key. The router and the OpenAPI description are both
/// built from this one list.
fn keyed_operations<A: Adapter>() -> OpenApiRouter<Switchyard<A>> {
    OpenApiRouter::new()
        .routes(op!(send_notification::<A>))
        .routes(op!(presence::<A>))
        .routes(op!(logout_user::<A>))
        .routes(op!(ticket_update::<A>))
        .routes(op!(meter_reading::<A>))
        .routes(op!(announcement::<A>))
        .routes(op!(room_event::<A>))
        .routes(op!(broadcast::<A>))
        .routes(op!(sockets::<A>))
        .routes(op!(nodes::<A>))
        .routes(op!(join_room::<A>))
        .routes(op!(leave_room::<A>))
}

/// The operations anyone may call.
fn open_operations<A: Adapter>() -> OpenApiRouter<Switchyard<A>> {
    OpenApiRouter::new().routes(op!(openapi_json::<A>))
}

/// The OpenAPI 3.1 description of the HTTP API, as `GET /api/v1/openapi.json` serves it.
///
/// ```
/// let spec = switchyard_host::api::openapi();
/// assert!(spec.paths.paths.contains_key("/api/v1/broadcast"));
/// ```
pub fn openapi() -> utoipa::openapi::OpenApi {
    use socketioxide::adapter::LocalAdapter;
    // The description does not depend on the adapter; any one builds the same list.
    doc::finish(
        keyed_operations::<LocalAdapter>().into_openapi(),
        open_operations::<LocalAdapter>().into_openapi(),
    )
}

/// This description of the API (OpenAPI 3.1), as JSON; no API key needed.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    operation_id = "getOpenApi",
    security(()),
    responses(
        (status = 200, description = "The OpenAPI 3.1 description of this API.", content_type = "application/json", body = Object),
        doc::OpenErrors,
    ),
)]
async fn openapi_json<A: Adapter>(State(_hub): State<Switchyard<A>>) -> Response {
    static SPEC: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let body = SPEC.get_or_init(|| serde_json::to_vec(&openapi()).unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], body.clone()).into_response()
}

/// The API routes. With `keys`, every route but `openapi.json` (and the fallbacks) needs
/// `Authorization: Bearer <key>`; without (the demo mode's copy), none does.
pub(crate) fn routes<A: Adapter>(
    hub: &Switchyard<A>,
    keys: Option<ApiKeys>,
) -> Router<Switchyard<A>> {
    let (keyed, _) = keyed_operations::<A>().split_for_parts();
    let keyed = keyed
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(body_limit(hub.hub().limits().max_body_bytes));
    let keyed = match keys {
        Some(keys) => keyed.layer(axum::middleware::from_fn_with_state(
            ApiGate::new(keys, hub.clone()),
            require_api_key::<A>,
        )),
        None => keyed,
    };
    let (open, _) = open_operations::<A>().split_for_parts();
    open.method_not_allowed_fallback(no_method).merge(keyed)
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

/// Requires `Authorization: Bearer <api key>`, reads a small body (`conn::read_small_body`, so
/// that a refusal keeps the connection), then spends one of that key's requests
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
    let req = match crate::conn::read_small_body(req).await {
        Ok(req) => req,
        Err(gone) => return gone,
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
