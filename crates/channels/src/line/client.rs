//! LINE's Messaging API for one channel: reply (with a reply token) and push
//! messages, check the token (`GET /v2/bot/info`), set the webhook endpoint,
//! and fetch a customer's content (`api-data`'s content API, with the token).
//! Errors never carry the token or message text: they reach logs and agents.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::net::FetchPolicy;
use crate::provider::{CheckFailure, MediaFailure, MediaFile};
use crate::{Accepted, Outgoing, SendError};

pub const DEFAULT_API_BASE: &str = "https://api.line.me";
pub const DEFAULT_DATA_BASE: &str = "https://api-data.line.me";
/// LINE takes at most five message objects per request.
pub const MAX_MESSAGES_PER_REQUEST: usize = 5;

#[derive(Clone)]
pub struct LineConfig {
    pub api_base: String,
    /// Where message content is downloaded from.
    pub data_base: String,
    pub access_token: String,
    pub media_policy: FetchPolicy,
}

impl fmt::Debug for LineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineConfig")
            .field("api_base", &self.api_base)
            .field("data_base", &self.data_base)
            .field("access_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// How a message went: by reply (free) or by push (counted against the plan).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentBy {
    Reply,
    Push,
}

#[derive(Clone)]
pub struct LineClient {
    http: reqwest::Client,
    media: reqwest::Client,
    cfg: LineConfig,
}

impl fmt::Debug for LineClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

fn http_base(raw: &str, what: &str) -> Result<String, String> {
    let base = raw.trim().trim_end_matches('/').to_owned();
    url::Url::parse(&base)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.query().is_none())
        .ok_or(format!("the {what} is not an http(s) URL"))?;
    Ok(base)
}

