//! Telegram's Bot API for one bot: send text (`sendMessage`) and files by
//! link (`sendPhoto`, `sendVoice`, `sendAudio`, `sendVideo`, `sendDocument`), check the token (`getMe`), tell
//! Telegram where to post (`setWebhook` with the secret), and fetch a
//! customer's file (`getFile`, then the file with the token in its path).
//! The token is part of every method's address, so no URL is ever logged or
//! put in an error: errors carry words and Telegram's code only.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::net::FetchPolicy;
use crate::provider::{CheckFailure, MediaFailure, MediaFile};
use crate::{Accepted, Outgoing, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.telegram.org";
/// Telegram's limit on a caption; a longer text goes as its own message.
pub const MAX_CAPTION: usize = 1024;
/// Bots may download files up to 20 MB.
pub const MAX_BOT_DOWNLOAD: u64 = 20 * 1024 * 1024;

#[derive(Clone)]
pub struct TelegramConfig {
    /// Where the Bot API is (no trailing slash); tests point it at a fake.
    pub api_base: String,
    pub bot_token: String,
    /// Where files may be downloaded from (public addresses unless the operator named private hosts).
    pub media_policy: FetchPolicy,
}

impl fmt::Debug for TelegramConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramConfig")
            .field("api_base", &self.api_base)
            .field("bot_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// A bot token as BotFather gives it: the bot's id, a colon, and a secret.
pub fn is_bot_token(t: &str) -> bool {
    let Some((id, secret)) = t.split_once(':') else { return false };
    !id.is_empty()
        && id.len() <= 20
        && id.bytes().all(|b| b.is_ascii_digit())
        && (20..=100).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Telegram's refusal: its HTTP status, `error_code`, `description` and `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub description: String,
    pub retry_after: Option<u64>,
}

#[derive(Clone)]
pub struct TelegramClient {
    http: reqwest::Client,
    /// Only for file downloads: reaches only what the media policy allows.
    media: reqwest::Client,
    cfg: TelegramConfig,
}

impl fmt::Debug for TelegramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl TelegramClient {
    pub fn new(mut cfg: TelegramConfig) -> Result<Self, String> {
        cfg.bot_token = cfg.bot_token.trim().to_owned();
        if !is_bot_token(&cfg.bot_token) {
            return Err(
                "the bot token is the one BotFather gave, like 123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11".into()
            );
        }
        cfg.api_base = cfg.api_base.trim_end_matches('/').to_owned();
        url::Url::parse(&cfg.api_base)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.query().is_none())
            .ok_or("the Bot API address is not an http(s) URL")?;
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())?;
        let media = cfg.media_policy.client(Duration::from_secs(10))?;
        Ok(TelegramClient { http, media, cfg })
    }

    /// The Bot API's address, without the token.
    pub fn api_base(&self) -> &str {
        &self.cfg.api_base
    }

    /// Calls one Bot API method with a JSON body; its `result`, or Telegram's refusal.
    /// `Err(None)`: Telegram could not be reached or did not answer as itself.
    async fn call(&self, method: &str, payload: &Value) -> Result<Value, Option<ApiError>> {
        let url = format!("{}/bot{}/{method}", self.cfg.api_base, self.cfg.bot_token);
        let resp = self.http.post(url).json(payload).send().await.map_err(|e| {
            // The error's URL holds the token: only its kind is kept.
            tracing::warn!(method, timeout = e.is_timeout(), connect = e.is_connect(), "Telegram could not be reached");
            None
        })?;
        let status = resp.status().as_u16();
        let body = crate::net::read_answer(resp).await.map_err(|_| None)?;
        #[derive(Deserialize)]
        struct Answer {
            ok: bool,
            #[serde(default)]
            result: Value,
            #[serde(default)]
            description: Option<String>,
            #[serde(default)]
            parameters: Option<Parameters>,
        }
        #[derive(Deserialize)]
        struct Parameters {
            retry_after: Option<u64>,
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|_| None)?;
        if answer.ok && (200..300).contains(&status) {
            return Ok(answer.result);
        }
        let description: String =
            answer.description.unwrap_or_default().chars().filter(|c| !c.is_control()).take(200).collect();
        Err(Some(ApiError { status, description, retry_after: answer.parameters.and_then(|p| p.retry_after) }))
    }

    /// Sends one message: each attachment by link (the first with the text as
    /// its caption when it fits), or the text. Every part's id is kept, the
    /// first is the message's: `{chat id}:{message id}`.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        let chat: Value = match msg.to.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(msg.to),
        };
        let mut ids = Vec::new();
        let text = msg.body.trim();
        let text_as_caption = !text.is_empty() && text.chars().count() <= MAX_CAPTION && !msg.media_urls.is_empty();
        if !text.is_empty() && !text_as_caption {
            ids.push(self.post(&ids, "sendMessage", json!({ "chat_id": chat, "text": msg.body })).await?);
        }
        for (i, link) in msg.media_urls.iter().enumerate() {
            let content_type = msg.media_types.get(i).map(String::as_str).unwrap_or("application/octet-stream");
            let (method, field) = media_method(content_type);
            let mut payload = json!({ "chat_id": chat, field: link });
            if i == 0 && text_as_caption {
                payload["caption"] = json!(msg.body);
            }
            match self.post(&ids, method, payload).await {
                Ok(id) => ids.push(id),
                Err(e) if ids.is_empty() => return Err(e),
                // A later part refused after the first went: the first's id is kept, the rest reported.
                Err(e) => tracing::warn!(error = %e, "a later part of a Telegram message was refused"),
            }
        }
        if ids.is_empty() {
            return Err(SendError::Permanent("the message has neither text nor attachments".into()));
        }
        Ok(Accepted { provider_ids: ids })
    }

    async fn post(&self, sent: &[String], method: &str, payload: Value) -> Result<String, SendError> {
        match self.call(method, &payload).await {
            Ok(m) => {
                let chat = m.pointer("/chat/id").and_then(Value::as_i64);
                let id = m.get("message_id").and_then(Value::as_i64);
                match (chat, id) {
                    (Some(c), Some(i)) => Ok(format!("{c}:{i}")),
                    // Telegram has it now; a retry would send it twice.
                    _ => Err(SendError::Permanent("Telegram took the message but its answer has no message id".into())),
                }
            }
            Err(None) if sent.is_empty() => {
                Err(SendError::Retryable("Telegram could not be reached to send the message".into()))
            }
            Err(None) => Err(SendError::Permanent("Telegram could not be reached for a later part".into())),
            Err(Some(e)) => Err(classify(&e)),
        }
    }

    /// Whether the token is a bot's (`getMe`); the bot's @username.
    pub async fn get_me(&self) -> Result<String, CheckFailure> {
        match self.call("getMe", &json!({})).await {
            Ok(me) => Ok(me.get("username").and_then(Value::as_str).unwrap_or_default().to_owned()),
            Err(Some(e)) if e.status == 401 || e.status == 404 => Err(CheckFailure::Rejected(
                "Telegram did not accept this bot token. Copy it again from BotFather (/mybots → API Token).".into(),
            )),
            Err(_) => Err(CheckFailure::Unreachable(
                "Telegram could not be reached to check the bot token. Check the Bot API address and this server's internet connection, then try again."
                    .into(),
            )),
        }
    }

    /// Tells Telegram to post this bot's updates to `url` with `secret` in
    /// `X-Telegram-Bot-Api-Secret-Token`, and only the kinds textdesk reads.
    pub async fn set_webhook(&self, url: &str, secret: &str) -> Result<(), CheckFailure> {
        let payload = json!({ "url": url, "secret_token": secret,
                              "allowed_updates": ["message", "my_chat_member"] });
        match self.call("setWebhook", &payload).await {
            Ok(_) => Ok(()),
            Err(Some(e)) if e.status == 401 || e.status == 404 => {
                Err(CheckFailure::Rejected("Telegram did not accept this bot token.".into()))
            }
            Err(Some(e)) => Err(CheckFailure::Rejected(format!(
                "Telegram refused the webhook address ({}). It must be this server's public HTTPS address.",
                e.description
            ))),
            Err(None) => Err(CheckFailure::Unreachable(
                "Telegram could not be reached to set the webhook; try again in a minute.".into(),
            )),
        }
    }

    /// A customer's file: its path from `getFile`, then the file itself (its
    /// address holds the token, so only addresses the parser made from our
    /// own API base are asked), through the media policy. At most `max_bytes`.
    pub async fn download_file(&self, url: &str, max_bytes: u64) -> Result<MediaFile, MediaFailure> {
        let permanent = |reason: &str| MediaFailure { reason: reason.into(), retryable: false };
        let retry = |reason: &str| MediaFailure { reason: reason.into(), retryable: true };
        let prefix = format!("{}/getFile?file_id=", self.cfg.api_base);
        let Some(file_id) = url
            .strip_prefix(&prefix)
            .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        else {
            return Err(permanent("the file is not on this inbox's Telegram bot"));
        };
        let file = match self.call("getFile", &json!({ "file_id": file_id })).await {
            Ok(f) => f,
            Err(Some(e)) if e.status == 429 || e.status >= 500 => return Err(retry("Telegram is busy; trying again")),
            Err(Some(e)) => {
                return Err(permanent(&format!("Telegram would not give the file ({})", e.description)));
            }
            Err(None) => return Err(retry("Telegram could not be reached to look up the file")),
        };
        let too_big = || permanent(&format!("the file is larger than {} bytes", max_bytes.min(MAX_BOT_DOWNLOAD)));
        if file.get("file_size").and_then(Value::as_u64).is_some_and(|n| n > max_bytes.min(MAX_BOT_DOWNLOAD)) {
            return Err(too_big());
        }
        let path = file
            .get("file_path")
            .and_then(Value::as_str)
            .filter(|p| {
                !p.is_empty()
                    && p.len() <= 512
                    && !p.split('/').any(|s| s.is_empty() || s == "..")
                    && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-".contains(&b))
            })
            .ok_or_else(|| permanent("Telegram's answer names no file"))?
            .to_owned();
        let address = format!("{}/file/bot{}/{path}", self.cfg.api_base, self.cfg.bot_token);
        let parsed = url::Url::parse(&address).map_err(|_| permanent("Telegram's file address is not a URL"))?;
        self.cfg.media_policy.check_url(&parsed).map_err(|_| retry(crate::net::UNREACHABLE))?;
        let mut resp = self.media.get(parsed).timeout(Duration::from_secs(120)).send().await.map_err(|e| {
            if e.is_timeout() || e.is_body() {
                retry("downloading the file timed out")
            } else {
                retry(crate::net::UNREACHABLE)
            }
        })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(MediaFailure {
                reason: format!("the file could not be downloaded (HTTP {})", status.as_u16()),
                retryable: status.is_server_error() || status.as_u16() == 429,
            });
        }
        let limit = max_bytes.min(MAX_BOT_DOWNLOAD);
        if resp.content_length().is_some_and(|n| n > limit) {
            return Err(too_big());
        }
        let header_type =
            resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|_| retry("downloading the file was cut off"))? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        // Telegram's file host answers octet-stream: the path's extension says more.
        let content_type =
            type_of_path(&path).map(str::to_owned).or(header_type).unwrap_or_else(|| "application/octet-stream".into());
        Ok(MediaFile { content_type, bytes })
    }
}

