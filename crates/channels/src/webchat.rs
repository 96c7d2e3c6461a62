//! The web chat widget as a provider. Its "provider" is textdesk itself: a
//! visitor's messages come from the widget's own endpoints (not a webhook)
//! and go through ingest like any other; a reply is "sent" by being stored,
//! and the visitor's open widget reads it from its live stream. Its setup
//! fields are the widget's look and where it may be embedded.

use std::sync::Arc;

use textdesk_core::webchat::{AllowedSites, WidgetColour, WidgetPosition};
use textdesk_core::{Body, Capabilities, Invalid, Medium};
use tokio::sync::mpsc;

use crate::provider::{
    BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile, Provider,
    Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

/// The provider key, also the `webchat` identity namespace's medium.
pub const KEY: &str = "webchat";

pub const DEFAULT_GREETING: &str = "Hi! How can we help? We usually answer within a few minutes.";
pub const DEFAULT_AWAY: &str = "We're away right now. Leave a message and we'll answer when we're back.";

static FIELDS: [SetupField; 6] = [
    SetupField::text("greeting", "Greeting", "The first thing a visitor reads when they open the chat.")
        .default(DEFAULT_GREETING),
    SetupField::text(
        "allowed_sites",
        "Sites that may show the widget",
        "Your site's address, such as https://shop.example (several separated by spaces). Other sites cannot embed it.",
    ),
    SetupField::text("colour", "Colour", "The bubble's and header's colour, as #rrggbb.").default("#1f5fbf"),
    SetupField::text("position", "Position", "The bottom corner the bubble sits in: right or left.").default("right"),
    SetupField::text("away_message", "Away message", "Shown in the widget outside the inbox's business hours.")
        .default(DEFAULT_AWAY),
    SetupField::text(
        "sms_inbox",
        "Continue by text through",
        "The id of the SMS inbox a visitor's conversation moves to when they leave their number. Empty: the widget does not offer it.",
    )
    .whole(1, i64::MAX),
];

/// The widget's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct WidgetSettings {
    pub greeting: String,
    pub allowed_sites: AllowedSites,
    pub colour: WidgetColour,
    pub position: WidgetPosition,
    pub away_message: String,
    pub sms_inbox: Option<i64>,
}

impl WidgetSettings {
    pub fn of(stored: &StoredSetup) -> Result<Self, Invalid> {
        let text = |name: &str, default: &str| -> Result<String, Invalid> {
            let t = stored.text(name).unwrap_or(default).trim().to_owned();
            Body::parse(&t).map_err(|e| Invalid::new(format!("{name}: {e}")))?;
            Ok(t)
        };
        Ok(WidgetSettings {
            greeting: text("greeting", DEFAULT_GREETING)?,
            allowed_sites: AllowedSites::parse(stored.text("allowed_sites").unwrap_or(""))?,
            colour: match stored.text("colour") {
                Some(c) => WidgetColour::parse(c)?,
                None => WidgetColour::default(),
            },
            position: match stored.text("position") {
                Some(p) => WidgetPosition::parse(p)?,
                None => WidgetPosition::default(),
            },
            away_message: text("away_message", DEFAULT_AWAY)?,
            sms_inbox: match stored.settings.get("sms_inbox") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(
                    v.as_i64().filter(|n| *n > 0).ok_or_else(|| Invalid::new("sms_inbox: the id of an SMS inbox"))?,
                ),
            },
        })
    }
}

/// The web chat widget.
pub struct Webchat;

