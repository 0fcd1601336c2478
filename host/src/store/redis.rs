//! The Redis stores (cluster mode, contract section 9): presence, streams and the node registry
//! shared by every node, and the cluster's traffic, all through one Redis 7 server.
//!
//! Commands go through redis-rs's `ConnectionManager`, which reconnects on its own; events
//! arrive on a pubsub connection this module re-subscribes itself after Redis comes back (the
//! multiplexed connection alone never does). Every decision two nodes could race on is one Lua
//! script, so Redis orders it:
//! - a stream event's append (`HINCRBY` of the top, `XADD` with the offset as its id, `MAXLEN`,
//!   `EXPIRE`) and its `PUBLISH` to every node happen in one script, so every node receives a
//!   stream's events in offset order whichever node published them;
//! - a socket's arrival or departure decides `user_online` / `user_offline` and the per-user
//!   limit in one script, so each transition is announced exactly once cluster-wide;
//! - a dead node's sockets are reaped in one script, so exactly one survivor announces each of
//!   its users' `user_offline`.
//!
//! The key layout is in ARCHITECTURE.md ("Cluster mode").

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Client, Script};
use serde_json::value::RawValue;
use socketioxide::socket::Sid;
use switchyard_core::UserId;
use switchyard_core::presence::{PresenceChange, PresenceError};
use switchyard_core::stream::{Meta, Retained, StreamName, StreamPosition};
use tokio::sync::{OwnedMutexGuard, mpsc, oneshot};

use crate::config::Retention;

use super::{
    Cluster, ClusterHealth, ClusterSocket, Incoming, NodeCommand, NodeInfo, NodeReply,
    PresenceCounts, PresenceStore, Reaped, StoreError, StoreFuture, StoredEvent, StreamLock,
    StreamStats, StreamStore,
};

/// The prefix of every key and channel.
const PREFIX: &str = "switchyard";

/// How long a command may take before the store counts Redis as unreachable.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a request to another node may wait for its answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Removes one socket from the registry; answers its user when it was their last socket.
const DROP_SOCKET: &str = r#"
local function drop(P, sid)
  local user = redis.call('HGET', P .. ':sock:user', sid)
  if not user then return false end
  local node = redis.call('HGET', P .. ':sock:node', sid)
  redis.call('HDEL', P .. ':sock:user', sid)
  redis.call('HDEL', P .. ':sock:node', sid)
  redis.call('HDEL', P .. ':sock:rooms', sid)
  if node then redis.call('SREM', P .. ':node:' .. node, sid) end
  local uk = P .. ':user:' .. user
  redis.call('SREM', uk, sid)
  if redis.call('SCARD', uk) == 0 then
    redis.call('SREM', P .. ':online', user)
    return user
  end
  return false
end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
"#;

/// A stream's epoch (meta hash, stream key); a stream whose meta is gone starts the new epoch
/// given, and its old events, if any survived, are dropped with it.
const STREAM_EPOCH: &str = r#"
local function epoch_of(meta, stream, new)
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = new
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch, 's', 0)
  end
  return epoch
end
"#;

/// ARGV: prefix, sid, user, node, max (0: no limit), rooms (JSON). 0: known already, -1: over
/// the limit, 1: the user's first socket, 2: another socket.
const CONNECT: &str = r#"
local P, sid, user, node = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('HEXISTS', P .. ':sock:user', sid) == 1 then return 0 end
local max = tonumber(ARGV[5])
local uk = P .. ':user:' .. user
if max > 0 and redis.call('SCARD', uk) >= max then return -1 end
redis.call('HSET', P .. ':sock:user', sid, user)
redis.call('HSET', P .. ':sock:node', sid, node)
redis.call('HSET', P .. ':sock:rooms', sid, ARGV[6])
redis.call('SADD', uk, sid)
redis.call('SADD', P .. ':node:' .. node, sid)
if redis.call('SADD', P .. ':online', user) == 1 then return 1 end
return 2
"#;

/// ARGV: prefix, sid. The user gone offline, or nil.
const DISCONNECT: &str = "return drop(ARGV[1], ARGV[2])";

