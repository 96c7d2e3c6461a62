//! Meta's Send API for one Facebook Page: text and attachments (by link to
//! our signed media URL) to a person's page-scoped id, with the `HUMAN_AGENT`
//! tag when a person answers after 24 hours; the credential check; fetching a
//! customer's attachment from the address Meta gave. Errors never carry the
//! token or the customer's words.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::classify;
use crate::net::FetchPolicy;
use crate::provider::{MediaFailure, MediaFile};
use crate::{Accepted, Outgoing, SendError};

pub use crate::whatsapp::{DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE};

/// Meta's answers are small; anything bigger is not one.
const MAX_ANSWER: usize = 1024 * 1024;

#[derive(Clone)]
pub struct MessengerConfig {
    /// Where the Graph API is; tests point it at a fake.
    pub graph_base: String,
    pub api_version: String,
    pub page_id: String,
    pub page_token: String,
    /// Where customers' attachments may be downloaded from.
    pub media_policy: FetchPolicy,
}

impl fmt::Debug for MessengerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessengerConfig")
            .field("graph_base", &self.graph_base)
            .field("api_version", &self.api_version)
            .field("page_id", &self.page_id)
            .field("page_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    Rejected(String),
    Unreachable(String),
}

#[derive(Clone)]
pub struct MessengerClient {
    http: reqwest::Client,
    media: reqwest::Client,
    api: String,
    cfg: MessengerConfig,
}

