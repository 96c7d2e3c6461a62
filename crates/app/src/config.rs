//! Configuration: defaults, then a TOML file, then `TEXTDESK_*` environment
//! variables, then command-line flags. Secrets (the database password) are
//! never printed: `Debug` redacts them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`. Empty: SQLite in the data directory.
    pub database_url: String,
    pub listen: SocketAddr,
    /// The address people and providers reach this server at (behind a proxy, the proxy's).
    pub public_url: String,
    pub data_dir: PathBuf,
    pub account_name: String,
    /// The business's time zone (IANA name), for times shown to agents.
    pub time_zone: String,
    /// A resolved conversation reopens when the customer writes within this many hours.
    pub reopen_window_hours: i64,
    /// When texting is allowed, in each contact's local time ("08:00-21:00").
    pub quiet_hours: String,
    /// A customer who wrote within this many minutes is in a live exchange: replies go now, even at night.
    pub live_exchange_minutes: i64,
    /// Serve the phone simulator (`/simulator`). On for `demo`.
    pub simulator: bool,
    pub session_hours: i64,
    /// `text` or `json`.
    pub log_format: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// A message handed to a provider with no answer recorded after this many
    /// seconds is judged interrupted, and settled (see docs/decisions.md).
    pub claim_lease_secs: i64,
    /// Largest attachment kept from a provider, in bytes (in `data_dir/media`).
    pub media_max_bytes: u64,
    /// Test only, left out of the printed config: live screens get no event
    /// until it is this many milliseconds old, so `tests/app/event_crash.rs` can
    /// kill the server between a change and its delivery. 0 (default) delivers at once.
    pub hold_delivery_ms: u64,
    /// A sign-in ends after this many minutes without a request (`session_hours` ends it regardless).
    pub session_idle_minutes: i64,
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or networks like 10.0.0.0/8).
    pub trusted_proxies: TrustedProxies,
    /// Failed sign-ins (and bad API tokens or invitation links) one address may make per window.
    pub login_ip_attempts: u32,
    pub login_ip_window_secs: u64,
    /// Failed sign-ins for one e-mail within the window that lock it for `login_lockout_secs`.
    pub login_account_attempts: i64,
    pub login_account_window_secs: i64,
    pub login_lockout_secs: i64,
    /// Password checks running at once; more are refused at once rather than queued.
    pub login_max_concurrent_hashes: usize,
    /// Time a connection has to send a request's headers (also how long an idle keep-alive connection stays).
    pub header_timeout_secs: u64,
    /// Time a request's whole body has to arrive.
    pub body_timeout_secs: u64,
    /// A connection with no bytes moving either way for this long is closed (live streams send keep-alives).
    pub idle_timeout_secs: u64,
    /// Open connections at most; past it the oldest that has not sent a request is closed, or the newcomer refused.
    pub max_connections: usize,
    /// Private hosts (`host` or `host:port`) media may be fetched from; every
    /// other private address is refused (see `textdesk_channels::net`).
    pub media_allow_private_hosts: Vec<String>,
    /// Private hosts (`host` or `host:port`) outgoing webhooks may be sent to
    /// (and over plain http); every other private address is refused.
    pub webhook_allow_private_hosts: Vec<String>,
    /// A webhook subscription whose deliveries keep failing this long is switched off.
    pub webhook_disable_after_hours: i64,
    /// The file holding the key that seals provider secrets (base64 of 32 bytes).
    /// None: `data_dir/secret.key`, made at first start.
    pub secret_key_file: Option<PathBuf>,
    /// The key itself, from `TEXTDESK_SECRET_KEY` only (never from a config file,
    /// which is more often copied around); wins over the file.
    #[serde(skip)]
    pub secret_key: Option<String>,
    /// Requests one client address may make per minute to what anyone may call
    /// unsigned: the sign-in and invitation pages, the simulator, health and metrics.
    pub public_requests_per_minute: u32,
    /// The SHA-256 (hex) of the operator's token for `/api/v1/operator/…`, so
    /// a config file holds nothing that opens them. Empty with no
    /// `TEXTDESK_OPERATOR_TOKEN`: those routes answer 404.
    pub operator_token_sha256: String,
    /// The operator's token itself, from `TEXTDESK_OPERATOR_TOKEN` only; wins over the hash.
    #[serde(skip)]
    pub operator_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: String::new(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: String::new(),
            data_dir: default_data_dir(),
            account_name: "My Business".into(),
            time_zone: "UTC".into(),
            reopen_window_hours: 72,
            quiet_hours: "08:00-21:00".into(),
            live_exchange_minutes: 30,
            simulator: false,
            session_hours: 12,
            log_format: "text".into(),
            max_body_bytes: 1024 * 1024,
            claim_lease_secs: 120,
            media_max_bytes: 10 * 1024 * 1024,
            hold_delivery_ms: 0,
            session_idle_minutes: 120,
            trusted_proxies: TrustedProxies::default(),
            login_ip_attempts: 20,
            public_requests_per_minute: 600,
            login_ip_window_secs: 600,
            login_account_attempts: 10,
            login_account_window_secs: 900,
            login_lockout_secs: 900,
            login_max_concurrent_hashes: 4,
            header_timeout_secs: 15,
            body_timeout_secs: 120,
            idle_timeout_secs: 120,
            max_connections: 800,
            media_allow_private_hosts: Vec::new(),
            webhook_allow_private_hosts: Vec::new(),
            webhook_disable_after_hours: 72,
            secret_key_file: None,
            secret_key: None,
            operator_token_sha256: String::new(),
            operator_token: None,
        }
    }
}

