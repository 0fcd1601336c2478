//! What the rate limits cost: one check of a socket's event budget, of the per-API-key limiter
//! and of the per-address limiter (ns each), making a socket's budget (once per connect), and a
//! whole in-process API call and handshake with the limits on and off. Prints figures, asserts
//! nothing.
//!
//! `cargo bench -p switchyard-host --bench limits`

#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use switchyard_host::auth::JwtKeys;
use switchyard_host::core::Limit;
use switchyard_host::rate::{EventBudget, Keyed};
use switchyard_host::{Config, Switchyard};
use tower::ServiceExt;

/// Runs `f` `n` times and answers the mean time per call.
fn per_call(n: u32, mut f: impl FnMut(u32)) -> Duration {
    // Warm up.
    for i in 0..n / 10 {
        f(i);
    }
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed() / n
}

fn ns(d: Duration) -> String {
    format!("{:>8.1} ns", d.as_nanos() as f64)
}

fn config(configure: impl FnOnce(&mut Config)) -> Config {
    let mut c = Config::new(
        JwtKeys::new(Some("bench"), None).unwrap(),
        vec!["sk_bench".to_owned()],
    );
    configure(&mut c);
    c
}

async fn api_call(app: &axum::Router) -> StatusCode {
    let req = Request::get("/api/v1/sockets")
        .header(header::AUTHORIZATION, "Bearer sk_bench")
        .body(Body::empty())
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

async fn handshake(app: &axum::Router) -> StatusCode {
    let mut req = Request::get("/socket.io/?EIO=4&transport=polling")
        .body(Body::empty())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([203, 0, 113, 9], 5000))));
    app.clone().oneshot(req).await.unwrap().status()
}

async fn per_request<F: Future<Output = StatusCode>>(
    n: u32,
    mut f: impl FnMut() -> F,
    want: StatusCode,
) -> Duration {
    for _ in 0..n / 10 {
        assert_eq!(f().await, want);
    }
    let start = Instant::now();
    for _ in 0..n {
        black_box(f().await);
    }
    start.elapsed() / n
}

fn main() {
    const N: u32 = 1_000_000;
    println!("rate-limit checks (one thread, {N} calls each):");
    // A rate no loop can reach, so every check is an allowed one (the common case).
    let budget = EventBudget::new(Limit::new(u64::from(u32::MAX))).unwrap();
    let d = per_call(N, |_| {
        black_box(budget.check().is_ok());
    });
    println!("  socket event, allowed:           {}", ns(d));
    let spent = EventBudget::new(Limit::new(1)).unwrap();
    let d = per_call(N, |_| {
        black_box(spent.check().is_err());
    });
    println!("  socket event, refused:           {}", ns(d));
    // Once per connect: a socket's budget is made when its CONNECT is accepted.
    let d = per_call(N / 100, |_| {
        black_box(EventBudget::new(Limit::new(50)).is_some());
    });
    println!("  a new socket's budget:           {}", ns(d));
    let api = Keyed::<usize>::new(Limit::new(u64::from(u32::MAX))).unwrap();
    let d = per_call(N, |i| {
        black_box(api.check(&((i % 4) as usize)).is_ok());
    });
    println!("  API key (4 keys), allowed:       {}", ns(d));
    let addresses = Keyed::<IpAddr>::new(Limit::new(100)).unwrap();
    let d = per_call(N, |i| {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (i % 10_000)));
        black_box(addresses.check(&ip).is_ok());
    });
    println!("  address (10000 keys), allowed:   {}", ns(d));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        const R: u32 = 50_000;
        println!("whole in-process requests ({R} each, router + middlewares, no TCP):");
        let off = switchyard_host::app(Switchyard::new(config(|c| {
            c.limits.api_requests_per_sec = Limit::OFF;
        })));
        let on = switchyard_host::app(Switchyard::new(config(|c| {
            c.limits.api_requests_per_sec = Limit::new(u64::from(u32::MAX));
        })));
        let d_off = per_request(R, || api_call(&off), StatusCode::OK).await;
        let d_on = per_request(R, || api_call(&on), StatusCode::OK).await;
        println!("  GET /api/v1/sockets, limit off:  {}", ns(d_off));
        println!("  GET /api/v1/sockets, limit on:   {}", ns(d_on));
        let refusing = switchyard_host::app(Switchyard::new(config(|c| {
            c.limits.connects_per_sec = Limit::new(1);
        })));
        for _ in 0..2 {
            handshake(&refusing).await;
        }
        let d = per_request(R, || handshake(&refusing), StatusCode::TOO_MANY_REQUESTS).await;
        println!(
            "  handshake refused (429):         {}  = {:.0} refusals/s on one core",
            ns(d),
            1e9 / d.as_nanos() as f64
        );
    });
}
