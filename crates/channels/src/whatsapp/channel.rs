//! WhatsApp (Cloud API) as a provider: its setup fields, its one webhook
//! (messages and statuses, with Meta's GET handshake), and a channel over
//! `WhatsAppClient`.

use std::sync::Arc;

use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::client::{CredentialError, DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE, WhatsAppClient, WhatsAppConfig};
use super::webhook::parse_webhook;
use crate::provider::{
    self, Answer, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure,
    MediaFile, Provider, ProviderTemplate, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct WhatsApp;

/// WhatsApp's own limit on a text message.
pub const MAX_CHARS: usize = 4096;

const FIELDS: [SetupField; 7] = [
    SetupField::text(
        "phone_number_id",
        "Phone number ID",
        "Under WhatsApp → API Setup in Meta's developer console (digits).",
    )
    .required(),
    SetupField::text(
        "waba_id",
        "WhatsApp Business Account ID",
        "Beside the phone number ID under API Setup; its message templates are synced from it.",
    )
    .required(),
    SetupField::text(
        "access_token",
        "Access token",
        "A system user's permanent token with whatsapp_business_messaging and whatsapp_business_management.",
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

const HOOKS: [Webhook; 1] = [Webhook { name: "inbound", label: "Callback URL", about: "messages and statuses" }];

impl Provider for WhatsApp {
    fn key(&self) -> &'static str {
        "whatsapp"
    }
    fn label(&self) -> &'static str {
        "WhatsApp"
    }
    fn blurb(&self) -> &'static str {
        "through Meta's WhatsApp Cloud API"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Whatsapp]
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
        // Meta paces by its own tiers and answers 130429 when exceeded (retried).
        false
    }
    fn sender(&self, _stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        // The business number customers write to, as shown in WhatsApp.
        provider::address_sender(medium, raw)
    }
    fn has_templates(&self) -> bool {
        true
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        stored.text("phone_number_id").map(|id| format!("phone number ID {id}"))
    }
    fn webhook_help(&self) -> Option<&'static str> {
        Some(
            "In Meta's developer console, open WhatsApp → Configuration, paste this as the callback URL with the verify token you chose when adding the inbox, and subscribe to the “messages” field. Meta checks the address with a GET; messages and statuses then arrive by POST.",
        )
    }
    fn open(&self, ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let need = |name: &str, what: &str| {
            stored.text(name).map(str::to_owned).ok_or(format!("the inbox has no WhatsApp {what}"))
        };
        let cfg = WhatsAppConfig {
            graph_base: stored.text("graph_base").unwrap_or(DEFAULT_GRAPH_BASE).to_owned(),
            api_version: stored.text("api_version").unwrap_or(DEFAULT_API_VERSION).to_owned(),
            phone_number_id: need("phone_number_id", "phone number ID")?,
            waba_id: need("waba_id", "Business Account ID")?,
            access_token: need("access_token", "access token")?,
            media_policy: ctx.media_policy.clone(),
        };
        let client = WhatsAppClient::new(cfg)?;
        Ok(Arc::new(WhatsAppChannel {
            client,
            app_secret: need("app_secret", "app secret")?,
            verify_token: need("verify_token", "verify token")?,
        }))
    }
}

struct WhatsAppChannel {
    client: WhatsAppClient,
    app_secret: String,
    verify_token: String,
}

impl Channel for WhatsAppChannel {
    fn verify(&self, req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        if !HOOKS.iter().any(|h| h.name == req.hook) {
            return Err(Refusal::NotFound("no such webhook".into()));
        }
        crate::meta::check_signed(&self.app_secret, req)?;
        let cfg = self.client.config();
        let parsed = parse_webhook(req.body, &cfg.phone_number_id, self.client.api_base(), req.now)
            .map_err(|e| Refusal::BadRequest(e.0))?;
        if !parsed.ignored.is_empty() {
            // Kinds only: never the customer's number or words.
            tracing::info!(ignored = ?parsed.ignored, "WhatsApp sent things this version does not keep");
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
        // The Cloud API cannot list what was sent: a person decides.
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
                    tracing::warn!(cause = %cause, "WhatsApp could not be reached to check credentials");
                    CheckFailure::Unreachable(
                        "WhatsApp could not be reached to check these credentials. Check the Graph API address and this server's internet connection, then try again."
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

    fn templates(&self) -> BoxFuture<'_, Result<Option<Vec<ProviderTemplate>>, CheckFailure>> {
        Box::pin(async move {
            match self.client.templates().await {
                Ok(t) => Ok(Some(t)),
                Err(CredentialError::Rejected(words)) => Err(CheckFailure::Rejected(words)),
                Err(CredentialError::Unreachable(cause)) => {
                    tracing::warn!(cause = %cause, "WhatsApp's templates could not be listed");
                    Err(CheckFailure::Unreachable(
                        "WhatsApp could not be reached to list the templates; try again in a few minutes.".into(),
                    ))
                }
            }
        })
    }
}
