//! [`Switchyard`], the public handle: every function of the old Node module, in snake_case.
//! The HTTP API and the socket handlers call the same methods, so every publish goes through
//! one path (`Switchyard::publish`).

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::extract::SocketRef;
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::Sid;
use switchyard_core::routing::{self, Delivery, Target};
use switchyard_core::{
    Input, MeterId, Presence, Room, TicketId, Timestamp, UserId, ValidationErrors,
};

use crate::auth::{ApiKeys, AuthError, AuthedUser};
use crate::config::{Config, Limits};
use crate::metrics::Metrics;
use crate::socket::{self, SocketCtx};

/// What a [`Switchyard`] call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// The payload (or an event name) broke the contract's rules.
    #[error("validation failed: {0}")]
    Validation(#[from] ValidationErrors),
    /// No socket with that id on this node.
    #[error("no connected socket {0:?}")]
    SocketNotFound(String),
    /// The request is not allowed (such as leaving a socket's own user room).
    #[error("{0}")]
    Forbidden(String),
    /// The server is shutting down and no longer delivers.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// A notification was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationSent {
    /// The notification's id.
    pub id: String,
    /// Whether the user had a socket connected when it was sent.
    pub online: bool,
}

/// One connected socket, as `getConnectedSockets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SocketInfo {
    /// Socket id.
    pub id: String,
    /// Whose socket.
    pub user_id: UserId,
    /// The rooms it is in, sorted.
    pub rooms: Vec<String>,
}

/// State shared by the handle, the socket handlers and the HTTP API.
pub(crate) struct Shared<A: Adapter> {
    pub(crate) config: Config,
    pub(crate) api_keys: ApiKeys,
    pub(crate) metrics: Metrics,
    presence: Mutex<Presence<Sid>>,
    /// Set once shutdown starts: the API answers 503 from then on.
    pub(crate) shutting_down: AtomicBool,
    /// API calls under way, so shutdown can let them finish before closing sockets.
    pub(crate) in_flight: AtomicUsize,
    /// Kept to hand out [`Switchyard::get_server`] routers; set right after the layer is built.
    layer: OnceLock<SocketIoLayer<A>>,
}

/// The handle to a running hub. Cheap to clone; generic over socketioxide's adapter so the
/// same code serves one node in memory and, later, a cluster.
///
/// ```no_run
/// use switchyard_host::{Config, Switchyard};
/// use switchyard_host::auth::JwtKeys;
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new(JwtKeys::new(Some("dev-secret"), None)?, vec!["backend-key".into()]);
/// let hub = Switchyard::new(config);
/// // Mount it in your own axum app…
/// let app = axum::Router::new().merge(hub.get_server());
/// // …and push events from your code.
/// let user = "tech-42".parse()?;
/// let sent = hub.send_notification(&user, serde_json::json!({"type":"info","message":"Job 7 assigned"})).await?;
/// println!("notification {} (user online: {})", sent.id, sent.online);
/// # let _ = app; Ok(()) }
/// ```
pub struct Switchyard<A: Adapter = LocalAdapter> {
    io: SocketIo<A>,
    pub(crate) shared: Arc<Shared<A>>,
}

impl<A: Adapter> Clone for Switchyard<A> {
    fn clone(&self) -> Self {
        Self {
            io: self.io.clone(),
            shared: self.shared.clone(),
        }
    }
}

