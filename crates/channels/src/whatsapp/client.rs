//! Meta's Graph API for a WhatsApp Business phone number: send text, media
//! (by link to our signed media URL) and templates; check the credentials;
//! list the account's templates; fetch a customer's media by id. Errors never
//! carry the access token, numbers or message text: they reach logs and agents.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{ErrorClass, explain};
use super::templates::{template_of, template_payload};
use crate::net::FetchPolicy;
use crate::provider::{MediaFailure, MediaFile, ProviderTemplate};
use crate::{Accepted, Outgoing, SendError};

pub const DEFAULT_GRAPH_BASE: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

/// Bounds a template listing that pages on and on.
const MAX_TEMPLATE_PAGES: usize = 20;

#[derive(Clone)]
pub struct WhatsAppConfig {
    /// Where the Graph API is; tests point it at a fake.
    pub graph_base: String,
    pub api_version: String,
    pub phone_number_id: String,
    /// The WhatsApp Business Account, whose templates are listed.
    pub waba_id: String,
    pub access_token: String,
    /// Where media may be downloaded from (public addresses unless the operator named private hosts).
    pub media_policy: FetchPolicy,
}

impl fmt::Debug for WhatsAppConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppConfig")
            .field("graph_base", &self.graph_base)
            .field("api_version", &self.api_version)
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .field("access_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn is_graph_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialError {
    Rejected(String),
    Unreachable(String),
}

#[derive(Clone)]
pub struct WhatsAppClient {
    http: reqwest::Client,
    /// Only for media downloads: reaches only what the media policy allows.
    media: reqwest::Client,
    /// `{graph_base}/{version}`, no trailing slash.
    api: url::Url,
    cfg: WhatsAppConfig,
}

impl fmt::Debug for WhatsAppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppClient").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

impl WhatsAppClient {
    pub fn new(cfg: WhatsAppConfig) -> Result<Self, String> {
        if !is_graph_id(&cfg.phone_number_id) {
            return Err("the phone number ID is the number Meta shows under API Setup (digits only)".into());
        }
        if !is_graph_id(&cfg.waba_id) {
            return Err(
                "the WhatsApp Business Account ID is the number Meta shows under API Setup (digits only)".into()
            );
        }
        if cfg.access_token.trim().is_empty() || cfg.access_token.chars().any(|c| c.is_control() || c == ' ') {
            return Err("the access token is empty or not one word".into());
        }
        let version = cfg.api_version.trim_matches('/');
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.') {
            return Err("the API version looks like v21.0".into());
        }
        let api = url::Url::parse(&format!("{}/{version}", cfg.graph_base.trim_end_matches('/')))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or("the Graph API address is not an http(s) URL")?;
        crate::twilio::client::ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("textdesk/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|_| "the HTTP client could not be set up (TLS)".to_owned())?;
        let media = cfg.media_policy.client(Duration::from_secs(10))?;
        Ok(WhatsAppClient { http, media, api, cfg })
    }

    pub fn config(&self) -> &WhatsAppConfig {
        &self.cfg
    }

    /// `{graph_base}/{version}`: where media ids are looked up.
    pub fn api_base(&self) -> &str {
        self.api.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{path}", self.api_base())
    }

