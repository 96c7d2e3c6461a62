//! The bound link: one task owns the connection (bind, enquire_link, reading
//! and writing PDUs, reconnecting); `SmppLink` hands it submits and paces them.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use textdesk_core::{Address, Medium};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout};

use super::coding::{Reassembler, decode_part, encode_text};
use super::pdu::{Bind, Body, INTERFACE_VERSION, Pdu, Sm, SmAddr, cmd, esm, frame_len, status, status_text};
use super::receipt;
use crate::{Accepted, InboundEvent, Outgoing, SendError};

/// The bind password. Kept out of Debug output and out of serialized config:
/// the app stores it with its other secrets and sets it before `start`.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SmppPassword(String);

impl SmppPassword {
    pub fn new(p: impl Into<String>) -> Self {
        SmppPassword(p.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SmppPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SmppPassword(***)")
    }
}

/// Durations are stored as (fractional) seconds, which reads well in JSON.
mod secs {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        Duration::try_from_secs_f64(v).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmppConfig {
    pub host: String,
    pub port: u16,
    #[serde(default)]
    pub tls: bool,
    pub system_id: String,
    #[serde(default, skip_serializing)]
    pub password: SmppPassword,
    #[serde(default)]
    pub system_type: String,
    #[serde(default = "international")]
    pub source_ton: u8,
    #[serde(default = "isdn")]
    pub source_npi: u8,
    #[serde(default = "international")]
    pub dest_ton: u8,
    #[serde(default = "isdn")]
    pub dest_npi: u8,
    /// Submits awaiting their response at once.
    #[serde(default = "default_window")]
    pub window: usize,
    #[serde(default = "default_rate")]
    pub max_per_second: f64,
    #[serde(default = "default_enquire", with = "secs")]
    pub enquire_link_every: Duration,
    /// Whether the SMSC wants data_coding 0 packed 8 septets to 7 octets.
    #[serde(default)]
    pub gsm7_packed: bool,
    #[serde(default = "default_response", with = "secs")]
    pub response_timeout: Duration,
    #[serde(default = "default_reconnect_min", with = "secs")]
    pub reconnect_min: Duration,
    #[serde(default = "default_reconnect_max", with = "secs")]
    pub reconnect_max: Duration,
    /// How long sending pauses after the SMSC says it is throttling.
    #[serde(default = "default_throttle", with = "secs")]
    pub throttle_backoff: Duration,
    /// How long the parts of a long inbound text wait for the rest.
    #[serde(default = "default_reassembly", with = "secs")]
    pub reassembly_timeout: Duration,
}

fn international() -> u8 {
    1
}
fn isdn() -> u8 {
    1
}
fn default_window() -> usize {
    10
}
fn default_rate() -> f64 {
    10.0
}
fn default_enquire() -> Duration {
    Duration::from_secs(30)
}
fn default_response() -> Duration {
    Duration::from_secs(10)
}
fn default_reconnect_min() -> Duration {
    Duration::from_secs(1)
}
fn default_reconnect_max() -> Duration {
    Duration::from_secs(60)
}
fn default_throttle() -> Duration {
    Duration::from_secs(1)
}
fn default_reassembly() -> Duration {
    Duration::from_secs(300)
}

impl SmppConfig {
    /// A config with the defaults above for everything but where and who.
    pub fn new(host: impl Into<String>, port: u16, system_id: impl Into<String>, password: SmppPassword) -> Self {
        SmppConfig {
            host: host.into(),
            port,
            tls: false,
            system_id: system_id.into(),
            password,
            system_type: String::new(),
            source_ton: international(),
            source_npi: isdn(),
            dest_ton: international(),
            dest_npi: isdn(),
            window: default_window(),
            max_per_second: default_rate(),
            enquire_link_every: default_enquire(),
            gsm7_packed: false,
            response_timeout: default_response(),
            reconnect_min: default_reconnect_min(),
            reconnect_max: default_reconnect_max(),
            throttle_backoff: default_throttle(),
            reassembly_timeout: default_reassembly(),
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        let host = self.host.trim();
        if host.is_empty() || host.len() > 253 || host.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err("the host is a name or IP address like smsc.example.com".into());
        }
        if self.port == 0 {
            return Err("the port is a number from 1 to 65535".into());
        }
        let ascii = |s: &str| s.chars().all(|c| c.is_ascii_graphic());
        if self.system_id.is_empty() || self.system_id.len() > 15 || !ascii(&self.system_id) {
            return Err("the system_id is 1 to 15 ASCII characters without spaces".into());
        }
        let password = self.password.expose();
        if password.len() > 8 || !ascii(password) {
            return Err("the password is at most 8 ASCII characters (SMPP 3.4 allows no more)".into());
        }
        if self.system_type.len() > 12 || !ascii(&self.system_type) {
            return Err("the system_type is at most 12 ASCII characters".into());
        }
        for (name, ton) in [("source_ton", self.source_ton), ("dest_ton", self.dest_ton)] {
            if ton > 6 {
                return Err(format!("{name} is 0 to 6 (1 is international, 5 alphanumeric)"));
            }
        }
        for (name, npi) in [("source_npi", self.source_npi), ("dest_npi", self.dest_npi)] {
            if ![0, 1, 3, 4, 6, 8, 9, 10, 14, 18].contains(&npi) {
                return Err(format!("{name} is an SMPP numbering plan (1 is ISDN/E.164)"));
            }
        }
        if self.window == 0 || self.window > 1000 {
            return Err("the window is 1 to 1000 submits in flight".into());
        }
        if !self.max_per_second.is_finite() || self.max_per_second <= 0.0 || self.max_per_second > 10_000.0 {
            return Err("max_per_second is more than 0 and at most 10000".into());
        }
        let positive = [
            ("enquire_link_every", self.enquire_link_every),
            ("response_timeout", self.response_timeout),
            ("reconnect_min", self.reconnect_min),
            ("reassembly_timeout", self.reassembly_timeout),
        ];
        for (name, d) in positive {
            if d.is_zero() {
                return Err(format!("{name} must be more than zero"));
            }
        }
        if self.reconnect_max < self.reconnect_min {
            return Err("reconnect_max must not be shorter than reconnect_min".into());
        }
        Ok(())
    }