/// The method and field a file of this type goes by, so the customer sees a
/// picture, hears a voice note or plays a video rather than opening a file.
/// The Bot API plays a voice note only from OGG/Opus, an audio track from
/// MP3 or M4A, a video from MPEG-4; anything else goes as a document.
pub fn media_method(content_type: &str) -> (&'static str, &'static str) {
    match content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/png" => ("sendPhoto", "photo"),
        "audio/ogg" | "audio/opus" => ("sendVoice", "voice"),
        "audio/mpeg" | "audio/mp3" | "audio/mp4" | "audio/m4a" | "audio/x-m4a" => ("sendAudio", "audio"),
        "video/mp4" => ("sendVideo", "video"),
        _ => ("sendDocument", "document"),
    }
}

fn type_of_path(path: &str) -> Option<&'static str> {
    let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "oga" | "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "txt" => "text/plain",
        _ => return None,
    })
}

/// Telegram's refusal as a `SendError`: a customer who blocked the bot has
/// opted out; a busy Telegram is worth another try.
fn classify(e: &ApiError) -> SendError {
    let d = e.description.to_ascii_lowercase();
    if e.status == 429 || e.status >= 500 {
        let wait = e.retry_after.map(|s| format!(" (it asks to wait {s} s)")).unwrap_or_default();
        return SendError::Retryable(format!("Telegram could not take the message just now{wait}"));
    }
    if e.status == 403 && d.contains("blocked by the user") {
        return SendError::OptedOut("The customer has blocked the bot in Telegram.".into());
    }
    if e.status == 403 && d.contains("deactivated") {
        return SendError::Permanent("The customer's Telegram account has been deleted.".into());
    }
    if d.contains("chat not found") {
        return SendError::Permanent(
            "Telegram has no chat with this customer: they may never have started the bot, or deleted the chat.".into(),
        );
    }
    if e.status == 401 || e.status == 404 {
        return SendError::Permanent("Telegram did not accept the bot token; check it in the inbox's settings.".into());
    }
    if d.contains("wrong file")
        || d.contains("failed to get http url content")
        || d.contains("wrong type of the web page")
    {
        return SendError::Permanent(
            "Telegram could not download the attachment from this server: check that its public address is reachable."
                .into(),
        );
    }
    SendError::Permanent(format!("Telegram refused the message: {}", e.description))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_never_printed() {
        let cfg = TelegramConfig {
            api_base: DEFAULT_API_BASE.into(),
            bot_token: "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11".into(),
            media_policy: FetchPolicy::public_only(),
        };
        let client = TelegramClient::new(cfg.clone()).unwrap();
        assert!(!format!("{client:?}").contains("ABC-DEF"));
        for bad in
            ["", "123456", "abc:ABC-DEF1234ghIkl-zyx57W2v1u123ew11", "1:short", "1:ABC DEF1234ghIkl-zyx57W2v1u123ew11"]
        {
            assert!(TelegramClient::new(TelegramConfig { bot_token: bad.into(), ..cfg.clone() }).is_err(), "{bad}");
        }
        assert!(TelegramClient::new(TelegramConfig { api_base: "ftp://x".into(), ..cfg }).is_err());
    }

    #[test]
    fn refusals_are_words_and_a_block_is_an_opt_out() {
        let e = |status, d: &str| ApiError { status, description: d.into(), retry_after: Some(3) };
        assert!(matches!(classify(&e(403, "Forbidden: bot was blocked by the user")), SendError::OptedOut(_)));
        assert!(
            matches!(classify(&e(429, "Too Many Requests: retry after 3")), SendError::Retryable(w) if w.contains("3 s"))
        );
        assert!(
            matches!(classify(&e(400, "Bad Request: chat not found")), SendError::Permanent(w) if w.contains("never have started"))
        );
        assert_eq!(media_method("image/png"), ("sendPhoto", "photo"));
        assert_eq!(media_method("application/pdf"), ("sendDocument", "document"));
        assert_eq!(media_method("audio/ogg; codecs=opus"), ("sendVoice", "voice"));
        assert_eq!(media_method("audio/mpeg"), ("sendAudio", "audio"));
        assert_eq!(media_method("video/mp4"), ("sendVideo", "video"));
        assert_eq!(media_method("audio/amr"), ("sendDocument", "document"), "Telegram plays neither AMR nor WAV");
        assert_eq!(type_of_path("photos/file_0.jpg"), Some("image/jpeg"));
        assert_eq!(type_of_path("voice/file_1.oga"), Some("audio/ogg"));
    }
}
