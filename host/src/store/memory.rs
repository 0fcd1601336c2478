//! The in-memory stores: one node, nothing shared, nothing kept across a restart (so every
//! stream starts a new epoch when the process does).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use socketioxide::socket::Sid;
use switchyard_core::presence::{PresenceChange, PresenceError};
use switchyard_core::stream::{Retained, StreamName, StreamPosition};
use switchyard_core::{Presence, UserId};

use crate::config::Retention;

use super::{
    PresenceCounts, PresenceStore, StoreError, StoreFuture, StoredEvent, StreamLock, StreamStats,
    StreamStore,
};

/// Presence in this process: core's [`Presence`] table under a lock.
#[derive(Default)]
pub struct MemoryPresence {
    table: Mutex<Presence<Sid>>,
}

impl MemoryPresence {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// A poisoned lock only means another task panicked mid-update of a table whose every
    /// update is a few map operations, so the data is still usable.
    fn table(&self) -> MutexGuard<'_, Presence<Sid>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl PresenceStore for MemoryPresence {
    fn connect(
        &self,
        socket: Sid,
        user: UserId,
        max_per_user: switchyard_core::Limit,
    ) -> StoreFuture<'_, Result<Option<PresenceChange>, PresenceError>> {
        ready(self.table().connect(socket, user, max_per_user))
    }

    fn disconnect(&self, socket: Sid) -> StoreFuture<'_, Option<PresenceChange>> {
        ready(self.table().disconnect(&socket))
    }

    fn sockets_of<'a>(&'a self, user: &'a UserId) -> StoreFuture<'a, Vec<Sid>> {
        ready(self.table().sockets_of(user).copied().collect())
    }

    fn counts(&self) -> StoreFuture<'_, PresenceCounts> {
        let t = self.table();
        ready(PresenceCounts {
            sockets: t.socket_count(),
            users: t.user_count(),
        })
    }

    fn online_users(&self) -> StoreFuture<'_, Vec<UserId>> {
        ready(self.table().users().cloned().collect())
    }
}

/// Streams in this process.
pub struct MemoryStreams {
    retention: Retention,
    inner: Mutex<Streams>,
}

struct Streams {
    /// Only streams that hold something: an event, a top above 0, or a lock taken or waited
    /// for. A stream nobody ever published to (most users' own rooms) has no entry once its
    /// lock is released: its allocations (about 100 bytes) and its slot in this table were
    /// kept for `--inbox-ttl` for every user who connected.
    by_name: HashMap<StreamName, Stream>,
    /// The epoch of every stream created from here on. Shared, so a stream that is gone and
    /// comes back with top 0 answers the same position as before; replaced whenever a stream
    /// whose top was above 0 is forgotten, so that stream comes back in a new epoch and no
    /// client can mistake its restarted offsets for the old ones.
    fresh_epoch: Arc<str>,
    /// Every retained event in append order across streams, for "the oldest go first" when
    /// the byte budget is passed. Entries whose event has already gone another way are skipped
    /// when met, and compacted away when they outnumber the live ones.
    order: VecDeque<(StreamName, u64)>,
    events: usize,
    bytes: usize,
}

struct Stream {
    epoch: Arc<str>,
    top: u64,
    events: VecDeque<Arc<StoredEvent>>,
    last_used_ms: i64,
    /// Held across "append, then emit" and "replay, join, ack" (an async lock: the emit and the
    /// join are awaited while it is held).
    order: Arc<tokio::sync::Mutex<()>>,
}

/// Random, so an epoch never repeats across restarts or forgotten streams.
fn new_epoch() -> Arc<str> {
    uuid::Uuid::new_v4().simple().to_string().into()
}

impl Default for Streams {
    fn default() -> Self {
        Self {
            by_name: HashMap::new(),
            fresh_epoch: new_epoch(),
            order: VecDeque::new(),
            events: 0,
            bytes: 0,
        }
    }
}

