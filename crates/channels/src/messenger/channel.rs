//! Facebook Messenger as a provider: its setup fields, its one webhook
//! (messages, postbacks, deliveries and reads, with Meta's GET handshake),
//! and a channel over `MessengerClient`.

use std::sync::Arc;

use textdesk_core::{Address, Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{CredentialError, DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE, MessengerClient, MessengerConfig};
use super::webhook::parse_webhook;
use crate::provider::{
    Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Messenger;

/// Messenger's own limit on a text message.
pub const MAX_CHARS: usize = 2000;

const FIELDS: [SetupField; 6] = [
    SetupField::text(
        "page_id",
        "Page ID",
        "The Facebook Page's ID, under the Page's About → Page transparency (digits).",
    )
    .required(),
    SetupField::text(
        "page_access_token",
        "Page access token",
        "A Page access token with pages_messaging, from Messenger → Settings in Meta's developer console.",
    )
    .secret()
    .required(),
    SetupField::text("app_secret", "App secret", "Under App settings → Basic; it signs what Meta posts to textdesk.")
        .secret()
        .required(),
    SetupField::text(
        "verify_token",
        "Verify token",
        "A long random phrase you make up and paste beside the webhook address in Meta's console.",
    )
    .secret()
    .required()
    .generated(),
    SetupField::text("graph_base", "Graph API address", "Only for a test fake of Meta's Graph API.")
        .default(DEFAULT_GRAPH_BASE)
        .advanced(),
    SetupField::text("api_version", "Graph API version", "The Graph API version to call.")
        .default(DEFAULT_API_VERSION)
        .advanced(),
];

const HOOKS: [Webhook; 1] =
    [Webhook { name: "inbound", label: "Callback URL", about: "messages, postbacks, deliveries and reads" }];

impl Provider for Messenger {
    fn key(&self) -> &'static str {
        "messenger"
    }
    fn label(&self) -> &'static str {
        "Messenger"
    }
    fn blurb(&self) -> &'static str {
        "a Facebook Page's messages, through Meta's Messenger Platform"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Messenger]
    }
    fn capabilities(&self, medium: Medium) -> Capabilities {
        Capabilities {
            media: true,
            max_chars: MAX_CHARS,
            reply_window: medium.reply_window(),
            human_agent_window: medium.human_agent_window(),
            delivery_receipts: true,
            read_receipts: true,
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
        // Meta paces Pages itself and answers 613 when exceeded (retried).
        false
    }
    fn sender(&self, stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        // The Page is the business's address; customers never see a number.
        let page = if raw.trim().is_empty() { stored.text("page_id").unwrap_or_default() } else { raw };
        Address::parse(medium, page).map(|a| a.value().to_owned()).map_err(|e| e.0)
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        stored.text("page_id").map(|id| format!("Page ID {id}"))
    }
    fn looks_up_names(&self) -> bool {
        true
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some(
            "In Meta's developer console, open Messenger → Settings → Webhooks, paste this as the callback URL with the verify token you chose when adding the inbox, and subscribe the Page to “messages”, “messaging_postbacks”, “message_deliveries” and “message_reads”. Meta checks the address with a GET; everything then arrives by POST. More than 24 hours after a customer's last message, only a person's reply goes (as a human agent's, up to 7 days).",
        )
    }
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let need = |name: &str, what: &str| {
            stored.text(name).map(str::to_owned).ok_or(format!("the inbox has no Messenger {what}"))
        };
        let client = MessengerClient::new(MessengerConfig {
            graph_base: stored.text("graph_base").unwrap_or(DEFAULT_GRAPH_BASE).to_owned(),
            api_version: stored.text("api_version").unwrap_or(DEFAULT_API_VERSION).to_owned(),
            page_id: need("page_id", "Page ID")?,
            page_token: need("page_access_token", "Page access token")?,
            media_policy: ctx.media_policy.clone(),
        })?;
        Ok(Arc::new(MessengerChannel {
            client,
            app_secret: need("app_secret", "app secret")?,
            verify_token: need("verify_token", "verify token")?,
        }))
    }
}

struct MessengerChannel {
    client: MessengerClient,
    app_secret: String,
    verify_token: String,
}

impl Channel for MessengerChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        if !HOOKS.iter().any(|h| h.name == req.hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        crate::meta::check_signed(&self.app_secret, req)?;
        let parsed =
            parse_webhook(req.body, &self.client.config().page_id, req.now).map_err(|e| Refusal::BadRequest(e.0))?;
        if !parsed.ignored.is_empty() {
            // Kinds only: never the customer's id or words.
            tracing::info!(ignored = ?parsed.ignored, "Messenger sent things this version does not keep");
        }
        Ok(Inbound { events: parsed.events, answer: crate::meta::ok() })
    }

    fn handshake(&self, hook: &str, query: &str) -> Result<Answer, Refusal> {
        if !HOOKS.iter().any(|h| h.name == hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        crate::meta::hub_handshake(&self.verify_token, query)
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(self.client.send(msg))
    }

    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // The Send API cannot list what was sent: a person decides.
        Box::pin(async { FindSent::Unsupported })
    }

    fn fetch_media<'a>(&'a self, url: &'a str, max_bytes: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        Box::pin(self.client.download_media(url, max_bytes))
    }

    fn profile_name<'a>(&'a self, who: &'a str) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(self.client.display_name(who))
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async move {
            self.client.check_credentials().await.map_err(|e| match e {
                CredentialError::Rejected(words) => CheckFailure::Rejected(words),
                CredentialError::Unreachable(cause) => {
                    tracing::warn!(cause = %cause, "Messenger could not be reached to check credentials");
                    CheckFailure::Unreachable(
                        "Messenger could not be reached to check these credentials. Check the Graph API address and this server's internet connection, then try again."
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
