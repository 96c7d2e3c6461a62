//! WeChat's Official Account API: the stable access token
//! (`POST /cgi-bin/stable_token`: every caller with the AppSecret gets the
//! same token while it is valid, so any number of servers share one without
//! knocking each other's out, and the basic `/cgi-bin/token` other programs
//! of the business use is left alone), kept until five minutes before it
//! expires, fetched by one caller at a time, and fetched again when WeChat
//! says it is invalid or expired (40001, 40014, 42001), forcing a new one
//! only if WeChat hands back the very token it refused; customer-service
//! messages (`/cgi-bin/message/custom/send`): text, and pictures, voice and
//! video uploaded first as temporary media (`/cgi-bin/media/upload`); a
//! follower's media by id (`/cgi-bin/media/get`). Errors never carry the
//! secret, the token or the customer's words.

use std::fmt;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::media::WechatMedia;
use crate::provider::{MediaFailure, MediaFile};
use crate::{Accepted, Outgoing, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// A token is fetched again this long before WeChat says it expires.
const REFRESH_EARLY: Duration = Duration::from_secs(300);
const MAX_ANSWER: usize = 1024 * 1024;

#[derive(Clone)]
pub struct WechatConfig {
    /// Where the API is; tests point it at a fake.
    pub api_base: String,
    pub app_id: String,
    pub app_secret: String,
}

impl fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatConfig")
            .field("api_base", &self.api_base)
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    Rejected(String),
    Unreachable(String),
}

struct Token {
    value: String,
    fresh_until: Instant,
}

#[derive(Default)]
struct TokenSlot {
    current: Option<Token>,
    /// The token WeChat last refused: if a fetch hands it back, only a forced refresh helps.
    refused: Option<String>,
}

/// Why a call with the token did not get WeChat's yes.
enum CallError {
    Credentials(CredentialError),
    /// WeChat's own error code.
    Code(i64),
    Transport(String),
    /// No error code, with this HTTP status.
    Unreadable(u16),
}

impl CallError {
    fn into_send_error(self, part: &str) -> SendError {
        match self {
            CallError::Credentials(CredentialError::Rejected(words)) => SendError::Permanent(words),
            CallError::Credentials(CredentialError::Unreachable(why)) | CallError::Transport(why) => {
                SendError::Retryable(why)
            }
            CallError::Code(code) => explain(code),
            CallError::Unreadable(status) if status >= 500 => {
                SendError::Retryable(format!("WeChat answered HTTP {status} {part}"))
            }
            CallError::Unreadable(status) => {
                SendError::Permanent(format!("WeChat's answer {part} could not be read (HTTP {status})"))
            }
        }
    }
}

pub struct WechatClient {
    http: reqwest::Client,
    api: String,
    cfg: WechatConfig,
    /// Held while a token is fetched, so only one fetch runs at a time.
    token: tokio::sync::Mutex<TokenSlot>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

/// WeChat's answer when the token is not (or no longer) valid.
fn token_refused(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001)
}

