//! A WeChat Official Account as a provider: its setup fields, its server
//! address (the `echostr` GET check, then signed — and in safe mode
//! encrypted — XML POSTs), and a channel over `WechatClient`.

use std::borrow::Cow;
use std::sync::Arc;

use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{CredentialError, DEFAULT_API_BASE, WechatClient, WechatConfig};
use super::crypto::{AesKey, signature_matches};
use super::media::WechatMedia;
use super::webhook::{encrypted_field, parse_message};
use crate::provider::{
    Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Wechat;

/// A customer-service text is kept within 2,048 bytes of UTF-8 (600 characters even in Chinese).
pub const MAX_CHARS: usize = 600;

const FIELDS: [SetupField; 5] = [
    SetupField::text("app_id", "AppID", "Under Settings and Development → Basic Configuration (wx…).").required(),
    SetupField::text("app_secret", "AppSecret", "Beside the AppID; textdesk fetches access tokens with it.")
        .secret()
        .required(),
    SetupField::text(
        "token",
        "Token",
        "3 to 32 letters and digits you make up and enter under Server Configuration with the server address.",
    )
    .secret()
    .required()
    .generated(),
    SetupField::text(
        "encoding_aes_key",
        "EncodingAESKey",
        "The 43 characters under Server Configuration, for the safe (encrypted) message mode.",
    )
    .secret(),
    SetupField::text("api_base", "WeChat API address", "Only for a test fake of WeChat's API.")
        .default(DEFAULT_API_BASE)
        .advanced(),
];

const HOOKS: [Webhook; 1] = [Webhook { name: "inbound", label: "Server address (URL)", about: "messages and events" }];

impl Provider for Wechat {
    fn key(&self) -> &'static str {
        "wechat"
    }
    fn label(&self) -> &'static str {
        "WeChat"
    }
    fn blurb(&self) -> &'static str {
        "an Official Account's followers, through WeChat's customer-service messages"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Wechat]
    }
    fn capabilities(&self, medium: Medium) -> Capabilities {
        Capabilities {
            // Pictures, voice and video, uploaded to WeChat first (`WechatMedia`).
            media: true,
            max_chars: MAX_CHARS,
            reply_window: medium.reply_window(),
            human_agent_window: medium.human_agent_window(),
            delivery_receipts: false,
            read_receipts: false,
        }
    }
    fn check_attachment(&self, _medium: Medium, content_type: &str, size: u64) -> Result<(), String> {
        WechatMedia::for_file(content_type, size).map(|_| ())
    }
    fn setup(&self) -> &'static [SetupField] {
        &FIELDS
    }
    fn webhooks(&self) -> &'static [Webhook] {
        &HOOKS
    }
    fn keeps_connection(&self) -> bool {
        false
    }
    fn metered(&self) -> bool {
        false
    }
    fn sender(&self, stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        // The account's original ID (gh_…) if given, else its AppID.
        let id = if raw.trim().is_empty() { stored.text("app_id").unwrap_or_default() } else { raw };
        textdesk_core::Address::parse(medium, id).map(|a| a.value().to_owned()).map_err(|e| e.0)
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        // Whether it is in safe mode is a secret's presence: not said on the page.
        stored.text("app_id").map(|id| format!("AppID {id}"))
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some(
            "In the WeChat Official Account platform, open Settings and Development → Basic Configuration → Server Configuration, paste this as the server address (URL) with the Token (and, for safe mode, the EncodingAESKey) you gave when adding the inbox, then enable it. WeChat checks the address with a GET; messages and events then arrive by POST. Replies can go for 48 hours after the follower's last message.",
        )
    }
    fn open(&self, _ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let need = |name: &str, what: &str| {
            stored.text(name).map(str::to_owned).ok_or(format!("the inbox has no WeChat {what}"))
        };
        let token = need("token", "Token")?;
        if !(3..=32).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("the Token is 3 to 32 letters and digits (WeChat's rule)".into());
        }
        let aes = stored.text("encoding_aes_key").map(AesKey::parse).transpose()?;
        let client = WechatClient::new(WechatConfig {
            api_base: stored.text("api_base").unwrap_or(DEFAULT_API_BASE).to_owned(),
            app_id: need("app_id", "AppID")?,
            app_secret: need("app_secret", "AppSecret")?,
        })?;
        Ok(Arc::new(WechatChannel { client, token, aes }))
    }
}

struct WechatChannel {
    client: WechatClient,
    token: String,
    aes: Option<AesKey>,
}

/// The query's parameters WeChat signs with, each at most once.
#[derive(Default)]
struct Query {
    signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
    encrypt_type: Option<String>,
    msg_signature: Option<String>,
}

