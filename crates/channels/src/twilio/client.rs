//! Twilio's REST API (2010-04-01): send a message, check credentials, find
//! what was already sent, download inbound media. Errors never carry the auth
//! token, phone numbers or message text: they end up in logs and in front of
//! agents.

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use serde::Deserialize;

use super::errors::{ErrorClass, explain};
use super::webhook::is_sid;
use crate::net::FetchPolicy;
use crate::{Accepted, Outgoing, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.twilio.com";

/// How long the client waits for Twilio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// A whole API request, answer included.
    pub request: Duration,
    /// A whole media download; media can be megabytes over a slow link.
    pub media: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts { connect: Duration::from_secs(10), request: Duration::from_secs(30), media: Duration::from_secs(120) }
    }
}
/// Bounds `find_sent` when the filter matches a long history.
const MAX_PAGES: usize = 20;
const PAGE_SIZE: u32 = 100;
/// Twilio's error answers are small; anything bigger is not one.
pub(super) const MAX_ERROR_BODY: usize = 64 * 1024;

#[derive(Clone)]
pub struct TwilioConfig {
    /// Where the API is; tests point it at a fake.
    pub api_base: String,
    pub account_sid: String,
    pub auth_token: String,
    /// Send through this Messaging Service instead of a `From` number.
    pub messaging_service_sid: Option<String>,
    /// Where inbound media may be fetched from: public addresses, unless the
    /// server's operator named private hosts (a test's fake, a local gateway).
    pub media_policy: FetchPolicy,
}

impl TwilioConfig {
    pub fn new(account_sid: impl Into<String>, auth_token: impl Into<String>) -> Self {
        TwilioConfig {
            api_base: DEFAULT_API_BASE.to_owned(),
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            messaging_service_sid: None,
            media_policy: FetchPolicy::public_only(),
        }
    }
}

impl fmt::Debug for TwilioConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConfig")
            .field("api_base", &self.api_base)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"<redacted>")
            .field("messaging_service_sid", &self.messaging_service_sid)
            .field("media_policy", &self.media_policy)
            .finish()
    }
}

/// The configuration cannot work (malformed SID, empty token, bad base URL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("Twilio rejected the account SID or auth token: check both in the Twilio console")]
    Rejected,
    #[error("Twilio could not be reached: {0}")]
    Unreachable(String),
    #[error("Twilio answered the credential check unexpectedly: {0}")]
    Unexpected(String),
}

/// A downloaded attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct MediaError {
    pub retryable: bool,
    pub reason: String,
}

impl MediaError {
    fn permanent(reason: impl Into<String>) -> Self {
        MediaError { retryable: false, reason: reason.into() }
    }
    fn retry(reason: impl Into<String>) -> Self {
        MediaError { retryable: true, reason: reason.into() }
    }
}

#[derive(Clone)]
pub struct TwilioClient {
    pub(super) http: reqwest::Client,
    /// Only for media: reaches only what `TwilioConfig::media_policy` allows.
    media: reqwest::Client,
    base: url::Url,
    pub(super) cfg: TwilioConfig,
    pub(super) timeouts: Timeouts,
}

impl fmt::Debug for TwilioClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// reqwest is built without a bundled crypto provider (to avoid aws-lc's
/// build); ring is installed process-wide unless something else already was.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: one provider is enough.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

impl TwilioClient {
    pub fn new(cfg: TwilioConfig) -> Result<Self, ConfigError> {
        Self::with_timeouts(cfg, Timeouts::default())
    }