impl WechatClient {
    pub fn new(cfg: WechatConfig) -> Result<Self, String> {
        if cfg.app_id.len() < 8 || cfg.app_id.len() > 64 || !cfg.app_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(
                "the AppID is the wx… letters and digits under Settings and Development → Basic Configuration".into()
            );
        }
        if cfg.app_secret.trim().is_empty() || cfg.app_secret.chars().any(|c| c.is_control() || c == ' ') {
            return Err("the AppSecret is empty or not one word".into());
        }
        let api = url::Url::parse(cfg.api_base.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or("the WeChat API address is not an http(s) URL")?;
        crate::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())?;
        let api = api.as_str().trim_end_matches('/').to_owned();
        Ok(WechatClient { http, api, cfg, token: tokio::sync::Mutex::default() })
    }

    pub fn config(&self) -> &WechatConfig {
        &self.cfg
    }

    pub fn api_base(&self) -> &str {
        &self.api
    }

    /// A valid access token: the kept one, or the account's current one (one fetch at a time).
    async fn token(&self) -> Result<String, CredentialError> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.current.as_ref().filter(|t| Instant::now() < t.fresh_until) {
            return Ok(t.value.clone());
        }
        let mut fetched = self.fetch_token(false).await?;
        if slot.refused.as_deref() == Some(fetched.0.as_str()) {
            // WeChat refused this very token a moment ago; a forced refresh
            // (limited by WeChat to one in 30 seconds) retires it for everyone.
            fetched = self.fetch_token(true).await?;
        }
        let (value, lifetime) = fetched;
        // Fetched again five minutes early, when WeChat already hands out the next one.
        let fresh_for = lifetime.saturating_sub(REFRESH_EARLY).max(lifetime / 2);
        *slot = TokenSlot {
            current: Some(Token { value: value.clone(), fresh_until: Instant::now() + fresh_for }),
            refused: None,
        };
        Ok(value)
    }

    /// Drops the kept token if it is still `stale` (another caller may have replaced it already).
    async fn forget(&self, stale: &str) {
        let mut slot = self.token.lock().await;
        if slot.current.as_ref().is_some_and(|t| t.value == stale) {
            *slot = TokenSlot { current: None, refused: Some(stale.to_owned()) };
        }
    }

    async fn fetch_token(&self, force_refresh: bool) -> Result<(String, Duration), CredentialError> {
        // The secret goes in the body, never in an address a proxy might log.
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.cfg.app_id,
            "secret": self.cfg.app_secret,
            "force_refresh": force_refresh,
        });
        let resp = self
            .http
            .post(format!("{}/cgi-bin/stable_token", self.api))
            .json(&body)
            .send()
            .await
            .map_err(|e| CredentialError::Unreachable(transport("fetching an access token", &e)))?;
        let status = resp.status();
        let body = read_json(resp).await;
        if let Some(token) = body.get("access_token").and_then(Value::as_str).filter(|t| !t.is_empty()) {
            let secs = body.get("expires_in").and_then(Value::as_u64).unwrap_or(7200).clamp(60, 86_400);
            return Ok((token.to_owned(), Duration::from_secs(secs)));
        }
        match errcode(&body) {
            Some(40013) => Err(CredentialError::Rejected(
                "WeChat does not know this AppID. Check it under Settings and Development → Basic Configuration."
                    .into(),
            )),
            Some(40001 | 40125) => Err(CredentialError::Rejected(
                "WeChat did not accept the AppSecret. Reset it in the Official Account platform and update the inbox."
                    .into(),
            )),
            Some(40164 | 61004) => Err(CredentialError::Rejected(
                "WeChat refused this server's IP address: add it to the IP whitelist under Basic Configuration.".into(),
            )),
            Some(code) => Err(CredentialError::Unreachable(format!("WeChat answered error {code} for a token"))),
            None => Err(CredentialError::Unreachable(format!("WeChat answered HTTP {} for a token", status.as_u16()))),
        }
    }

    /// One call with the token (`request` adds it), made once more with a new
    /// token if WeChat refused the first: WeChat's answer when it says yes.
    async fn call(&self, doing: &str, request: impl Fn(&str) -> reqwest::RequestBuilder) -> Result<Value, CallError> {
        for attempt in 0..2 {
            let token = self.token().await.map_err(CallError::Credentials)?;
            let resp = request(&token).send().await.map_err(|e| CallError::Transport(transport(doing, &e)))?;
            let status = resp.status();
            let body = read_json(resp).await;
            match errcode(&body) {
                None if status.is_success() && body.is_object() => return Ok(body),
                Some(0) => return Ok(body),
                Some(code) if token_refused(code) && attempt == 0 => self.forget(&token).await,
                Some(code) => return Err(CallError::Code(code)),
                None => return Err(CallError::Unreadable(status.as_u16())),
            }
        }
        Err(CallError::Transport(format!("{doing}: WeChat refused a new access token too; it will be tried again")))
    }

    /// Whether the AppID and AppSecret give a token.
    pub async fn check_credentials(&self) -> Result<(), CredentialError> {
        self.token().await.map(|_| ())
    }

    /// Sends one message: its attachments are uploaded first (nothing has
    /// gone if one cannot be), then the text and each attachment go as
    /// customer-service messages, in that order. WeChat answers with no id of
    /// its own, so each part is named by a random one of ours; once the first
    /// part has gone, a later part's failure is logged rather than sending the
    /// first again.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        if msg.media_urls.len() != msg.media_files.len() {
            return Err(SendError::Permanent("an attachment of this message is not in the media store".into()));
        }
        let mut parts = Vec::new();
        if !msg.body.trim().is_empty() {
            parts.push(json!({ "touser": msg.to, "msgtype": "text", "text": { "content": msg.body } }));
        }
        for (i, path) in msg.media_files.iter().enumerate() {
            let content_type = msg.media_types.get(i).map(String::as_str).unwrap_or_default();
            let (kind, media_id) = self.upload(path, content_type).await?;
            let kind = kind.as_str();
            parts.push(json!({ "touser": msg.to, "msgtype": kind, kind: { "media_id": media_id } }));
        }
        if parts.is_empty() {
            return Err(SendError::Permanent("the message has neither text nor attachments".into()));
        }
        let mut ids = Vec::new();
        for part in &parts {
            let sent = self
                .call("sending to WeChat", |token| {
                    self.http
                        .post(format!("{}/cgi-bin/message/custom/send", self.api))
                        .query(&[("access_token", token)])
                        .json(part)
                })
                .await;
            match sent {
                Ok(_) => ids.push(format!("wxcs-{}", hex::encode(rand::random::<[u8; 12]>()))),
                Err(e) if ids.is_empty() => return Err(e.into_send_error("to the message")),
                Err(e) => {
                    let why = e.into_send_error("to a later part");
                    tracing::warn!(error = %why, "a later part of a WeChat message was refused");
                }
            }
        }
        Ok(Accepted { provider_ids: ids })
    }

    /// Uploads a stored attachment as temporary media: its kind and `media_id`.
    async fn upload(&self, path: &std::path::Path, content_type: &str) -> Result<(WechatMedia, String), SendError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|_| SendError::Retryable("an attachment could not be read from the media store".into()))?;
        let kind = WechatMedia::for_file(content_type, bytes.len() as u64).map_err(SendError::Permanent)?;
        let (file_name, essence) = WechatMedia::upload_name(content_type);
        let (content_type, body) = multipart_file(file_name, essence, &bytes);
        let answer = self
            .call("uploading an attachment to WeChat", |token| {
                self.http
                    .post(format!("{}/cgi-bin/media/upload", self.api))
                    .query(&[("access_token", token), ("type", kind.as_str())])
                    .header(reqwest::header::CONTENT_TYPE, &content_type)
                    .timeout(Duration::from_secs(120))
                    .body(body.clone())
            })
            .await
            .map_err(|e| e.into_send_error("to an upload"))?;
        match answer.get("media_id").and_then(Value::as_str).filter(|id| !id.is_empty()) {
            Some(id) => Ok((kind, id.to_owned())),
            None => Err(SendError::Retryable("WeChat's answer to an upload had no media_id".into())),
        }
    }

    /// A follower's media: `url` must be one the parser made from this
    /// client's own API base; the token is added here.
    pub async fn download_media(&self, url: &str, max_bytes: u64) -> Result<MediaFile, MediaFailure> {
        let permanent = |reason: &str| MediaFailure { reason: reason.into(), retryable: false };
        let prefix = format!("{}/cgi-bin/media/get?media_id=", self.api);
        let Some(id) = url
            .strip_prefix(&prefix)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
        else {
            return Err(permanent("the media is not on this inbox's WeChat account"));
        };
        let token = self
            .token()
            .await
            .map_err(|_| MediaFailure { reason: "no WeChat access token".into(), retryable: true })?;
        let mut resp = self
            .http
            .get(format!("{}/cgi-bin/media/get", self.api))
            .query(&[("access_token", token.as_str()), ("media_id", id)])
            .timeout(Duration::from_secs(120))
            .send()
            .await
            .map_err(|e| MediaFailure { reason: transport("downloading media", &e), retryable: true })?;
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        if !resp.status().is_success()
            || content_type.starts_with("application/json")
            || content_type.starts_with("text/plain")
        {
            // WeChat answers an error as JSON with HTTP 200.
            if content_type.starts_with("application/json") || content_type.starts_with("text/plain") {
                let code = errcode(&read_json(resp).await);
                if code.is_some_and(token_refused) {
                    self.forget(&token).await;
                    return Err(MediaFailure { reason: "WeChat's access token had expired".into(), retryable: true });
                }
            }
            return Err(permanent("WeChat has no such media; it may have expired (WeChat keeps it 3 days)"));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| MediaFailure { reason: transport("downloading media", &e), retryable: true })?
        {
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(permanent(&format!("the media is larger than {max_bytes} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(MediaFile { content_type, bytes })
    }
}

/// What a send's error code means, and whether to try again.
pub fn explain(code: i64) -> SendError {
    let words = match code {
        45015 => {
            "More than 48 hours have passed since the customer last wrote, so WeChat does not take customer-service messages now."
        }
        45047 => "WeChat allows at most 20 messages in a row without the customer answering.",
        43004 => "The customer no longer follows the Official Account.",
        40003 => "WeChat does not know this follower (the OpenID is not this account's).",
        45002 => "The message is too long for WeChat.",
        40004 | 40005 => "WeChat did not take the attachment's type.",
        40006 | 40009 | 40010 | 40011 => "WeChat did not take the attachment's size.",
        40007 => "WeChat no longer has the uploaded attachment.",
        48001 => "The Official Account may not send customer-service messages (the API is not authorised).",
        -1 | 45009 | 45011 => {
            return SendError::Retryable(format!(
                "WeChat is busy or limiting this account (error {code}); it will be tried again."
            ));
        }
        _ => return SendError::Permanent(format!("WeChat refused the message (error {code}).")),
    };
    if code == 43004 {
        return SendError::OptedOut(words.into());
    }
    SendError::Permanent(format!("{words} (error {code})"))
}

/// A `multipart/form-data` body holding one file as the `media` part, as
/// WeChat's upload wants it: the Content-Type header and the body.
fn multipart_file(file_name: &str, content_type: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("textdesk-{}", hex::encode(rand::random::<[u8; 16]>()));
    let mut body = Vec::with_capacity(bytes.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"media\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn errcode(v: &Value) -> Option<i64> {
    v.get("errcode").and_then(Value::as_i64)
}

async fn read_json(mut resp: reqwest::Response) -> Value {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Value::Null;
        }
        out.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&out).unwrap_or_default()
}

/// A transport failure in words, without the URL (it carries the token).
fn transport(doing: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "the request failed"
    };
    format!("{doing}: {what}")
}
