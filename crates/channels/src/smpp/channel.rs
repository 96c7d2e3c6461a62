//! SMPP as a provider: a direct bind to an SMSC. Nothing arrives over
//! webhooks; a server keeps the link open (`Channel::listen`) and what the
//! SMSC delivers comes out of it.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use textdesk_core::{Capabilities, Medium};
use tokio::sync::mpsc;

use super::session::{self, LinkState, SmppConfig, SmppLink, SmppPassword};
use crate::provider::{
    self, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, SendError};

pub struct Smpp;

/// Source TON 5: the sender is a name (alphanumeric), not a number.
const ALPHANUMERIC: i64 = 5;

const FIELDS: [SetupField; 19] = [
    SetupField::text("host", "Host", "The SMSC's name or IP address, from your aggregator.").required(),
    SetupField::text("port", "Port", "The SMSC's port.").whole(1, 65535).default("2775"),
    SetupField::text("tls", "Use TLS", "Connect with TLS (ask the aggregator whether it offers it).").flag(),
    SetupField::text("system_id", "System ID", "The account name the SMSC knows you by (up to 15 characters).")
        .required(),
    SetupField::text("password", "Password", "The bind password (up to 8 characters, as SMPP 3.4 allows).").secret(),
    SetupField::text("system_type", "System type", "Only if the aggregator asks for one.").advanced(),
    SetupField::text("source_ton", "Source TON", "1 for a number in international form, 5 for a name as sender.")
        .whole(0, 6)
        .default("1"),
    SetupField::text("source_npi", "Source NPI", "The sender's numbering plan: 1 is E.164.").whole(0, 18).default("1"),
    SetupField::text("dest_ton", "Destination TON", "The customers' numbers' type: 1 is international.")
        .whole(0, 6)
        .default("1")
        .advanced(),
    SetupField::text("dest_npi", "Destination NPI", "The customers' numbering plan: 1 is E.164.")
        .whole(0, 18)
        .default("1")
        .advanced(),
    SetupField::text("window", "Window", "Messages sent before their answers arrive.").whole(1, 1000).default("10"),
    SetupField::text("max_per_second", "Throughput", "Message parts a second the SMSC allows.").decimal().default("10"),
    SetupField::text("enquire_link_every", "Keep-alive", "Seconds between enquire_link checks of the connection.")
        .decimal()
        .default("30")
        .advanced(),
    SetupField::text(
        "gsm7_packed",
        "Packed GSM 7-bit",
        "Whether the SMSC wants GSM text packed 8 characters to 7 bytes.",
    )
    .flag()
    .advanced(),
    SetupField::text("response_timeout", "Response timeout", "Seconds to wait for the SMSC's answer to each request.")
        .decimal()
        .default("10")
        .advanced(),
    SetupField::text("reconnect_min", "First reconnect", "Seconds before the first try to reconnect after a drop.")
        .decimal()
        .default("1")
        .advanced(),
    SetupField::text("reconnect_max", "Longest reconnect", "Seconds between tries to reconnect, at most.")
        .decimal()
        .default("60")
        .advanced(),
    SetupField::text(
        "throttle_backoff",
        "Throttle pause",
        "Seconds sending pauses when the SMSC says it is throttling.",
    )
    .decimal()
    .default("1")
    .advanced(),
    SetupField::text(
        "reassembly_timeout",
        "Long text wait",
        "Seconds the parts of a long incoming text wait for the rest.",
    )
    .decimal()
    .default("300")
    .advanced(),
];

fn config(stored: &StoredSetup) -> Result<SmppConfig, String> {
    let mut cfg: SmppConfig = serde_json::from_value(Value::Object(stored.settings.clone()))
        .map_err(|e| format!("the inbox's SMPP settings: {e}"))?;
    cfg.password = SmppPassword::new(stored.text("password").unwrap_or_default());
    cfg.validate()?;
    Ok(cfg)
}

impl Provider for Smpp {
    fn key(&self) -> &'static str {
        "smpp"
    }
    fn label(&self) -> &'static str {
        "SMPP"
    }
    fn blurb(&self) -> &'static str {
        "direct to an SMSC"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Sms]
    }
    fn capabilities(&self, _medium: Medium) -> Capabilities {
        Capabilities {
            media: false,
            max_chars: textdesk_core::Body::MAX_CHARS,
            reply_window: None,
            human_agent_window: None,
            delivery_receipts: true,
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
        true
    }
    fn metered(&self) -> bool {
        true
    }
    fn sender(&self, stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        if stored.settings.get("source_ton").and_then(Value::as_i64) == Some(ALPHANUMERIC) {
            let name = raw.trim();
            if name.is_empty()
                || name.chars().count() > 11
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            {
                return Err("a sender name is 1 to 11 letters, digits or spaces".into());
            }
            return Ok(name.to_owned());
        }
        provider::address_sender(medium, raw)
    }
    fn summary(&self, stored: &StoredSetup) -> Option<String> {
        let port = stored.settings.get("port").and_then(Value::as_u64).unwrap_or(2775);
        stored.text("host").map(|h| format!("{h}:{port}"))
    }
    fn open(&self, _ctx: &Context<'_>, stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        Ok(Arc::new(SmppChannel { cfg: config(stored)?, link: Mutex::new(None) }))
    }
}

struct SmppChannel {
    cfg: SmppConfig,
    /// Started by `listen`, on a server only.
    link: Mutex<Option<SmppLink>>,
}

impl SmppChannel {
    fn running(&self) -> Option<SmppLink> {
        self.link.lock().ok().and_then(|l| l.clone())
    }
}

impl Channel for SmppChannel {
    fn verify(&self, _req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        Err(Refusal::NotFound("SMPP delivers over its own connection, not a webhook".into()))
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(async move {
            match self.running() {
                Some(link) => link.send(msg).await,
                None => Err(SendError::Retryable("the SMPP link of this inbox is not running".into())),
            }
        })
    }

    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // SMPP has no lookup by content: an interrupted send is shown to a person.
        Box::pin(async { FindSent::Unsupported })
    }

    fn fetch_media<'a>(&'a self, _url: &'a str, _max: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        let failure = MediaFailure { reason: "SMPP carries text only".into(), retryable: false };
        Box::pin(async { Err(failure) })
    }

    fn check_credentials(&self) -> BoxFuture<'_, Result<(), CheckFailure>> {
        Box::pin(async move {
            session::check(&self.cfg).await.map_err(|(plain, cause)| {
                tracing::warn!(cause = %cause, "an SMPP bind check failed");
                plain
            })
        })
    }

    fn listen(&self) -> Result<Option<mpsc::Receiver<InboundEvent>>, String> {
        let mut slot = self.link.lock().map_err(|_| "the SMPP link's lock is poisoned".to_owned())?;
        if slot.is_some() {
            return Ok(None);
        }
        let (link, events) = SmppLink::start(self.cfg.clone())?;
        *slot = Some(link);
        Ok(Some(events))
    }

    fn link(&self) -> Option<(String, bool)> {
        let state = self.running().map(|l| l.state()).unwrap_or(LinkState::Stopped);
        Some((state.as_str().to_owned(), state.is_bound()))
    }
}
