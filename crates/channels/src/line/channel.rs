//! LINE (Messaging API) as a provider: its setup fields, its one webhook
//! (events, checked by `x-line-signature`), and a channel over `LineClient`
//! that answers by reply while an event's reply token is fresh and by push
//! otherwise.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jiff::{SignedDuration, Timestamp};
use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{DEFAULT_API_BASE, DEFAULT_DATA_BASE, LineClient, LineConfig};
use super::signature::{SIGNATURE_HEADER, verify_signature};
use super::webhook::{MAX_BODY_CHARS, parse_webhook};
use crate::provider::{
    Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Line;

/// How long after an event arrives its reply token is used. LINE asks for a
/// reply within a minute of the webhook and takes each token once; the
/// margin covers the request itself. Past it (or if LINE refuses the token)
/// the message is pushed.
pub const REPLY_TOKEN_LIFETIME: SignedDuration = SignedDuration::from_secs(50);

const FIELDS: [SetupField; 4] = [
    SetupField::text(
        "channel_secret",
        "Channel secret",
        "In the LINE Developers Console, the channel's Basic settings tab; it signs what LINE posts to textdesk.",
    )
    .secret()
    .required(),
    SetupField::text(
        "channel_access_token",
        "Channel access token",
        "The long-lived token from the channel's Messaging API tab (Issue).",
    )
    .secret()
    .required(),
    SetupField::text("api_base", "Messaging API address", "Only for a test fake of LINE's API.")
        .default(DEFAULT_API_BASE)
        .advanced(),
    SetupField::text("data_base", "Content API address", "Only for a test fake of LINE's content API.")
        .default(DEFAULT_DATA_BASE)
        .advanced(),
];

const HOOKS: [Webhook; 1] = [Webhook { name: "inbound", label: "Webhook URL", about: "events" }];

/// The newest unused reply token of each customer, with when it arrived.
#[derive(Default)]
pub struct ReplyTokens(Mutex<HashMap<String, (String, Timestamp)>>);

impl ReplyTokens {
    pub fn put(&self, user_id: &str, token: &str, at: Timestamp) {
        if let Ok(mut m) = self.0.lock() {
            // Bounded: tokens older than their lifetime are of no use.
            if m.len() > 10_000 {
                m.retain(|_, (_, t)| *t + REPLY_TOKEN_LIFETIME > at);
            }
            m.insert(user_id.to_owned(), (token.to_owned(), at));
        }
    }

    /// The customer's token if it is still fresh at `now`; taken, since LINE takes each once.
    pub fn take(&self, user_id: &str, now: Timestamp) -> Option<String> {
        let (token, at) = self.0.lock().ok()?.remove(user_id)?;
        (now < at + REPLY_TOKEN_LIFETIME).then_some(token)
    }
}

impl Provider for Line {
    fn key(&self) -> &'static str {
        "line"
    }
    fn label(&self) -> &'static str {
        "LINE"
    }
    fn blurb(&self) -> &'static str {
        "a LINE Official Account, through the Messaging API"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Line]
    }
    fn capabilities(&self, medium: Medium) -> Capabilities {
        Capabilities {
            media: true,
            max_chars: MAX_BODY_CHARS,
            reply_window: medium.reply_window(),
            human_agent_window: medium.human_agent_window(),
            delivery_receipts: false,
            read_receipts: false,
        }
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
    fn sender(&self, _stored: &StoredSetup, _medium: Medium, raw: &str) -> Result<String, String> {
        // The account's basic ID (@123abcde), as customers add it.
        let id = raw.trim();
        let rest = id.strip_prefix('@').unwrap_or(id);
        if (3..=40).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            Ok(format!("@{rest}"))
        } else {
            Err("the sender is the LINE account's basic ID, like @123abcde".into())
        }
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        stored.text("api_base").filter(|b| *b != DEFAULT_API_BASE).map(|b| format!("Messaging API at {b}"))
    }
    fn registers_webhook(&self) -> bool {
        true
    }
    fn looks_up_names(&self) -> bool {
        true
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some(
            "textdesk sets this as the channel's webhook URL when the inbox is added; register it again to set it anew. In the LINE Developers Console (Messaging API tab), turn on “Use webhook”, and turn off the automatic greeting and reply messages of LINE Official Account Manager if agents answer here.",
        )
    }
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let need = |name: &str, what: &str| {
            stored.text(name).map(str::to_owned).ok_or(format!("the inbox has no LINE {what}"))
        };
        let client = LineClient::new(LineConfig {
            api_base: stored.text("api_base").unwrap_or(DEFAULT_API_BASE).to_owned(),
            data_base: stored.text("data_base").unwrap_or(DEFAULT_DATA_BASE).to_owned(),
            access_token: need("channel_access_token", "channel access token")?,
            media_policy: ctx.media_policy.clone(),
        })?;
        Ok(Arc::new(LineChannel {
            client,
            channel_secret: need("channel_secret", "channel secret")?,
            webhook_url: ctx.webhook_url(self.key(), &HOOKS[0]),
            tokens: ReplyTokens::default(),
        }))
    }
}