/// The reverse proxies allowed to say who the client is. Empty: nobody; the
/// connection's own address is the client's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Addresses (`10.0.0.5`) or networks (`10.0.0.0/8`, `fd00::/8`).
    pub fn parse<S: AsRef<str>>(items: &[S]) -> anyhow::Result<TrustedProxies> {
        let mut nets = Vec::with_capacity(items.len());
        for item in items {
            let item = item.as_ref().trim();
            if item.is_empty() {
                continue;
            }
            let net = match item.parse::<ipnet::IpNet>() {
                Ok(n) => n,
                Err(_) => match item.parse::<std::net::IpAddr>() {
                    Ok(ip) => ipnet::IpNet::from(ip),
                    Err(_) => bail!("trusted_proxies: {item:?} is not an address or a network like 10.0.0.0/8"),
                },
            };
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy;
    /// then the nearest address in `X-Forwarded-For` that is not a trusted
    /// proxy (the ones further left could have been written by the client).
    pub fn client(&self, peer: std::net::IpAddr, forwarded_for: &[&str]) -> std::net::IpAddr {
        if !self.contains(peer) {
            return peer.to_canonical();
        }
        let hops = forwarded_for.iter().flat_map(|v| v.split(',')).map(str::trim).rev();
        let mut client = peer.to_canonical();
        for hop in hops {
            match hop.parse::<std::net::IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !self.contains(client) {
                        break;
                    }
                }
                // A hop we cannot read ends what we can believe.
                Err(_) => break,
            }
        }
        client
    }
}

impl TryFrom<Vec<String>> for TrustedProxies {
    type Error = anyhow::Error;
    fn try_from(v: Vec<String>) -> anyhow::Result<Self> {
        TrustedProxies::parse(&v)
    }
}

/// Reads a number from the environment into `field` when the variable is set.
fn number<T: std::str::FromStr>(get: impl Fn(&str) -> Option<String>, key: &str, field: &mut T) -> anyhow::Result<()> {
    if let Some(v) = get(key) {
        *field = v.trim().parse().map_err(|_| anyhow::anyhow!("{key}={v:?} must be a whole number"))?;
    }
    Ok(())
}