    fn bind_pdu(&self, sequence: u32) -> Pdu {
        Pdu::new(
            cmd::BIND_TRANSCEIVER,
            sequence,
            Body::Bind(Bind {
                system_id: self.system_id.clone(),
                password: self.password.expose().to_owned(),
                system_type: self.system_type.clone(),
                interface_version: INTERFACE_VERSION,
                addr_ton: 0,
                addr_npi: 0,
                address_range: String::new(),
            }),
        )
    }
}

/// What the link is doing, for the UI and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    Connecting,
    Bound { since: Timestamp },
    Down { reason: String, since: Timestamp },
    Stopped,
}

impl LinkState {
    pub fn as_str(&self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Bound { .. } => "bound",
            LinkState::Down { .. } => "down",
            LinkState::Stopped => "stopped",
        }
    }
    pub fn is_bound(&self) -> bool {
        matches!(self, LinkState::Bound { .. })
    }
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkState::Down { reason, .. } => write!(f, "down: {reason}"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// Counters since `start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LinkStats {
    pub binds: u64,
    pub disconnects: u64,
    pub parts_submitted: u64,
    pub submit_errors: u64,
    pub throttled: u64,
    pub inbound_messages: u64,
    pub receipts: u64,
    pub enquire_links_sent: u64,
}

#[derive(Default)]
struct Counters {
    binds: AtomicU64,
    disconnects: AtomicU64,
    parts_submitted: AtomicU64,
    submit_errors: AtomicU64,
    throttled: AtomicU64,
    inbound_messages: AtomicU64,
    receipts: AtomicU64,
    enquire_links_sent: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

struct Shared {
    cfg: SmppConfig,
    state: watch::Sender<LinkState>,
    counters: Counters,
    window: Semaphore,
    /// The earliest moment the next part may go, for max_per_second and throttling.
    next_slot: Mutex<Instant>,
    reference: AtomicU8,
}

impl Shared {
    fn set_state(&self, s: LinkState) {
        self.state.send_replace(s);
    }
}

type SubmitReply = oneshot::Sender<Result<Pdu, String>>;

enum Cmd {
    Submit { sm: Box<Sm>, reply: SubmitReply },
}

/// A handle on the running session. Clones share it; when the last one is
/// dropped the session unbinds and ends.
#[derive(Clone)]
pub struct SmppLink {
    shared: Arc<Shared>,
    cmd_tx: mpsc::Sender<Cmd>,
}

impl fmt::Debug for SmppLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmppLink").field("system_id", &self.shared.cfg.system_id).field("state", &self.state()).finish()
    }
}

