//! Command line and configuration. Every limit has a flag, an environment variable and a
//! default; `main` only parses these and hands a [`Config`] to [`crate::server::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use switchyard_core::Limit;

use crate::auth::{JwtKeys, KeyError};

/// `switchyard`: the Switchyard real-time hub.
#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Switchyard real-time hub (Socket.IO + HTTP API)"
)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the production server.
    Serve(ServeArgs),
    /// Run the server with the web demo, a generated secret and a simulated feed.
    Demo(DemoArgs),
}

/// Flags shared by `serve` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "SWITCHYARD_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Redis URL for cluster mode, e.g. redis://127.0.0.1:6379/ (absent: single node, in memory).
    #[arg(long, env = "SWITCHYARD_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's id in a cluster (default: the host name and a random suffix). A node refuses
    /// to start with an id a live node holds.
    #[arg(long, env = "SWITCHYARD_NODE_ID", value_parser = node_id)]
    pub node_id: Option<String>,

    /// Cluster mode: a node that stops refreshing its heartbeat for this long is dead; its
    /// sockets are removed and its users announced offline (e.g. 30s, 5s).
    #[arg(long, env = "SWITCHYARD_PRESENCE_TTL", default_value = "30s", value_parser = presence_ttl)]
    pub presence_ttl: Duration,

    /// Origins allowed by CORS, comma-separated (`*` for any). Absent: same-origin only.
    #[arg(long, env = "SWITCHYARD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// The configurable limits.
    #[command(flatten)]
    pub limits: Limits,

    /// How much stream history is kept (contract section 8).
    #[command(flatten)]
    pub retention: Retention,

    /// Log lines as human-readable text or as one JSON object per line (for log collectors).
    #[arg(long, env = "SWITCHYARD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Longest wait for in-flight API calls on shutdown, in milliseconds.
    #[arg(long, env = "SWITCHYARD_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,
}

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// `switchyard serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,

    /// HS256 secret for client tokens. Give the flag again to accept several (key rotation:
    /// a token signed with any of them is accepted).
    #[arg(long, env = "SWITCHYARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Vec<String>,

    /// PEM file with an RSA (RS256) or EC P-256 (ES256) public key for client tokens. Give the
    /// flag again to accept several (key rotation).
    #[arg(long, env = "SWITCHYARD_JWT_PUBLIC_KEY")]
    pub jwt_public_key: Vec<PathBuf>,

    /// API keys for backend services, comma-separated.
    #[arg(
        long,
        env = "SWITCHYARD_API_KEYS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub api_keys: Vec<String>,
}

/// `switchyard demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,

    /// Folder with the built web demo (`web-demo/dist`).
    #[arg(long, env = "SWITCHYARD_DEMO_DIR")]
    pub demo_dir: Option<PathBuf>,

    /// Milliseconds between simulated meter readings (0 turns the feed off).
    #[arg(long, env = "SWITCHYARD_DEMO_FEED_MS", default_value_t = 1000)]
    pub feed_interval_ms: u64,

    /// HS256 secret for the demo's tokens instead of a random one per run. Give every node of a
    /// demo cluster the same one, so a token from any node is accepted by all.
    #[arg(long, env = "SWITCHYARD_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// The API key instead of a random one per run (the same on every node of a demo cluster).
    #[arg(long, env = "SWITCHYARD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
}