    pub fn with_timeouts(cfg: TwilioConfig, timeouts: Timeouts) -> Result<Self, ConfigError> {
        if !is_sid(&cfg.account_sid, Some("AC")) {
            return Err(ConfigError("the account SID is AC followed by 32 hex digits".into()));
        }
        if cfg.auth_token.trim().is_empty() || cfg.auth_token.chars().any(char::is_control) {
            return Err(ConfigError("the auth token is empty or not printable".into()));
        }
        if let Some(mg) = &cfg.messaging_service_sid
            && !is_sid(mg, Some("MG"))
        {
            return Err(ConfigError("the messaging service SID is MG followed by 32 hex digits".into()));
        }
        let base = url::Url::parse(cfg.api_base.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| ConfigError("the API base is not an http(s) URL".into()))?;
        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| ConfigError("the HTTP client could not be set up (TLS)".into()))?;
        let media = cfg.media_policy.client(timeouts.connect).map_err(ConfigError)?;
        Ok(TwilioClient { http, media, base, cfg, timeouts })
    }

    pub fn config(&self) -> &TwilioConfig {
        &self.cfg
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    fn messages_url(&self) -> String {
        self.url(&format!("/2010-04-01/Accounts/{}/Messages.json", self.cfg.account_sid))
    }

    /// Hands one message to Twilio. A timeout is `Retryable` although
    /// Twilio may have taken the message: check with `find_sent` before
    /// sending again.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        let mut form: Vec<(&str, &str)> = vec![("To", msg.to.as_str())];
        match &self.cfg.messaging_service_sid {
            Some(mg) => form.push(("MessagingServiceSid", mg)),
            None => form.push(("From", msg.from.as_str())),
        }
        form.push(("Body", msg.body.as_str()));
        for url in &msg.media_urls {
            form.push(("MediaUrl", url));
        }
        if let Some(cb) = &msg.status_callback {
            form.push(("StatusCallback", cb));
        }
        let resp = self
            .http
            .post(self.messages_url())
            .timeout(self.timeouts.request)
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(|e| SendError::Retryable(transport("sending to Twilio", &e)))?;
        let status = resp.status();
        if status.is_success() {
            #[derive(Deserialize)]
            struct Created {
                sid: String,
            }
            // Twilio has the message now; answering Retryable here would
            // send it twice, so an unreadable answer is a permanent failure.
            let body = read_limited(resp, MAX_ERROR_BODY).await.map_err(|_| {
                SendError::Permanent("Twilio accepted the message but its answer could not be read".into())
            })?;
            return match serde_json::from_slice::<Created>(&body) {
                Ok(c) if is_sid(&c.sid, None) => Ok(Accepted::one(c.sid)),
                _ => Err(SendError::Permanent("Twilio accepted the message but its answer has no message id".into())),
            };
        }
        Err(classify_failure(status, resp).await)
    }

    /// Whether the configured SID and token open the account.
    pub async fn check_credentials(&self) -> Result<(), CredentialError> {
        let resp = self
            .http
            .get(self.url(&format!("/2010-04-01/Accounts/{}.json", self.cfg.account_sid)))
            .timeout(self.timeouts.request)
            .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
            .send()
            .await
            .map_err(|e| CredentialError::Unreachable(transport("checking the credentials", &e)))?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => Err(CredentialError::Rejected),
            s => Err(CredentialError::Unexpected(format!("HTTP {}", s.as_u16()))),
        }
    }

    /// SIDs of outbound messages from `from` to `to` with exactly `body`,
    /// created at or after `since`, newest first. After a crash between
    /// claiming and recording a send, this says whether Twilio already has
    /// the message, so it is never sent twice. An empty `from` (messaging
    /// services pick the number) matches any sender.
    pub async fn find_sent(
        &self,
        from: &str,
        to: &str,
        body: &str,
        since: Timestamp,
    ) -> Result<Vec<String>, SendError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            messages: Vec<Listed>,
            next_page_uri: Option<String>,
        }
        #[derive(Deserialize)]
        struct Listed {
            sid: String,
            #[serde(default)]
            body: Option<String>,
            #[serde(default)]
            direction: Option<String>,
            #[serde(default)]
            date_created: Option<String>,
        }

        let mut query: Vec<(&str, String)> = vec![("To", to.to_owned())];
        if !from.is_empty() {
            query.push(("From", from.to_owned()));
        }
        query.push(("PageSize", PAGE_SIZE.to_string()));
        let mut request = self.http.get(self.messages_url()).query(&query);
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            let resp = request
                .timeout(self.timeouts.request)
                .basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token))
                .send()
                .await
                .map_err(|e| SendError::Retryable(transport("listing sent messages", &e)))?;
            let status = resp.status();
            if !status.is_success() {
                return Err(classify_failure(status, resp).await);
            }
            let raw = read_limited(resp, 16 * 1024 * 1024)
                .await
                .map_err(|_| SendError::Retryable("Twilio's message list could not be read".into()))?;
            let page: Page = serde_json::from_slice(&raw)
                .map_err(|_| SendError::Retryable("Twilio's message list is not in the expected shape".into()))?;
            let mut reached_older = false;
            for m in page.messages {
                // Twilio lists newest first; an unreadable date is kept
                // rather than risk a duplicate send.
                let created = m.date_created.as_deref().and_then(parse_twilio_date);
                if created.is_some_and(|c| c < since) {
                    reached_older = true;
                    continue;
                }
                let outbound = m.direction.as_deref().is_none_or(|d| d.starts_with("outbound"));
                if outbound && m.body.as_deref() == Some(body) {
                    found.push(m.sid);
                }
            }
            let next = match page.next_page_uri {
                Some(next) if !reached_older && !next.is_empty() => next,
                _ => return Ok(found),
            };
            // Only ever a path on the API host: the credentials go with it.
            if !next.starts_with('/') || next.starts_with("//") {
                return Err(SendError::Retryable("Twilio's next page is not on the API host".into()));
            }
            request = self.http.get(self.url(&next));
        }
        Ok(found)
    }

    /// Fetches an inbound attachment. Credentials are sent only to the API's
    /// own host; Twilio redirects media to a storage host, and the HTTP
    /// client drops the Authorization header on any redirect that changes
    /// host, port or scheme. Only addresses `media_policy` allows are reached
    /// (checked on every hop); a refused address fails exactly as an
    /// unreachable one does.
    pub async fn download_media(&self, url: &str, max_bytes: u64) -> Result<Downloaded, MediaError> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| MediaError::permanent("the media address is not an http(s) URL"))?;
        let unreachable = || MediaError::retry(crate::net::UNREACHABLE);
        self.cfg.media_policy.check_url(&parsed).map_err(|_| unreachable())?;
        let mut req = self.media.get(parsed.clone()).timeout(self.timeouts.media);
        if parsed.origin() == self.base.origin() {
            req = req.basic_auth(&self.cfg.account_sid, Some(&self.cfg.auth_token));
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() || e.is_body() || e.is_decode() {
                MediaError::retry(transport("downloading media", &e))
            } else {
                // Refused, redirected somewhere refused, or no connection: one answer for all.
                unreachable()
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            let reason = format!("the media could not be downloaded (HTTP {})", status.as_u16());
            return Err(if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                MediaError::retry(reason)
            } else {
                MediaError::permanent(reason)
            });
        }
        let too_big = || MediaError::permanent(format!("the media is larger than {max_bytes} bytes"));
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_big());
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut bytes = Vec::new();
        // Content-Length can be absent or wrong; count what actually arrives.
        while let Some(chunk) = resp.chunk().await.map_err(|e| MediaError::retry(transport("downloading media", &e)))? {
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Downloaded { content_type, bytes })
    }
}