/// ARGV: prefix, ttl (ms). Removes every node whose heartbeat is older than the TTL, with its
/// sockets; answers how many nodes it removed, then the users left with no socket.
const REAP: &str = r#"
local P = ARGV[1]
local dead = redis.call('ZRANGEBYSCORE', P .. ':nodes', '-inf', now_ms() - tonumber(ARGV[2]))
local offline = { tostring(#dead) }
for _, node in ipairs(dead) do
  redis.call('ZREM', P .. ':nodes', node)
  for _, sid in ipairs(redis.call('SMEMBERS', P .. ':node:' .. node)) do
    local user = drop(P, sid)
    if user then table.insert(offline, user) end
  end
  redis.call('DEL', P .. ':node:' .. node)
end
return offline
"#;

/// ARGV: prefix, node. 1 when the node was not registered (first start, or reaped).
const HEARTBEAT: &str = "return redis.call('ZADD', ARGV[1] .. ':nodes', now_ms(), ARGV[2])";

/// ARGV: prefix, node, ttl (ms). 1 when a live node holds the id.
const ID_TAKEN: &str = r#"
local seen = redis.call('ZSCORE', ARGV[1] .. ':nodes', ARGV[2])
if seen and tonumber(seen) > now_ms() - tonumber(ARGV[3]) then return 1 end
return 0
"#;

/// ARGV: prefix, node. Removes the node and its sockets (a clean shutdown); answers the users
/// left with none.
const LEAVE: &str = r#"
local P = ARGV[1]
local offline = {}
redis.call('ZREM', P .. ':nodes', ARGV[2])
for _, sid in ipairs(redis.call('SMEMBERS', P .. ':node:' .. ARGV[2])) do
  local user = drop(P, sid)
  if user then table.insert(offline, user) end
end
redis.call('DEL', P .. ':node:' .. ARGV[2])
return offline
"#;

/// ARGV: prefix, sid, rooms (JSON). Only while the socket is registered: a late update must
/// not bring a departed socket back.
const SET_ROOMS: &str = r#"
if redis.call('HEXISTS', ARGV[1] .. ':sock:user', ARGV[2]) == 1 then
  redis.call('HSET', ARGV[1] .. ':sock:rooms', ARGV[2], ARGV[3])
end
return 1
"#;

/// KEYS: meta, stream. ARGV: new epoch, event, payload, id, at (ms), history size, stream TTL
/// (s), meta TTL (s), channel, stream name. A stream whose meta is gone starts a new epoch (its
/// old events, if any survived, are dropped with it). Returns { epoch, offset }.
const APPEND: &str = r#"
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[1])
local top = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('EXPIRE', KEYS[1], ARGV[8])
local size = tonumber(ARGV[6])
if size > 0 then
  redis.call('XADD', KEYS[2], 'MAXLEN', size, '0-' .. top,
    'e', ARGV[2], 'p', ARGV[3], 'i', ARGV[4], 't', ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[7])
end
redis.call('PUBLISH', ARGV[9], 's\n' .. ARGV[10] .. '\n' .. epoch .. '\n' .. top .. '\n' ..
  ARGV[4] .. '\n' .. ARGV[5] .. '\n' .. ARGV[2] .. '\n' .. ARGV[3])
return { epoch, top }
"#;

/// KEYS: meta, stream. ARGV: new epoch, expiry cutoff (ms), meta TTL (s). Drops the expired
/// events at the stream's front and answers { epoch, top, first retained offset }.
const WINDOW: &str = r#"
local epoch = epoch_of(KEYS[1], KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[3])
local top = tonumber(redis.call('HGET', KEYS[1], 's'))
local cutoff = tonumber(ARGV[2])
while true do
  local first = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if #first == 0 then return { epoch, top, top + 1 } end
  local id, fields, at = first[1][1], first[1][2], nil
  for i = 1, #fields, 2 do
    if fields[i] == 't' then at = tonumber(fields[i + 1]) end
  end
  if at and at < cutoff then
    redis.call('XDEL', KEYS[2], id)
  else
    return { epoch, top, tonumber(string.match(id, '-(%d+)$')) }
  end
end
"#;

struct Scripts {
    connect: Script,
    set_rooms: Script,
    disconnect: Script,
    reap: Script,
    heartbeat: Script,
    id_taken: Script,
    leave: Script,
    append: Script,
    window: Script,
}

impl Scripts {
    fn new() -> Self {
        let with_helpers = |body: &str| Script::new(&format!("{DROP_SOCKET}\n{body}"));
        Self {
            connect: Script::new(CONNECT),
            set_rooms: Script::new(SET_ROOMS),
            disconnect: with_helpers(DISCONNECT),
            reap: with_helpers(REAP),
            heartbeat: with_helpers(HEARTBEAT),
            id_taken: with_helpers(ID_TAKEN),
            leave: with_helpers(LEAVE),
            append: Script::new(&format!("{STREAM_EPOCH}\n{APPEND}")),
            window: Script::new(&format!("{STREAM_EPOCH}\n{WINDOW}")),
        }
    }
}

/// Why cluster mode could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The URL is not a Redis URL.
    #[error("--redis-url: {0}")]
    Url(String),
    /// Redis cannot be reached at start-up.
    #[error("cannot reach Redis at start-up: {0}")]
    Connect(String),
    /// A live node already holds the id.
    #[error("--node-id {0:?} is held by a live node; pick another id or wait --presence-ttl")]
    NodeIdTaken(String),
}