impl Stream {
    fn new(epoch: Arc<str>, now_ms: i64) -> Self {
        Self {
            epoch,
            top: 0,
            events: VecDeque::new(),
            last_used_ms: now_ms,
            order: Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

impl MemoryStreams {
    /// Empty streams with these bounds.
    pub fn new(retention: Retention) -> Self {
        Self {
            retention,
            inner: Mutex::new(Streams::default()),
        }
    }

    /// A poisoned lock only means another task panicked between two map operations.
    fn inner(&self) -> MutexGuard<'_, Streams> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ttl_ms(&self, stream: &StreamName) -> i64 {
        match stream.room() {
            Some(room) if room.kind() == switchyard_core::RoomKind::User => {
                millis(self.retention.inbox_ttl)
            }
            _ => millis(self.retention.history_ttl),
        }
    }
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Streams {
    /// Drops `stream`'s events older than `before_ms` (they are at its front).
    fn expire(&mut self, name: &StreamName, before_ms: i64) {
        let Some(s) = self.by_name.get_mut(name) else {
            return;
        };
        while s.events.front().is_some_and(|e| e.at_ms < before_ms) {
            if let Some(e) = s.events.pop_front() {
                self.events -= 1;
                self.bytes -= e.size();
            }
        }
    }

    /// Drops the oldest events of all streams until the total fits `max_bytes`.
    fn fit(&mut self, max_bytes: usize) {
        while self.bytes > max_bytes {
            let Some((name, offset)) = self.order.pop_front() else {
                break;
            };
            if let Some(s) = self.by_name.get_mut(&name)
                && s.events.front().is_some_and(|e| e.offset == offset)
                && let Some(e) = s.events.pop_front()
            {
                self.events -= 1;
                self.bytes -= e.size();
            }
        }
        if self.order.len() > 2 * self.events + 64 {
            let by_name = &self.by_name;
            self.order.retain(|(name, offset)| {
                by_name
                    .get(name)
                    .and_then(|s| s.events.front())
                    .is_some_and(|first| first.offset <= *offset)
            });
        }
    }
}

struct MemoryLock<'a> {
    store: &'a MemoryStreams,
    name: &'a StreamName,
    epoch: Arc<str>,
    _order: tokio::sync::OwnedMutexGuard<()>,
    /// The first and top offsets, read when the lock was taken and kept up to date by
    /// `append`, so `retained()` can lend the epoch without reaching into the map.
    first: u64,
    top: u64,
}

impl StreamStore for MemoryStreams {
    fn lock<'a>(
        &'a self,
        stream: &'a StreamName,
        now_ms: i64,
    ) -> StoreFuture<'a, Box<dyn StreamLock + 'a>> {
        Box::pin(async move {
            let order = {
                let mut inner = self.inner();
                let epoch = inner.fresh_epoch.clone();
                let s = inner
                    .by_name
                    .entry(stream.clone())
                    .or_insert_with(|| Stream::new(epoch, now_ms));
                s.last_used_ms = now_ms;
                s.order.clone()
            };
            let guard = order.lock_owned().await;
            let mut inner = self.inner();
            inner.expire(stream, now_ms.saturating_sub(self.ttl_ms(stream)));
            // The stream cannot have been forgotten meanwhile: `sweep` skips streams whose
            // order lock is taken or waited for.
            let s = inner
                .by_name
                .get(stream)
                .ok_or_else(|| StoreError::Unavailable(format!("stream {stream} vanished")))?;
            let lock = MemoryLock {
                store: self,
                name: stream,
                epoch: s.epoch.clone(),
                first: s.events.front().map_or(s.top + 1, |e| e.offset),
                top: s.top,
                _order: guard,
            };
            Ok(Box::new(lock) as Box<dyn StreamLock + 'a>)
        })
    }

    fn sweep(&self, now_ms: i64) {
        let mut inner = self.inner();
        let names: Vec<StreamName> = inner.by_name.keys().cloned().collect();
        for name in names {
            inner.expire(&name, now_ms.saturating_sub(self.ttl_ms(&name)));
            let forget = inner.by_name.get(&name).is_some_and(|s| {
                s.events.is_empty()
                    && now_ms.saturating_sub(s.last_used_ms) > millis(self.retention.inbox_ttl)
                    && Arc::strong_count(&s.order) == 1
            });
            if forget
                && let Some(gone) = inner.by_name.remove(&name)
                && gone.top > 0
            {
                inner.fresh_epoch = new_epoch();
            }
        }
        inner.fit(self.retention.history_max_bytes);
    }

    fn stats(&self) -> StreamStats {
        let inner = self.inner();
        StreamStats {
            streams: inner.by_name.len(),
            events: inner.events,
            bytes: inner.bytes,
        }
    }
}

impl Drop for MemoryLock<'_> {
    /// A stream that was only looked at (a welcome, a subscribe to a quiet room) leaves no
    /// entry behind; it comes back with the same epoch and top 0.
    fn drop(&mut self) {
        // A top never goes back to 0: a stream published to keeps its entry, and every publish
        // releases such a lock, so it is not worth a second look at the table.
        if self.top > 0 {
            return;
        }
        let mut inner = self.store.inner();
        let unused = inner.by_name.get(self.name).is_some_and(|s| {
            // The entry's lock and this guard's: nobody else holds it or waits for it.
            s.top == 0 && s.events.is_empty() && Arc::strong_count(&s.order) == 2
        });
        if unused {
            inner.by_name.remove(self.name);
        }
    }
}

impl StreamLock for MemoryLock<'_> {
    fn top(&self) -> StreamPosition {
        StreamPosition::new(self.epoch.to_string(), self.top)
    }