/// The configurable limits, each a flag with an environment variable (declared here once; the
/// defaults are [`Limits::DEFAULT`], which library users start from too). `0` turns any of them
/// off, except `--socket-buffer-events` (a queue must have a length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Limits {
    /// Largest HTTP API request body, in bytes (0: no limit).
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = Limits::DEFAULT.max_body_bytes)]
    pub max_body_bytes: Limit,

    /// Largest Socket.IO message a client may send, in bytes (websocket message and polling body;
    /// also the most that the binary attachments of one packet may add up to; 0: no limit).
    #[arg(long, env = "SWITCHYARD_MAX_SOCKET_MESSAGE_BYTES", default_value_t = Limits::DEFAULT.max_socket_message_bytes)]
    pub max_socket_message_bytes: Limit,

    /// Most rooms one socket may be in beyond its own user room, whether the client subscribed
    /// or the backend joined it (0: no limit).
    #[arg(long, env = "SWITCHYARD_MAX_SUBSCRIPTIONS_PER_SOCKET", default_value_t = Limits::DEFAULT.max_subscriptions_per_socket)]
    pub max_subscriptions_per_socket: Limit,

    /// Most sockets one user may have connected at once (0: no limit).
    #[arg(long, env = "SWITCHYARD_MAX_SOCKETS_PER_USER", default_value_t = Limits::DEFAULT.max_sockets_per_user)]
    pub max_sockets_per_user: Limit,

    /// Events queued for one socket before it counts as a slow consumer: it leaves its rooms,
    /// gets `system_slow_consumer` if that still fits, and is disconnected, so it reconnects and
    /// recovers by position (counted in `switchyard_slow_consumers_total`). At least 1.
    #[arg(long, env = "SWITCHYARD_SOCKET_BUFFER_EVENTS", default_value_t = Limits::DEFAULT.socket_buffer_events, value_parser = at_least_one)]
    pub socket_buffer_events: usize,

    /// Events per second one socket may send, every client event counted, with bursts of twice
    /// that; over it an event is answered `rate_limited` (or dropped if it asked no ack).
    /// 0: no limit.
    #[arg(long, env = "SWITCHYARD_SOCKET_EVENTS_PER_SEC", default_value_t = Limits::DEFAULT.socket_events_per_sec)]
    pub socket_events_per_sec: Limit,

    /// HTTP API requests per second per API key, with bursts of twice that; over it 429
    /// `rate_limited` with `Retry-After`. 0: no limit.
    #[arg(long, env = "SWITCHYARD_API_REQUESTS_PER_SEC", default_value_t = Limits::DEFAULT.api_requests_per_sec)]
    pub api_requests_per_sec: Limit,

    /// Engine.IO handshakes (new sessions, either transport) per second per client address, with
    /// bursts of twice that; over it the handshake is answered 429 `rate_limited` with
    /// `Retry-After`. 0: no limit.
    #[arg(long, env = "SWITCHYARD_CONNECTS_PER_SEC", default_value_t = Limits::DEFAULT.connects_per_sec)]
    pub connects_per_sec: Limit,

    /// Take the client address for --connects-per-sec from the first `X-Forwarded-For` entry.
    /// Only behind a proxy you run that sets it: anyone else can write any address there.
    #[arg(long, env = "SWITCHYARD_TRUST_PROXY_HEADERS")]
    pub trust_proxy_headers: bool,

    /// How long an Engine.IO session may take to complete the Socket.IO CONNECT (with a valid
    /// token) before it is closed (e.g. 10s, 500ms; 0: no limit).
    #[arg(long, env = "SWITCHYARD_CONNECT_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub connect_timeout: Duration,

    /// How long a client may take to send an HTTP request's head (request line and headers),
    /// from when the server starts waiting for it: on a new connection, and between requests on
    /// a kept-alive one. Past it the connection is closed, so half-sent requests and idle
    /// connections cannot hold file descriptors. 0: no limit.
    #[arg(long, env = "SWITCHYARD_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = duration)]
    pub header_read_timeout: Duration,
}

/// How much of every stream is kept for recovery (contract section 8), each a flag with an
/// environment variable. An event leaves history when any bound passes it; a stream's position
/// outlives its events by `inbox_ttl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Retention {
    /// Most events kept per stream (0: positions only, nothing to replay).
    #[arg(long, env = "SWITCHYARD_HISTORY_SIZE", default_value_t = Retention::DEFAULT.history_size)]
    pub history_size: usize,

    /// How long an event is kept (e.g. 90s, 10m, 2h).
    #[arg(long, env = "SWITCHYARD_HISTORY_TTL", default_value = "10m", value_parser = duration)]
    pub history_ttl: Duration,

    /// How long an event to a user room (the offline inbox) is kept, instead of --history-ttl.
    #[arg(long, env = "SWITCHYARD_INBOX_TTL", default_value = "24h", value_parser = duration)]
    pub inbox_ttl: Duration,

    /// Most bytes of history for all streams together; the oldest events go first.
    #[arg(long, env = "SWITCHYARD_HISTORY_MAX_BYTES", default_value_t = Retention::DEFAULT.history_max_bytes)]
    pub history_max_bytes: usize,

    /// Most events one recovery replays; a client that missed more gets `recovered: false`.
    #[arg(long, env = "SWITCHYARD_RECOVERY_MAX_EVENTS", default_value_t = Retention::DEFAULT.recovery_max_events)]
    pub recovery_max_events: u64,

    /// How long, in total, one replay may wait for room in the socket's queue
    /// (--socket-buffer-events) before the socket counts as a slow consumer; the stream's
    /// publishes wait for the replay meanwhile (0: never wait).
    #[arg(long, env = "SWITCHYARD_RECOVERY_MAX_WAIT", default_value = "2s", value_parser = duration)]
    pub recovery_max_wait: Duration,
}