impl fmt::Debug for MessengerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessengerClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl MessengerClient {
    pub fn new(cfg: MessengerConfig) -> Result<Self, String> {
        if cfg.page_id.is_empty() || cfg.page_id.len() > 64 || !cfg.page_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the Page ID is the number Meta shows in the Page's About section (digits only)".into());
        }
        if cfg.page_token.trim().is_empty() || cfg.page_token.chars().any(|c| c.is_control() || c == ' ') {
            return Err("the Page access token is empty or not one word".into());
        }
        let version = cfg.api_version.trim_matches('/');
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err("the API version looks like v21.0".into());
        }
        let api = url::Url::parse(&format!("{}/{version}", cfg.graph_base.trim_end_matches('/')))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or("the Graph API address is not an http(s) URL")?;
        crate::ensure_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())?;
        let media = cfg.media_policy.client(Duration::from_secs(10))?;
        Ok(MessengerClient { http, media, api: api.as_str().trim_end_matches('/').to_owned(), cfg })
    }

    pub fn config(&self) -> &MessengerConfig {
        &self.cfg
    }

    /// Sends one message: each attachment, then the text, as Messenger takes
    /// one of them per message. Every part's id is kept; the first is its own.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        let mut ids = Vec::new();
        for (i, link) in msg.media_urls.iter().enumerate() {
            let content_type = msg.media_types.get(i).map(String::as_str).unwrap_or("application/octet-stream");
            let message = json!({ "attachment": { "type": attachment_kind(content_type), "payload": { "url": link, "is_reusable": false } } });
            match self.post(&msg.to, message, msg.human_agent).await {
                Ok(id) => ids.push(id),
                Err(e) if ids.is_empty() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "a later attachment of a Messenger message was refused"),
            }
        }
        if !msg.body.trim().is_empty() {
            match self.post(&msg.to, json!({ "text": msg.body }), msg.human_agent).await {
                Ok(id) => ids.push(id),
                Err(e) if ids.is_empty() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "the text after a Messenger attachment was refused"),
            }
        }
        if ids.is_empty() {
            return Err(SendError::Permanent("the message has neither text nor attachments".into()));
        }
        Ok(Accepted { provider_ids: ids })
    }

    async fn post(&self, to: &str, message: Value, human_agent: bool) -> Result<String, SendError> {
        let mut payload = json!({ "recipient": { "id": to }, "messaging_type": "RESPONSE", "message": message });
        if human_agent {
            payload["messaging_type"] = json!("MESSAGE_TAG");
            payload["tag"] = json!("HUMAN_AGENT");
        }
        let resp = self
            .http
            .post(format!("{}/{}/messages", self.api, self.cfg.page_id))
            .bearer_auth(&self.cfg.page_token)
            .json(&payload)
            .send()
            .await
            .map_err(|e| SendError::Retryable(transport("sending to Messenger", &e)))?;
        let status = resp.status();
        let body = read_limited(resp).await.unwrap_or_default();
        if status.is_success() {
            #[derive(Deserialize)]
            struct Sent {
                message_id: String,
            }
            // Messenger has it now; a retry would send it twice.
            return match serde_json::from_slice::<Sent>(&body) {
                Ok(s) if !s.message_id.is_empty() => Ok(s.message_id),
                _ => {
                    Err(SendError::Permanent("Messenger accepted the message but its answer has no message id".into()))
                }
            };
        }
        let (code, subcode) = meta_error(&body);
        Err(classify(code, subcode, status.as_u16()))
    }

    /// Whether the token opens this Page (`GET /{page-id}`).
    pub async fn check_credentials(&self) -> Result<(), CredentialError> {
        let resp = self
            .http
            .get(format!("{}/{}", self.api, self.cfg.page_id))
            .query(&[("fields", "name")])
            .bearer_auth(&self.cfg.page_token)
            .send()
            .await
            .map_err(|e| CredentialError::Unreachable(transport("checking the credentials", &e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        match (status.as_u16(), meta_error(&read_limited(resp).await.unwrap_or_default()).0) {
            (_, Some(190)) | (401, _) => Err(CredentialError::Rejected(
                "Messenger did not accept the Page access token. Make a new one for the Page in Meta's developer console and try again."
                    .into(),
            )),
            (_, Some(100 | 10 | 200)) | (403 | 404, _) => Err(CredentialError::Rejected(
                "Meta has no Page with this ID that the access token may use. Check the Page ID.".into(),
            )),
            (s, _) => Err(CredentialError::Unreachable(format!("Messenger answered HTTP {s}"))),
        }
    }

    /// The name a person shows on Facebook (Graph API `GET /{PSID}` with
    /// `fields=first_name,last_name`, the Page's token), since Messenger's
    /// webhooks carry none. None when Meta gives no profile (the Page may not
    /// read it, or the person is gone); an error in words otherwise.
    pub async fn display_name(&self, psid: &str) -> Result<Option<String>, String> {
        if psid.is_empty() || psid.len() > 64 || !psid.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let resp = self
            .http
            .get(format!("{}/{psid}", self.api))
            .query(&[("fields", "first_name,last_name")])
            .bearer_auth(&self.cfg.page_token)
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| transport("asking Messenger for the customer's profile", &e))?;
        let status = resp.status();
        let body = read_limited(resp).await.unwrap_or_default();
        if !status.is_success() {
            return match meta_error(&body).0 {
                // No such object for this Page, or no permission to read it: Meta has no name to give.
                Some(100 | 10 | 200..=299) => Ok(None),
                _ => Err(format!("Messenger refused the profile request (HTTP {})", status.as_u16())),
            };
        }
        #[derive(Deserialize)]
        struct Profile {
            #[serde(default)]
            first_name: String,
            #[serde(default)]
            last_name: String,
        }
        let p: Profile =
            serde_json::from_slice(&body).map_err(|_| "Messenger's profile answer was not its JSON".to_owned())?;
        let name = format!("{} {}", p.first_name.trim(), p.last_name.trim()).trim().to_owned();
        Ok(Some(name).filter(|n| !n.is_empty()))
    }

    /// A customer's attachment from the address Meta gave, through the media
    /// policy, with no token (Meta's attachment links are signed already).
    pub async fn download_media(&self, url: &str, max_bytes: u64) -> Result<MediaFile, MediaFailure> {
        crate::net::download(&self.media, &self.cfg.media_policy, url, max_bytes).await
    }
}

/// The Send API's attachment `type` for a file of this content type.
pub fn attachment_kind(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.split('/').next().unwrap_or_default() {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "file",
    }
}

fn meta_error(body: &[u8]) -> (Option<u64>, Option<u64>) {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    (v.pointer("/error/code").and_then(Value::as_u64), v.pointer("/error/error_subcode").and_then(Value::as_u64))
}

async fn read_limited(mut resp: reqwest::Response) -> Result<Vec<u8>, ()> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| ())? {
        if out.len() + chunk.len() > MAX_ANSWER {
            return Err(());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A transport failure in words, without the URL.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_checked_and_the_token_never_printed() {
        let cfg = MessengerConfig {
            graph_base: DEFAULT_GRAPH_BASE.into(),
            api_version: DEFAULT_API_VERSION.into(),
            page_id: "1234567890".into(),
            page_token: "EAAB-s3cret".into(),
            media_policy: FetchPolicy::public_only(),
        };
        let client = MessengerClient::new(cfg.clone()).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
        assert!(MessengerClient::new(MessengerConfig { page_id: "me".into(), ..cfg.clone() }).is_err());
        assert!(MessengerClient::new(MessengerConfig { page_token: "a b".into(), ..cfg }).is_err());
        assert_eq!(attachment_kind("image/png"), "image");
        assert_eq!(attachment_kind("application/pdf"), "file");
    }
}