impl SmppLink {
    /// Validates the config and spawns the session task (on the current tokio
    /// runtime). What the SMSC delivers arrives on the receiver.
    pub fn start(cfg: SmppConfig) -> Result<(SmppLink, mpsc::Receiver<InboundEvent>), String> {
        cfg.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| "the SMPP link needs a tokio runtime".to_owned())?;
        let (state, _) = watch::channel(LinkState::Connecting);
        let shared = Arc::new(Shared {
            window: Semaphore::new(cfg.window),
            cfg,
            state,
            counters: Counters::default(),
            next_slot: Mutex::new(Instant::now()),
            reference: AtomicU8::new(rand::random()),
        });
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (events_tx, events_rx) = mpsc::channel(256);
        runtime.spawn(run(shared.clone(), cmd_rx, events_tx));
        Ok((SmppLink { shared, cmd_tx }, events_rx))
    }

    pub fn state(&self) -> LinkState {
        self.shared.state.borrow().clone()
    }

    pub fn stats(&self) -> LinkStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        LinkStats {
            binds: get(&c.binds),
            disconnects: get(&c.disconnects),
            parts_submitted: get(&c.parts_submitted),
            submit_errors: get(&c.submit_errors),
            throttled: get(&c.throttled),
            inbound_messages: get(&c.inbound_messages),
            receipts: get(&c.receipts),
            enquire_links_sent: get(&c.enquire_links_sent),
        }
    }

    /// Waits until the link is bound, up to `wait`.
    pub async fn wait_bound(&self, wait: Duration) -> bool {
        let mut rx = self.shared.state.subscribe();
        matches!(timeout(wait, rx.wait_for(LinkState::is_bound)).await, Ok(Ok(_)))
    }

    /// Submits the text, in parts when long; one message id per part.
    /// If a later part fails, the earlier ones have already gone.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        let cfg = &self.shared.cfg;
        if !msg.media_urls.is_empty() {
            return Err(SendError::Permanent("SMPP carries text only; attachments cannot be sent".into()));
        }
        if msg.body.is_empty() {
            return Err(SendError::Permanent("the text is empty".into()));
        }
        let dest = smpp_addr(&msg.to, cfg.dest_ton)
            .ok_or_else(|| SendError::Permanent("the destination is not a phone number".into()))?;
        let source = smpp_addr(&msg.from, cfg.source_ton)
            .ok_or_else(|| SendError::Permanent("the sender is not a phone number or sender id".into()))?;
        let reference = self.shared.reference.fetch_add(1, Ordering::Relaxed);
        let encoded = encode_text(&msg.body, cfg.gsm7_packed, reference).map_err(SendError::Permanent)?;
        if !self.wait_bound(cfg.response_timeout).await {
            return Err(SendError::Retryable("not bound".into()));
        }
        let mut provider_ids = Vec::with_capacity(encoded.parts.len());
        for part in encoded.parts {
            let sm = Sm {
                source: SmAddr { ton: cfg.source_ton, npi: cfg.source_npi, addr: source.clone() },
                dest: SmAddr { ton: cfg.dest_ton, npi: cfg.dest_npi, addr: dest.clone() },
                esm_class: encoded.esm_class,
                registered_delivery: 1,
                data_coding: encoded.data_coding,
                short_message: part,
                ..Sm::default()
            };
            provider_ids.push(self.submit(sm).await?);
        }
        Ok(Accepted { provider_ids })
    }

    async fn submit(&self, sm: Sm) -> Result<String, SendError> {
        let shared = &self.shared;
        let wait = shared.cfg.response_timeout;
        let _permit = match timeout(wait, shared.window.acquire()).await {
            Ok(Ok(p)) => p,
            _ => return Err(SendError::Retryable("the submit window stayed full".into())),
        };
        self.pace().await;
        let (reply, rx) = oneshot::channel();
        if self.cmd_tx.send(Cmd::Submit { sm: Box::new(sm), reply }).await.is_err() {
            return Err(SendError::Retryable("the SMPP link has stopped".into()));
        }
        let resp = match timeout(wait, rx).await {
            Err(_) => {
                bump(&shared.counters.submit_errors);
                return Err(SendError::Retryable(format!("no submit_sm_resp within {wait:?}")));
            }
            Ok(Err(_)) => return Err(SendError::Retryable("the connection dropped before the SMSC answered".into())),
            Ok(Ok(Err(reason))) => return Err(SendError::Retryable(reason)),
            Ok(Ok(Ok(pdu))) => pdu,
        };
        bump(&shared.counters.parts_submitted);
        let code = if resp.command_id == cmd::GENERIC_NACK && resp.status == status::OK {
            status::SYSTEM_ERROR
        } else {
            resp.status
        };
        match (code, resp.body) {
            (status::OK, Body::SubmitSmResp { message_id }) if !message_id.is_empty() => Ok(message_id),
            (status::OK, _) => Err(SendError::Retryable("the SMSC accepted the message without an id".into())),
            (code, _) => {
                bump(&shared.counters.submit_errors);
                let words = format!("SMPP 0x{code:08X}: {}", status_text(code));
                match code {
                    status::THROTTLED | status::MESSAGE_QUEUE_FULL => {
                        bump(&shared.counters.throttled);
                        self.back_off();
                        Err(SendError::Retryable(words))
                    }
                    status::SYSTEM_ERROR | status::INVALID_BIND_STATUS | 0x64 => Err(SendError::Retryable(words)),
                    _ => Err(SendError::Permanent(words)),
                }
            }
        }
    }

    /// Sleeps until this part's turn under max_per_second (and any throttle pause).
    async fn pace(&self) {
        let interval = Duration::from_secs_f64(1.0 / self.shared.cfg.max_per_second);
        let slot = {
            let mut next = self.shared.next_slot.lock().unwrap_or_else(|e| e.into_inner());
            let slot = (*next).max(Instant::now());
            *next = slot + interval;
            slot
        };
        sleep_until(slot).await;
    }

    fn back_off(&self) {
        let until = Instant::now() + self.shared.cfg.throttle_backoff;
        let mut next = self.shared.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        *next = (*next).max(until);
    }
}

