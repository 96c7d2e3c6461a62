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
    /// Private hosts (`host` or `host:port`) media may be fetched from; every
    /// other private address is refused (see `textdesk_channels::net`).
    pub media_allow_private_hosts: Vec<String>,
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
            media_allow_private_hosts: Vec::new(),
        }
    }
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
        if let Some(v) = get("TEXTDESK_LOG_FORMAT") {
            self.log_format = v;
        }
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
        self.media_fetch_policy()?;
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("log_format must be \"text\" or \"json\"");
        }
        Ok(self)
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

# Media is fetched only from public addresses: a provider's media link that
# points at this machine, the local network or a cloud metadata address is
# refused. Name here the private hosts that may be reached anyway, as "host"
# or "host:port" (a provider gateway inside your network).
media_allow_private_hosts = []
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
