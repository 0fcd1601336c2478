//! The answer to a client event (its Socket.IO ack) as something that can be tried again.
//!
//! socketioxide's `AckSender` is spent by its one `send`, and that send fails at once when the
//! socket's queue (`--socket-buffer-events`) is full. An answer that follows a replay paced to
//! the client's reading must wait for room as the replay did, so the edge takes a [`Reply`]
//! instead: it keeps what an `AckSender` is made of and mints a fresh one per attempt.

use std::convert::Infallible;
use std::sync::Arc;

use serde::Serialize;
use socketioxide::SendError;
use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::{Str, Value};

/// The ack of one client event (a no-op when the client asked for none).
pub(crate) struct Reply<A: Adapter> {
    socket: Arc<Socket<A>>,
    ack_id: Option<i64>,
}

impl<A: Adapter> FromMessageParts<A> for Reply<A> {
    type Error = Infallible;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        _: &mut Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        Ok(Self {
            socket: s.clone(),
            ack_id: *ack_id,
        })
    }
}

impl<A: Adapter> Reply<A> {
    /// One attempt; `InternalChannelFull` when the socket's queue has no room for it now.
    pub(crate) fn try_send<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), SendError> {
        // An AckSender reads neither the event's arguments nor anything else of this value.
        let mut unused = Value::Str(Str::from(""), None);
        let Ok(sender) = AckSender::from_message_parts(&self.socket, &mut unused, &self.ack_id);
        sender.send(data)
    }
}