/// A non-success answer to a request about messages, as a `SendError`.
pub(super) async fn classify_failure(status: StatusCode, resp: reqwest::Response) -> SendError {
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return SendError::Permanent(format!(
            "Twilio rejected the credentials (HTTP {}): check the account SID and auth token",
            status.as_u16()
        ));
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return SendError::Retryable("Twilio is throttling requests (HTTP 429)".into());
    }
    if status.is_server_error() {
        return SendError::Retryable(format!("Twilio had a server error (HTTP {})", status.as_u16()));
    }
    #[derive(Deserialize)]
    struct TwilioError {
        code: Option<serde_json::Value>,
    }
    let code = read_limited(resp, MAX_ERROR_BODY)
        .await
        .ok()
        .and_then(|b| serde_json::from_slice::<TwilioError>(&b).ok())
        .and_then(|e| e.code)
        .and_then(|c| match c {
            serde_json::Value::Number(n) => n.as_u64().map(|n| n.to_string()),
            serde_json::Value::String(s) if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) => {
                Some(s)
            }
            _ => None,
        });
    // Twilio's own message text is not passed on: it quotes phone numbers.
    let Some(code) = code else {
        return SendError::Permanent(format!("Twilio refused the request (HTTP {})", status.as_u16()));
    };
    let info = explain(&code);
    let text = format!("{code}: {}", info.explanation);
    match info.class {
        ErrorClass::OptedOut => SendError::OptedOut(text),
        ErrorClass::Retry => SendError::Retryable(text),
        ErrorClass::Permanent => SendError::Permanent(text),
    }
}

pub(super) async fn read_limited(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| ())? {
        if out.len() + chunk.len() > max {
            return Err(());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A transport failure in words, without the URL (it names the account).
pub(super) fn transport(doing: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    format!("{doing}: {what}")
}

/// Twilio's dates are RFC 2822 (`Wed, 18 Aug 2021 20:01:24 +0000`).
pub fn parse_twilio_date(s: &str) -> Option<Timestamp> {
    jiff::fmt::rfc2822::parse(s).ok().map(|z| z.timestamp())
}

/// A timestamp the way Twilio writes it.
pub fn format_twilio_date(t: Timestamp) -> String {
    jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::UTC)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_token() {
        let cfg = TwilioConfig::new(format!("AC{}", "a".repeat(32)), "s3cr3t-token");
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
        let client = TwilioClient::new(cfg).unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[test]
    fn config_is_checked() {
        let sid = format!("AC{}", "0".repeat(32));
        assert!(TwilioClient::new(TwilioConfig::new("AC123", "t")).is_err());
        assert!(TwilioClient::new(TwilioConfig::new(&sid, " ")).is_err());
        let mut cfg = TwilioConfig::new(&sid, "t");
        cfg.api_base = "ftp://x".into();
        assert!(TwilioClient::new(cfg.clone()).is_err());
        cfg.api_base = "http://127.0.0.1:9/".into();
        assert!(TwilioClient::new(cfg.clone()).is_ok());
        cfg.messaging_service_sid = Some("MGxyz".into());
        assert!(TwilioClient::new(cfg).is_err());
    }

    /// TLS with the ring provider against the real Twilio: made-up
    /// credentials are refused, not a TLS or setup failure.
    #[tokio::test]
    #[ignore = "needs the internet"]
    async fn real_twilio_refuses_made_up_credentials() {
        let client = TwilioClient::new(TwilioConfig::new(format!("AC{}", "0".repeat(32)), "not-a-token")).unwrap();
        assert_eq!(client.check_credentials().await, Err(CredentialError::Rejected));
    }

    #[test]
    fn twilio_dates_round_trip() {
        let t = parse_twilio_date("Wed, 18 Aug 2021 20:01:24 +0000").unwrap();
        assert_eq!(t.to_string(), "2021-08-18T20:01:24Z");
        assert_eq!(format_twilio_date(t), "Wed, 18 Aug 2021 20:01:24 +0000");
        assert!(parse_twilio_date("yesterday").is_none());
    }
}
