//! The parts of the OpenAPI description that are not one handler's: the error answers of each
//! operation (every code it can give, grouped by the status [`status_of`] gives it), the
//! API-key security scheme, and the document around the operations.

use std::collections::BTreeMap;

use switchyard_core::{ErrorCode, Surface};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref, RefOr,
    ResponseBuilder,
    response::Response,
    tag::{Tag, TagBuilder},
};
use utoipa::{IntoResponses, PartialSchema, ToSchema};

use super::{ErrorBody, status_of};

/// The security scheme's name in `components.securitySchemes`.
pub(crate) const API_KEY: &str = "apiKey";

/// `ErrorDetail::code`: the codes an API error body can carry.
pub(super) fn http_codes() -> RefOr<utoipa::openapi::schema::Schema> {
    switchyard_core::schema::error_codes(
        Surface::Http,
        "What went wrong, as a stable code; the status follows from it.",
    )
}

/// What every operation behind the API key can answer.
const KEYED: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::ShuttingDown,
    ErrorCode::Unavailable,
];
/// What reading a JSON body can answer.
const BODY: &[ErrorCode] = &[
    ErrorCode::InvalidJson,
    ErrorCode::ValidationFailed,
    ErrorCode::PayloadTooLarge,
    ErrorCode::UnsupportedMediaType,
];

/// The responses for `codes`: one per status, listing the codes it carries.
fn error_responses(groups: &[&[ErrorCode]]) -> BTreeMap<String, RefOr<Response>> {
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in groups.iter().flat_map(|g| g.iter()) {
        let codes = by_status.entry(status_of(*code).as_u16()).or_default();
        if !codes.contains(code) {
            codes.push(*code);
        }
    }
    by_status
        .into_iter()
        .map(|(status, codes)| {
            let list = codes
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let response = ResponseBuilder::new()
                .description(format!("An error body with code {list}."))
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build(),
                )
                .build();
            (status.to_string(), RefOr::T(response))
        })
        .collect()
}

macro_rules! errors {
    ($($(#[$doc:meta])* $name:ident = [$($group:expr),+];)+) => {$(
        $(#[$doc])*
        pub(crate) struct $name;
        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                error_responses(&[$($group),+])
            }
        }
    )+};
}

errors! {
    /// An operation behind the key without a body or a checked path parameter.
    KeyedErrors = [KEYED];
    /// With an id in the path.
    PathErrors = [KEYED, &[ErrorCode::InvalidId]];
    /// With a JSON body.
    PublishErrors = [KEYED, BODY];
    /// With an id in the path and a JSON body.
    PublishToIdErrors = [KEYED, BODY, &[ErrorCode::InvalidId]];
    /// With a room in the path and a JSON body.
    PublishToRoomErrors = [KEYED, BODY, &[ErrorCode::InvalidRoom]];
    /// `joinRoom`: an unknown socket, a socket at its subscription limit.
    JoinErrors = [KEYED, &[ErrorCode::InvalidRoom, ErrorCode::NotFound, ErrorCode::LimitExceeded]];
    /// `leaveRoom`: an unknown socket, the socket's own user room.
    LeaveErrors = [KEYED, &[ErrorCode::InvalidRoom, ErrorCode::NotFound, ErrorCode::Forbidden]];
    /// An operation without a key (refused only while the server shuts down).
    OpenErrors = [&[ErrorCode::ShuttingDown]];
}

fn operations_mut(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

fn tag(name: &str, description: &str) -> Tag {
    TagBuilder::new()
        .name(name)
        .description(Some(description))
        .build()
}

/// The whole document: `keyed` (each operation marked as needing the key) and `open`, under
/// `/api/v1`, with the security scheme and the error body's schemas.
pub(super) fn finish(mut keyed: OpenApi, open: OpenApi) -> OpenApi {
    for item in keyed.paths.paths.values_mut() {
        for op in operations_mut(item) {
            op.security = Some(vec![SecurityRequirement::new(
                API_KEY,
                Vec::<String>::new(),
            )]);
        }
    }
    keyed.merge(open);

    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    let mut components = ComponentsBuilder::new()
        .schema(ErrorBody::name(), ErrorBody::schema())
        .security_scheme(
            API_KEY,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "One of the keys given with --api-keys (SWITCHYARD_API_KEYS), sent as \
                         `Authorization: Bearer <key>`.",
                    ))
                    .build(),
            ),
        );
    for (name, schema) in schemas {
        components = components.schema(name, schema);
    }

    let base = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Switchyard HTTP API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The API for the application's backend services: publish notifications, \
                     ticket updates, meter readings, announcements and custom events to the \
                     hub's Socket.IO clients, and see or change who is connected. JSON in and \
                     out; every error is `{ \"error\": { code, message, details? } }`.",
                ))
                .build(),
        )
        .components(Some(components.build()))
        .tags(Some([
            tag(
                "publish",
                "Send events to sockets (202: accepted for delivery).",
            ),
            tag("presence", "Who is connected."),
            tag("rooms", "Put sockets in rooms and take them out."),
            tag("meta", "This description."),
        ]))
        .build();
    base.nest("/api/v1", keyed)
}