/// How a cluster node is set up.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://…`.
    pub url: String,
    /// This node's id.
    pub node_id: String,
    /// A node whose heartbeat is older than this is dead.
    pub presence_ttl: Duration,
    /// Stream bounds.
    pub retention: Retention,
}

/// A node that has joined the cluster.
pub struct Joined {
    /// The shared state.
    pub cluster: Arc<RedisCluster>,
    /// What the cluster sends, in the order Redis fanned it out.
    pub incoming: mpsc::Receiver<Incoming>,
    /// Users whose last socket was held by an earlier life of this node id (for
    /// `user_offline`).
    pub offline: Vec<UserId>,
}

/// The connection to Redis and everything the three stores share.
pub struct RedisCluster {
    conn: ConnectionManager,
    settings: RedisSettings,
    scripts: Scripts,
    all_channel: String,
    own_channel: String,
    /// Per stream, this node's order (see [`Cluster::hold`]).
    orders: Mutex<HashMap<StreamName, Arc<tokio::sync::Mutex<()>>>>,
    /// Requests to other nodes awaiting their answer.
    pending: Mutex<HashMap<String, oneshot::Sender<NodeReply>>>,
    /// The last command round-trip succeeded.
    reachable: AtomicBool,
    /// The pubsub connection is subscribed.
    subscribed: AtomicBool,
    /// Failed commands so far.
    errors: AtomicU64,
    /// The last PING's round trip (µs; 0 before the first).
    ping_micros: AtomicU64,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("redis: {e}"))
}

