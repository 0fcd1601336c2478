//! The Redis stores against a real `redis-server` (started on a free port, stopped at the end):
//! two "nodes" (two `RedisCluster`s) appending to one stream at once get consecutive offsets and
//! hear them in offset order; a replay whose oldest events another node trimmed meanwhile is
//! refused, never sent with a hole; presence transitions and the limit are cluster-wide; a node
//! that stops its heartbeat is reaped once, by one survivor.
//!
//! Skipped, with a message on stderr, only when `redis-server` is not installed (scripts/test
//! installs it).

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use socketioxide::socket::Sid;
use switchyard_host::config::Retention;
use switchyard_host::core::PresenceChange;
use switchyard_host::core::stream::StreamName;
use switchyard_host::store::redis::{
    Joined, RedisCluster, RedisPresence, RedisSettings, RedisStreams,
};
use switchyard_host::store::{Cluster, Incoming, PresenceStore, StreamStore};

struct Redis {
    child: Child,
    url: String,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Option<Redis> {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("SKIPPED: redis-server is not installed (apt-get install -y redis-server)");
        return None;
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Redis {
        child,
        url: format!("redis://127.0.0.1:{port}/"),
    })
}

async fn node(redis: &Redis, id: &str, history_size: usize, ttl: Duration) -> Joined {
    RedisCluster::connect(RedisSettings {
        url: redis.url.clone(),
        node_id: id.into(),
        presence_ttl: ttl,
        retention: Retention {
            history_size,
            ..Retention::DEFAULT
        },
    })
    .await
    .unwrap()
}

fn payload(n: usize) -> Box<RawValue> {
    RawValue::from_string(format!("{{\"n\":{n}}}")).unwrap()
}

#[tokio::test]
async fn concurrent_appends_from_two_nodes_arrive_in_offset_order_everywhere() {
    let Some(redis) = start_redis() else { return };
    let mut a = node(&redis, "a", 1000, Duration::from_secs(30)).await;
    let b = node(&redis, "b", 1000, Duration::from_secs(30)).await;
    let stream: StreamName = "ticket_T1".parse().unwrap();
    let publish = |c: Arc<RedisCluster>, stream: StreamName| async move {
        for i in 0..200 {
            c.publish_stream(&stream, "ticket_updated", &payload(i), "id", 0)
                .await
                .unwrap();
        }
    };
    let (x, y) = tokio::join!(
        tokio::spawn(publish(a.cluster.clone(), stream.clone())),
        tokio::spawn(publish(b.cluster.clone(), stream.clone())),
    );
    x.unwrap();
    y.unwrap();
    let mut offsets = Vec::new();
    while offsets.len() < 400 {
        let msg = tokio::time::timeout(Duration::from_secs(5), a.incoming.recv())
            .await
            .unwrap()
            .unwrap();
        if let Incoming::Stream { event, .. } = msg {
            offsets.push(event.offset);
        }
    }
    assert_eq!(offsets, (1..=400).collect::<Vec<u64>>());
    let streams = RedisStreams(a.cluster.clone());
    let lock = streams.lock(&stream, 0).await.unwrap();
    assert_eq!(lock.top().offset, 400);
    let read = lock.read(399, 400).await.unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].payload.get(), "{\"n\":199}");
}

#[tokio::test]
async fn a_replay_that_another_node_trimmed_meanwhile_is_refused() {
    let Some(redis) = start_redis() else { return };
    let a = node(&redis, "a", 3, Duration::from_secs(30)).await;
    let b = node(&redis, "b", 3, Duration::from_secs(30)).await;
    let stream: StreamName = "meter_M1".parse().unwrap();
    for i in 0..3 {
        b.cluster
            .publish_stream(&stream, "meter_reading", &payload(i), "id", 0)
            .await
            .unwrap();
    }
    let streams = RedisStreams(a.cluster.clone());
    let lock = streams.lock(&stream, 0).await.unwrap();
    assert_eq!((lock.retained().first(), lock.top().offset), (1, 3));
    // Node B appends while A holds its (node-local) order: offset 1 is trimmed away.
    b.cluster
        .publish_stream(&stream, "meter_reading", &payload(3), "id", 0)
        .await
        .unwrap();
    assert!(lock.read(1, 3).await.is_err(), "a replay with a hole");
    assert_eq!(lock.read(2, 3).await.unwrap().len(), 2);
}

#[tokio::test]
async fn presence_is_decided_in_redis_and_a_silent_node_is_reaped_once() {
    let Some(redis) = start_redis() else { return };
    let ttl = Duration::from_secs(1);
    let a = node(&redis, "a", 10, ttl).await;
    let b = node(&redis, "b", 10, ttl).await;
    let (pa, pb) = (
        RedisPresence(a.cluster.clone()),
        RedisPresence(b.cluster.clone()),
    );
    let user: switchyard_host::core::UserId = "tech-1".parse().unwrap();
    let (s1, s2) = (Sid::new(), Sid::new());
    assert_eq!(
        pa.connect(s1, user.clone(), switchyard_core::Limit::new(2))
            .await
            .unwrap(),
        Ok(Some(PresenceChange::Online(user.clone())))
    );
    assert_eq!(
        pb.connect(s2, user.clone(), switchyard_core::Limit::new(2))
            .await
            .unwrap(),
        Ok(None)
    );
    assert!(
        pb.connect(Sid::new(), user.clone(), switchyard_core::Limit::new(2))
            .await
            .unwrap()
            .is_err()
    );
    assert_eq!(pa.counts().await.unwrap().sockets, 2);
    assert_eq!(pa.disconnect(s1).await.unwrap(), None);
    // B stops refreshing; A keeps its heartbeat and reaps B (once) after the TTL.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    a.cluster.heartbeat().await.unwrap();
    let reaped = a.cluster.reap().await.unwrap();
    assert_eq!(reaped.nodes, 1);
    assert_eq!(reaped.users, vec![user.clone()]);
    assert_eq!(a.cluster.reap().await.unwrap().nodes, 0, "reaped once");
    assert!(pa.sockets_of(&user).await.unwrap().is_empty());
    let nodes = a.cluster.nodes().await.unwrap();
    assert_eq!(
        nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
        ["a"]
    );
    // B was dropped from the registry: its next heartbeat says so.
    assert!(b.cluster.heartbeat().await.unwrap());
}