fn query_of(raw: &str) -> Result<Query, Refusal> {
    let mut q = Query::default();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        let slot = match k.as_ref() {
            "signature" => &mut q.signature,
            "timestamp" => &mut q.timestamp,
            "nonce" => &mut q.nonce,
            "echostr" => &mut q.echostr,
            "encrypt_type" => &mut q.encrypt_type,
            "msg_signature" => &mut q.msg_signature,
            _ => continue,
        };
        if v.len() > 512 || slot.replace(v.into_owned()).is_some() {
            return Err(Refusal::BadRequest(format!("{k} is too long or appears more than once")));
        }
    }
    Ok(q)
}

impl WechatChannel {
    /// The plain signature over the token, timestamp and nonce.
    fn check_plain(&self, q: &Query) -> Result<(), Refusal> {
        let (Some(sig), Some(ts), Some(nonce)) = (&q.signature, &q.timestamp, &q.nonce) else {
            return Err(Refusal::Forbidden("signature, timestamp and nonce are required".into()));
        };
        if !signature_matches(&[&self.token, ts, nonce], sig) {
            return Err(Refusal::Forbidden("the signature does not match this inbox's Token".into()));
        }
        Ok(())
    }
}

fn success() -> Answer {
    // WeChat takes "success" (or nothing) as "received, no passive reply".
    Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Borrowed("success") }
}

impl Channel for WechatChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        if !HOOKS.iter().any(|h| h.name == req.hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        let q = query_of(req.url.split_once('?').map(|(_, q)| q).unwrap_or_default())?;
        // Both modes carry the plain signature; safe mode adds msg_signature over the ciphertext.
        self.check_plain(&q)?;
        let body = std::str::from_utf8(req.body).map_err(|_| Refusal::BadRequest("the body is not UTF-8".into()))?;
        let xml = match q.encrypt_type.as_deref() {
            None | Some("raw") => Cow::Borrowed(body),
            Some("aes") => {
                let Some(key) = &self.aes else {
                    return Err(Refusal::Forbidden("this inbox has no EncodingAESKey for safe mode".into()));
                };
                let encrypted = encrypted_field(body).map_err(|e| Refusal::BadRequest(e.0))?;
                let (Some(ms), Some(ts), Some(nonce)) = (&q.msg_signature, &q.timestamp, &q.nonce) else {
                    return Err(Refusal::Forbidden("msg_signature is required in safe mode".into()));
                };
                if !signature_matches(&[&self.token, ts, nonce, &encrypted], ms) {
                    return Err(Refusal::Forbidden("the msg_signature does not match".into()));
                }
                let plain = key
                    .decrypt(&encrypted, &self.client.config().app_id)
                    .map_err(|e| Refusal::Forbidden(format!("the message could not be decrypted: {e}")))?;
                Cow::Owned(plain)
            }
            Some(_) => return Err(Refusal::BadRequest("encrypt_type is aes or absent".into())),
        };
        let parsed = parse_message(&xml, self.client.api_base(), req.now).map_err(|e| Refusal::BadRequest(e.0))?;
        let events = match parsed {
            Ok(event) => vec![event],
            Err(kind) => {
                // Kinds only: never the follower's id or words.
                tracing::info!(kind = %kind, "WeChat sent something this version does not keep");
                Vec::new()
            }
        };
        Ok(Inbound { events, answer: success() })
    }

    fn handshake(&self, hook: &str, query: &str) -> Result<Answer, Refusal> {
        if !HOOKS.iter().any(|h| h.name == hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        let q = query_of(query)?;
        let echostr = q.echostr.clone().ok_or_else(|| Refusal::BadRequest("echostr is missing".into()))?;
        self.check_plain(&q)?;
        // Echoed only once signed, and only if it looks like WeChat's (digits and letters).
        if echostr.is_empty() || !echostr.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Refusal::BadRequest("echostr is not WeChat's".into()));
        }
        Ok(Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Owned(echostr) })
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(self.client.send(msg))
    }

    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // WeChat cannot list what was sent: a person decides.
        Box::pin(async { FindSent::Unsupported })
    }

    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        Box::pin(self.client.download_media(url, max_bytes))
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async move {
            self.client.check_credentials().await.map_err(|e| match e {
                CredentialError::Rejected(words) => CheckFailure::Rejected(words),
                CredentialError::Unreachable(cause) => {
                    tracing::warn!(cause = %cause, "WeChat could not be reached to check credentials");
                    CheckFailure::Unreachable(
                        "WeChat could not be reached to check these credentials. Check the API address and this server's internet connection, then try again."
                            .into(),
                    )
                }
            })
        })
    }

    fn listen(&self) -> Result<Option<mpsc::Receiver<InboundEvent>>, String> {
        Ok(None)
    }

    fn link(&self) -> Option<(String, bool)> {
        None
    }
}