fn secs(d: Duration) -> u64 {
    d.as_secs().max(1) + u64::from(d.subsec_nanos() > 0)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl RedisCluster {
    /// Connects, checks the node id, registers the node, and starts listening.
    pub async fn connect(settings: RedisSettings) -> Result<Joined, ClusterError> {
        let client =
            Client::open(settings.url.as_str()).map_err(|e| ClusterError::Url(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        let cluster = Arc::new(Self {
            conn,
            all_channel: format!("{PREFIX}:all"),
            own_channel: format!("{PREFIX}:to:{}", settings.node_id),
            settings,
            scripts: Scripts::new(),
            orders: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            reachable: AtomicBool::new(true),
            subscribed: AtomicBool::new(false),
            errors: AtomicU64::new(0),
            ping_micros: AtomicU64::new(0),
        });
        let taken: i64 = cluster
            .scripts
            .id_taken
            .arg(PREFIX)
            .arg(cluster.node_id())
            .arg(millis(cluster.settings.presence_ttl))
            .invoke_async(&mut cluster.conn.clone())
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        if taken == 1 {
            return Err(ClusterError::NodeIdTaken(cluster.node_id().to_owned()));
        }
        // An earlier life of this id (killed before anyone reaped it) leaves nothing behind;
        // its users left with no socket are the caller's to announce.
        let leftover = cluster
            .leave()
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        let (tx, rx) = mpsc::channel(8192);
        let (ready_tx, ready_rx) = oneshot::channel();
        tokio::spawn(listen(client, cluster.clone(), tx, ready_tx));
        // Registered only once it hears the cluster, so nobody counts on a node that is deaf.
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        cluster
            .heartbeat()
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        tokio::spawn(watch(Arc::downgrade(&cluster)));
        Ok(Joined {
            cluster,
            incoming: rx,
            offline: leftover,
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// Notes whether Redis answered, for readiness.
    fn seen<T>(&self, r: redis::RedisResult<T>) -> Result<T, StoreError> {
        self.reachable.store(r.is_ok(), Ordering::SeqCst);
        if r.is_err() {
            self.errors.fetch_add(1, Ordering::SeqCst);
        }
        r.map_err(unavailable)
    }

    fn orders(&self) -> MutexGuard<'_, HashMap<StreamName, Arc<tokio::sync::Mutex<()>>>> {
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<NodeReply>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn stream_ttl(&self, stream: &StreamName) -> Duration {
        let r = &self.settings.retention;
        match stream.room() {
            Some(room) if room.kind() == switchyard_core::RoomKind::User => r.inbox_ttl,
            _ => r.history_ttl,
        }
    }

    /// A stream's position outlives its events by at least `--inbox-ttl`.
    fn meta_ttl(&self, stream: &StreamName) -> u64 {
        secs(self.stream_ttl(stream)) + secs(self.settings.retention.inbox_ttl)
    }

    fn keys(stream: &StreamName) -> (String, String) {
        (
            format!("{PREFIX}:meta:{stream}"),
            format!("{PREFIX}:stream:{stream}"),
        )
    }

    fn new_epoch() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// Turns one pubsub message into what the hub acts on (None: a reply, handled here, or
    /// garbage, logged).
    fn incoming(&self, text: &str) -> Option<Incoming> {
        let parsed = match text.as_bytes().first() {
            Some(b's') => parse_stream(text),
            Some(b'b') => {
                let mut it = text.splitn(4, '\n').skip(1);
                let (room, event, payload) = (it.next()?, it.next()?, it.next()?);
                RawValue::from_string(payload.to_owned())
                    .ok()
                    .map(|payload| Incoming::Broadcast {
                        room: room.to_owned(),
                        event: event.to_owned(),
                        payload,
                    })
            }
            Some(b'q') => {
                let mut it = text.splitn(4, '\n').skip(1);
                let (from, rid, json) = (it.next()?, it.next()?, it.next()?);
                serde_json::from_str(json)
                    .ok()
                    .map(|command| Incoming::Request {
                        from: from.to_owned(),
                        rid: rid.to_owned(),
                        command,
                    })
            }
            Some(b'r') => {
                let mut it = text.splitn(3, '\n').skip(1);
                let (rid, json) = (it.next()?, it.next()?);
                if let Ok(reply) = serde_json::from_str::<NodeReply>(json)
                    && let Some(waiting) = self.pending().remove(rid)
                {
                    let _ = waiting.send(reply);
                }
                return None;
            }
            _ => None,
        };
        if parsed.is_none() {
            tracing::warn!(message = %text.chars().take(120).collect::<String>(), "unreadable cluster message");
        }
        parsed
    }
}

/// `s\n{stream}\n{epoch}\n{offset}\n{id}\n{at}\n{event}\n{payload}`, as APPEND publishes it.
fn parse_stream(text: &str) -> Option<Incoming> {
    let mut it = text.splitn(8, '\n').skip(1);
    let stream: StreamName = it.next()?.parse().ok()?;
    let epoch = it.next()?;
    let offset: u64 = it.next()?.parse().ok()?;
    let id = it.next()?;
    let at_ms: i64 = it.next()?.parse().ok()?;
    let event = it.next()?;
    let payload = RawValue::from_string(it.next()?.to_owned()).ok()?;
    let stored = stored_event(&stream, epoch, offset, id, at_ms, event, payload)?;
    Some(Incoming::Stream {
        stream,
        epoch: epoch.into(),
        event: stored,
    })
}

/// The event as the in-memory store would keep it: the same meta text, built the same way.
fn stored_event(
    stream: &StreamName,
    epoch: &str,
    offset: u64,
    id: &str,
    at_ms: i64,
    event: &str,
    payload: Box<RawValue>,
) -> Option<Arc<StoredEvent>> {
    let meta = Meta::new(stream.clone(), StreamPosition::new(epoch, offset), id);
    Some(Arc::new(StoredEvent {
        offset,
        event: event.to_owned(),
        payload,
        meta: serde_json::value::to_raw_value(&meta).ok()?,
        at_ms,
    }))
}

/// The pubsub connection: subscribes, forwards, and when Redis goes away, reconnects and
/// re-subscribes on its own (then asks the hub to re-register its sockets).
async fn listen(
    client: Client,
    cluster: Arc<RedisCluster>,
    tx: mpsc::Sender<Incoming>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let channels = [cluster.all_channel.clone(), cluster.own_channel.clone()];
    loop {
        if tx.is_closed() {
            return;
        }
        let connected =
            tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await;
        if let Ok(Ok(mut pubsub)) = connected
            && pubsub.subscribe(&channels).await.is_ok()
        {
            cluster.subscribed.store(true, Ordering::SeqCst);
            match ready.take() {
                Some(r) => {
                    let _ = r.send(());
                }
                None => {
                    tracing::info!("cluster traffic resumed");
                    if tx.send(Incoming::Resync).await.is_err() {
                        return;
                    }
                }
            }
            let mut messages = pubsub.on_message();
            while let Some(msg) = messages.next().await {
                let Ok(text) = msg.get_payload::<String>() else {
                    continue;
                };
                if let Some(incoming) = cluster.incoming(&text)
                    && tx.send(incoming).await.is_err()
                {
                    return;
                }
            }
            cluster.subscribed.store(false, Ordering::SeqCst);
            tracing::warn!("lost the cluster's pubsub connection; reconnecting");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Pings Redis every second, so readiness follows Redis within a few seconds even when idle.
async fn watch(cluster: std::sync::Weak<RedisCluster>) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let Some(c) = cluster.upgrade() else { return };
        let sent = std::time::Instant::now();
        let ping = tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("PING").query_async::<String>(&mut c.conn()),
        )
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::Io,
                "ping timed out",
            )))
        });
        if c.seen(ping).is_ok() {
            let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
            c.ping_micros.store(micros.max(1), Ordering::SeqCst);
        }
    }
}

impl Cluster for RedisCluster {
    fn node_id(&self) -> &str {
        &self.settings.node_id
    }

    fn is_ready(&self) -> bool {
        self.reachable.load(Ordering::SeqCst) && self.subscribed.load(Ordering::SeqCst)
    }

    fn publish_stream<'a>(
        &'a self,
        stream: &'a StreamName,
        event: &'a str,
        payload: &'a RawValue,
        id: &'a str,
        at_ms: i64,
    ) -> StoreFuture<'a, StreamPosition> {
        Box::pin(async move {
            let (meta, events) = Self::keys(stream);
            let r: redis::RedisResult<(String, u64)> = self
                .scripts
                .append
                .key(meta)
                .key(events)
                .arg(Self::new_epoch())
                .arg(event)
                .arg(payload.get())
                .arg(id)
                .arg(at_ms)
                .arg(self.settings.retention.history_size)
                .arg(secs(self.stream_ttl(stream)))
                .arg(self.meta_ttl(stream))
                .arg(&self.all_channel)
                .arg(stream.to_string())
                .invoke_async(&mut self.conn())
                .await;
            let (epoch, offset) = self.seen(r)?;
            Ok(StreamPosition::new(epoch, offset))
        })
    }

    fn broadcast<'a>(
        &'a self,
        room: &'a str,
        event: &'a str,
        payload: &'a RawValue,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let message = format!("b\n{room}\n{event}\n{}", payload.get());
            let r: redis::RedisResult<i64> = self.conn().publish(&self.all_channel, message).await;
            self.seen(r).map(|_| ())
        })
    }

    fn hold<'a>(
        &'a self,
        stream: &'a StreamName,
    ) -> Pin<Box<dyn Future<Output = OwnedMutexGuard<()>> + Send + 'a>> {
        let order = self.orders().entry(stream.clone()).or_default().clone();
        Box::pin(order.lock_owned())
    }

    fn set_rooms(&self, socket: Sid, rooms: Vec<String>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(&rooms).map_err(unavailable)?;
            let r: redis::RedisResult<i64> = self
                .scripts
                .set_rooms
                .arg(PREFIX)
                .arg(socket.to_string())
                .arg(json)
                .invoke_async(&mut self.conn())
                .await;
            self.seen(r)?;
            Ok(())
        })
    }

    fn register<'a>(
        &'a self,
        socket: Sid,
        user: &'a UserId,
        rooms: Vec<String>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(&rooms).map_err(unavailable)?;
            let r: redis::RedisResult<i64> = self
                .scripts
                .connect
                .arg(PREFIX)
                .arg(socket.to_string())
                .arg(user.as_str())
                .arg(self.node_id())
                .arg(0)
                .arg(json)
                .invoke_async(&mut self.conn())
                .await;
            self.seen(r).map(|_| ())
        })
    }

    fn sockets(&self) -> StoreFuture<'_, Vec<ClusterSocket>> {
        Box::pin(async move {
            let mut conn = self.conn();
            type ById = HashMap<String, String>;
            let r: redis::RedisResult<(ById, ById, ById)> = redis::pipe()
                .hgetall(format!("{PREFIX}:sock:user"))
                .hgetall(format!("{PREFIX}:sock:node"))
                .hgetall(format!("{PREFIX}:sock:rooms"))
                .query_async(&mut conn)
                .await;
            let (users, nodes, rooms) = self.seen(r)?;
            let mut out: Vec<ClusterSocket> = users
                .into_iter()
                .filter_map(|(id, user)| {
                    let user: UserId = user.parse().ok()?;
                    let node = nodes.get(&id).cloned().unwrap_or_default();
                    let mut rooms: Vec<String> = rooms
                        .get(&id)
                        .and_then(|r| serde_json::from_str(r).ok())
                        .unwrap_or_default();
                    rooms.sort();
                    Some(ClusterSocket {
                        id,
                        user,
                        node,
                        rooms,
                    })
                })
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
    }

    fn node_of<'a>(&'a self, socket: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let r = self
                .conn()
                .hget(format!("{PREFIX}:sock:node"), socket)
                .await;
            self.seen(r)
        })
    }

    fn request<'a>(&'a self, node: &'a str, command: NodeCommand) -> StoreFuture<'a, NodeReply> {
        Box::pin(async move {
            let rid = uuid::Uuid::new_v4().simple().to_string();
            let json = serde_json::to_string(&command).map_err(unavailable)?;
            let (tx, rx) = oneshot::channel();
            self.pending().insert(rid.clone(), tx);
            let message = format!("q\n{}\n{rid}\n{json}", self.node_id());
            let r: redis::RedisResult<i64> = self
                .conn()
                .publish(format!("{PREFIX}:to:{node}"), message)
                .await;
            let answer = match self.seen(r) {
                Ok(0) => Err(StoreError::Unavailable(format!(
                    "node {node} does not listen"
                ))),
                Ok(_) => match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
                    Ok(Ok(reply)) => Ok(reply),
                    _ => Err(StoreError::Unavailable(format!(
                        "node {node} did not answer"
                    ))),
                },
                Err(e) => Err(e),
            };
            self.pending().remove(&rid);
            answer
        })
    }

    fn reply<'a>(&'a self, to: &'a str, rid: &'a str, reply: NodeReply) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let json = serde_json::to_string(&reply).map_err(unavailable)?;
            let r: redis::RedisResult<i64> = self
                .conn()
                .publish(format!("{PREFIX}:to:{to}"), format!("r\n{rid}\n{json}"))
                .await;
            self.seen(r).map(|_| ())
        })
    }

    fn nodes(&self) -> StoreFuture<'_, Vec<NodeInfo>> {
        Box::pin(async move {
            let mut conn = self.conn();
            let r: redis::RedisResult<Vec<(String, f64)>> = conn
                .zrange_withscores(format!("{PREFIX}:nodes"), 0, -1)
                .await;
            let seen = self.seen(r)?;
            let mut pipe = redis::pipe();
            for (id, _) in &seen {
                pipe.scard(format!("{PREFIX}:node:{id}"));
            }
            let r: redis::RedisResult<Vec<usize>> = pipe.query_async(&mut conn).await;
            let counts = self.seen(r)?;
            let ttl = millis(self.settings.presence_ttl);
            let now = crate::clock::now_ms();
            let mut out: Vec<NodeInfo> = seen
                .into_iter()
                .zip(counts)
                .map(|((id, at), sockets)| NodeInfo {
                    id,
                    sockets,
                    // Scores are whole milliseconds.
                    #[allow(clippy::cast_possible_truncation)]
                    seen_ms: at as i64,
                })
                // Dead but not yet reaped: not live.
                .filter(|n| n.seen_ms > now - ttl)
                .collect();
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
    }

    fn heartbeat(&self) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let r: redis::RedisResult<i64> = self
                .scripts
                .heartbeat
                .arg(PREFIX)
                .arg(self.node_id())
                .invoke_async(&mut self.conn())
                .await;
            Ok(self.seen(r)? == 1)
        })
    }

    fn reap(&self) -> StoreFuture<'_, Reaped> {
        Box::pin(async move {
            let r: redis::RedisResult<Vec<String>> = self
                .scripts
                .reap
                .arg(PREFIX)
                .arg(millis(self.settings.presence_ttl))
                .invoke_async(&mut self.conn())
                .await;
            let out = self.seen(r)?;
            let mut it = out.into_iter();
            let nodes = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            Ok(Reaped {
                nodes,
                users: it.filter_map(|u| u.parse().ok()).collect(),
            })
        })
    }

    fn health(&self) -> ClusterHealth {
        let ping = self.ping_micros.load(Ordering::SeqCst);
        ClusterHealth {
            up: self.is_ready(),
            errors: self.errors.load(Ordering::SeqCst),
            ping: (ping > 0).then(|| Duration::from_micros(ping)),
        }
    }

    fn leave(&self) -> StoreFuture<'_, Vec<UserId>> {
        Box::pin(async move {
            let r: redis::RedisResult<Vec<String>> = self
                .scripts
                .leave
                .arg(PREFIX)
                .arg(self.node_id())
                .invoke_async(&mut self.conn())
                .await;
            Ok(self
                .seen(r)?
                .into_iter()
                .filter_map(|u| u.parse().ok())
                .collect())
        })
    }
}

