//! `switchyard-loadgen`: drives any server of Switchyard's contract (sections 3 and 4) and
//! prints what it cost the server.
//!
//! It mints one HS256 token per client (`sub` `<prefix>-<i>`, `rooms: ["ticket_*"]`), opens
//! `--clients` websocket clients spread over `--rooms` ticket rooms, waits until every one has
//! its `welcome` and its `subscribe` ack, then publishes ticket updates through
//! `POST /api/v1/tickets/{id}/updates` at a paced rate, round-robin over the rooms. Each update
//! carries its send time in `data.benchT`; each client records the latency of every delivery.
//! With `--server-pid` it reads the server's user and system CPU (`/proc/<pid>/stat` fields 14
//! and 15) and its resident memory (`VmRSS`) around the phases.
//!
//! ```sh
//! taskset -c 1 switchyard-loadgen --url http://127.0.0.1:3000 --jwt-secret s --api-key k \
//!     --clients 5000 --rooms 50 --rate 10000 --duration 10 --server-pid $PID
//! ```
//!
//! Against a cluster, `--api-url` sends the publishes to another node than the clients',
//! `--id-prefix` keeps several generators' rooms apart, `--start-at` lines up their publishing
//! phases, and `--count-cluster` records how many sockets all nodes held at its start.
//!
//! Exits 1 when any delivery is missing (or duplicated) or any publish failed, 2 on a setup
//! error. It prints figures and asserts no time.

mod client;
mod procfs;
mod publish;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use serde::Serialize;
use tokio::sync::{Semaphore, mpsc, watch};

use client::{Client, Outcome, Shared};
use procfs::{Cpu, ProcStat};

/// How many times one client tries to connect before the run fails.
const CONNECT_ATTEMPTS: u32 = 5;
/// How long one connect (handshake, `welcome`, subscribe ack) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The error type of setup steps; anything that fails before the measurement ends the run.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Load generator for Switchyard-contract servers (Socket.IO websocket clients + HTTP API).
#[derive(Debug, Parser)]
#[command(name = "switchyard-loadgen", version)]
struct Args {
    /// Server base URL.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Websocket clients to open.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// Ticket rooms the clients are spread over (room size = clients / rooms).
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Deliveries per second to pace at (API calls per second = rate / room size); 0 sends
    /// each publish after the previous one was answered.
    #[arg(long, default_value_t = 10_000.0)]
    rate: f64,
    /// Length of the publishing phase in seconds (ignored when --messages is given).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Number of API publishes (each reaches one room); overrides --duration.
    #[arg(long)]
    messages: Option<u64>,
    /// HS256 secret the server verifies client tokens with.
    #[arg(long, env = "LOADGEN_JWT_SECRET", hide_env_values = true)]
    jwt_secret: String,
    /// API key sent as `Authorization: Bearer <key>`.
    #[arg(long, env = "LOADGEN_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The server's process id, to read its CPU and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Clients connecting at the same time.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Publishes in flight at most; when the server answers slower than the pace, further
    /// publishes wait (and the achieved rate falls below --rate).
    #[arg(long, default_value_t = 32)]
    max_inflight: usize,
    /// Longest wait for the last deliveries after the last publish was answered, in seconds.
    #[arg(long, default_value_t = 10.0)]
    drain_timeout: f64,
    /// Pause after the last subscribe before reading the server's memory, in milliseconds.
    #[arg(long, default_value_t = 500)]
    settle_ms: u64,
    /// Tokio worker threads (1: a single-threaded runtime, the cheapest when pinned to a core).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Where the publishes go (default: --url). In cluster mode another node than the one
    /// the clients are on, so every delivery crosses Redis.
    #[arg(long)]
    api_url: Option<String>,
    /// Prefix of the user and ticket ids (`<prefix>-<i>`), so that several generators can
    /// share one hub without receiving each other's updates.
    #[arg(long, default_value = "bench")]
    id_prefix: String,
    /// Unix time (seconds) to start publishing at, once connected: several generators then
    /// hold their clients at the same time and publish together.
    #[arg(long)]
    start_at: Option<f64>,
    /// At the start of the publishing phase, read `GET /api/v1/nodes` (of --api-url) and
    /// report the sockets the whole cluster holds.
    #[arg(long)]
    count_cluster: bool,
    /// A label copied into the output (e.g. the server's name).
    #[arg(long, default_value = "")]
    label: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also print to stderr, per this many ms of send time, the deliveries' count and latency
    /// p50 / p99 / max: whether a tail comes from a few stalls (and when) or from all along.
    #[arg(long)]
    timeline_ms: Option<u64>,
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Default, Serialize)]
struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

