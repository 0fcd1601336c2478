//! A hub served on a real port (127.0.0.1:0) by `switchyard_host::serve` in a task, for the
//! integration tests that drive it with a socket client.

#![allow(clippy::unwrap_used, dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use switchyard_host::server::ServerError;
use switchyard_host::{Config, Switchyard};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One served hub. Its fields are open so a test can stop it by hand and watch the task end.
pub struct Server {
    pub addr: SocketAddr,
    pub hub: Switchyard,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<Result<(), ServerError>>,
}

/// Serves a hub built from `config` until [`Server::stop`].
pub async fn serve(config: Config) -> Server {
    let hub = Switchyard::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(switchyard_host::serve(listener, hub.clone(), async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        hub,
        stop: Some(stop),
        task,
    }
}

impl Server {
    /// Its base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Asks it to shut down and waits (at most `wait`) for the drain to finish.
    pub async fn stop(mut self, wait: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(wait, self.task).await;
    }
}

/// A notification body (`POST /api/v1/users/{id}/notifications`) padded with `data.p` to
/// exactly `len` bytes.
pub fn notification_of_len(len: usize) -> String {
    let empty = r#"{"type":"info","message":"m","data":{"p":""}}"#;
    let body = format!(
        r#"{{"type":"info","message":"m","data":{{"p":"{}"}}}}"#,
        "x".repeat(len - empty.len())
    );
    assert_eq!(body.len(), len);
    body
}