/// The current time as the protocol writes it.
pub(crate) fn now() -> Timestamp {
    // Only a system clock outside the years 0–9999 falls back to the epoch.
    Timestamp::from_datetime(time::OffsetDateTime::now_utc()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A fresh, time-ordered unique id.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

impl Switchyard<LocalAdapter> {
    /// A single-node hub, in memory.
    pub fn new(config: Config) -> Self {
        let shared = Arc::new(Shared::new(config));
        let (layer, io) = Self::socket_builder(&shared).build_layer();
        io.ns(
            "/",
            socket::on_connect::<LocalAdapter>.with(socket::authenticate::<LocalAdapter>),
        );
        Self::assemble(io, layer, shared)
    }
}

impl<A: Adapter> Shared<A> {
    fn new(config: Config) -> Self {
        Self {
            api_keys: ApiKeys::new(&config.api_keys),
            metrics: Metrics::new(),
            presence: Mutex::new(Presence::new()),
            shutting_down: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            layer: OnceLock::new(),
            config,
        }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The presence table. A poisoned lock only means another task panicked mid-update of a
    /// table whose every update is a few map operations, so the data is still usable.
    pub(crate) fn presence(&self) -> MutexGuard<'_, Presence<Sid>> {
        self.presence.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn update_presence_gauges(&self, p: &Presence<Sid>) {
        self.metrics.set_presence(p.socket_count(), p.user_count());
    }
}

impl<A: Adapter> Switchyard<A> {
    fn socket_builder(shared: &Arc<Shared<A>>) -> socketioxide::SocketIoBuilder<LocalAdapter> {
        let limit = shared.limits().max_socket_message_bytes;
        SocketIo::builder()
            .with_state(shared.clone())
            .max_payload(u64::try_from(limit).unwrap_or(u64::MAX))
            .ws_max_message_size(limit)
            .ws_max_frame_size(limit)
            .max_buffer_size(shared.limits().socket_buffer_events)
    }

    fn assemble(io: SocketIo<A>, layer: SocketIoLayer<A>, shared: Arc<Shared<A>>) -> Self {
        // Set exactly once, right here, before the handle is returned.
        let _ = shared.layer.set(layer);
        Self { io, shared }
    }

    /// Rebuilds a handle inside a socket handler.
    pub(crate) fn from_parts(io: SocketIo<A>, shared: Arc<Shared<A>>) -> Self {
        Self { io, shared }
    }

    // -----------------------------------------------------------------------------------------
    // The seed functions

    /// `getIO`: the socketioxide instance, for anything the handle does not cover.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let io = hub.get_io();
    /// println!("{} sockets", io.sockets().len());
    /// # Ok(()) }
    /// ```
    pub fn get_io(&self) -> &SocketIo<A> {
        &self.io
    }

    /// `getServer`: an axum router with the Socket.IO endpoint, the HTTP API, health and
    /// metrics (and the demo routes in demo mode). Merge it into your own app or serve it.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let app = axum::Router::new().merge(hub.get_server());
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    /// axum::serve(listener, app).await?;
    /// # Ok(()) }
    /// ```
    pub fn get_server(&self) -> axum::Router {
        crate::server::app(self.clone())
    }

    /// The Socket.IO tower layer alone, to mount the endpoint on a router of your own.
    pub fn socket_layer(&self) -> Option<SocketIoLayer<A>> {
        self.shared.layer.get().cloned()
    }

    /// `emitToAll`: a custom event to every connected socket. Returns the delivery id.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// hub.emit_to_all("shift_change", serde_json::json!({ "shift": "night" })).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit_to_all(&self, event: &str, data: impl Serialize) -> Result<String, HubError> {
        self.custom_input(Target::All, &custom_body(event, data)?)
            .await
    }

    /// `emitToRoom`: a custom event to one room. Returns the delivery id.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let room = "ticket_T-100".parse()?;
    /// hub.emit_to_room(&room, "ticket_comment", serde_json::json!({ "text": "On site" })).await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit_to_room(
        &self,
        room: &Room,
        event: &str,
        data: impl Serialize,
    ) -> Result<String, HubError> {
        self.custom_input(Target::Room(room.clone()), &custom_body(event, data)?)
            .await
    }

    /// `joinRoom`: puts a socket in a room on the backend's behalf (no token grant needed;
    /// it does count towards the socket's subscriptions).
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// # let socket_id = "";
    /// hub.join_room(socket_id, &"meter_m-1001".parse()?)?;
    /// # Ok(()) }
    /// ```
    pub fn join_room(&self, socket_id: &str, room: &Room) -> Result<(), HubError> {
        let socket = self.socket(socket_id)?;
        socket::join(&socket, room);
        Ok(())
    }

    /// `leaveRoom`: takes a socket out of a room. Its own user room cannot be left.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// # let socket_id = "";
    /// hub.leave_room(socket_id, &"meter_m-1001".parse()?)?;
    /// # Ok(()) }
    /// ```
    pub fn leave_room(&self, socket_id: &str, room: &Room) -> Result<(), HubError> {
        let socket = self.socket(socket_id)?;
        socket::leave(&socket, room).map_err(|e| HubError::Forbidden(e.message))
    }

    /// `getConnectedSockets`: every socket on this node, sorted by id.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// for s in hub.get_connected_sockets() {
    ///     println!("{} {} {:?}", s.id, s.user_id, s.rooms);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn get_connected_sockets(&self) -> Vec<SocketInfo> {
        let mut out: Vec<SocketInfo> = self
            .sockets()
            .into_iter()
            .filter_map(|s| {
                let ctx = s.extensions.get::<SocketCtx>()?;
                Some(SocketInfo {
                    id: s.id.to_string(),
                    user_id: ctx.user().clone(),
                    rooms: socket::rooms(&s),
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out
    }

    /// `getSocketCount`: how many sockets are connected to this node.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// println!("{} sockets connected", hub.get_socket_count());
    /// # Ok(()) }
    /// ```
    pub fn get_socket_count(&self) -> usize {
        self.shared.presence().socket_count()
    }

    /// `handleUserAuth`: checks a client token exactly as the Socket.IO handshake does.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// # let token = "";
    /// let user = hub.handle_user_auth(token)?;
    /// println!("{} may subscribe to {:?}", user.user(), user.grants.patterns());
    /// # Ok(()) }
    /// ```
    pub fn handle_user_auth(&self, token: &str) -> Result<AuthedUser, AuthError> {
        self.shared.config.jwt.verify(token)
    }

    /// `sendNotification`: validates and sends a `notification` to every socket of `user`.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// let sent = hub.send_notification(&user, serde_json::json!({ "type": "info", "message": "Job 7 assigned" })).await?;
    /// println!("{} (online: {})", sent.id, sent.online);
    /// # Ok(()) }
    /// ```
    pub async fn send_notification(
        &self,
        user: &UserId,
        notification: impl Serialize,
    ) -> Result<NotificationSent, HubError> {
        self.notify_input(user, &to_input(notification)?).await
    }

    pub(crate) async fn notify_input(
        &self,
        user: &UserId,
        input: &Input,
    ) -> Result<NotificationSent, HubError> {
        let id = new_id();
        let d = routing::notify_user(user.clone(), input, id.clone(), now())?;
        let online = self.is_user_online(user);
        self.publish(&d).await?;
        Ok(NotificationSent { id, online })
    }

    /// `handleTicketUpdate`: validates and sends `ticket_updated` to `ticket_<id>`.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let ticket = "T-100".parse()?;
    /// hub.handle_ticket_update(&ticket, serde_json::json!({ "status": "in_progress", "assignedTo": "tech-42" })).await?;
    /// # Ok(()) }
    /// ```
    pub async fn handle_ticket_update(
        &self,
        ticket: &TicketId,
        update: impl Serialize,
    ) -> Result<String, HubError> {
        self.ticket_input(ticket, &to_input(update)?).await
    }

    /// `handleMeterReading`: validates and sends `meter_reading` to `meter_<id>`.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let meter = "m-1001".parse()?;
    /// let reading = serde_json::json!({ "reading": 1532.4, "timestamp": "2024-01-15T10:00:00Z", "unit": "kWh" });
    /// hub.handle_meter_reading(&meter, reading).await?;
    /// # Ok(()) }
    /// ```
    pub async fn handle_meter_reading(
        &self,
        meter: &MeterId,
        reading: impl Serialize,
    ) -> Result<String, HubError> {
        self.meter_input(meter, &to_input(reading)?).await
    }

    /// `sendAnnouncement`: validates and sends an `announcement` to everyone.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// hub.send_announcement(serde_json::json!({ "type": "maintenance", "message": "Portal down 02:00-03:00" })).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_announcement(
        &self,
        announcement: impl Serialize,
    ) -> Result<String, HubError> {
        self.announce_input(&to_input(announcement)?).await
    }

    // The same actions on input that is already an `Input` (the HTTP API's parsed bodies).
    // The public methods above convert and call these, so both paths judge and send alike.

    pub(crate) async fn ticket_input(
        &self,
        ticket: &TicketId,
        input: &Input,
    ) -> Result<String, HubError> {
        self.deliver(routing::ticket_update(ticket.clone(), input, now())?)
            .await
    }

    pub(crate) async fn meter_input(
        &self,
        meter: &MeterId,
        input: &Input,
    ) -> Result<String, HubError> {
        self.deliver(routing::meter_reading(meter.clone(), input, now())?)
            .await
    }

    /// Returns the announcement's own id.
    pub(crate) async fn announce_input(&self, input: &Input) -> Result<String, HubError> {
        let id = new_id();
        self.publish(&routing::announcement(input, id.clone(), now())?)
            .await?;
        Ok(id)
    }

    /// `body` is `{ event, data }`.
    pub(crate) async fn custom_input(
        &self,
        target: Target,
        body: &Input,
    ) -> Result<String, HubError> {
        self.deliver(routing::custom_event(target, body)?).await
    }

    /// Publishes a delivery; returns its delivery id.
    async fn deliver(&self, d: Delivery) -> Result<String, HubError> {
        self.publish(&d).await?;
        Ok(new_id())
    }

    /// `handleUserLogout`: disconnects every socket of `user`; returns how many.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// let n = hub.handle_user_logout(&user);
    /// println!("disconnected {n} sockets");
    /// # Ok(()) }
    /// ```
    pub fn handle_user_logout(&self, user: &UserId) -> usize {
        let sids: Vec<Sid> = self.shared.presence().sockets_of(user).copied().collect();
        sids.into_iter()
            .filter_map(|sid| self.io.of("/")?.get_socket(sid))
            .filter_map(|s| s.disconnect().ok())
            .count()
    }

    /// `getUserSocketId`: one socket id of `user` (the oldest by id order), if online.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// let one: Option<String> = hub.get_user_socket_id(&user);
    /// let all: Vec<String> = hub.get_user_socket_ids(&user);
    /// # let _ = (one, all);
    /// # Ok(()) }
    /// ```
    pub fn get_user_socket_id(&self, user: &UserId) -> Option<String> {
        self.shared
            .presence()
            .sockets_of(user)
            .next()
            .map(|s| s.to_string())
    }

    /// Every socket id of `user` (a user may have several devices).
    pub fn get_user_socket_ids(&self, user: &UserId) -> Vec<String> {
        self.shared
            .presence()
            .sockets_of(user)
            .map(|s| s.to_string())
            .collect()
    }

    /// `isUserOnline`: whether `user` has at least one socket connected.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// if hub.is_user_online(&user) {
    ///     println!("first socket: {:?}", hub.get_user_socket_id(&user));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_user_online(&self, user: &UserId) -> bool {
        self.shared.presence().is_online(user)
    }

    // -----------------------------------------------------------------------------------------

    /// The one path every event takes to clients: serialised once, sent to the target.
    pub(crate) async fn publish(&self, d: &Delivery) -> Result<(), HubError> {
        // `of` is None once the server has closed its namespaces; `to`/`emit` would panic.
        let ops = self.io.of("/").ok_or(HubError::ShuttingDown)?;
        let ops = match &d.target {
            Target::Room(room) => ops.to(room.to_string()),
            Target::All => ops,
        };
        let event = d.event.as_str();
        if let Err(e) = ops.emit(event, &d.payload).await {
            // Some sockets had full buffers or were closing; the others got it.
            tracing::warn!(event, target = %d.target, error = %e, "delivery incomplete");
            self.shared.metrics.delivery_failed(event);
        }
        self.shared.metrics.event_sent(event);
        Ok(())
    }

    fn sockets(&self) -> Vec<SocketRef<A>> {
        self.io.of("/").map(|ops| ops.sockets()).unwrap_or_default()
    }

    fn socket(&self, socket_id: &str) -> Result<SocketRef<A>, HubError> {
        let not_found = || HubError::SocketNotFound(socket_id.to_owned());
        let sid: Sid = socket_id.parse().map_err(|_| not_found())?;
        self.io
            .of("/")
            .and_then(|ops| ops.get_socket(sid))
            .ok_or_else(not_found)
    }
}

fn to_input(value: impl Serialize) -> Result<Input, HubError> {
    // Straight to `Input`, not through `serde_json::Value`, which would turn NaN into null.
    Input::from_serialize(&value).map_err(|e| {
        HubError::Validation(ValidationErrors(vec![switchyard_core::FieldError::new(
            "",
            switchyard_core::ErrorCode::Type,
            format!("the payload cannot be represented as JSON: {e}"),
        )]))
    })
}

fn custom_body(event: &str, data: impl Serialize) -> Result<Input, HubError> {
    let fields = [
        ("event".to_owned(), Input::String(event.to_owned())),
        ("data".to_owned(), to_input(data)?),
    ];
    Ok(Input::Object(fields.into_iter().collect()))
}