    /// Sends one message: a template, or each attachment (the first with the
    /// text as its caption where WhatsApp allows one), or the text. Several
    /// WhatsApp messages make one of ours; each id is kept, the first is its own.
    pub async fn send(&self, msg: &Outgoing) -> Result<Accepted, SendError> {
        let to = msg.to.trim_start_matches('+');
        let mut ids = Vec::new();
        if let Some(t) = &msg.template {
            ids.push(self.post_message(to, template_payload(t)).await?);
            return Ok(Accepted { provider_ids: ids });
        }
        let mut text_left = !msg.body.trim().is_empty();
        for (i, link) in msg.media_urls.iter().enumerate() {
            let content_type = msg.media_types.get(i).map(String::as_str).unwrap_or("application/octet-stream");
            let kind = media_kind(content_type);
            let mut media = json!({ "link": link });
            if text_left && kind != "audio" {
                media["caption"] = Value::String(msg.body.clone());
                text_left = false;
            }
            if kind == "document" {
                media["filename"] = Value::String(file_name(content_type));
            }
            let payload = json!({ "type": kind, kind: media });
            match self.post_message(to, payload).await {
                Ok(id) => ids.push(id),
                // A later part failing after the first went: the first's id is kept, the rest is reported.
                Err(e) if !ids.is_empty() => {
                    tracing::warn!(error = %e, "a later attachment of a WhatsApp message was refused");
                }
                Err(e) => return Err(e),
            }
        }
        if text_left {
            let payload = json!({ "type": "text", "text": { "preview_url": false, "body": msg.body } });
            match self.post_message(to, payload).await {
                Ok(id) => ids.push(id),
                Err(e) if ids.is_empty() => return Err(e),
                Err(e) => tracing::warn!(error = %e, "the text after a WhatsApp attachment was refused"),
            }
        }
        if ids.is_empty() {
            return Err(SendError::Permanent("the message has neither text nor attachments".into()));
        }
        Ok(Accepted { provider_ids: ids })
    }

    async fn post_message(&self, to: &str, mut payload: Value) -> Result<String, SendError> {
        payload["messaging_product"] = json!("whatsapp");
        payload["recipient_type"] = json!("individual");
        payload["to"] = json!(to);
        let resp = self
            .http
            .post(self.url(&format!("{}/messages", self.cfg.phone_number_id)))
            .bearer_auth(&self.cfg.access_token)
            .json(&payload)
            .send()
            .await
            .map_err(|e| SendError::Retryable(transport("sending to WhatsApp", &e)))?;
        let status = resp.status();
        let body = crate::net::read_answer(resp).await;
        if status.is_success() {
            #[derive(Deserialize)]
            struct Sent {
                messages: Vec<SentId>,
            }
            #[derive(Deserialize)]
            struct SentId {
                id: String,
            }
            // WhatsApp has the message now; a retry would send it twice.
            return match body.ok().and_then(|b| serde_json::from_slice::<Sent>(&b).ok()) {
                Some(s) if s.messages.first().is_some_and(|m| !m.id.is_empty()) => {
                    Ok(s.messages.into_iter().next().map(|m| m.id).unwrap_or_default())
                }
                _ => Err(SendError::Permanent("WhatsApp accepted the message but its answer has no message id".into())),
            };
        }
        Err(classify(status, body.ok().as_deref()))
    }

    /// Whether the token opens this phone number (`GET /{phone_number_id}`).
    pub async fn check_credentials(&self) -> Result<(), CredentialError> {
        let resp = self
            .http
            .get(self.url(&self.cfg.phone_number_id))
            .query(&[("fields", "display_phone_number,verified_name")])
            .bearer_auth(&self.cfg.access_token)
            .send()
            .await
            .map_err(|e| CredentialError::Unreachable(transport("checking the credentials", &e)))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let code = crate::net::read_answer(resp).await.ok().as_deref().and_then(meta_error).and_then(|e| e.code);
        match (status, code) {
            (_, Some(190)) | (StatusCode::UNAUTHORIZED, _) => Err(CredentialError::Rejected(
                "WhatsApp did not accept the access token. Make a new one in Meta's developer console (a system user's token does not expire) and try again."
                    .into(),
            )),
            (_, Some(100)) | (StatusCode::NOT_FOUND, _) | (StatusCode::FORBIDDEN, _) | (_, Some(10 | 200)) => {
                Err(CredentialError::Rejected(
                    "WhatsApp has no phone number with this ID that the access token may use. Check the phone number ID under API Setup."
                        .into(),
                ))
            }
            (s, _) => Err(CredentialError::Unreachable(format!("WhatsApp answered HTTP {}", s.as_u16()))),
        }
    }

