//! # switchyard-host
//!
//! Switchyard's native server: a Socket.IO v4 endpoint (websocket and long-polling) with JWT
//! authentication, the HTTP API backend services push events through, Prometheus metrics, and
//! the demo mode. The binary `switchyard` is a thin wrapper over this library.
//!
//! Every function of the Node module Switchyard replaces is a method of [`Switchyard`]:
//!
//! | old module | [`Switchyard`] method | HTTP |
//! |---|---|---|
//! | `getIO` | [`get_io`](Switchyard::get_io) | — |
//! | `getServer` | [`get_server`](Switchyard::get_server) | — |
//! | `emitToAll` | [`emit_to_all`](Switchyard::emit_to_all) | `POST /api/v1/broadcast` |
//! | `emitToRoom` | [`emit_to_room`](Switchyard::emit_to_room) | `POST /api/v1/rooms/{room}/events` |
//! | `joinRoom` | [`join_room`](Switchyard::join_room) | `PUT /api/v1/sockets/{id}/rooms/{room}` |
//! | `leaveRoom` | [`leave_room`](Switchyard::leave_room) | `DELETE /api/v1/sockets/{id}/rooms/{room}` |
//! | `getConnectedSockets` | [`get_connected_sockets`](Switchyard::get_connected_sockets) | `GET /api/v1/sockets` |
//! | `getSocketCount` | [`get_socket_count`](Switchyard::get_socket_count) | `GET /api/v1/sockets` (`count`) |
//! | `handleUserAuth` | [`handle_user_auth`](Switchyard::handle_user_auth) | the Socket.IO handshake |
//! | `sendNotification` | [`send_notification`](Switchyard::send_notification) | `POST /api/v1/users/{id}/notifications` |
//! | `handleTicketUpdate` | [`handle_ticket_update`](Switchyard::handle_ticket_update) | `POST /api/v1/tickets/{id}/updates` |
//! | `handleMeterReading` | [`handle_meter_reading`](Switchyard::handle_meter_reading) | `POST /api/v1/meters/{id}/readings` |
//! | `sendAnnouncement` | [`send_announcement`](Switchyard::send_announcement) | `POST /api/v1/announcements` |
//! | `handleUserLogout` | [`handle_user_logout`](Switchyard::handle_user_logout) | `DELETE /api/v1/users/{id}/sockets` |
//! | `getUserSocketId` | [`get_user_socket_id`](Switchyard::get_user_socket_id) | `GET /api/v1/users/{id}/presence` |
//! | `isUserOnline` | [`is_user_online`](Switchyard::is_user_online) | `GET /api/v1/users/{id}/presence` |
//!
//! ## Quick start
//!
//! ```no_run
//! use switchyard_host::{Config, auth::JwtKeys, server};
//!
//! # async fn start() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new(JwtKeys::new(Some("dev-secret"), None)?, vec!["backend-key".into()]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! server::run(listener, config, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

// Layers, lowest first; a module uses only modules above it in this list (ARCHITECTURE.md,
// checked by tests/layers.rs).
pub mod auth;
mod clock;
pub mod config;
pub mod conn;
mod delivery;
mod edge;
mod handle;
pub mod metrics;
pub mod rate;
mod reply;
pub mod server;
pub mod store;

pub use config::{Config, Limits};
pub use delivery::HubError;
pub use edge::{api, demo};
pub use handle::{NodeStatus, NotificationSent, SocketInfo, Switchyard};
pub use server::{app, run, serve};
pub use switchyard_core as core;