/// Presence for every node, in Redis.
pub struct RedisPresence(pub Arc<RedisCluster>);

impl PresenceStore for RedisPresence {
    fn connect(
        &self,
        socket: Sid,
        user: UserId,
        max_per_user: switchyard_core::Limit,
    ) -> StoreFuture<'_, Result<Option<PresenceChange>, PresenceError>> {
        Box::pin(async move {
            let c = &self.0;
            let r: redis::RedisResult<i64> = c
                .scripts
                .connect
                .arg(PREFIX)
                .arg(socket.to_string())
                .arg(user.as_str())
                .arg(c.node_id())
                // 0 tells the script there is no limit, as the flag's 0 does.
                .arg(max_per_user.get().map_or(0, std::num::NonZeroU64::get))
                .arg("[]")
                .invoke_async(&mut c.conn())
                .await;
            Ok(match c.seen(r)? {
                -1 => Err(PresenceError::TooManySockets {
                    user,
                    max: max_per_user,
                }),
                1 => Ok(Some(PresenceChange::Online(user))),
                _ => Ok(None),
            })
        })
    }

    fn disconnect(&self, socket: Sid) -> StoreFuture<'_, Option<PresenceChange>> {
        Box::pin(async move {
            let c = &self.0;
            let r: redis::RedisResult<Option<String>> = c
                .scripts
                .disconnect
                .arg(PREFIX)
                .arg(socket.to_string())
                .invoke_async(&mut c.conn())
                .await;
            Ok(c.seen(r)?
                .and_then(|u| u.parse().ok())
                .map(PresenceChange::Offline))
        })
    }

    fn sockets_of<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<Sid>> {
        Box::pin(async move {
            let c = &self.0;
            let r: redis::RedisResult<Vec<String>> = c
                .conn()
                .smembers(format!("{PREFIX}:user:{}", user.as_str()))
                .await;
            let mut sids: Vec<Sid> = c.seen(r)?.iter().filter_map(|s| s.parse().ok()).collect();
            sids.sort();
            Ok(sids)
        })
    }

    fn counts(&self) -> StoreFuture<'_, PresenceCounts> {
        Box::pin(async move {
            let c = &self.0;
            let r: redis::RedisResult<(usize, usize)> = redis::pipe()
                .hlen(format!("{PREFIX}:sock:user"))
                .scard(format!("{PREFIX}:online"))
                .query_async(&mut c.conn())
                .await;
            let (sockets, users) = c.seen(r)?;
            Ok(PresenceCounts { sockets, users })
        })
    }

    fn online_users(&self) -> StoreFuture<'_, Vec<UserId>> {
        Box::pin(async move {
            let c = &self.0;
            let r: redis::RedisResult<Vec<String>> =
                c.conn().smembers(format!("{PREFIX}:online")).await;
            let mut users: Vec<UserId> = c.seen(r)?.iter().filter_map(|u| u.parse().ok()).collect();
            users.sort();
            Ok(users)
        })
    }
}