/// The address as SMPP wants it: digits without '+' for numbers, an
/// alphanumeric sender id (TON 5) as it is.
fn smpp_addr(raw: &str, ton: u8) -> Option<String> {
    let raw = raw.trim();
    let digits = raw.strip_prefix('+').unwrap_or(raw);
    let ok = if ton == 5 {
        !raw.is_empty() && raw.len() <= 11 && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
    } else {
        !digits.is_empty() && digits.len() <= 20 && digits.chars().all(|c| c.is_ascii_digit())
    };
    ok.then(|| if ton == 5 { raw.to_owned() } else { digits.to_owned() })
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}
type BoxStream = Box<dyn Stream>;

async fn connect(cfg: &SmppConfig) -> Result<BoxStream, String> {
    let target = format!("{}:{}", cfg.host, cfg.port);
    let tcp = match timeout(cfg.response_timeout, TcpStream::connect((cfg.host.as_str(), cfg.port))).await {
        Err(_) => return Err(format!("could not connect to {target}: no answer within {:?}", cfg.response_timeout)),
        Ok(Err(e)) => return Err(format!("could not connect to {target}: {e}")),
        Ok(Ok(s)) => s,
    };
    // PDUs are small and latency matters more than packing them.
    let _ = tcp.set_nodelay(true);
    if !cfg.tls {
        return Ok(Box::new(tcp));
    }
    use tokio_rustls::rustls::{self, pki_types::ServerName};
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup failed: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name =
        ServerName::try_from(cfg.host.clone()).map_err(|_| format!("{} is not a valid TLS host name", cfg.host))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    match timeout(cfg.response_timeout, connector.connect(name, tcp)).await {
        Err(_) => Err(format!("TLS handshake with {target} timed out")),
        Ok(Err(e)) => Err(format!("TLS handshake with {target} failed: {e}")),
        Ok(Ok(s)) => Ok(Box::new(s)),
    }
}