pub fn default_data_dir() -> PathBuf {
    dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("textdesk")
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("simulator", &self.simulator)
            .finish_non_exhaustive()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.split_once('@')
    {
        let user = creds.split(':').next().unwrap_or("");
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_owned()
}

impl Config {
    /// Loads the file (if given), then the environment, then fills derived values.
    pub fn load(file: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<Config> {
        let mut cfg = match file {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str::<Config>(&text).with_context(|| format!("in config file {}", p.display()))?
            }
            None => Config::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        if let Some(d) = data_dir {
            cfg.data_dir = d.to_path_buf();
        }
        cfg.finish()
    }

    fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = get("TEXTDESK_DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = get("TEXTDESK_LISTEN") {
            self.listen =
                v.parse().with_context(|| format!("TEXTDESK_LISTEN={v:?} is not an address like 0.0.0.0:8080"))?;
        }
        if let Some(v) = get("TEXTDESK_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = get("TEXTDESK_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("TEXTDESK_ACCOUNT_NAME") {
            self.account_name = v;
        }
        if let Some(v) = get("TEXTDESK_TIME_ZONE") {
            self.time_zone = v;
        }
        if let Some(v) = get("TEXTDESK_REOPEN_WINDOW_HOURS") {
            self.reopen_window_hours = v.parse().context("TEXTDESK_REOPEN_WINDOW_HOURS must be a whole number")?;
        }
        if let Some(v) = get("TEXTDESK_QUIET_HOURS") {
            self.quiet_hours = v;
        }
        if let Some(v) = get("TEXTDESK_LIVE_EXCHANGE_MINUTES") {
            self.live_exchange_minutes = v.parse().context("TEXTDESK_LIVE_EXCHANGE_MINUTES must be a whole number")?;
        }
        if let Some(v) = get("TEXTDESK_SIMULATOR") {
            self.simulator = matches!(v.as_str(), "1" | "true" | "yes" | "on");
        }
        if let Some(v) = get("TEXTDESK_CLAIM_LEASE_SECS") {
            self.claim_lease_secs = v.parse().context("TEXTDESK_CLAIM_LEASE_SECS must be a whole number")?;
        }
        if let Some(v) = get("TEXTDESK_MEDIA_ALLOW_PRIVATE_HOSTS") {
            self.media_allow_private_hosts =
                v.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = get("TEXTDESK_WEBHOOK_ALLOW_PRIVATE_HOSTS") {
            self.webhook_allow_private_hosts =
                v.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_owned).collect();
        }
        if let Some(v) = get("TEXTDESK_WEBHOOK_DISABLE_AFTER_HOURS") {
            self.webhook_disable_after_hours =
                v.parse().context("TEXTDESK_WEBHOOK_DISABLE_AFTER_HOURS must be a whole number")?;
        }
        if let Some(v) = get("TEXTDESK_SECRET_KEY").filter(|v| !v.trim().is_empty()) {
            self.secret_key = Some(v);
        }
        if let Some(v) = get("TEXTDESK_OPERATOR_TOKEN").filter(|v| !v.trim().is_empty()) {
            self.operator_token = Some(v.trim().to_owned());
        }
        if let Some(v) = get("TEXTDESK_SECRET_KEY_FILE") {
            self.secret_key_file = Some(PathBuf::from(v));
        }
        if let Some(v) = get("TEXTDESK_LOG_FORMAT") {
            self.log_format = v;
        }
        if let Some(v) = get("TEXTDESK_HOLD_DELIVERY_MS") {
            self.hold_delivery_ms = v.parse().context("TEXTDESK_HOLD_DELIVERY_MS must be a whole number")?;
        }
        if let Some(v) = get("TEXTDESK_TRUSTED_PROXIES") {
            self.trusted_proxies = TrustedProxies::parse(&v.split(',').collect::<Vec<_>>())?;
        }
        number(&get, "TEXTDESK_SESSION_HOURS", &mut self.session_hours)?;
        number(&get, "TEXTDESK_SESSION_IDLE_MINUTES", &mut self.session_idle_minutes)?;
        number(&get, "TEXTDESK_LOGIN_IP_ATTEMPTS", &mut self.login_ip_attempts)?;
        number(&get, "TEXTDESK_LOGIN_IP_WINDOW_SECS", &mut self.login_ip_window_secs)?;
        number(&get, "TEXTDESK_LOGIN_ACCOUNT_ATTEMPTS", &mut self.login_account_attempts)?;
        number(&get, "TEXTDESK_LOGIN_ACCOUNT_WINDOW_SECS", &mut self.login_account_window_secs)?;
        number(&get, "TEXTDESK_LOGIN_LOCKOUT_SECS", &mut self.login_lockout_secs)?;
        number(&get, "TEXTDESK_LOGIN_MAX_CONCURRENT_HASHES", &mut self.login_max_concurrent_hashes)?;
        number(&get, "TEXTDESK_HEADER_TIMEOUT_SECS", &mut self.header_timeout_secs)?;
        number(&get, "TEXTDESK_BODY_TIMEOUT_SECS", &mut self.body_timeout_secs)?;
        number(&get, "TEXTDESK_IDLE_TIMEOUT_SECS", &mut self.idle_timeout_secs)?;
        number(&get, "TEXTDESK_MAX_CONNECTIONS", &mut self.max_connections)?;
        number(&get, "TEXTDESK_PUBLIC_REQUESTS_PER_MINUTE", &mut self.public_requests_per_minute)?;
        Ok(())
    }

    fn finish(mut self) -> anyhow::Result<Config> {
        if self.database_url.is_empty() {
            self.database_url = format!("sqlite://{}", self.data_dir.join("textdesk.db").display());
        }
        if self.public_url.is_empty() {
            let host =
                if self.listen.ip().is_unspecified() { "localhost".to_owned() } else { self.listen.ip().to_string() };
            self.public_url = format!("http://{host}:{}", self.listen.port());
        }
        self.public_url = self.public_url.trim_end_matches('/').to_owned();
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            bail!("public_url must start with http:// or https://");
        }
        textdesk_core::ReopenWindow::hours(self.reopen_window_hours)
            .map_err(|e| anyhow::anyhow!("reopen_window_hours: {e}"))?;
        if jiff::tz::TimeZone::get(&self.time_zone).is_err() {
            bail!("time_zone {:?} is not a time zone name such as America/Chicago", self.time_zone);
        }
        textdesk_core::QuietHours::parse(&self.quiet_hours).map_err(|e| anyhow::anyhow!("quiet_hours: {e}"))?;
        if !(0..=24 * 60).contains(&self.live_exchange_minutes) {
            bail!("live_exchange_minutes must be between 0 and 1440");
        }
        if !(1..=24 * 30).contains(&self.session_hours) {
            bail!("session_hours must be between 1 and 720");
        }
        if !(2..=3600).contains(&self.claim_lease_secs) {
            bail!("claim_lease_secs must be between 2 and 3600");
        }
        if !(1..=24 * 60 * 30).contains(&self.session_idle_minutes) {
            bail!("session_idle_minutes must be between 1 and 43200");
        }
        if self.login_ip_attempts == 0 || self.login_account_attempts < 1 || self.login_max_concurrent_hashes == 0 {
            bail!("login_ip_attempts, login_account_attempts and login_max_concurrent_hashes must be at least 1");
        }
        if self.login_ip_window_secs == 0 || self.login_account_window_secs < 1 || self.login_lockout_secs < 1 {
            bail!("login_ip_window_secs, login_account_window_secs and login_lockout_secs must be at least 1");
        }
        if self.header_timeout_secs == 0 || self.body_timeout_secs == 0 || self.idle_timeout_secs == 0 {
            bail!("header_timeout_secs, body_timeout_secs and idle_timeout_secs must be at least 1");
        }
        if self.public_requests_per_minute == 0 {
            bail!("public_requests_per_minute must be at least 1");
        }
        if self.max_connections < 2 {
            bail!("max_connections must be at least 2");
        }
        self.media_fetch_policy()?;
        self.webhook_policy()?;
        if !(1..=24 * 90).contains(&self.webhook_disable_after_hours) {
            bail!("webhook_disable_after_hours must be between 1 and 2160");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        Ok(self)
    }

    pub fn session_idle(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(self.session_idle_minutes)
    }

    pub fn claim_lease(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(self.claim_lease_secs)
    }

    /// The timing rules the gate applies (validated by `load`).
    pub fn timing_policy(&self) -> anyhow::Result<textdesk_core::timing::TimingPolicy> {
        Ok(textdesk_core::timing::TimingPolicy {
            quiet: textdesk_core::QuietHours::parse(&self.quiet_hours)?,
            fallback_zone: jiff::tz::TimeZone::get(&self.time_zone)?,
            live_window: jiff::SignedDuration::from_mins(self.live_exchange_minutes),
        })
    }

    /// Where inbound media may be fetched from (validated by `load`).
    pub fn media_fetch_policy(&self) -> anyhow::Result<textdesk_channels::net::FetchPolicy> {
        textdesk_channels::net::FetchPolicy::allowing(&self.media_allow_private_hosts)
            .map_err(|e| anyhow::anyhow!("media_allow_private_hosts: {e}"))
    }

    /// Where outgoing webhooks may be sent (validated by `load`).
    pub fn webhook_policy(&self) -> anyhow::Result<textdesk_channels::net::FetchPolicy> {
        textdesk_channels::net::FetchPolicy::allowing(&self.webhook_allow_private_hosts)
            .map_err(|e| anyhow::anyhow!("webhook_allow_private_hosts: {e}"))
    }

    /// Where the key file is (or will be made).
    /// The SHA-256 of the operator's token, if one is configured.
    pub fn operator_token_hash(&self) -> anyhow::Result<Option<[u8; 32]>> {
        use sha2::Digest;
        if let Some(t) = &self.operator_token {
            return Ok(Some(sha2::Sha256::digest(t.as_bytes()).into()));
        }
        let hex_hash = self.operator_token_sha256.trim();
        if hex_hash.is_empty() {
            return Ok(None);
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_hash, &mut out)
            .context("operator_token_sha256 must be 64 hex digits (the SHA-256 of the token)")?;
        Ok(Some(out))
    }

    pub fn secret_key_path(&self) -> PathBuf {
        self.secret_key_file.clone().unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Makes sure the data directory exists (for the SQLite file and media).
    pub fn prepare_data_dir(&self) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))
    }
}

