//! The publishing side: ticket updates through the HTTP API at a paced rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::{Mutex, Semaphore};

use crate::client::{STAMP_KEY, Shared};

/// What the publishing phase observed.
pub struct Stats {
    /// Time from sending each publish to its answer, µs.
    pub latencies_us: Vec<u32>,
    /// Publishes answered with anything but 202, or not answered.
    pub failed: u64,
    /// The first failure, to say why.
    pub first_error: Option<String>,
}

pub struct Publisher {
    http: Client<HttpConnector, Full<Bytes>>,
    base: String,
    auth: String,
    prefix: String,
    shared: Arc<Shared>,
    rooms: usize,
    inflight: Arc<Semaphore>,
}

impl Publisher {
    pub fn new(
        base: &str,
        api_key: &str,
        prefix: &str,
        shared: Arc<Shared>,
        rooms: usize,
        max_inflight: usize,
    ) -> Publisher {
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        Publisher {
            // Idle connections are dropped before Node's 5 s keep-alive timeout closes them,
            // so a publish is never sent on a connection the server is closing.
            http: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(2))
                .build(conn),
            inflight: Arc::new(Semaphore::new(max_inflight.max(1))),
            base: base.to_owned(),
            auth: format!("Bearer {api_key}"),
            prefix: prefix.to_owned(),
            shared,
            rooms,
        }
    }

    /// The sockets every node of the cluster holds (`GET /api/v1/nodes`, summed).
    pub async fn cluster_sockets(&self) -> Result<u64, crate::Error> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{}/api/v1/nodes", self.base))
            .header("authorization", &self.auth)
            .body(Full::new(Bytes::new()))?;
        let resp = self.http.request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            return Err(format!("GET /api/v1/nodes answered {status}").into());
        }
        let nodes: serde_json::Value = serde_json::from_slice(&body)?;
        let list = nodes["nodes"]
            .as_array()
            .ok_or("GET /api/v1/nodes: no `nodes` array")?;
        Ok(list.iter().filter_map(|n| n["sockets"].as_u64()).sum())
    }

    /// Sends `count` publishes, message k to room k mod rooms, one every `interval` (each on
    /// its own task, so a slow answer never delays the next send), or one after the other when
    /// `interval` is `None`. Returns once every publish is answered.
    pub async fn run(&self, count: u64, interval: Option<Duration>) -> Stats {
        let stats = Arc::new(Mutex::new(Stats {
            latencies_us: Vec::with_capacity(count as usize),
            failed: 0,
            first_error: None,
        }));
        let phase0 = tokio::time::Instant::now();
        let mut inflight = Vec::new();
        for k in 0..count {
            if let Some(iv) = interval {
                tokio::time::sleep_until(phase0 + iv.mul_f64(k as f64)).await;
            }
            // A server that falls behind gets at most this many publishes at once; the rest
            // wait here and go out late (the achieved rate shows it) rather than piling up
            // hundreds of connections.
            let Ok(permit) = self.inflight.clone().acquire_owned().await else {
                break;
            };
            let room = k % self.rooms as u64;
            let uri = format!(
                "{}/api/v1/tickets/{}-{room}/updates",
                self.base, self.prefix
            );
            let (http, stats, auth, shared) = (
                self.http.clone(),
                stats.clone(),
                self.auth.clone(),
                self.shared.clone(),
            );
            let task = async move {
                // Stamped when the request is built, on the task that sends it, so a late
                // task is not counted against the server.
                let t = Instant::now();
                let sent = shared.start.elapsed().as_micros();
                let body =
                    format!(r#"{{"message":"bench","data":{{"{STAMP_KEY}":{sent},"seq":{k}}}}}"#);
                let req = Request::builder()
                    .method(Method::POST)
                    .uri(uri)
                    .header("authorization", auth)
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)));
                let outcome: Result<(), String> = match req {
                    Ok(req) => match http.request(req).await {
                        Ok(resp) => {
                            let status = resp.status();
                            let _ = resp.into_body().collect().await;
                            if status == StatusCode::ACCEPTED {
                                Ok(())
                            } else {
                                Err(format!("the API answered {status}"))
                            }
                        }
                        Err(e) => Err(format!("request failed: {e:?}")),
                    },
                    Err(e) => Err(format!("bad request: {e}")),
                };
                let us = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
                drop(permit);
                let mut s = stats.lock().await;
                s.latencies_us.push(us);
                if let Err(e) = outcome {
                    s.failed += 1;
                    s.first_error.get_or_insert(e);
                }
            };
            if interval.is_some() {
                inflight.push(tokio::spawn(task));
            } else {
                task.await;
            }
        }
        let mut lost = 0;
        for t in inflight {
            lost += u64::from(t.await.is_err());
        }
        let mut s = std::mem::replace(
            &mut *stats.lock().await,
            Stats {
                latencies_us: Vec::new(),
                failed: 0,
                first_error: None,
            },
        );
        s.failed += lost;
        s
    }
}