struct LineChannel {
    client: LineClient,
    channel_secret: String,
    webhook_url: String,
    tokens: ReplyTokens,
}

impl Channel for LineChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        if !HOOKS.iter().any(|h| h.name == req.hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        let signature = req
            .headers
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Refusal::Forbidden("missing x-line-signature".into()))?;
        if !verify_signature(&self.channel_secret, req.body, signature) {
            return Err(Refusal::Forbidden("the x-line-signature does not match".into()));
        }
        let parsed = parse_webhook(req.body, self.client.data_base(), req.now).map_err(|e| Refusal::BadRequest(e.0))?;
        if !parsed.ignored.is_empty() {
            // Kinds only: never the customer's id or words.
            tracing::info!(ignored = ?parsed.ignored, "LINE sent things textdesk does not keep (group chats are refused by design)");
        }
        // Kept on this node only: another node, or a restart, pushes instead.
        for t in &parsed.reply_tokens {
            self.tokens.put(&t.user_id, &t.token, req.now);
        }
        Ok(Inbound {
            events: parsed.events,
            answer: Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Borrowed("ok") },
        })
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(async move {
            let token = self.tokens.take(&msg.to, Timestamp::now());
            let (accepted, _by) = self.client.send(msg, token.as_deref()).await?;
            Ok(accepted)
        })
    }

    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // LINE cannot list what was sent: a person decides.
        Box::pin(async { FindSent::Unsupported })
    }

    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        Box::pin(self.client.download_content(url, max_bytes))
    }

    fn profile_name<'a>(&'a self, who: &'a str) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(self.client.display_name(who))
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(self.client.check())
    }

    fn register_webhook(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(self.client.set_webhook_endpoint(&self.webhook_url))
    }

    fn listen(&self) -> Result<Option<mpsc::Receiver<InboundEvent>>, String> {
        Ok(None)
    }

    fn link(&self) -> Option<(String, bool)> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_token_is_used_once_and_only_while_fresh() {
        let tokens = ReplyTokens::default();
        let t0 = Timestamp::from_second(1_700_000_000).unwrap();
        tokens.put("U1", "first", t0);
        tokens.put("U1", "newer", t0 + SignedDuration::from_secs(5));
        assert_eq!(tokens.take("U1", t0 + SignedDuration::from_secs(20)).as_deref(), Some("newer"));
        assert_eq!(tokens.take("U1", t0 + SignedDuration::from_secs(21)), None, "used once");
        tokens.put("U2", "late", t0);
        assert_eq!(tokens.take("U2", t0 + REPLY_TOKEN_LIFETIME), None, "expired");
        let p = Line;
        assert_eq!(p.sender(&StoredSetup::default(), Medium::Line, "@123abcde").unwrap(), "@123abcde");
        assert!(p.sender(&StoredSetup::default(), Medium::Line, "a b").is_err());
    }
}