pub const DEFAULT_CONFIG: &str = r#"# textdesk configuration. Every key may also be set as an environment variable:
# TEXTDESK_ and the key in capitals (TEXTDESK_DATABASE_URL, TEXTDESK_LISTEN, ...).
# Environment variables win over this file; --data-dir wins over both.

# Where the data lives. Empty: a SQLite file in data_dir.
#   sqlite:///var/lib/textdesk/textdesk.db     one node, no other service needed
#   postgres://textdesk@db.internal/textdesk   several nodes behind a load balancer
database_url = ""

# Folder for the SQLite database and stored media.
# data_dir = "/var/lib/textdesk"

# Address and port to listen on.
listen = "127.0.0.1:8080"

# The URL customers' providers and your people reach this server at. Behind a
# reverse proxy, the proxy's https:// address. Webhook URLs are built from it.
public_url = "http://localhost:8080"

# Your business's name, shown to agents.
account_name = "My Business"

# The business's time zone, for times shown to agents (an IANA name).
time_zone = "UTC"

# A resolved conversation reopens when the customer writes again within this
# many hours; after that a new conversation starts.
reopen_window_hours = 72

# When texting is allowed, in each contact's own local time (their zone is set on
# the contact, or inferred from their number). Messages written outside it wait
# for the morning; states with stricter rules narrow it for their numbers.
quiet_hours = "08:00-21:00"