    /// The account's templates (`GET /{waba_id}/message_templates`), following Meta's pages.
    pub async fn templates(&self) -> Result<Vec<ProviderTemplate>, CredentialError> {
        #[derive(Deserialize)]
        struct Page {
            #[serde(default)]
            data: Vec<Value>,
            #[serde(default)]
            paging: Option<Paging>,
        }
        #[derive(Deserialize)]
        struct Paging {
            next: Option<String>,
        }
        let mut next = Some(format!(
            "{}?fields=name,language,status,category,components&limit=100",
            self.url(&format!("{}/message_templates", self.cfg.waba_id))
        ));
        let mut out = Vec::new();
        for _ in 0..MAX_TEMPLATE_PAGES {
            let Some(url) = next.take() else { break };
            // The token only ever goes to the Graph API's own host.
            if url::Url::parse(&url).ok().map(|u| u.origin()) != Some(self.api.origin()) {
                return Err(CredentialError::Unreachable(
                    "WhatsApp's next page of templates is on another host".into(),
                ));
            }
            let resp = self
                .http
                .get(&url)
                .bearer_auth(&self.cfg.access_token)
                .send()
                .await
                .map_err(|e| CredentialError::Unreachable(transport("listing templates", &e)))?;
            let status = resp.status();
            let body = crate::net::read_answer(resp)
                .await
                .map_err(|_| CredentialError::Unreachable("the template list could not be read".into()))?;
            if !status.is_success() {
                return Err(match meta_error(&body).and_then(|e| e.code) {
                    Some(190) => CredentialError::Rejected("WhatsApp did not accept the access token.".into()),
                    Some(100 | 10 | 200) => CredentialError::Rejected(
                        "WhatsApp has no Business Account with this ID that the access token may read. Check the WhatsApp Business Account ID."
                            .into(),
                    ),
                    _ => CredentialError::Unreachable(format!("WhatsApp answered HTTP {}", status.as_u16())),
                });
            }
            let page: Page = serde_json::from_slice(&body).map_err(|_| {
                CredentialError::Unreachable("WhatsApp's template list is not in the expected shape".into())
            })?;
            out.extend(page.data.iter().filter_map(template_of));
            next = page.paging.and_then(|p| p.next);
        }
        Ok(out)
    }

    /// A customer's attachment: the media id's description from the Graph
    /// API (its `url`, only ever ours), then the file from that address with
    /// the token, through the media policy. At most `max_bytes`.
    pub async fn download_media(&self, url: &str, max_bytes: u64) -> Result<MediaFile, MediaFailure> {
        let permanent = |reason: &str| MediaFailure { reason: reason.into(), retryable: false };
        let retry = |reason: String| MediaFailure { reason, retryable: true };
        // The address was made by the parser from our own Graph API base: the
        // token is never sent to one a request named.
        let prefix = format!("{}/", self.api_base());
        let id = url.strip_prefix(&prefix).filter(|id| {
            !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        });
        let Some(id) = id else {
            return Err(permanent("the media is not on this inbox's WhatsApp account"));
        };
        let resp = self
            .http
            .get(self.url(id))
            .bearer_auth(&self.cfg.access_token)
            .send()
            .await
            .map_err(|e| retry(transport("looking up media", &e)))?;
        let status = resp.status();
        if !status.is_success() {
            let reason = format!("WhatsApp has no such media (HTTP {}); it may have expired", status.as_u16());
            return Err(MediaFailure {
                reason,
                retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
            });
        }
        #[derive(Deserialize)]
        struct Described {
            url: String,
            #[serde(default)]
            mime_type: Option<String>,
            #[serde(default)]
            file_size: Option<Value>,
        }
        let described: Described = crate::net::read_answer(resp)
            .await
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| permanent("WhatsApp's description of the media could not be read"))?;
        let size = described.file_size.as_ref().and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()));
        let too_big = || permanent(&format!("the media is larger than {max_bytes} bytes"));
        if size.is_some_and(|n| n > max_bytes) {
            return Err(too_big());
        }
        let parsed = url::Url::parse(&described.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| permanent("WhatsApp's media address is not an http(s) URL"))?;
        self.cfg.media_policy.check_url(&parsed).map_err(|_| retry(crate::net::UNREACHABLE.into()))?;
        // Meta's media host wants the same token; the client drops it on a redirect to another host.
        let mut resp = self
            .media
            .get(parsed)
            .timeout(Duration::from_secs(120))
            .bearer_auth(&self.cfg.access_token)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() || e.is_body() {
                    retry(transport("downloading media", &e))
                } else {
                    retry(crate::net::UNREACHABLE.into())
                }
            })?;
        let status = resp.status();
        if !status.is_success() {
            let reason = format!("the media could not be downloaded (HTTP {})", status.as_u16());
            return Err(MediaFailure {
                reason,
                retryable: status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS,
            });
        }
        if resp.content_length().is_some_and(|n| n > max_bytes) {
            return Err(too_big());
        }
        let content_type = described
            .mime_type
            .or_else(|| {
                resp.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned)
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| retry(transport("downloading media", &e)))? {
            if bytes.len() as u64 + chunk.len() as u64 > max_bytes {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(MediaFile { content_type, bytes })
    }
}