/// One PDU frame; `Ok(None)` on a clean end of stream between frames.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Vec<u8>>, String> {
    let mut head = [0u8; 4];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(format!("read failed: {e}")),
    }
    let len = frame_len(&head).map_err(|e| format!("malformed PDU: {e}"))?;
    let mut frame = vec![0u8; len];
    frame[..4].copy_from_slice(&head);
    r.read_exact(&mut frame[4..]).await.map_err(|e| format!("read failed: {e}"))?;
    Ok(Some(frame))
}

async fn read_pdu<R: AsyncRead + Unpin>(r: &mut R) -> Result<Option<Pdu>, String> {
    match read_frame(r).await? {
        None => Ok(None),
        Some(frame) => Pdu::decode(&frame).map(Some).map_err(|e| format!("malformed PDU: {e}")),
    }
}

async fn write_pdu<W: AsyncWrite + Unpin>(w: &mut W, pdu: &Pdu) -> Result<(), String> {
    w.write_all(&pdu.encode()).await.map_err(|e| format!("write failed: {e}"))?;
    w.flush().await.map_err(|e| format!("write failed: {e}"))
}

fn bind_refused(code: u32) -> String {
    let words = format!("SMPP 0x{code:08X}: {}", status_text(code));
    match code {
        status::INVALID_PASSWORD => format!("the SMSC refused the password ({words})"),
        status::INVALID_SYSTEM_ID => format!("the SMSC does not know this system_id ({words})"),
        status::BIND_FAILED => {
            format!("the SMSC refused the bind ({words}); check system_id, password, system_type and allowed IPs")
        }
        _ => format!("the SMSC refused the bind ({words})"),
    }
}

/// Connects and binds as a transceiver; the stream is ready for traffic.
async fn connect_and_bind(cfg: &SmppConfig) -> Result<BoxStream, String> {
    let mut stream = connect(cfg).await?;
    bind(&mut stream, cfg).await?;
    Ok(stream)
}

async fn bind(stream: &mut BoxStream, cfg: &SmppConfig) -> Result<(), String> {
    write_pdu(stream, &cfg.bind_pdu(1)).await?;
    let answer = timeout(cfg.response_timeout, async {
        loop {
            match read_pdu(&mut *stream).await? {
                None => return Err("the SMSC closed the connection during bind".to_owned()),
                Some(p) if p.sequence == 1 && p.is_response() => return Ok(p),
                Some(_) => {}
            }
        }
    })
    .await;
    let resp = match answer {
        Err(_) => return Err(format!("the SMSC did not answer the bind within {:?}", cfg.response_timeout)),
        Ok(r) => r?,
    };
    if resp.command_id == cmd::GENERIC_NACK {
        return Err(format!("the SMSC did not understand the bind (SMPP 0x{:08X})", resp.status));
    }
    if resp.status != status::OK {
        return Err(bind_refused(resp.status));
    }
    Ok(())
}

/// Connects, binds and unbinds once: checks settings before they are saved.
pub async fn check_bind(cfg: &SmppConfig) -> Result<(), String> {
    cfg.validate()?;
    check(cfg).await.map_err(|(_, cause)| cause)
}

/// What `check_bind` found, as the admin reads it (beside the technical cause).
pub(crate) async fn check(cfg: &SmppConfig) -> Result<(), (crate::provider::CheckFailure, String)> {
    use crate::provider::CheckFailure;
    let target = format!("{}:{}", cfg.host, cfg.port);
    let mut stream = match connect(cfg).await {
        Ok(s) => s,
        Err(cause) => {
            let plain = format!(
                "The SMSC at {target} could not be reached. Check the host, port and TLS setting, and that this server may connect to it."
            );
            return Err((CheckFailure::Unreachable(plain), cause));
        }
    };
    if let Err(cause) = bind(&mut stream, cfg).await {
        let plain = format!("The SMSC did not accept this system ID and password ({cause}).");
        return Err((CheckFailure::Rejected(plain), cause));
    }
    // The bind worked; a failed unbind or a missing unbind_resp does not change that.
    let _ = write_pdu(&mut stream, &Pdu::new(cmd::UNBIND, 2, Body::Empty)).await;
    let _ = timeout(cfg.response_timeout, async {
        while let Ok(Some(p)) = read_pdu(&mut stream).await {
            if p.command_id == cmd::UNBIND_RESP {
                break;
            }
        }
    })
    .await;
    let _ = stream.shutdown().await;
    Ok(())
}