# A customer who wrote within this many minutes is in a live exchange: replies
# to them go out at once, even in quiet hours.
live_exchange_minutes = 30

# Serve the built-in phone simulator at /simulator (for demos and trials).
simulator = false

# How long a sign-in lasts, in hours.
session_hours = 12

# "text" for people, "json" for log collectors.
log_format = "text"

# Largest request body accepted, in bytes.
max_body_bytes = 1048576

# A message handed to a provider without a recorded answer after this many
# seconds is settled: asked of the provider where it can say (then recorded as
# sent, or sent again), otherwise shown to an agent. A provider call is given
# up at half of it.
claim_lease_secs = 120

# Largest picture or file kept from a provider (MMS), in bytes. Attachments
# live in data_dir/media; back it up with the database.
media_max_bytes = 10485760

# A sign-in also ends after this many minutes without using the app (an
# absolute limit of session_hours applies however busy it is).
session_idle_minutes = 120

# Reverse proxies (addresses or networks) whose X-Forwarded-For header names
# the client. Only these are believed; empty means the connecting address is
# the client. Behind nginx on the same host: ["127.0.0.1", "::1"].
trusted_proxies = []

# Failed sign-ins, bad API tokens and bad sign-in links one client address may
# send per window (this node's count) before it gets 429 Too Many Requests.
login_ip_attempts = 20
login_ip_window_secs = 600

# Failed sign-ins for one e-mail (counted across all nodes) that lock it for
# login_lockout_secs. Locks are listed on Settings > Audit.
login_account_attempts = 10
login_account_window_secs = 900
login_lockout_secs = 900

# Password checks (argon2, about 19 MiB each) running at once; any more are
# refused at once with a "try again" rather than queued.
login_max_concurrent_hashes = 4