impl Retention {
    /// The defaults (the flags' defaults; a unit test keeps the two equal).
    pub const DEFAULT: Retention = Retention {
        history_size: 1000,
        history_ttl: Duration::from_secs(10 * 60),
        inbox_ttl: Duration::from_secs(24 * 3600),
        history_max_bytes: 256 * 1024 * 1024,
        recovery_max_events: switchyard_core::stream::DEFAULT_RECOVERY_MAX_EVENTS,
        recovery_max_wait: Duration::from_secs(2),
    };
}

impl Default for Retention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A duration such as `90s`, `10m`, `24h` or `1h 30m`.
fn duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{e} (write e.g. 90s, 10m, 24h)"))
}

/// At least a second: nodes refresh every third of it, and reaping runs every second.
fn presence_ttl(s: &str) -> Result<Duration, String> {
    let d = duration(s)?;
    if d < Duration::from_secs(1) {
        return Err("must be at least 1s".to_owned());
    }
    Ok(d)
}

/// A node id names Redis keys and channels: short, printable, no separators.
fn node_id(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("1 to 64 characters from A-Z a-z 0-9 - _ .".to_owned())
    }
}

/// The host name and a random suffix, so that two nodes on one machine differ.
pub fn default_node_id() -> String {
    let host: String = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(48)
        .collect();
    let host = if host.is_empty() {
        "node".to_owned()
    } else {
        host
    };
    format!("{host}-{:06x}", fastrand::u32(..0x100_0000))
}

/// A limit that must be at least 1 (clap names the flag in its error).
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl Limits {
    /// The defaults.
    pub const DEFAULT: Limits = Limits {
        max_body_bytes: Limit::new(64 * 1024),
        max_socket_message_bytes: Limit::new(64 * 1024),
        max_subscriptions_per_socket: Limit::new(100),
        max_sockets_per_user: Limit::new(16),
        socket_buffer_events: 1024,
        socket_events_per_sec: Limit::new(50),
        api_requests_per_sec: Limit::new(10_000),
        connects_per_sec: Limit::new(100),
        trust_proxy_headers: false,
        connect_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(10),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Demo-mode settings.
#[derive(Clone)]
pub struct DemoConfig {
    /// The HS256 secret `POST /demo/token` signs with (the same one the server verifies).
    pub token_secret: String,
    /// Where the built page is.
    pub dir: PathBuf,
    /// Feed period; zero disables the feed.
    pub feed_interval: Duration,
}

impl std::fmt::Debug for DemoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoConfig")
            .field("dir", &self.dir)
            .field("feed_interval", &self.feed_interval)
            .finish_non_exhaustive()
    }
}

/// Everything the server needs, validated.
#[derive(Clone)]
pub struct Config {
    /// Where to listen (the binary binds it; library users bind their own listener).
    pub addr: SocketAddr,
    /// Token verification keys.
    pub jwt: JwtKeys,
    /// Backend API keys (at least one).
    pub api_keys: Vec<String>,
    /// CORS origins; empty means no CORS headers.
    pub cors_origins: Vec<String>,
    /// Limits.
    pub limits: Limits,
    /// Stream history.
    pub retention: Retention,
    /// Redis URL, for cluster mode.
    pub redis_url: Option<String>,
    /// This node's id (listed by `GET /api/v1/nodes`, and `node` of every socket in a cluster).
    pub node_id: String,
    /// Cluster mode: how long a silent node stays registered.
    pub presence_ttl: Duration,
    /// Longest wait for in-flight API calls on shutdown.
    pub shutdown_grace: Duration,
    /// Demo mode, if on.
    pub demo: Option<DemoConfig>,
}