enum End {
    /// Every `SmppLink` is gone.
    Stopped,
    Dropped {
        reason: String,
        unbound_by_smsc: bool,
    },
}

fn backoff(cfg: &SmppConfig, attempt: u32) -> Duration {
    let base = cfg.reconnect_min.saturating_mul(2u32.saturating_pow(attempt.min(16)));
    let capped = base.min(cfg.reconnect_max);
    // Jitter spreads reconnects of many links after an SMSC restart.
    capped.mul_f64(0.5 + rand::random::<f64>() * 0.5)
}

async fn run(shared: Arc<Shared>, mut cmd_rx: mpsc::Receiver<Cmd>, events: mpsc::Sender<InboundEvent>) {
    let cfg = shared.cfg.clone();
    let mut reassembler = Reassembler::new(cfg.reassembly_timeout, 1000);
    let mut attempt: u32 = 0;
    loop {
        shared.set_state(LinkState::Connecting);
        let pause = match connect_and_bind(&cfg).await {
            Ok(stream) => {
                attempt = 0;
                bump(&shared.counters.binds);
                tracing::info!(system_id = %cfg.system_id, "smpp bound");
                shared.set_state(LinkState::Bound { since: Timestamp::now() });
                match serve(&shared, stream, &mut cmd_rx, &events, &mut reassembler).await {
                    End::Stopped => {
                        shared.set_state(LinkState::Stopped);
                        return;
                    }
                    End::Dropped { reason, unbound_by_smsc } => {
                        bump(&shared.counters.disconnects);
                        tracing::warn!(system_id = %cfg.system_id, %reason, "smpp link dropped");
                        shared.set_state(LinkState::Down { reason, since: Timestamp::now() });
                        // An SMSC that unbinds (maintenance, rebalancing) expects a prompt re-bind.
                        if unbound_by_smsc { cfg.reconnect_min.mul_f64(0.5) } else { backoff(&cfg, 0) }
                    }
                }
            }
            Err(reason) => {
                tracing::warn!(system_id = %cfg.system_id, %reason, "smpp bind failed");
                shared.set_state(LinkState::Down { reason, since: Timestamp::now() });
                attempt = attempt.saturating_add(1);
                backoff(&cfg, attempt)
            }
        };
        let until = Instant::now() + pause;
        loop {
            tokio::select! {
                _ = sleep_until(until) => break,
                cmd = cmd_rx.recv() => match cmd {
                    None => {
                        shared.set_state(LinkState::Stopped);
                        return;
                    }
                    Some(Cmd::Submit { reply, .. }) => {
                        let _ = reply.send(Err("not bound".into()));
                    }
                },
            }
        }
    }
}