impl LineClient {
    pub fn new(mut cfg: LineConfig) -> Result<Self, String> {
        cfg.access_token = cfg.access_token.trim().to_owned();
        if cfg.access_token.is_empty()
            || cfg.access_token.len() > 1000
            || !cfg.access_token.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err("the channel access token is empty or not one word".into());
        }
        cfg.api_base = http_base(&cfg.api_base, "Messaging API address")?;
        cfg.data_base = http_base(&cfg.data_base, "content API address")?;
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())?;
        let media = cfg.media_policy.client(Duration::from_secs(10))?;
        Ok(LineClient { http, media, cfg })
    }

    pub fn data_base(&self) -> &str {
        &self.cfg.data_base
    }

    /// Sends one message as LINE message objects: the text, then each
    /// picture as an image (other files as links in a text, since LINE's API
    /// cannot send files), five objects to a request. The first request goes
    /// by `reply_token` when given; a token LINE no longer takes falls back to
    /// push. Every object's id is kept; the first is the message's.
    pub async fn send(&self, msg: &Outgoing, reply_token: Option<&str>) -> Result<(Accepted, SentBy), SendError> {
        let objects = message_objects(msg);
        if objects.is_empty() {
            return Err(SendError::Permanent("the message has neither text nor attachments".into()));
        }
        let mut ids = Vec::new();
        let mut by = SentBy::Push;
        for (i, chunk) in objects.chunks(MAX_MESSAGES_PER_REQUEST).enumerate() {
            let replied = match reply_token.filter(|_| i == 0) {
                Some(token) => {
                    match self.post("v2/bot/message/reply", json!({ "replyToken": token, "messages": chunk })).await {
                        Ok(got) => {
                            by = SentBy::Reply;
                            Some(got)
                        }
                        // Spent or expired: nothing went, so a push sends it once.
                        Err(Refused::InvalidReplyToken) => None,
                        Err(e) => return Err(e.into_send_error(!ids.is_empty())),
                    }
                }
                None => None,
            };
            let got = match replied {
                Some(got) => got,
                None => match self.post("v2/bot/message/push", json!({ "to": msg.to, "messages": chunk })).await {
                    Ok(got) => got,
                    Err(e) if ids.is_empty() => return Err(e.into_send_error(false)),
                    Err(e) => {
                        tracing::warn!(error = %e.into_send_error(true), "a later part of a LINE message was refused");
                        break;
                    }
                },
            };
            ids.extend(got);
        }
        Ok((Accepted { provider_ids: ids }, by))
    }

    async fn post(&self, path: &str, payload: Value) -> Result<Vec<String>, Refused> {
        let resp = self
            .http
            .post(format!("{}/{path}", self.cfg.api_base))
            .bearer_auth(&self.cfg.access_token)
            .json(&payload)
            .send()
            .await
            .map_err(|e| Refused::Unreachable(e.is_timeout()))?;
        let status = resp.status();
        let request_id = resp
            .headers()
            .get("x-line-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.len() <= 64)
            .map(str::to_owned);
        let body = crate::net::read_answer(resp).await.unwrap_or_default();
        if status.is_success() {
            #[derive(Deserialize)]
            struct Sent {
                #[serde(default, rename = "sentMessages")]
                sent_messages: Vec<SentId>,
            }
            #[derive(Deserialize)]
            struct SentId {
                id: String,
            }
            let ids: Vec<String> = serde_json::from_slice::<Sent>(&body)
                .map(|s| s.sent_messages.into_iter().map(|m| m.id).filter(|id| !id.is_empty()).collect())
                .unwrap_or_default();
            // LINE has it now; without message ids the request's id names it.
            return Ok(if ids.is_empty() {
                request_id.into_iter().map(|r| format!("request:{r}")).collect()
            } else {
                ids
            });
        }
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        if status == StatusCode::BAD_REQUEST && message.to_ascii_lowercase().contains("reply token") {
            return Err(Refused::InvalidReplyToken);
        }
        Err(Refused::Status(status.as_u16(), message.chars().filter(|c| !c.is_control()).take(200).collect()))
    }

    /// Whether the token opens the channel (`GET /v2/bot/info`).
    pub async fn check(&self) -> Result<(), CheckFailure> {
        let resp = self
            .http
            .get(format!("{}/v2/bot/info", self.cfg.api_base))
            .bearer_auth(&self.cfg.access_token)
            .send()
            .await
            .map_err(|_| unreachable_check())?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(CheckFailure::Rejected(
                "LINE did not accept the channel access token. Issue a long-lived one in the LINE Developers Console (Messaging API tab) and try again."
                    .into(),
            )),
            s => {
                tracing::warn!(status = s.as_u16(), "LINE answered the credential check oddly");
                Err(unreachable_check())
            }
        }
    }

    /// Tells LINE to post this channel's events to `url`
    /// (`PUT /v2/bot/channel/webhook/endpoint`).
    pub async fn set_webhook_endpoint(&self, url: &str) -> Result<(), CheckFailure> {
        let resp = self
            .http
            .put(format!("{}/v2/bot/channel/webhook/endpoint", self.cfg.api_base))
            .bearer_auth(&self.cfg.access_token)
            .json(&json!({ "endpoint": url }))
            .send()
            .await
            .map_err(|_| {
                CheckFailure::Unreachable("LINE could not be reached to set the webhook; try again in a minute.".into())
            })?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(CheckFailure::Rejected("LINE did not accept the channel access token.".into()))
            }
            _ => Err(CheckFailure::Rejected(
                "LINE refused the webhook address: it must be this server's public HTTPS address.".into(),
            )),
        }
    }

    /// A customer's picture, video, audio or file: from the content API with
    /// the token (only at addresses the parser made from our own content
    /// base), or from the sender app's own https address without it; both
    /// through the media policy. At most `max_bytes`.
    pub async fn download_content(&self, url: &str, max_bytes: u64) -> Result<MediaFile, MediaFailure> {
        let permanent = |reason: &str| MediaFailure { reason: reason.into(), retryable: false };
        let retry = |reason: &str| MediaFailure { reason: reason.into(), retryable: true };
        let ours = url
            .strip_prefix(&format!("{}/v2/bot/message/", self.cfg.data_base))
            .and_then(|rest| rest.strip_suffix("/content"))
            .is_some_and(|id| {
                !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| permanent("the content's address is not an http(s) URL"))?;
        self.cfg.media_policy.check_url(&parsed).map_err(|_| retry(crate::net::UNREACHABLE))?;
        let mut req = self.media.get(parsed).timeout(Duration::from_secs(120));
        if ours {
            req = req.bearer_auth(&self.cfg.access_token);
        }
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() || e.is_body() {
                retry("downloading the content timed out")
            } else {
                retry(crate::net::UNREACHABLE)
            }
        })?;
        let status = resp.status();
        if status == StatusCode::ACCEPTED {
            // LINE is still preparing a video or audio file.
            return Err(retry("LINE is still preparing the file"));
        }
        if !status.is_success() {
            return Err(MediaFailure {
                reason: format!("the content could not be downloaded (HTTP {}); it may have expired", status.as_u16()),
                retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
            });
        }
        let too_big = || permanent(&format!("the content is larger than {max_bytes} bytes"));
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
        while let Some(chunk) = resp.chunk().await.map_err(|_| retry("downloading the content was cut off"))? {
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(MediaFile { content_type, bytes })
    }
}