# Connections: seconds to send a request's headers (also how long an idle
# keep-alive connection is kept), to send its whole body, and with no bytes
# moving at all (live streams send keep-alives every 15 s). At most
# max_connections at once (keep it below the open-file limit): past it the
# oldest connection that has not sent a request is closed to make room, or,
# when every one is busy, the newcomer gets 503.
header_timeout_secs = 15
body_timeout_secs = 120
idle_timeout_secs = 120
max_connections = 800
# Media is fetched only from public addresses: a provider's media link that
# points at this machine, the local network or a cloud metadata address is
# refused. Name here the private hosts that may be reached anyway, as "host"
# or "host:port" (a provider gateway inside your network).
media_allow_private_hosts = []
# Outgoing webhooks go to public https addresses only. Name here private hosts
# ("host" or "host:port") they may reach anyway, over http too (a receiver on
# this machine while testing).
webhook_allow_private_hosts = []
# A webhook subscription whose deliveries have failed for this many hours in a
# row is switched off, with a notice on the settings page and in the audit log.
webhook_disable_after_hours = 72

# Provider credentials (Twilio auth tokens, SMPP passwords) and the key that
# signs media links are stored encrypted (XChaCha20-Poly1305). The key is
# TEXTDESK_SECRET_KEY (base64 of 32 random bytes: `openssl rand -base64 32`)
# when set, otherwise this file, made with owner-only rights (0600) at first
# start. Default: data_dir/secret.key. Keep a copy apart from your backups:
# without it the stored credentials cannot be read. With PostgreSQL and
# several nodes, every node needs the same key (copy the file, or set the
# variable on each). `textdesk secrets rotate-key` replaces it.
# secret_key_file = "/etc/textdesk/secret.key"
# Requests per minute one client address may make to what needs no sign-in:
# the sign-in and invitation pages, the simulator, /healthz and /metrics
# (webhooks are verified by signature instead). Past it: 429 with Retry-After.
public_requests_per_minute = 600
# The installation's operator creates and lists accounts over HTTP
# (POST/GET /api/v1/operator/accounts) with a token of their own, set as
# TEXTDESK_OPERATOR_TOKEN, or given here as its SHA-256 in hex
# (`printf %s "$TOKEN" | sha256sum`). Unset: those routes answer 404.
# operator_token_sha256 = ""
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_config_parses() {
        let cfg: Config = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert_eq!(cfg.reopen_window_hours, 72);
    }

    #[test]
    fn environment_overrides_and_validates() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| match k {
            "TEXTDESK_DATABASE_URL" => Some("postgres://me:hunter2@db/textdesk".into()),
            "TEXTDESK_LISTEN" => Some("0.0.0.0:9000".into()),
            _ => None,
        })
        .unwrap();
        let cfg = cfg.finish().unwrap();
        assert_eq!(cfg.public_url, "http://localhost:9000");
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let mut bad = Config::default();
        assert!(bad.apply_env(|k| (k == "TEXTDESK_LISTEN").then(|| "nowhere".into())).is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.2"), &["203.0.113.9"]), ip("10.0.0.2"));
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
        // The client may write anything to the left; the nearest untrusted hop counts.
        assert_eq!(proxies.client(ip("10.0.0.2"), &["1.2.3.4, 203.0.113.9"]), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("10.0.0.2"), &["203.0.113.9", "10.1.1.1"]), ip("203.0.113.9"));
        assert_eq!(proxies.client(ip("::1"), &["198.51.100.7"]), ip("198.51.100.7"));
        // An untrusted peer's header is ignored; an unreadable hop ends the chain.
        assert_eq!(proxies.client(ip("192.0.2.1"), &["203.0.113.9"]), ip("192.0.2.1"));
        assert_eq!(proxies.client(ip("10.0.0.2"), &["203.0.113.9, junk"]), ip("10.0.0.2"));
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        let cfg: Config = toml::from_str("trusted_proxies = ['127.0.0.1']").unwrap();
        assert!(cfg.trusted_proxies.contains(ip("127.0.0.1")));
        assert!(toml::from_str::<Config>("trusted_proxies = ['nowhere']").is_err());
    }

    #[test]
    fn private_media_hosts_are_named_one_by_one() {
        let mut cfg = Config::default();
        cfg.apply_env(|k| (k == "TEXTDESK_MEDIA_ALLOW_PRIVATE_HOSTS").then(|| "10.0.0.5:8080, gw.internal".into()))
            .unwrap();
        assert_eq!(cfg.media_allow_private_hosts, ["10.0.0.5:8080", "gw.internal"]);
        assert!(cfg.finish().is_ok());
        let bad = Config { media_allow_private_hosts: vec!["http://x/y".into()], ..Config::default() };
        assert!(bad.finish().unwrap_err().to_string().contains("media_allow_private_hosts"));
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("databse_url = 'x'").is_err());
    }
}