/// The Cloud API's message `type` for a file of this content type.
pub fn media_kind(content_type: &str) -> &'static str {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "image/jpeg" | "image/png" => "image",
        "video/mp4" | "video/3gpp" => "video",
        "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr" | "audio/ogg" => "audio",
        _ => "document",
    }
}

/// A document's name as the customer sees it.
fn file_name(content_type: &str) -> String {
    let ext = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/vcard" => "vcf",
        "text/calendar" => "ics",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => "bin",
    };
    format!("attachment.{ext}")
}

#[derive(Debug, Deserialize)]
pub struct MetaError {
    pub code: Option<u64>,
    #[serde(default)]
    pub error_subcode: Option<u64>,
}

fn meta_error(body: &[u8]) -> Option<MetaError> {
    #[derive(Deserialize)]
    struct Wrapper {
        error: MetaError,
    }
    serde_json::from_slice::<Wrapper>(body).ok().map(|w| w.error)
}

/// A refused request as a `SendError`, by Meta's code where it gave one.
fn classify(status: StatusCode, body: Option<&[u8]>) -> SendError {
    let code = body.and_then(meta_error).and_then(|e| e.code);
    let Some(code) = code else {
        return if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            SendError::Retryable(format!("WhatsApp could not take the message just now (HTTP {})", status.as_u16()))
        } else if status == StatusCode::UNAUTHORIZED {
            SendError::Permanent(explain(190).explanation.into())
        } else {
            SendError::Permanent(format!("WhatsApp refused the request (HTTP {})", status.as_u16()))
        };
    };
    let info = explain(code);
    let text = format!("{code}: {}", info.explanation);
    match info.class {
        ErrorClass::Retry => SendError::Retryable(text),
        ErrorClass::Permanent => SendError::Permanent(text),
    }
}

/// A transport failure in words, without the URL.
fn transport(doing: &str, e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "the request failed"
    };
    format!("{doing}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> WhatsAppConfig {
        WhatsAppConfig {
            graph_base: DEFAULT_GRAPH_BASE.into(),
            api_version: DEFAULT_API_VERSION.into(),
            phone_number_id: "106540352242922".into(),
            waba_id: "102290129340398".into(),
            access_token: "EAAG-s3cret".into(),
            media_policy: FetchPolicy::public_only(),
        }
    }

    #[test]
    fn config_is_checked_and_the_token_never_printed() {
        let client = WhatsAppClient::new(cfg()).unwrap();
        assert!(!format!("{client:?}").contains("s3cret"));
        assert_eq!(client.api_base(), "https://graph.facebook.com/v21.0");
        assert!(WhatsAppClient::new(WhatsAppConfig { phone_number_id: "+1555".into(), ..cfg() }).is_err());
        assert!(WhatsAppClient::new(WhatsAppConfig { access_token: "a b".into(), ..cfg() }).is_err());
        assert!(WhatsAppClient::new(WhatsAppConfig { graph_base: "ftp://x".into(), ..cfg() }).is_err());
        assert!(WhatsAppClient::new(WhatsAppConfig { api_version: "v1/../x".into(), ..cfg() }).is_err());
    }

    #[test]
    fn media_is_shaped_as_the_cloud_api_takes_it() {
        assert_eq!(media_kind("image/png"), "image");
        assert_eq!(media_kind("audio/ogg; codecs=opus"), "audio");
        assert_eq!(media_kind("application/pdf"), "document");
        assert_eq!(media_kind("image/gif"), "document", "WhatsApp takes only JPEG and PNG pictures");
    }
}