async fn serve(
    shared: &Shared,
    stream: BoxStream,
    cmd_rx: &mut mpsc::Receiver<Cmd>,
    events: &mpsc::Sender<InboundEvent>,
    reassembler: &mut Reassembler,
) -> End {
    let cfg = &shared.cfg;
    let (mut rd, mut wr) = tokio::io::split(stream);
    // Reading lives in its own task because read_exact is not cancel-safe in select!.
    let (frames_tx, mut frames_rx) = mpsc::channel::<Result<Pdu, String>>(64);
    let reader = tokio::spawn(async move {
        loop {
            let item = match read_pdu(&mut rd).await {
                Ok(Some(p)) => Ok(p),
                Ok(None) => Err("the SMSC closed the connection".to_owned()),
                Err(e) => Err(e),
            };
            let stop = item.is_err();
            if frames_tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    let _abort = AbortOnDrop(reader);
    let mut pending: HashMap<u32, (SubmitReply, Instant)> = HashMap::new();
    let mut sequence: u32 = 1;
    let mut next_seq = move || {
        // Sequence numbers run 1..=0x7FFFFFFF; 1 was the bind.
        sequence = if sequence >= 0x7FFF_FFFF { 1 } else { sequence + 1 };
        sequence
    };
    let period = cfg.enquire_link_every;
    let mut ticker = tokio::time::interval_at(Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut enquire_sent: Option<Instant> = None;

    let dropped = |reason: String| End::Dropped { reason, unbound_by_smsc: false };
    loop {
        tokio::select! {
            frame = frames_rx.recv() => {
                let pdu = match frame {
                    None => return dropped("the reader stopped".into()),
                    Some(Err(reason)) => return dropped(reason),
                    Some(Ok(p)) => p,
                };
                if pdu.is_response() {
                    match pdu.command_id {
                        cmd::ENQUIRE_LINK_RESP => enquire_sent = None,
                        cmd::SUBMIT_SM_RESP | cmd::GENERIC_NACK => {
                            if let Some((reply, _)) = pending.remove(&pdu.sequence) {
                                let _ = reply.send(Ok(pdu));
                            }
                        }
                        _ => {}
                    }
                    continue;
                }
                match pdu.command_id {
                    cmd::ENQUIRE_LINK => {
                        if let Err(e) = write_pdu(&mut wr, &pdu.empty_response(status::OK)).await {
                            return dropped(e);
                        }
                    }
                    cmd::UNBIND => {
                        let _ = write_pdu(&mut wr, &pdu.empty_response(status::OK)).await;
                        let _ = wr.shutdown().await;
                        return End::Dropped { reason: "the SMSC unbound".into(), unbound_by_smsc: true };
                    }
                    cmd::DELIVER_SM => {
                        // Answer first: the SMSC's window must not wait on our consumers.
                        if let Err(e) = write_pdu(&mut wr, &pdu.empty_response(status::OK)).await {
                            return dropped(e);
                        }
                        if let Body::DeliverSm(sm) = pdu.body
                            && let Some(event) = inbound(shared, &sm, reassembler)
                        {
                            // The receiver may be gone while the link lives on; nothing to do then.
                            let _ = events.send(event).await;
                        }
                    }
                    _ => {
                        if let Err(e) = write_pdu(&mut wr, &pdu.empty_response(status::INVALID_COMMAND_ID)).await {
                            return dropped(e);
                        }
                    }
                }
            }
            command = cmd_rx.recv() => match command {
                None => {
                    unbind(&mut wr, &mut frames_rx, next_seq(), cfg.response_timeout).await;
                    return End::Stopped;
                }
                Some(Cmd::Submit { sm, reply }) => {
                    let seq = next_seq();
                    let pdu = Pdu::new(cmd::SUBMIT_SM, seq, Body::SubmitSm(sm));
                    if let Err(e) = write_pdu(&mut wr, &pdu).await {
                        let _ = reply.send(Err(e.clone()));
                        return dropped(e);
                    }
                    pending.insert(seq, (reply, Instant::now()));
                }
            },
            _ = ticker.tick() => {
                let now = Instant::now();
                if let Some(sent) = enquire_sent && now.duration_since(sent) >= cfg.response_timeout {
                    return dropped("no answer to enquire_link".into());
                }
                if enquire_sent.is_none() {
                    let pdu = Pdu::new(cmd::ENQUIRE_LINK, next_seq(), Body::Empty);
                    if let Err(e) = write_pdu(&mut wr, &pdu).await {
                        return dropped(e);
                    }
                    bump(&shared.counters.enquire_links_sent);
                    enquire_sent = Some(now);
                }
                // Submitters gave up on these long ago; forget them.
                pending.retain(|_, (_, at)| now.duration_since(*at) < cfg.response_timeout * 2);
                reassembler.expire(now.into_std());
            }
        }
    }
}

async fn unbind<W: AsyncWrite + Unpin>(
    wr: &mut W,
    frames: &mut mpsc::Receiver<Result<Pdu, String>>,
    seq: u32,
    wait: Duration,
) {
    if write_pdu(wr, &Pdu::new(cmd::UNBIND, seq, Body::Empty)).await.is_ok() {
        let _ = timeout(wait, async {
            while let Some(Ok(p)) = frames.recv().await {
                if p.command_id == cmd::UNBIND_RESP {
                    break;
                }
            }
        })
        .await;
    }
    let _ = wr.shutdown().await;
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A deliver_sm as an event: a receipt, a whole text, or nothing yet (a part
/// of a longer text, or something unreadable, which is logged without content).
fn inbound(shared: &Shared, sm: &Sm, reassembler: &mut Reassembler) -> Option<InboundEvent> {
    let cfg = &shared.cfg;
    let kind = sm.esm_class & esm::TYPE_MASK;
    // 0x04 is the SMSC delivery receipt, 0x20 the intermediate notification.
    if kind == esm::DELIVERY_RECEIPT || kind == 0x20 {
        let text = decode_part(sm, cfg.gsm7_packed).map(|p| p.kind.decode(&p.units)).unwrap_or_default();
        let parsed = receipt::parse(sm, &text);
        if parsed.is_none() {
            tracing::warn!("smpp delivery receipt without a message id or state, ignored");
        }
        bump(&shared.counters.receipts);
        return parsed.map(receipt::Receipt::into_event);
    }
    if kind != 0 {
        return None;
    }
    let part = match decode_part(sm, cfg.gsm7_packed) {
        Ok(p) => p,
        Err(reason) => {
            tracing::warn!(%reason, "smpp deliver_sm ignored");
            return None;
        }
    };
    let body = reassembler.push(&sm.source.addr, part, Instant::now().into_std())?;
    let raw = sm.source.addr.trim();
    let number = if raw.starts_with('+') { raw.to_owned() } else { format!("+{raw}") };
    let from = match Address::parse(Medium::Sms, &number) {
        Ok(a) => a,
        Err(_) => {
            tracing::warn!("smpp message from an address that is not a phone number, ignored");
            return None;
        }
    };
    bump(&shared.counters.inbound_messages);
    Some(InboundEvent::Message {
        from,
        provider_id: new_mo_id(),
        body,
        media: Vec::new(),
        received_at: Timestamp::now(),
        consent_signal: None,
    })
}

/// SMPP MOs carry no id; this one is unique per process lifetime and across
/// restarts (random prefix), which is what ingest needs to key the message.
fn new_mo_id() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("smpp-mo-{:016x}{n:08x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SmppConfig {
        SmppConfig::new("smsc.example.com", 2775, "desk", SmppPassword::new("secret"))
    }

    #[test]
    fn validation_names_the_problem() {
        assert_eq!(cfg().validate(), Ok(()));
        let mut c = cfg();
        c.system_id = "a".repeat(16);
        assert!(c.validate().unwrap_err().contains("15"));
        let mut c = cfg();
        c.password = SmppPassword::new("123456789");
        assert!(c.validate().unwrap_err().contains("8"));
        let mut c = cfg();
        c.window = 0;
        assert!(c.validate().unwrap_err().contains("window"));
        let mut c = cfg();
        c.max_per_second = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = cfg();
        c.host = "".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn password_stays_out_of_debug_and_json() {
        let c = cfg();
        assert!(!format!("{c:?}").contains("secret"));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("secret"), "{json}");
        let back: SmppConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back.password.expose(), "");
        assert_eq!(back.enquire_link_every, Duration::from_secs(30));
        let minimal: SmppConfig =
            serde_json::from_str(r#"{"host":"h","port":1,"system_id":"s","password":"p","response_timeout":0.5}"#)
                .unwrap();
        assert_eq!((minimal.password.expose(), minimal.response_timeout), ("p", Duration::from_millis(500)));
    }

    #[test]
    fn state_reads_short() {
        let s = LinkState::Down { reason: "x".into(), since: Timestamp::UNIX_EPOCH };
        assert_eq!((s.as_str(), s.to_string()), ("down", "down: x".to_owned()));
        let json = serde_json::to_value(LinkState::Connecting).unwrap();
        assert_eq!(json["state"], "connecting");
    }

    #[test]
    fn addresses() {
        assert_eq!(smpp_addr("+14155552671", 1).as_deref(), Some("14155552671"));
        assert_eq!(smpp_addr("+1 415", 1), None);
        assert_eq!(smpp_addr("Textdesk", 5).as_deref(), Some("Textdesk"));
    }

    #[test]
    fn backoff_grows_and_caps() {
        let c = cfg();
        assert!(backoff(&c, 0) <= Duration::from_secs(1));
        assert!(backoff(&c, 30) <= Duration::from_secs(60));
        assert!(backoff(&c, 30) >= Duration::from_secs(30));
    }
}
