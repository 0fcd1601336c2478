//! [`Switchyard`], the public handle: every function of the old Node module, in snake_case.
//! The HTTP API and embedding applications call the same methods, which judge input with the
//! core and hand the resulting deliveries to the delivery layer's one publish path.
//!
//! The constructors and [`Switchyard::get_server`] wire the edges together, so they live with
//! the assembly in [`crate::server`].

use std::sync::Arc;

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::{Adapter, LocalAdapter};
use socketioxide::layer::SocketIoLayer;
use switchyard_core::routing::{self, Delivery, Target};
use switchyard_core::{Fields, Input, MeterId, Room, TicketId, UserId, ValidationErrors};

use crate::auth::{AuthError, AuthedUser};
use crate::clock::{new_id, now};
use crate::delivery::{Hub, HubError};
use crate::store::{NodeCommand, NodeReply};

/// A notification was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NotificationSent {
    /// The notification's id.
    pub id: String,
    /// Whether the user had a socket connected when it was sent.
    pub online: bool,
}

/// One connected socket, as `getConnectedSockets` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SocketInfo {
    /// Socket id.
    pub id: String,
    /// Whose socket.
    pub user_id: UserId,
    /// The rooms it is in, sorted.
    pub rooms: Vec<String>,
    /// Cluster mode: the node that holds it (absent on a single node).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One live node, as `GET /api/v1/nodes` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NodeStatus {
    /// Its `--node-id`.
    pub id: String,
    /// How many sockets it holds.
    pub sockets: usize,
    /// Its last heartbeat (now, for a single node).
    #[schema(value_type = String, format = DateTime)]
    pub seen_at: switchyard_core::Timestamp,
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
pub struct Switchyard<A: Adapter = LocalAdapter>(pub(crate) Arc<Hub<A>>);

impl<A: Adapter> Clone for Switchyard<A> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A: Adapter> Switchyard<A> {
    pub(crate) fn hub(&self) -> &Arc<Hub<A>> {
        &self.0
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
        self.0.io()
    }

