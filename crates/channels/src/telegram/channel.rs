//! Telegram (Bot API) as a provider: its setup fields, its one webhook (the
//! bot's updates, checked by the `X-Telegram-Bot-Api-Secret-Token` header),
//! and a channel over `TelegramClient`. textdesk registers the webhook itself
//! (`setWebhook`), with a secret derived from the bot token and the inbox.

use std::borrow::Cow;
use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{DEFAULT_API_BASE, TelegramClient, TelegramConfig};
use super::webhook::{MAX_BODY_CHARS, parse_update};
use crate::provider::{
    Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Telegram;

/// The header Telegram puts the webhook's secret in.
pub const SECRET_HEADER: &str = "X-Telegram-Bot-Api-Secret-Token";

const FIELDS: [SetupField; 2] = [
    SetupField::text("bot_token", "Bot token", "From BotFather: /mybots → your bot → API Token.").secret().required(),
    SetupField::text("api_base", "Bot API address", "Only for a self-hosted Bot API server or a test fake.")
        .default(DEFAULT_API_BASE)
        .advanced(),
];

const HOOKS: [Webhook; 1] = [Webhook { name: "inbound", label: "Webhook URL", about: "bot updates" }];

/// The secret Telegram sends with every update for this inbox: the bot
/// token's HMAC of the inbox id, so nothing else needs storing and a new
/// token makes a new secret. 64 hex digits (Telegram allows 1-256 of
/// `A-Za-z0-9_-`).
pub fn webhook_secret(bot_token: &str, inbox_id: i64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(bot_token.as_bytes()) else { return String::new() };
    mac.update(format!("textdesk telegram webhook {inbox_id}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the header is the inbox's secret, compared over hashes in constant time.
pub fn secret_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(Sha256::digest(expected.as_bytes()).ct_eq(&Sha256::digest(given.as_bytes())))
}

impl Provider for Telegram {
    fn key(&self) -> &'static str {
        "telegram"
    }
    fn label(&self) -> &'static str {
        "Telegram"
    }
    fn blurb(&self) -> &'static str {
        "a Telegram bot, through the Bot API"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Telegram]
    }
    fn capabilities(&self, medium: Medium) -> Capabilities {
        // Bots get no delivery or read reports.
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
        // The bot's @username, as customers find it.
        let name = raw.trim().trim_start_matches('@');
        if (5..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            Ok(format!("@{name}"))
        } else {
            Err("the sender is the bot's @username (5 to 32 letters, digits or _)".into())
        }
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        stored.text("api_base").filter(|b| *b != DEFAULT_API_BASE).map(|b| format!("Bot API at {b}"))
    }
    fn registers_webhook(&self) -> bool {
        true
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some(
            "textdesk tells Telegram this address itself (with a secret only this inbox knows) when the inbox is added. Register it again after changing this server's public address or the bot's token. Telegram only posts to public HTTPS addresses.",
        )
    }
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let token = stored.text("bot_token").ok_or("the inbox has no Telegram bot token")?.trim().to_owned();
        let client = TelegramClient::new(TelegramConfig {
            api_base: stored.text("api_base").unwrap_or(DEFAULT_API_BASE).to_owned(),
            bot_token: token.clone(),
            media_policy: ctx.media_policy.clone(),
        })?;
        Ok(Arc::new(TelegramChannel {
            client,
            secret: webhook_secret(&token, ctx.inbox_id),
            webhook_url: ctx.webhook_url(self.key(), &HOOKS[0]),
        }))
    }
}

struct TelegramChannel {
    client: TelegramClient,
    secret: String,
    webhook_url: String,
}

impl Channel for TelegramChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        if !HOOKS.iter().any(|h| h.name == req.hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        let given = req
            .headers
            .get(SECRET_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Refusal::Forbidden(format!("missing {SECRET_HEADER}")))?;
        if !secret_matches(&self.secret, given) {
            return Err(Refusal::Forbidden(format!("the {SECRET_HEADER} is not this inbox's")));
        }
        let parsed = parse_update(req.body, self.client.api_base(), req.now).map_err(|e| Refusal::BadRequest(e.0))?;
        if !parsed.ignored.is_empty() {
            // Kinds only: never the customer's words or ids.
            tracing::info!(ignored = ?parsed.ignored, "Telegram sent things textdesk does not keep (group chats are refused by design)");
        }
        Ok(Inbound {
            events: parsed.events,
            answer: Answer { status: 200, content_type: Some("text/plain; charset=utf-8"), body: Cow::Borrowed("ok") },
        })
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(self.client.send(msg))
    }

    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // The Bot API cannot list what a bot sent: a person decides.
        Box::pin(async { FindSent::Unsupported })
    }

    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        Box::pin(self.client.download_file(url, max_bytes))
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async move { self.client.get_me().await.map(|_| ()) })
    }

    fn register_webhook(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(self.client.set_webhook(&self.webhook_url, &self.secret))
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
    fn the_secret_is_per_token_and_inbox_and_fits_telegrams_rule() {
        let a = webhook_secret("123:abc", 1);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, webhook_secret("123:abc", 2));
        assert_ne!(a, webhook_secret("123:abd", 1));
        assert!(secret_matches(&a, &a) && !secret_matches(&a, &a[..63]) && !secret_matches("", ""));
        let p = Telegram;
        let stored = StoredSetup::default();
        assert_eq!(p.sender(&stored, Medium::Telegram, "@dental_bot").unwrap(), "@dental_bot");
        assert_eq!(p.sender(&stored, Medium::Telegram, "dental_bot").unwrap(), "@dental_bot");
        assert!(p.sender(&stored, Medium::Telegram, "+14155550100").is_err());
    }
}