    fn retained(&self) -> Retained<'_> {
        Retained::new(&self.epoch, self.first, self.top)
    }

    fn append(&mut self, event: Arc<StoredEvent>) -> StoreFuture<'_, ()> {
        let retention = self.store.retention;
        let mut inner = self.store.inner();
        let result = (|| {
            let s = inner
                .by_name
                .get_mut(self.name)
                .ok_or_else(|| StoreError::Unavailable(format!("stream {} vanished", self.name)))?;
            if event.offset != s.top + 1 {
                return Err(StoreError::Unavailable(format!(
                    "stream {}: offset {} does not follow {}",
                    self.name, event.offset, s.top
                )));
            }
            s.top = event.offset;
            self.top = s.top;
            let size = event.size();
            let mut dropped = 0usize;
            let mut dropped_bytes = 0usize;
            if retention.history_size > 0 {
                s.events.push_back(event.clone());
                while s.events.len() > retention.history_size {
                    if let Some(old) = s.events.pop_front() {
                        dropped += 1;
                        dropped_bytes += old.size();
                    }
                }
                inner.events += 1;
                inner.bytes += size;
                inner.order.push_back((self.name.clone(), event.offset));
            }
            inner.events -= dropped;
            inner.bytes -= dropped_bytes;
            inner.fit(retention.history_max_bytes);
            Ok(())
        })();
        if let Some(s) = inner.by_name.get(self.name) {
            self.first = s.events.front().map_or(s.top + 1, |e| e.offset);
        }
        Box::pin(std::future::ready(result))
    }

    fn read(&self, from: u64, to: u64) -> StoreFuture<'_, Vec<Arc<StoredEvent>>> {
        let inner = self.store.inner();
        let events = inner
            .by_name
            .get(self.name)
            .map(|s| {
                s.events
                    .iter()
                    .filter(|e| (from..=to).contains(&e.offset))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(std::future::ready(Ok(events)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::Limit;

    fn u(s: &str) -> UserId {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn transitions_limit_and_counts() {
        let store = MemoryPresence::new();
        let (a, b) = (Sid::new(), Sid::new());
        assert_eq!(
            store.connect(a, u("x"), Limit::new(2)).await.unwrap(),
            Ok(Some(PresenceChange::Online(u("x"))))
        );
        assert_eq!(
            store.connect(b, u("x"), Limit::new(2)).await.unwrap(),
            Ok(None)
        );
        assert!(matches!(
            store.connect(Sid::new(), u("x"), Limit::new(2)).await.unwrap(),
            Err(PresenceError::TooManySockets { max, .. }) if max == Limit::new(2)
        ));
        let mut both = vec![a, b];
        both.sort();
        assert_eq!(store.sockets_of(&u("x")).await.unwrap(), both);
        assert_eq!(
            store.counts().await.unwrap(),
            PresenceCounts {
                sockets: 2,
                users: 1
            }
        );
        assert_eq!(store.disconnect(a).await.unwrap(), None);
        assert_eq!(
            store.disconnect(b).await.unwrap(),
            Some(PresenceChange::Offline(u("x")))
        );
        assert_eq!(store.counts().await.unwrap(), PresenceCounts::default());
    }
}

#[cfg(test)]
mod stream_tests {
    use std::time::Duration;

    use serde_json::value::RawValue;

    use super::*;

    fn retention(per_stream: usize, max_bytes: usize) -> Retention {
        Retention {
            history_size: per_stream,
            history_ttl: Duration::from_secs(60),
            inbox_ttl: Duration::from_secs(600),
            history_max_bytes: max_bytes,
            ..Retention::DEFAULT
        }
    }

    fn event(offset: u64, at_ms: i64) -> Arc<StoredEvent> {
        Arc::new(StoredEvent {
            offset,
            event: "ticket_updated".into(),
            payload: RawValue::from_string(format!("{{\"n\":\"{offset:04}\"}}")).unwrap(),
            meta: RawValue::from_string("{}".into()).unwrap(),
            at_ms,
        })
    }

    fn name(s: &str) -> StreamName {
        s.parse().unwrap()
    }

    async fn append(store: &MemoryStreams, stream: &StreamName, n: u64, at_ms: i64) {
        for _ in 0..n {
            let mut lock = store.lock(stream, at_ms).await.unwrap();
            let next = lock.top().offset + 1;
            lock.append(event(next, at_ms)).await.unwrap();
        }
    }

    async fn window(store: &MemoryStreams, stream: &StreamName, now_ms: i64) -> (u64, u64) {
        let lock = store.lock(stream, now_ms).await.unwrap();
        let r = lock.retained();
        (r.first(), r.top())
    }

    #[tokio::test]
    async fn history_size_bounds_each_stream_and_the_top_outlives_it() {
        let store = MemoryStreams::new(retention(3, usize::MAX));
        let t = name("ticket_1");
        append(&store, &t, 5, 0).await;
        assert_eq!(window(&store, &t, 0).await, (3, 5));
        let lock = store.lock(&t, 0).await.unwrap();
        let offsets: Vec<u64> = lock
            .read(1, 5)
            .await
            .unwrap()
            .iter()
            .map(|e| e.offset)
            .collect();
        assert_eq!(offsets, [3, 4, 5]);
        drop(lock);
        // Zero keeps positions, not events.
        let none = MemoryStreams::new(retention(0, usize::MAX));
        append(&none, &t, 2, 0).await;
        assert_eq!(window(&none, &t, 0).await, (3, 2));
        assert_eq!(none.stats().events, 0);
    }

    #[tokio::test]
    async fn max_bytes_boundary_drops_the_oldest_of_all_streams() {
        let size = event(1, 0).size();
        let (a, b) = (name("ticket_a"), name("meter_b"));
        // Exactly four events' worth: all four stay.
        let store = MemoryStreams::new(retention(100, 4 * size));
        append(&store, &a, 2, 0).await;
        append(&store, &b, 2, 0).await;
        assert_eq!(store.stats().events, 4);
        assert_eq!(store.stats().bytes, 4 * size);
        // One byte less: the oldest event of all (a's first) goes.
        let store = MemoryStreams::new(retention(100, 4 * size - 1));
        append(&store, &a, 2, 0).await;
        append(&store, &b, 2, 0).await;
        assert_eq!(store.stats().events, 3);
        assert_eq!(window(&store, &a, 0).await, (2, 2));
        assert_eq!(window(&store, &b, 0).await, (1, 2));
    }

    #[tokio::test]
    async fn ttl_and_the_inbox_ttl_expire_events_and_idle_streams_are_forgotten() {
        let store = MemoryStreams::new(retention(100, usize::MAX));
        let (t, u) = (name("ticket_1"), name("user_u1"));
        append(&store, &t, 2, 0).await;
        append(&store, &u, 2, 0).await;
        // After the history TTL (60 s) the ticket's events are gone, the inbox's are not.
        assert_eq!(window(&store, &t, 60_001).await, (3, 2));
        assert_eq!(window(&store, &u, 60_001).await, (1, 2));
        let epoch = store.lock(&t, 60_001).await.unwrap().top().epoch;
        // Past the inbox TTL (600 s) of idleness, a stream is forgotten: it comes back with a
        // new epoch, so no client can mistake its restarted offsets for the old ones.
        store.sweep(60_001 + 600_001);
        assert_eq!(store.stats().events, 0);
        assert_eq!(store.stats().streams, 0);
        let again = store.lock(&t, 60_001 + 600_002).await.unwrap().top();
        assert_eq!(again.offset, 0);
        assert_ne!(again.epoch, epoch);
    }

    #[tokio::test]
    async fn a_stream_only_looked_at_leaves_no_entry_and_keeps_its_epoch() {
        let store = MemoryStreams::new(retention(100, usize::MAX));
        let (u, v) = (name("user_u1"), name("user_u2"));
        let first = store.lock(&u, 0).await.unwrap().top();
        assert_eq!(first.offset, 0);
        assert_eq!(store.stats().streams, 0, "released unused: no entry");
        // Back later: the same position, so a client that kept it recovers (nothing missed).
        assert_eq!(store.lock(&u, 1_000).await.unwrap().top(), first);
        // One published to keeps its entry and its epoch.
        append(&store, &v, 1, 0).await;
        assert_eq!(store.stats().streams, 1);
        let v_top = store.lock(&v, 0).await.unwrap().top();
        assert_eq!(
            (v_top.epoch.as_str(), v_top.offset),
            (first.epoch.as_str(), 1)
        );
    }

    #[tokio::test]
    async fn an_entry_stays_while_another_waits_for_its_lock() {
        let store = Arc::new(MemoryStreams::new(retention(100, usize::MAX)));
        let u = name("user_u1");
        let held = store.lock(&u, 0).await.unwrap();
        let epoch = held.top().epoch;
        let waiter = {
            let (store, u) = (store.clone(), u.clone());
            tokio::spawn(async move {
                let mut lock = store.lock(&u, 0).await.unwrap();
                lock.append(event(1, 0)).await.unwrap();
                lock.top()
            })
        };
        // The waiter has cloned the stream's order lock by now.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(held);
        let top = waiter.await.unwrap();
        assert_eq!((top.epoch, top.offset), (epoch, 1));
        assert_eq!(store.stats().streams, 1);
    }

    #[tokio::test]
    async fn forgetting_a_published_stream_gives_new_streams_a_new_epoch() {
        let store = MemoryStreams::new(retention(100, usize::MAX));
        let (t, quiet) = (name("ticket_1"), name("user_u1"));
        let before = store.lock(&quiet, 0).await.unwrap().top().epoch;
        append(&store, &t, 1, 0).await;
        // An idle, empty stream whose top was 1 is forgotten after the inbox TTL (600 s).
        store.lock(&t, 60_001).await.unwrap();
        store.sweep(60_001 + 600_001);
        assert_eq!(store.stats().streams, 0);
        let after = store.lock(&t, 60_001 + 600_002).await.unwrap().top();
        assert_eq!(after.offset, 0);
        assert_ne!(after.epoch, before);
        assert_eq!(
            store
                .lock(&quiet, 60_001 + 600_003)
                .await
                .unwrap()
                .top()
                .epoch,
            after.epoch
        );
    }

    #[tokio::test]
    async fn an_append_must_follow_the_top() {
        let store = MemoryStreams::new(retention(10, usize::MAX));
        let t = name("ticket_1");
        let mut lock = store.lock(&t, 0).await.unwrap();
        assert!(lock.append(event(2, 0)).await.is_err());
        lock.append(event(1, 0)).await.unwrap();
        assert_eq!(lock.top().offset, 1);
    }
}