    /// The Socket.IO tower layer alone, to mount the endpoint on a router of your own.
    pub fn socket_layer(&self) -> SocketIoLayer<A> {
        self.0.layer().clone()
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

    /// `joinRoom`: puts a socket in a room on the backend's behalf. No token grant is needed,
    /// but the room counts towards `--max-subscriptions-per-socket` like a client's subscription:
    /// over it the join is refused (`limit_exceeded`). Joining a room the socket is already in,
    /// or its own user room, changes nothing.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// # let socket_id = "";
    /// hub.join_room(socket_id, &"meter_m-1001".parse()?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn join_room(&self, socket_id: &str, room: &Room) -> Result<(), HubError> {
        let socket = match self.0.socket(socket_id) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .remote(socket_id, e, |sid| NodeCommand::Join {
                        sid,
                        room: room.to_string(),
                    })
                    .await;
            }
        };
        self.0
            .join(&socket, room.clone())
            .map_err(HubError::Refused)?;
        self.0.sync_rooms(&socket).await;
        Ok(())
    }

    /// Cluster mode: asks the node that holds a socket this node does not (`not_here` when no
    /// node does, or on a single node).
    async fn remote(
        &self,
        socket_id: &str,
        not_here: HubError,
        command: impl FnOnce(String) -> NodeCommand,
    ) -> Result<(), HubError> {
        let Some(cluster) = self.0.cluster() else {
            return Err(not_here);
        };
        let Some(node) = cluster.node_of(socket_id).await? else {
            return Err(not_here);
        };
        if node == cluster.node_id() {
            // Registered here but gone from this node's transport: it is leaving.
            return Err(not_here);
        }
        let NodeReply { error } = cluster
            .request(&node, command(socket_id.to_owned()))
            .await?;
        match error {
            None => Ok(()),
            Some((switchyard_core::ErrorCode::NotFound, _)) => Err(not_here),
            Some((code, message)) => Err(HubError::Refused(
                switchyard_core::protocol::AckError::new(code, message),
            )),
        }
    }

    /// `leaveRoom`: takes a socket out of a room. Its own user room cannot be left.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// # let socket_id = "";
    /// hub.leave_room(socket_id, &"meter_m-1001".parse()?).await?;
    /// # Ok(()) }
    /// ```
    pub async fn leave_room(&self, socket_id: &str, room: &Room) -> Result<(), HubError> {
        let socket = match self.0.socket(socket_id) {
            Ok(s) => s,
            Err(e) => {
                return self
                    .remote(socket_id, e, |sid| NodeCommand::Leave {
                        sid,
                        room: room.to_string(),
                    })
                    .await;
            }
        };
        self.0.leave(&socket, room).map_err(HubError::Refused)?;
        self.0.sync_rooms(&socket).await;
        Ok(())
    }

    /// `getConnectedSockets`: every socket (in a cluster: on every node, each with its `node`),
    /// sorted by id.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// for s in hub.get_connected_sockets().await? {
    ///     println!("{} {} {:?}", s.id, s.user_id, s.rooms);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_connected_sockets(&self) -> Result<Vec<SocketInfo>, HubError> {
        if let Some(cluster) = self.0.cluster() {
            return Ok(cluster
                .sockets()
                .await?
                .into_iter()
                .map(|s| SocketInfo {
                    id: s.id,
                    user_id: s.user,
                    rooms: s.rooms,
                    node: Some(s.node),
                })
                .collect());
        }
        let mut out: Vec<SocketInfo> = self
            .0
            .sockets()
            .into_iter()
            .filter_map(|s| {
                Some(SocketInfo {
                    id: s.id.to_string(),
                    user_id: Hub::user_of(&s)?,
                    rooms: Hub::rooms_of(&s),
                    node: None,
                })
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// `getSocketCount`: how many sockets are connected (in a cluster: to every node).
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// println!("{} sockets connected", hub.get_socket_count().await?);
    /// # Ok(()) }
    /// ```
    pub async fn get_socket_count(&self) -> Result<usize, HubError> {
        Ok(self.0.presence().counts().await?.sockets)
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
        self.0.config.jwt.verify(token)
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
        input: &Input<'_>,
    ) -> Result<NotificationSent, HubError> {
        let id = new_id();
        let d = routing::notify_user(user.clone(), input, id.clone(), now())?;
        let online = self.is_user_online(user).await?;
        self.0.publish(&d, &id).await?;
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
        input: &Input<'_>,
    ) -> Result<String, HubError> {
        self.deliver(routing::ticket_update(ticket.clone(), input, now())?)
            .await
    }

    pub(crate) async fn meter_input(
        &self,
        meter: &MeterId,
        input: &Input<'_>,
    ) -> Result<String, HubError> {
        self.deliver(routing::meter_reading(meter.clone(), input, now())?)
            .await
    }

    /// Returns the announcement's own id.
    pub(crate) async fn announce_input(&self, input: &Input<'_>) -> Result<String, HubError> {
        let id = new_id();
        let d = routing::announcement(input, id.clone(), now())?;
        self.0.publish(&d, &id).await?;
        Ok(id)
    }

    /// `body` is `{ event, data }`.
    pub(crate) async fn custom_input(
        &self,
        target: Target,
        body: &Input<'_>,
    ) -> Result<String, HubError> {
        self.deliver(routing::custom_event(target, body)?).await
    }

    /// Publishes a delivery; returns its delivery id (which its `meta.id` carries too).
    async fn deliver(&self, d: Delivery) -> Result<String, HubError> {
        let id = new_id();
        self.0.publish(&d, &id).await?;
        Ok(id)
    }

    /// `handleUserLogout`: disconnects every socket of `user`; returns how many.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// let n = hub.handle_user_logout(&user).await?;
    /// println!("disconnected {n} sockets");
    /// # Ok(()) }
    /// ```
    pub async fn handle_user_logout(&self, user: &UserId) -> Result<usize, HubError> {
        let sids = self.0.presence().sockets_of(user).await?;
        let ops = self.0.io().of("/").ok_or(HubError::ShuttingDown)?;
        let mut n = 0;
        for sid in sids {
            match ops.get_socket(sid) {
                Some(s) => n += usize::from(s.disconnect().is_ok()),
                None => {
                    let gone = HubError::SocketNotFound(sid.to_string());
                    let remote = self
                        .remote(&sid.to_string(), gone, |sid| NodeCommand::Disconnect {
                            sid,
                        })
                        .await;
                    match remote {
                        Ok(()) => n += 1,
                        Err(HubError::SocketNotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(n)
    }

    /// The live nodes, sorted by id: every node of the cluster, or this one alone.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// for n in hub.get_nodes().await? {
    ///     println!("{} holds {} sockets (seen {})", n.id, n.sockets, n.seen_at);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn get_nodes(&self) -> Result<Vec<NodeStatus>, HubError> {
        let Some(cluster) = self.0.cluster() else {
            return Ok(vec![NodeStatus {
                id: self.0.config.node_id.clone(),
                sockets: self.0.sockets().len(),
                seen_at: now(),
            }]);
        };
        Ok(cluster
            .nodes()
            .await?
            .into_iter()
            .map(|n| NodeStatus {
                id: n.id,
                sockets: n.sockets,
                seen_at: switchyard_core::Timestamp::from_unix_millis(n.seen_ms)
                    .unwrap_or(switchyard_core::Timestamp::UNIX_EPOCH),
            })
            .collect())
    }

    /// `getUserSocketId`: one socket id of `user` (the oldest by id order), if online.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// let one: Option<String> = hub.get_user_socket_id(&user).await?;
    /// let all: Vec<String> = hub.get_user_socket_ids(&user).await?;
    /// # let _ = (one, all);
    /// # Ok(()) }
    /// ```
    pub async fn get_user_socket_id(&self, user: &UserId) -> Result<Option<String>, HubError> {
        Ok(self.get_user_socket_ids(user).await?.into_iter().next())
    }

    /// Every socket id of `user` (a user may have several devices), sorted.
    pub async fn get_user_socket_ids(&self, user: &UserId) -> Result<Vec<String>, HubError> {
        let sids = self.0.presence().sockets_of(user).await?;
        Ok(sids.iter().map(ToString::to_string).collect())
    }

    /// `isUserOnline`: whether `user` has at least one socket connected.
    ///
    /// ```no_run
    /// # async fn example(hub: switchyard_host::Switchyard) -> Result<(), Box<dyn std::error::Error>> {
    /// let user = "tech-42".parse()?;
    /// if hub.is_user_online(&user).await? {
    ///     println!("first socket: {:?}", hub.get_user_socket_id(&user).await?);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn is_user_online(&self, user: &UserId) -> Result<bool, HubError> {
        Ok(!self.0.presence().sockets_of(user).await?.is_empty())
    }
}

fn to_input(value: impl Serialize) -> Result<Input<'static>, HubError> {
    // Straight to `Input`, not through `serde_json::Value`, which would turn NaN into null.
    Input::from_serialize(&value).map_err(|e| {
        HubError::Validation(ValidationErrors(vec![switchyard_core::FieldError::new(
            "",
            switchyard_core::ErrorCode::Type,
            format!("the payload cannot be represented as JSON: {e}"),
        )]))
    })
}

fn custom_body(event: &str, data: impl Serialize) -> Result<Input<'static>, HubError> {
    Ok(Input::Object(Fields::from([
        ("event".into(), Input::String(event.to_owned().into())),
        ("data".into(), to_input(data)?),
    ])))
}