impl LineClient {
    /// The name a customer shows in LINE (`GET /v2/bot/profile/{userId}`).
    /// None when LINE has no profile to give (404: they have not added the
    /// account as a friend, or blocked it); an error in words otherwise.
    pub async fn display_name(&self, user_id: &str) -> Result<Option<String>, String> {
        if user_id.is_empty() || user_id.len() > 64 || !user_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let resp = self
            .http
            .get(format!("{}/v2/bot/profile/{user_id}", self.cfg.api_base))
            .bearer_auth(&self.cfg.access_token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|_| "LINE could not be reached for the customer's profile".to_owned())?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(format!("LINE refused the profile request (HTTP {})", status.as_u16()));
        }
        #[derive(Deserialize)]
        struct Profile {
            #[serde(rename = "displayName", default)]
            display_name: String,
        }
        let body = crate::net::read_answer(resp).await.unwrap_or_default();
        let profile: Profile =
            serde_json::from_slice(&body).map_err(|_| "LINE's profile answer was not its JSON".to_owned())?;
        Ok(Some(profile.display_name).filter(|n| !n.trim().is_empty()))
    }
}

fn unreachable_check() -> CheckFailure {
    CheckFailure::Unreachable(
        "LINE could not be reached to check the channel access token. Check the Messaging API address and this server's internet connection, then try again."
            .into(),
    )
}

/// The LINE message objects for one of ours.
pub fn message_objects(msg: &Outgoing) -> Vec<Value> {
    let mut objects = Vec::new();
    let mut links = Vec::new();
    for (i, link) in msg.media_urls.iter().enumerate() {
        let t = msg.media_types.get(i).map(String::as_str).unwrap_or_default();
        match t.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "image/jpeg" | "image/png" => {
                objects.push(json!({ "type": "image", "originalContentUrl": link, "previewImageUrl": link }));
            }
            _ => links.push(link.as_str()),
        }
    }
    let mut text = msg.body.trim().to_owned();
    for link in links {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("Attachment: {link}"));
    }
    if !text.is_empty() {
        objects.insert(0, json!({ "type": "text", "text": text }));
    }
    objects
}

enum Refused {
    InvalidReplyToken,
    Unreachable(bool),
    Status(u16, String),
}

impl Refused {
    /// As a `SendError`; after a part went, nothing is retried (it would send that part twice).
    fn into_send_error(self, part_went: bool) -> SendError {
        let e = match self {
            Refused::InvalidReplyToken => SendError::Permanent("LINE no longer takes the reply token".into()),
            Refused::Unreachable(timeout) => SendError::Retryable(
                if timeout { "LINE did not answer in time" } else { "LINE could not be reached" }.into(),
            ),
            Refused::Status(429, m) if m.to_ascii_lowercase().contains("monthly limit") => SendError::Permanent(
                "The LINE account has used this month's push messages; raise the plan in LINE Official Account Manager.".into(),
            ),
            Refused::Status(s, _) if s == 429 || s >= 500 => {
                SendError::Retryable(format!("LINE could not take the message just now (HTTP {s})"))
            }
            Refused::Status(401, _) => {
                SendError::Permanent("LINE did not accept the channel access token; check it in the inbox's settings.".into())
            }
            Refused::Status(s, m) => SendError::Permanent(format!("LINE refused the message (HTTP {s}): {m}")),
        };
        match e {
            SendError::Retryable(w) if part_went => SendError::Permanent(w),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_go_as_images_and_other_files_as_links() {
        let msg = Outgoing {
            to: "U1".into(),
            body: "Here you are".into(),
            media_urls: vec!["https://x/a".into(), "https://x/b".into()],
            media_types: vec!["image/png".into(), "application/pdf".into()],
            ..Default::default()
        };
        let o = message_objects(&msg);
        assert_eq!(o[0], json!({ "type": "text", "text": "Here you are\nAttachment: https://x/b" }));
        assert_eq!(
            o[1],
            json!({ "type": "image", "originalContentUrl": "https://x/a", "previewImageUrl": "https://x/a" })
        );
        assert!(message_objects(&Outgoing::default()).is_empty());
        let cfg = LineConfig {
            api_base: DEFAULT_API_BASE.into(),
            data_base: DEFAULT_DATA_BASE.into(),
            access_token: "s3cret/token=".into(),
            media_policy: FetchPolicy::public_only(),
        };
        assert!(!format!("{:?}", LineClient::new(cfg.clone()).unwrap()).contains("s3cret"));
        assert!(LineClient::new(LineConfig { access_token: "a b".into(), ..cfg.clone() }).is_err());
        assert!(LineClient::new(LineConfig { api_base: "ftp://x".into(), ..cfg }).is_err());
    }
}