impl Config {
    /// A configuration with default limits, no CORS and no demo: the starting point for
    /// embedding the hub in your own program.
    pub fn new(jwt: JwtKeys, api_keys: Vec<String>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            jwt,
            api_keys,
            cors_origins: Vec::new(),
            limits: Limits::DEFAULT,
            retention: Retention::DEFAULT,
            redis_url: None,
            node_id: default_node_id(),
            presence_ttl: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            demo: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets stay out of logs.
        f.debug_struct("Config")
            .field("api_keys", &format_args!("[{} keys]", self.api_keys.len()))
            .field("cors_origins", &self.cors_origins)
            .field("limits", &self.limits)
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("demo", &self.demo)
            .finish_non_exhaustive()
    }
}

/// Why the configuration cannot start a server (printed as one line).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither a secret nor a public key.
    #[error(
        "no JWT key: set --jwt-secret / SWITCHYARD_JWT_SECRET or --jwt-public-key / SWITCHYARD_JWT_PUBLIC_KEY"
    )]
    NoJwtKey,
    /// No API key.
    #[error("no API key: set --api-keys / SWITCHYARD_API_KEYS (comma-separated)")]
    NoApiKey,
    /// A key that cannot be used.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The OS random source failed (no safe demo secret can be made).
    #[error("cannot generate a secret: {0}")]
    Random(String),
}

impl CommonArgs {
    fn base(
        &self,
        jwt: JwtKeys,
        api_keys: Vec<String>,
        demo: Option<DemoConfig>,
    ) -> Result<Config, ConfigError> {
        Ok(Config {
            addr: self.addr,
            jwt,
            api_keys,
            cors_origins: self
                .cors_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            limits: self.limits,
            retention: self.retention,
            redis_url: self
                .redis_url
                .as_ref()
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty()),
            node_id: self.node_id.clone().unwrap_or_else(default_node_id),
            presence_ttl: self.presence_ttl,
            shutdown_grace: Duration::from_millis(self.shutdown_grace_ms),
            demo,
        })
    }
}

impl ServeArgs {
    /// Validates the flags into a [`Config`].
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let secrets: Vec<&str> = self
            .jwt_secret
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        if secrets.is_empty() && self.jwt_public_key.is_empty() {
            return Err(ConfigError::NoJwtKey);
        }
        let api_keys: Vec<String> = self
            .api_keys
            .into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect();
        if api_keys.is_empty() {
            return Err(ConfigError::NoApiKey);
        }
        let mut pems = Vec::new();
        for path in &self.jwt_public_key {
            let name = path.display().to_string();
            let bytes =
                std::fs::read(path).map_err(|e| KeyError::Read(name.clone(), e.to_string()))?;
            pems.push((name, bytes));
        }
        let pems: Vec<(String, &[u8])> = pems
            .iter()
            .map(|(name, bytes)| (name.clone(), bytes.as_slice()))
            .collect();
        let jwt = JwtKeys::several(&secrets, &pems)?;
        self.common.base(jwt, api_keys, None)
    }
}

impl DemoArgs {
    /// Validates the flags into a [`Config`], generating the secret and the API key not given
    /// (an empty value counts as not given, as for `serve`).
    pub fn into_config(self) -> Result<(Config, DemoSecrets), ConfigError> {
        // Trimmed like `serve` treats them: the key, not the secret (a secret is bytes).
        let secret = self.jwt_secret.filter(|s| !s.is_empty());
        let key = self
            .api_key
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty());
        let secrets = DemoSecrets {
            jwt_secret: match secret {
                Some(s) => s,
                None => random_hex(32)?,
            },
            api_key: match key {
                Some(k) => k,
                None => format!("demo_{}", random_hex(16)?),
            },
        };
        let jwt = JwtKeys::new(Some(&secrets.jwt_secret), None)?;
        let dir = self.demo_dir.unwrap_or_else(default_demo_dir);
        let demo = DemoConfig {
            token_secret: secrets.jwt_secret.clone(),
            dir,
            feed_interval: Duration::from_millis(self.feed_interval_ms),
        };
        let config = self
            .common
            .base(jwt, vec![secrets.api_key.clone()], Some(demo))?;
        Ok((config, secrets))
    }
}

/// The secret and API key of a demo server: given by flags, or made up for this run.
#[derive(Clone)]
pub struct DemoSecrets {
    /// HS256 secret.
    pub jwt_secret: String,
    /// The one API key.
    pub api_key: String,
}