impl Provider for Webchat {
    fn key(&self) -> &'static str {
        KEY
    }
    fn label(&self) -> &'static str {
        "Web chat"
    }
    fn blurb(&self) -> &'static str {
        "a chat bubble on your own site, which can continue by text"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Webchat]
    }
    fn capabilities(&self, _medium: Medium) -> Capabilities {
        Capabilities {
            media: true,
            max_chars: Body::MAX_CHARS,
            reply_window: None,
            human_agent_window: None,
            delivery_receipts: false,
            read_receipts: false,
        }
    }
    fn setup(&self) -> &'static [SetupField] {
        &FIELDS
    }
    fn webhooks(&self) -> &'static [Webhook] {
        &[]
    }
    fn keeps_connection(&self) -> bool {
        false
    }
    fn metered(&self) -> bool {
        false
    }
    /// The inbox's "number" is the name visitors see in the widget's header.
    fn sender(&self, _stored: &StoredSetup, _medium: Medium, raw: &str) -> Result<String, String> {
        let v = raw.trim();
        if v.is_empty() || v.chars().count() > 80 || v.chars().any(char::is_control) {
            return Err("the name visitors see is 1 to 80 characters".into());
        }
        Ok(v.to_owned())
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        let s = WidgetSettings::of(stored).ok()?;
        let sites: Vec<&str> = s.allowed_sites.iter().map(|o| o.as_str()).collect();
        Some(if sites.is_empty() { "no site allowed yet".into() } else { format!("on {}", sites.join(", ")) })
    }
    fn open(&self, _ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        WidgetSettings::of(stored).map_err(|e| e.0)?;
        Ok(Arc::new(WebchatChannel))
    }
}

struct WebchatChannel;

impl Channel for WebchatChannel {
    fn verify(&self, _req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        Err(Refusal::NotFound("web chat messages come from the widget, not a webhook".into()))
    }
    /// Stored is delivered: the visitor's widget reads the reply from its stream.
    fn send<'a>(&'a self, _msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        let id = format!("WC{}", hex::encode(rand::random::<[u8; 12]>()));
        Box::pin(async move { Ok(Accepted::one(id)) })
    }
    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        Box::pin(async { FindSent::Unsupported })
    }
    /// A visitor's upload is written to the media store by the widget's
    /// endpoint right after ingest; a fetch round that claims it first waits.
    fn fetch_media<'a>(&'a self, _url: &'a str, _max: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        let wait = MediaFailure { reason: "the visitor's upload is being stored".into(), retryable: true };
        Box::pin(async { Err(wait) })
    }
    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async { Ok(()) })
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
    use serde_json::json;

    fn stored(v: serde_json::Value) -> StoredSetup {
        StoredSetup { settings: v.as_object().cloned().unwrap_or_default(), secrets: Default::default() }
    }

    #[test]
    fn settings_default_and_are_checked() {
        let s = WidgetSettings::of(&stored(json!({}))).unwrap();
        assert_eq!(s.greeting, DEFAULT_GREETING);
        assert!(s.allowed_sites.is_empty() && s.sms_inbox.is_none());
        let s = WidgetSettings::of(&stored(
            json!({"allowed_sites": "https://shop.example", "colour": "#00AA00", "position": "left", "sms_inbox": 4}),
        ))
        .unwrap();
        assert!(s.allowed_sites.allows("https://shop.example"));
        assert_eq!((s.colour.as_str(), s.position, s.sms_inbox), ("#00aa00", WidgetPosition::Left, Some(4)));
        assert!(WidgetSettings::of(&stored(json!({"colour": "red"}))).is_err());
        assert!(WidgetSettings::of(&stored(json!({"sms_inbox": "4"}))).is_err());
        assert!(WidgetSettings::of(&stored(json!({"allowed_sites": "https://x.example/path"}))).is_err());
        assert!(Webchat.open(&ctx(), &stored(json!({"position": "top"}))).is_err());
    }

    fn ctx() -> Context<'static> {
        static EXT: std::sync::OnceLock<http::Extensions> = std::sync::OnceLock::new();
        static POLICY: std::sync::OnceLock<crate::net::FetchPolicy> = std::sync::OnceLock::new();
        Context {
            inbox_id: 1,
            public_url: "https://desk.example",
            resources: EXT.get_or_init(http::Extensions::new),
            media_policy: POLICY.get_or_init(Default::default),
        }
    }

    #[tokio::test]
    async fn a_reply_is_accepted_and_nothing_is_fetched() {
        let c = Webchat.open(&ctx(), &stored(json!({}))).unwrap();
        let a = c.send(&Outgoing { body: "Hi".into(), ..Default::default() }).await.unwrap();
        assert!(a.provider_ids[0].starts_with("WC"));
        assert!(c.fetch_media("x", 10).await.unwrap_err().retryable);
        assert_eq!(Webchat.sender(&stored(json!({})), Medium::Webchat, " Acme "), Ok("Acme".into()));
        assert!(Webchat.sender(&stored(json!({})), Medium::Webchat, "").is_err());
    }
}