/// Streams for every node, in Redis. Appends go through [`Cluster::publish_stream`]; the lock
/// here is this node's order plus the stream's window read from Redis, for replays.
pub struct RedisStreams(pub Arc<RedisCluster>);

struct RedisLock<'a> {
    cluster: &'a RedisCluster,
    name: &'a StreamName,
    epoch: String,
    first: u64,
    top: u64,
    _order: OwnedMutexGuard<()>,
}

impl StreamStore for RedisStreams {
    fn lock<'a>(
        &'a self,
        stream: &'a StreamName,
        now_ms: i64,
    ) -> StoreFuture<'a, Box<dyn StreamLock + 'a>> {
        Box::pin(async move {
            let c = &*self.0;
            let order = c.hold(stream).await;
            let (meta, events) = RedisCluster::keys(stream);
            let cutoff = now_ms.saturating_sub(millis(c.stream_ttl(stream)));
            let r: redis::RedisResult<(String, u64, u64)> = c
                .scripts
                .window
                .key(meta)
                .key(events)
                .arg(RedisCluster::new_epoch())
                .arg(cutoff)
                .arg(c.meta_ttl(stream))
                .invoke_async(&mut c.conn())
                .await;
            let (epoch, top, first) = c.seen(r)?;
            Ok(Box::new(RedisLock {
                cluster: c,
                name: stream,
                epoch,
                first,
                top,
                _order: order,
            }) as Box<dyn StreamLock + 'a>)
        })
    }

    fn sweep(&self, _now_ms: i64) {
        // Redis expires the events itself; only this node's idle order locks go.
        self.0
            .orders()
            .retain(|_, order| Arc::strong_count(order) > 1);
    }

    fn stats(&self) -> StreamStats {
        // The retention gauges describe this process's memory; in cluster mode it holds none.
        StreamStats::default()
    }
}