/// `n` random bytes from the OS generator, as hex.
pub fn random_hex(n: usize) -> Result<String, ConfigError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| ConfigError::Random(e.to_string()))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// `web-demo/dist` in the working directory if present, else beside the source tree.
fn default_demo_dir() -> PathBuf {
    let local = PathBuf::from("web-demo/dist");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web-demo/dist")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["switchyard", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(a) => a.into_config(),
            Command::Demo(_) => unreachable!("parsed serve"),
        }
    }

    #[test]
    fn start_up_refusals_are_specific() {
        assert!(matches!(
            serve(&["--api-keys", "k"]),
            Err(ConfigError::NoJwtKey)
        ));
        assert!(matches!(
            serve(&["--jwt-secret", "", "--api-keys", "k"]),
            Err(ConfigError::NoJwtKey)
        ));
        assert!(matches!(
            serve(&["--jwt-secret", "s"]),
            Err(ConfigError::NoApiKey)
        ));
        assert!(matches!(
            serve(&["--jwt-secret", "s", "--api-keys", " , ,"]),
            Err(ConfigError::NoApiKey)
        ));
        let zero = Cli::try_parse_from([
            "switchyard",
            "serve",
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--socket-buffer-events",
            "0",
        ])
        .unwrap_err();
        assert_eq!(zero.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            zero.to_string().contains("--socket-buffer-events")
                && zero.to_string().contains("at least 1"),
            "{zero}"
        );
        let bad = Cli::try_parse_from([
            "switchyard",
            "serve",
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--connects-per-sec",
            "ten",
        ])
        .unwrap_err();
        assert!(bad.to_string().contains("--connects-per-sec"), "{bad}");
        let c = serve(&[
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--redis-url",
            "redis://127.0.0.1",
            "--node-id",
            "a-1",
        ])
        .unwrap();
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1"));
        assert_eq!(c.node_id, "a-1");
        assert_eq!(c.presence_ttl, Duration::from_secs(30));
        for bad in [
            &["--node-id", "a b"][..],
            &["--node-id", ""],
            &["--presence-ttl", "999ms"],
        ] {
            let mut argv = vec!["switchyard", "serve"];
            argv.extend_from_slice(bad);
            let e = Cli::try_parse_from(argv).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{e}");
        }
        let one = serve(&[
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--presence-ttl",
            "1s",
        ])
        .unwrap();
        assert_eq!(one.presence_ttl, Duration::from_secs(1));
        assert_ne!(default_node_id(), default_node_id());
        let missing = std::env::temp_dir().join("switchyard-no-such-key.pem");
        assert!(matches!(
            serve(&[
                "--jwt-public-key",
                missing.to_str().unwrap(),
                "--api-keys",
                "k"
            ]),
            Err(ConfigError::Key(KeyError::Read(..)))
        ));
        let garbage =
            std::env::temp_dir().join(format!("switchyard-garbage-{}.pem", std::process::id()));
        std::fs::write(
            &garbage,
            "-----BEGIN PUBLIC KEY-----\nbm90IGEga2V5\n-----END PUBLIC KEY-----\n",
        )
        .unwrap();
        let r = serve(&[
            "--jwt-public-key",
            garbage.to_str().unwrap(),
            "--api-keys",
            "k",
        ]);
        let _ = std::fs::remove_file(&garbage);
        assert!(matches!(r, Err(ConfigError::Key(KeyError::Pem(_)))));
    }

    #[test]
    fn the_flags_defaults_are_the_library_defaults() {
        let c = serve(&["--jwt-secret", "s", "--api-keys", "k"]).unwrap();
        assert_eq!(c.limits, Limits::DEFAULT);
        assert_eq!(c.retention, Retention::DEFAULT);
        let c = serve(&[
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--history-ttl",
            "90s",
            "--inbox-ttl",
            "1h 30m",
        ])
        .unwrap();
        assert_eq!(c.retention.history_ttl, Duration::from_secs(90));
        assert_eq!(c.retention.inbox_ttl, Duration::from_secs(5400));
        let bad =
            Cli::try_parse_from(["switchyard", "serve", "--history-ttl", "soon"]).unwrap_err();
        assert!(bad.to_string().contains("--history-ttl"), "{bad}");
    }

    #[test]
    fn limits_and_lists_are_read() {
        let c = serve(&[
            "--jwt-secret",
            "s",
            "--api-keys",
            " a, b ,",
            "--cors-origins",
            "https://x, ,https://y",
            "--max-subscriptions-per-socket",
            "0",
            "--socket-buffer-events",
            "7",
            "--socket-events-per-sec",
            "5",
            "--connect-timeout",
            "1500ms",
            "--header-read-timeout",
            "250ms",
            "--trust-proxy-headers",
        ])
        .unwrap();
        assert_eq!(c.api_keys, ["a", "b"]);
        assert_eq!(c.cors_origins, ["https://x", "https://y"]);
        assert_eq!(c.limits.max_subscriptions_per_socket, Limit::OFF);
        assert_eq!(c.limits.socket_buffer_events, 7);
        assert_eq!(c.limits.socket_events_per_sec, Limit::new(5));
        assert_eq!(c.limits.connect_timeout, Duration::from_millis(1500));
        assert_eq!(c.limits.header_read_timeout, Duration::from_millis(250));
        assert!(c.limits.trust_proxy_headers);
        assert_eq!(c.limits.max_body_bytes, Limits::DEFAULT.max_body_bytes);
    }

    /// `0` turns every limit of contract section 10 off (and the byte limits too).
    #[test]
    fn zero_turns_each_limit_off() {
        let c = serve(&[
            "--jwt-secret",
            "s",
            "--api-keys",
            "k",
            "--max-body-bytes",
            "0",
            "--max-socket-message-bytes",
            "0",
            "--max-subscriptions-per-socket",
            "0",
            "--max-sockets-per-user",
            "0",
            "--socket-events-per-sec",
            "0",
            "--api-requests-per-sec",
            "0",
            "--connects-per-sec",
            "0",
            "--connect-timeout",
            "0",
            "--header-read-timeout",
            "0",
        ])
        .unwrap();
        let l = c.limits;
        for (name, limit) in [
            ("max_body_bytes", l.max_body_bytes),
            ("max_socket_message_bytes", l.max_socket_message_bytes),
            (
                "max_subscriptions_per_socket",
                l.max_subscriptions_per_socket,
            ),
            ("max_sockets_per_user", l.max_sockets_per_user),
            ("socket_events_per_sec", l.socket_events_per_sec),
            ("api_requests_per_sec", l.api_requests_per_sec),
            ("connects_per_sec", l.connects_per_sec),
        ] {
            assert!(limit.is_off(), "{name}");
        }
        assert_eq!(l.connect_timeout, Duration::ZERO);
        assert_eq!(l.header_read_timeout, Duration::ZERO);
        assert!(!l.trust_proxy_headers, "off by default");
    }

    fn demo(args: &[&str]) -> (Config, DemoSecrets) {
        let mut argv = vec!["switchyard", "demo"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Demo(a) => a.into_config().unwrap(),
            Command::Serve(_) => unreachable!("parsed demo"),
        }
    }

    #[test]
    fn demo_nodes_can_share_a_secret_and_a_key() {
        let (c, s) = demo(&[
            "--jwt-secret",
            " shared ",
            "--api-key",
            " demo_shared ",
            "--redis-url",
            "redis://127.0.0.1:6390/",
            "--node-id",
            "demo-a",
            "--presence-ttl",
            "2s",
        ]);
        // The secret is used byte for byte; the key is trimmed, as `serve` trims its keys.
        assert_eq!(s.jwt_secret, " shared ");
        assert_eq!(c.demo.as_ref().unwrap().token_secret, " shared ");
        assert_eq!(s.api_key, "demo_shared");
        assert_eq!(c.api_keys, ["demo_shared"]);
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6390/"));
        assert_eq!(c.node_id, "demo-a");
        assert_eq!(c.presence_ttl, Duration::from_secs(2));
        // Absent or empty: made up per run.
        let (_, one) = demo(&[]);
        let (_, two) = demo(&["--jwt-secret", "", "--api-key", "  "]);
        assert_ne!(one.jwt_secret, two.jwt_secret);
        assert_ne!(one.api_key, two.api_key);
        assert!(two.api_key.starts_with("demo_") && two.jwt_secret.len() == 64);
    }
}
