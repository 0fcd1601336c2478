//! A minimal Socket.IO v5 client over Engine.IO v4, websocket transport only.
//!
//! Hand-written on purpose: the official clients parse every packet into a JSON tree and run
//! an event emitter per socket, which would make the generator's own CPU the bottleneck long
//! before the server's. This one speaks exactly the packets the benchmark needs (open, CONNECT
//! with `auth`, the `welcome` event, one `subscribe` with an ack, ping/pong, events) and reads
//! a delivery's send time by a substring search, without parsing the payload.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::Error;

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The key in the published payload's `data` that carries the send time (µs since `start`).
pub const STAMP_KEY: &str = "benchT";

/// What every client shares with the driver.
pub struct Shared {
    /// The generator's clock origin; stamps and receive times are both µs since this instant,
    /// so latency needs no cross-process clock.
    pub start: Instant,
    /// Deliveries received by all clients together (the driver polls it to end the drain).
    pub received: AtomicU64,
    /// The event every delivery arrives as, e.g. `42["ticket_updated"`.
    pub event_prefix: String,
    /// Whether each client also keeps every delivery's send stamp (`--timeline-ms`).
    pub keep_stamps: bool,
}

/// One client's results, returned when the driver says stop.
#[derive(Default)]
pub struct Outcome {
    /// Latency of each delivery, µs from the API call to the receive.
    pub latencies_us: Vec<u32>,
    /// With `keep_stamps`: each delivery's send stamp, µs since `start`, in the order of
    /// `latencies_us`.
    pub sent_us: Vec<u32>,
    /// Deliveries of the benchmarked event that carried no readable stamp.
    pub unstamped: u64,
    /// Whether the server closed the connection before the driver said stop.
    pub dropped: bool,
}

/// A connected, authenticated client subscribed to its room.
pub struct Client {
    ws: Ws,
}

impl Client {
    /// Opens the websocket, sends CONNECT with `auth: { token }`, waits for `welcome`, then
    /// subscribes to `room` and waits for its ack `{ ok: true, … }`.
    pub async fn connect(ws_url: &str, token: &str, room: &str) -> Result<Client, Error> {
        // tungstenite's default 128 KiB read buffer is zero-filled on every read: with one small
        // frame per read that memset was 60 % of the generator's CPU (perf). Frames here are
        // small; the server side (engineioxide) uses 4 KiB too.
        let config = WebSocketConfig::default().read_buffer_size(4096);
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(ws_url, Some(config), true).await?;
        let mut c = Client { ws };
        let open = c.next_text().await?;
        if !open.starts_with('0') {
            return Err(format!("expected an Engine.IO open packet, got {open:.80}").into());
        }
        let connect = serde_json::json!({ "token": token });
        c.send(format!("40{connect}")).await?;
        let answer = c.next_text().await?;
        if !answer.starts_with("40") {
            return Err(format!("CONNECT refused: {answer:.200}").into());
        }
        loop {
            let t = c.next_text().await?;
            if t.starts_with("42[\"welcome\"") {
                break;
            }
        }
        let sub = serde_json::json!(["subscribe", { "room": room }]);
        c.send(format!("420{sub}")).await?;
        loop {
            let t = c.next_text().await?;
            if let Some(ack) = t.strip_prefix("430") {
                if ack.contains("\"ok\":true") {
                    return Ok(c);
                }
                return Err(format!("subscribe to {room} refused: {ack:.200}").into());
            }
        }
    }

    async fn send(&mut self, text: String) -> Result<(), Error> {
        self.ws.send(Message::text(text)).await?;
        Ok(())
    }

    /// The next Engine.IO text packet that is not a ping (pings are answered here).
    async fn next_text(&mut self) -> Result<String, Error> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" {
                        self.send("3".to_owned()).await?;
                        continue;
                    }
                    return Ok(t.as_str().to_owned());
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err("the server closed the connection".into());
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.into()),
            }
        }
    }

    /// Receives deliveries until `stop` turns true, recording each one's latency.
    pub async fn run(mut self, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) -> Outcome {
        let mut out = Outcome::default();
        let needle = format!("\"{STAMP_KEY}\":");
        loop {
            let msg = tokio::select! {
                biased;
                m = self.ws.next() => m,
                _ = stop.changed() => break,
            };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    out.dropped = true;
                    return out;
                }
                Some(Ok(_)) => continue,
            };
            let t = text.as_str();
            if t == "2" {
                if self.ws.send(Message::text("3")).await.is_err() {
                    out.dropped = true;
                    return out;
                }
                continue;
            }
            if !t.starts_with(shared.event_prefix.as_str()) {
                continue;
            }
            let now = shared.start.elapsed().as_micros();
            shared.received.fetch_add(1, Ordering::Relaxed);
            match stamp(t, &needle) {
                Some(sent) => {
                    let lat = now.saturating_sub(u128::from(sent));
                    out.latencies_us
                        .push(u32::try_from(lat).unwrap_or(u32::MAX));
                    if shared.keep_stamps {
                        out.sent_us.push(u32::try_from(sent).unwrap_or(u32::MAX));
                    }
                }
                None => out.unstamped += 1,
            }
        }
        let _ = self.ws.close(None).await;
        out
    }
}

/// The integer after `needle` in `text`.
fn stamp(text: &str, needle: &str) -> Option<u64> {
    let at = text.find(needle)? + needle.len();
    text[at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(None, |acc: Option<u64>, d| {
            Some(acc.unwrap_or(0) * 10 + u64::from(d - b'0'))
        })
}

#[cfg(test)]
mod tests {
    use super::stamp;

    #[test]
    fn reads_the_stamp_wherever_it_is() {
        let n = "\"benchT\":";
        assert_eq!(
            stamp(
                r#"42["ticket_updated",{"data":{"benchT":1234,"seq":1}}]"#,
                n
            ),
            Some(1234)
        );
        assert_eq!(stamp(r#"42["x",{"benchT":"no"}]"#, n), None);
        assert_eq!(stamp(r#"42["x",{}]"#, n), None);
    }
}