impl StreamLock for RedisLock<'_> {
    fn top(&self) -> StreamPosition {
        StreamPosition::new(self.epoch.clone(), self.top)
    }

    fn retained(&self) -> Retained<'_> {
        Retained::new(&self.epoch, self.first, self.top)
    }

    fn append(&mut self, _event: Arc<StoredEvent>) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Err(StoreError::Unavailable(
            "cluster streams are appended with their fan-out (Cluster::publish_stream)".into(),
        ))))
    }

    fn read(&self, from: u64, to: u64) -> StoreFuture<'_, Vec<Arc<StoredEvent>>> {
        Box::pin(async move {
            let c = self.cluster;
            let (_, events) = RedisCluster::keys(self.name);
            let r: redis::RedisResult<Vec<(String, Vec<String>)>> = redis::cmd("XRANGE")
                .arg(events)
                .arg(format!("0-{from}"))
                .arg(format!("0-{to}"))
                .query_async(&mut c.conn())
                .await;
            let entries = c.seen(r)?;
            let mut out = Vec::with_capacity(entries.len());
            for (id, fields) in entries {
                out.push(self.entry(&id, &fields).ok_or_else(|| {
                    StoreError::Unavailable(format!("stream {}: unreadable entry {id}", self.name))
                })?);
            }
            // Another node's append may trim the oldest events between the window read and
            // this one; a replay with a hole would be a silent gap, so it is refused instead.
            let complete = out.len() as u64 == to.saturating_sub(from) + 1
                && out.first().is_none_or(|e| e.offset == from);
            if !complete && from <= to {
                return Err(StoreError::Unavailable(format!(
                    "stream {}: history was trimmed during the replay; retry",
                    self.name
                )));
            }
            Ok(out)
        })
    }
}

impl RedisLock<'_> {
    fn entry(&self, id: &str, fields: &[String]) -> Option<Arc<StoredEvent>> {
        let offset: u64 = id.strip_prefix("0-")?.parse().ok()?;
        let mut map: HashMap<&str, &str> = HashMap::new();
        for pair in fields.chunks(2) {
            if let [k, v] = pair {
                map.insert(k, v);
            }
        }
        let payload = RawValue::from_string((*map.get("p")?).to_owned()).ok()?;
        stored_event(
            self.name,
            &self.epoch,
            offset,
            map.get("i")?,
            map.get("t")?.parse().ok()?,
            map.get("e")?,
            payload,
        )
    }
}