impl Percentiles {
    fn of(sorted_us: &[u32]) -> Percentiles {
        let at = |p: f64| {
            let i = ((p * sorted_us.len() as f64) as usize).min(sorted_us.len().saturating_sub(1));
            sorted_us.get(i).map_or(0.0, |&v| f64::from(v) / 1000.0)
        };
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

/// CPU seconds over a phase, with per-delivery figures.
#[derive(Debug, Default, Serialize)]
struct CpuReport {
    user_s: f64,
    system_s: f64,
    /// (user + system) / deliveries, µs.
    per_delivery_us: f64,
    user_per_delivery_us: f64,
    system_per_delivery_us: f64,
}

impl CpuReport {
    fn of(before: Cpu, after: Cpu, deliveries: u64) -> CpuReport {
        let user_s = after.user_s - before.user_s;
        let system_s = after.system_s - before.system_s;
        let per = |s: f64| {
            if deliveries == 0 {
                0.0
            } else {
                s * 1e6 / deliveries as f64
            }
        };
        CpuReport {
            user_s,
            system_s,
            per_delivery_us: per(user_s + system_s),
            user_per_delivery_us: per(user_s),
            system_per_delivery_us: per(system_s),
        }
    }
}

/// Everything one run measured (`--json` prints exactly this).
#[derive(Debug, Default, Serialize)]
struct Report {
    label: String,
    url: String,
    clients: usize,
    rooms: usize,
    room_size: usize,
    rate: f64,
    publishes: u64,
    load_average_start: String,
    load_average_end: String,
    /// Wall time to connect, authenticate, receive `welcome` and get the subscribe ack, all N.
    connect_s: f64,
    connect_per_s: f64,
    /// Connects that failed and were tried again (at most CONNECT_ATTEMPTS per client).
    connect_retries: u64,
    deliveries_expected: u64,
    deliveries_received: u64,
    /// Deliveries a client did not get (summed per client, so duplicates cannot hide a loss).
    deliveries_missing: u64,
    deliveries_duplicated: u64,
    deliveries_unstamped: u64,
    clients_dropped: usize,
    publishes_failed: u64,
    publish_error: Option<String>,
    /// Wall time of the publishing phase, first publish to last delivery.
    phase_s: f64,
    deliveries_per_s: f64,
    latency_ms: Percentiles,
    api_latency_ms: Percentiles,
    server_cpu_connect: Option<CpuReport>,
    server_cpu: Option<CpuReport>,
    generator_cpu: CpuReport,
    server_rss_idle_kib: Option<u64>,
    server_rss_connected_kib: Option<u64>,
    server_rss_end_kib: Option<u64>,
    server_rss_per_connection_kib: Option<f64>,
    /// `--count-cluster`: the sockets of every node when this generator started publishing.
    cluster_sockets_at_start: Option<u64>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(report) => {
            if args.json {
                match serde_json::to_string_pretty(&report) {
                    Ok(j) => println!("{j}"),
                    Err(e) => eprintln!("error: {e}"),
                }
            } else {
                print_text(&report);
            }
            if report.deliveries_missing > 0
                || report.deliveries_duplicated > 0
                || report.publishes_failed > 0
                || report.deliveries_unstamped > 0
            {
                eprintln!(
                    "FAIL: {} missing, {} duplicated, {} unstamped deliveries, {} failed publishes",
                    report.deliveries_missing,
                    report.deliveries_duplicated,
                    report.deliveries_unstamped,
                    report.publishes_failed
                );
                if let Some(e) = &report.publish_error {
                    eprintln!("first failed publish: {e}");
                }
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: String,
    exp: u64,
    rooms: [&'a str; 1],
}

async fn run(args: &Args) -> Result<Report, Error> {
    if args.clients == 0 || args.rooms == 0 || !args.clients.is_multiple_of(args.rooms) {
        return Err("--clients must be a positive multiple of --rooms".into());
    }
    let room_size = args.clients / args.rooms;
    let base = args.url.trim_end_matches('/').to_owned();
    let host = base
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?;
    let ws_url = format!("ws://{host}/socket.io/?EIO=4&transport=websocket");
    let server = args.server_pid.map(ProcStat::new);
    let me = ProcStat::myself();

    let exp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 3600;
    let key = jsonwebtoken::EncodingKey::from_secret(args.jwt_secret.as_bytes());
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let tokens = (0..args.clients)
        .map(|i| {
            let claims = Claims {
                sub: format!("{}-{i}", args.id_prefix),
                exp,
                rooms: ["ticket_*"],
            };
            jsonwebtoken::encode(&header, &claims, &key)
        })
        .collect::<Result<Vec<_>, _>>()?;

    let shared = Arc::new(Shared {
        start: Instant::now(),
        received: Default::default(),
        event_prefix: "42[\"ticket_updated\"".to_owned(),
        keep_stamps: args.timeline_ms.is_some(),
    });
    let mut report = Report {
        label: args.label.clone(),
        url: base.clone(),
        clients: args.clients,
        rooms: args.rooms,
        room_size,
        rate: args.rate,
        load_average_start: procfs::loadavg(),
        ..Report::default()
    };

    // Connect phase.
    report.server_rss_idle_kib = server.as_ref().map(ProcStat::rss_kib).transpose()?;
    let cpu_c0 = server.as_ref().map(ProcStat::cpu).transpose()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(args.clients);
    let retries = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for (i, token) in tokens.into_iter().enumerate() {
        let room_index = i % args.rooms;
        let room = format!("ticket_{}-{room_index}", args.id_prefix);
        let (ws_url, gate, ready, shared, stop) = (
            ws_url.clone(),
            gate.clone(),
            ready_tx.clone(),
            shared.clone(),
            stop_rx.clone(),
        );
        let retries = retries.clone();
        tasks.push(tokio::spawn(async move {
            // A client whose connect fails (e.g. a cluster node cutting a transport when Redis
            // times out under a connect storm) tries again, as socket.io-client would, a few
            // times with a growing pause; every retry is counted in the report.
            let mut attempt = 0u32;
            let c = loop {
                let permit = gate.clone().acquire_owned().await;
                let c =
                    tokio::time::timeout(CONNECT_TIMEOUT, Client::connect(&ws_url, &token, &room))
                        .await
                        .unwrap_or_else(|_| Err("no welcome and subscribe ack within 30 s".into()));
                drop(permit);
                match c {
                    Err(_) if attempt < CONNECT_ATTEMPTS - 1 => {
                        attempt += 1;
                        retries.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
                    }
                    c => break c,
                }
            };
            match c {
                Ok(c) => {
                    let _ = ready.send(Ok(()));
                    (room_index, c.run(shared, stop).await)
                }
                Err(e) => {
                    let _ = ready.send(Err(e.to_string()));
                    (usize::MAX, Outcome::default())
                }
            }
        }));
    }
    drop(ready_tx);
    let mut failures = Vec::new();
    for _ in 0..args.clients {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => failures.push(e),
            None => break,
        }
    }
    if let Some(first) = failures.first() {
        return Err(format!(
            "{} of {} clients could not connect and subscribe; first: {first}",
            failures.len(),
            args.clients
        )
        .into());
    }
    report.connect_s = t0.elapsed().as_secs_f64();
    report.connect_retries = retries.load(Ordering::Relaxed);
    report.connect_per_s = args.clients as f64 / report.connect_s;
    if let (Some(s), Some(c0)) = (&server, cpu_c0) {
        report.server_cpu_connect = Some(CpuReport::of(c0, s.cpu()?, args.clients as u64));
    }
    tokio::time::sleep(Duration::from_millis(args.settle_ms)).await;
    if let Some(s) = &server {
        let rss = s.rss_kib()?;
        report.server_rss_connected_kib = Some(rss);
        if let Some(idle) = report.server_rss_idle_kib {
            report.server_rss_per_connection_kib =
                Some(rss.saturating_sub(idle) as f64 / args.clients as f64);
        }
    }

    // Publishing phase.
    let per_call = room_size as f64;
    let publishes = match args.messages {
        Some(m) => m,
        None => (args.duration * args.rate / per_call).ceil() as u64,
    };
    report.publishes = publishes;
    let per_room: Vec<u64> = (0..args.rooms as u64)
        .map(|r| publishes / args.rooms as u64 + u64::from(r < publishes % args.rooms as u64))
        .collect();
    let expected: u64 = per_room.iter().sum::<u64>() * room_size as u64;
    report.deliveries_expected = expected;
    let interval = if args.rate > 0.0 {
        Some(Duration::from_secs_f64(per_call / args.rate))
    } else {
        None
    };
    let api_base = args
        .api_url
        .as_deref()
        .map_or_else(|| base.clone(), |u| u.trim_end_matches('/').to_owned());
    let api = publish::Publisher::new(
        &api_base,
        &args.api_key,
        &args.id_prefix,
        shared.clone(),
        args.rooms,
        args.max_inflight,
    );
    if let Some(at) = args.start_at {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs_f64();
        if at > now {
            tokio::time::sleep(Duration::from_secs_f64(at - now)).await;
        }
    }
    if args.count_cluster {
        report.cluster_sockets_at_start = Some(api.cluster_sockets().await?);
    }
    let cpu0 = server.as_ref().map(ProcStat::cpu).transpose()?;
    let me0 = me.cpu()?;
    let phase0 = Instant::now();
    let api_stats = api.run(publishes, interval).await;
    let drain_until = Instant::now() + Duration::from_secs_f64(args.drain_timeout);
    while shared.received.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    report.phase_s = phase0.elapsed().as_secs_f64();
    let received = shared.received.load(Ordering::Relaxed);
    report.deliveries_received = received;
    report.deliveries_per_s = received as f64 / report.phase_s;
    if let (Some(s), Some(c0)) = (&server, cpu0) {
        report.server_cpu = Some(CpuReport::of(c0, s.cpu()?, received));
        report.server_rss_end_kib = Some(s.rss_kib()?);
    }
    report.generator_cpu = CpuReport::of(me0, me.cpu()?, received);
    report.load_average_end = procfs::loadavg();
    report.publishes_failed = api_stats.failed;
    report.publish_error = api_stats.first_error;
    let mut api_lat = api_stats.latencies_us;
    api_lat.sort_unstable();
    report.api_latency_ms = Percentiles::of(&api_lat);

    // Collect.
    let _ = stop_tx.send(true);
    let mut all = Vec::with_capacity(expected as usize);
    let mut stamped: Vec<(u32, u32)> = Vec::new();
    for t in tasks {
        let (room, out) = t.await?;
        let want = per_room.get(room).copied().unwrap_or(0);
        let got = out.latencies_us.len() as u64 + out.unstamped;
        report.deliveries_missing += want.saturating_sub(got);
        report.deliveries_duplicated += got.saturating_sub(want);
        report.deliveries_unstamped += out.unstamped;
        report.clients_dropped += usize::from(out.dropped);
        all.extend_from_slice(&out.latencies_us);
        stamped.extend(
            out.sent_us
                .iter()
                .copied()
                .zip(out.latencies_us.iter().copied()),
        );
    }
    if let Some(bucket_ms) = args.timeline_ms {
        print_timeline(stamped, bucket_ms.max(1));
    }
    all.sort_unstable();
    report.latency_ms = Percentiles::of(&all);
    Ok(report)
}

/// Deliveries grouped by send time (`bucket_ms` wide, from the first), one stderr line each.
fn print_timeline(mut stamped: Vec<(u32, u32)>, bucket_ms: u64) {
    stamped.sort_unstable();
    let Some(&(first, _)) = stamped.first() else {
        return;
    };
    let width = bucket_ms.saturating_mul(1000);
    let mut rest = stamped.as_slice();
    while let Some(&(head, _)) = rest.first() {
        let bucket = (u64::from(head - first)) / width;
        let end = rest
            .iter()
            .position(|&(s, _)| u64::from(s - first) / width != bucket)
            .unwrap_or(rest.len());
        let mut lat: Vec<u32> = rest[..end].iter().map(|&(_, l)| l).collect();
        lat.sort_unstable();
        let p = Percentiles::of(&lat);
        eprintln!(
            "timeline {:>7} ms  n {:>6}  p50 {:>7.2}  p99 {:>7.2}  max {:>7.2}",
            bucket * bucket_ms,
            lat.len(),
            p.p50,
            p.p99,
            p.max
        );
        rest = &rest[end..];
    }
}

fn print_text(r: &Report) {
    println!(
        "clients {} in {} rooms of {} ({}), load average {} -> {}",
        r.clients,
        r.rooms,
        r.room_size,
        r.url,
        r.load_average_start.trim(),
        r.load_average_end.trim()
    );
    println!(
        "connect+auth+welcome+subscribe: {:.2} s for {} ({:.0}/s, {} retried)",
        r.connect_s, r.clients, r.connect_per_s, r.connect_retries
    );
    println!(
        "deliveries: expected {}, received {}, missing {}, duplicated {} ({} publishes, {} failed; {} clients dropped)",
        r.deliveries_expected,
        r.deliveries_received,
        r.deliveries_missing,
        r.deliveries_duplicated,
        r.publishes,
        r.publishes_failed,
        r.clients_dropped
    );
    println!(
        "rate: {:.0} deliveries/s over {:.2} s (paced at {})",
        r.deliveries_per_s, r.phase_s, r.rate
    );
    let l = &r.latency_ms;
    println!(
        "latency API call -> client: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.p50, l.p90, l.p99, l.max
    );
    let a = &r.api_latency_ms;
    println!(
        "API answer (202): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        a.p50, a.p99, a.max
    );
    if let Some(c) = &r.server_cpu {
        println!(
            "server CPU per delivery: {:.2} us (user {:.2} us, system {:.2} us; {:.2} s + {:.2} s)",
            c.per_delivery_us,
            c.user_per_delivery_us,
            c.system_per_delivery_us,
            c.user_s,
            c.system_s
        );
    }
    if let Some(c) = &r.server_cpu_connect {
        println!(
            "server CPU per connect: {:.0} us (user {:.0} us, system {:.0} us)",
            c.per_delivery_us, c.user_per_delivery_us, c.system_per_delivery_us
        );
    }
    let g = &r.generator_cpu;
    println!(
        "generator CPU per delivery: {:.2} us (user {:.2} us, system {:.2} us)",
        g.per_delivery_us, g.user_per_delivery_us, g.system_per_delivery_us
    );
    if let (Some(idle), Some(conn), Some(per)) = (
        r.server_rss_idle_kib,
        r.server_rss_connected_kib,
        r.server_rss_per_connection_kib,
    ) {
        println!(
            "server RSS: {:.1} MiB idle -> {:.1} MiB connected ({:.1} KiB per connection), {:.1} MiB at the end",
            idle as f64 / 1024.0,
            conn as f64 / 1024.0,
            per,
            r.server_rss_end_kib.unwrap_or(0) as f64 / 1024.0
        );
    }
    if let Some(n) = r.cluster_sockets_at_start {
        println!("cluster: {n} sockets on all nodes when publishing started");
    }
}
