//! The built-in phone simulator: a carrier that lives inside the process. It
//! is a channel like any other: inbound texts are parsed here and go through
//! ingest, outbound ones are "sent" here and their delivery reports come back
//! through ingest, so demos and tests exercise the real path.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;
use textdesk_core::{Address, Capabilities, DeliveryStatus, Medium};
use tokio::sync::mpsc;

use crate::provider::{
    self, BoxFuture, Channel, CheckFailure, Context, FindSent, Inbound, InboundRequest, MediaFailure, MediaFile,
    Provider, Refusal, SentQuery, SetupField, StoredSetup, Webhook,
};
use crate::{Accepted, InboundEvent, Outgoing, ParseError, ProviderError, SendError};

/// A text typed on a simulated phone.
#[derive(Debug, Deserialize)]
pub struct PhoneText {
    pub from: String,
    pub body: String,
    /// Lets a test replay the same message, as a provider's retry would.
    #[serde(default)]
    pub id: Option<String>,
}

pub fn parse_inbound(text: PhoneText, now: Timestamp) -> Result<InboundEvent, ParseError> {
    let from = Address::parse(Medium::Sms, &text.from).map_err(|e| ParseError(e.0))?;
    if text.body.trim().is_empty() {
        return Err(ParseError("the text is empty".into()));
    }
    if text.body.chars().count() > 1600 {
        return Err(ParseError("a text has at most 1600 characters".into()));
    }
    let provider_id = match text.id {
        Some(id)
            if !id.is_empty()
                && id.len() <= 64
                && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
        {
            id
        }
        Some(_) => return Err(ParseError("the id is 1 to 64 letters, digits, '-' or '_'".into())),
        None => new_id("SM"),
    };
    Ok(InboundEvent::Message {
        from,
        provider_id,
        body: text.body,
        media: Vec::new(),
        received_at: now,
        consent_signal: None,
    })
}

pub(crate) fn new_id(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}{:016x}{n:08x}", rand::random::<u64>())
}

/// A delivery report from the simulated carrier, for `inbox_id`.
#[derive(Debug, Clone)]
pub struct Report {
    pub inbox_id: i64,
    pub event: InboundEvent,
}

/// The simulated carrier. Accepts every message to a valid number and reports
/// it delivered after `delivery_delay`; numbers ending in 0000 are unreachable
/// so the failure path can be shown too.
#[derive(Clone)]
pub struct Carrier {
    reports: mpsc::UnboundedSender<Report>,
    delivery_delay: Duration,
    accepted: Arc<AtomicU64>,
    /// Calls ringing or going on simulated phones (`simulator_voice`).
    pub(crate) calls: Arc<std::sync::Mutex<Vec<crate::simulator_voice::SimCall>>>,
}

impl Carrier {
    pub fn new(delivery_delay: Duration) -> (Self, mpsc::UnboundedReceiver<Report>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Carrier { reports: tx, delivery_delay, accepted: Default::default(), calls: Default::default() }, rx)
    }

    /// How many messages this carrier has accepted: what a real carrier would bill.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    pub async fn send(&self, inbox_id: i64, msg: &Outgoing) -> Result<Accepted, SendError> {
        let to = Address::parse(Medium::Sms, &msg.to).map_err(|e| SendError::Permanent(e.0))?;
        let id = new_id("SIM");
        self.accepted.fetch_add(1, Ordering::Relaxed);
        let unreachable = to.value().ends_with("0000");
        let (status, error) = if unreachable {
            (
                DeliveryStatus::Undelivered,
                Some(ProviderError {
                    code: None,
                    explanation: "The simulated phone is switched off (numbers ending in 0000 never receive)."
                        .to_owned(),
                    recipient_opted_out: false,
                }),
            )
        } else {
            (DeliveryStatus::Delivered, None)
        };
        let tx = self.reports.clone();
        let delay = self.delivery_delay;
        let provider_id = id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let _ = tx.send(Report { inbox_id, event: InboundEvent::Status { provider_id, status, error } });
        });
        Ok(Accepted::one(id))
    }
}

/// The simulator as a provider: texts come from the simulator page (not a
/// webhook), replies go to the in-process `Carrier` the app registers in the
/// providers' resources.
pub struct Simulator;

impl Provider for Simulator {
    fn key(&self) -> &'static str {
        "simulator"
    }
    fn label(&self) -> &'static str {
        "Simulator"
    }
    fn blurb(&self) -> &'static str {
        "a phone in the browser, for demos and tests"
    }
    fn media(&self) -> &'static [Medium] {
        &[Medium::Sms]
    }
    fn capabilities(&self, _medium: Medium) -> Capabilities {
        Capabilities {
            media: true,
            max_chars: textdesk_core::Body::MAX_CHARS,
            reply_window: None,
            human_agent_window: None,
            delivery_receipts: true,
            read_receipts: false,
        }
    }
    fn setup(&self) -> &'static [SetupField] {
        &[]
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
    fn voice(&self) -> bool {
        true
    }
    fn sender(&self, _stored: &StoredSetup, medium: Medium, raw: &str) -> Result<String, String> {
        provider::address_sender(medium, raw)
    }
    fn summary(&self, _stored: &StoredSetup) -> Option<String> {
        None
    }
    fn open(&self, ctx: &Context<'_>, _stored: &StoredSetup) -> Result<Arc<dyn Channel>, String> {
        let carrier = ctx.resources.get::<Carrier>().ok_or("the phone simulator is not running in this process")?;
        Ok(Arc::new(SimulatedChannel { inbox_id: ctx.inbox_id, carrier: carrier.clone() }))
    }
}

pub(crate) struct SimulatedChannel {
    pub(crate) inbox_id: i64,
    pub(crate) carrier: Carrier,
}

impl Channel for SimulatedChannel {
    fn verify(&self, _req: &InboundRequest<'_>) -> Result<Inbound, Refusal> {
        Err(Refusal::NotFound("the simulator's texts come from its page, not a webhook".into()))
    }
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Accepted, SendError>> {
        Box::pin(self.carrier.send(self.inbox_id, msg))
    }
    fn find_sent<'a>(&'a self, _q: SentQuery<'a>) -> BoxFuture<'a, FindSent> {
        // The simulated carrier dies with the process that held it.
        Box::pin(async { FindSent::Unsupported })
    }
    fn fetch_media<'a>(&'a self, _url: &'a str, _max: u64) -> BoxFuture<'a, Result<MediaFile, MediaFailure>> {
        let failure = MediaFailure { reason: "the simulator sends no attachments".into(), retryable: false };
        Box::pin(async { Err(failure) })
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
    fn voice(&self) -> Option<&dyn crate::voice::Voice> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_phone_text() {
        let ev = parse_inbound(
            PhoneText { from: "+1 415 555 2671".into(), body: "Hi".into(), id: Some("abc-1".into()) },
            Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        match ev {
            InboundEvent::Message { from, provider_id, body, .. } => {
                assert_eq!(from.value(), "+14155552671");
                assert_eq!(provider_id, "abc-1");
                assert_eq!(body, "Hi");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_texts() {
        let t = |from: &str, body: &str, id: Option<&str>| {
            parse_inbound(
                PhoneText { from: from.into(), body: body.into(), id: id.map(Into::into) },
                Timestamp::UNIX_EPOCH,
            )
        };
        assert!(t("nope", "Hi", None).is_err());
        assert!(t("+14155552671", "  ", None).is_err());
        assert!(t("+14155552671", &"x".repeat(1601), None).is_err());
        assert!(t("+14155552671", "Hi", Some("../etc")).is_err());
    }

    #[tokio::test]
    async fn reports_delivery_after_sending() {
        let (carrier, mut rx) = Carrier::new(Duration::from_millis(1));
        let id = carrier
            .send(
                7,
                &Outgoing {
                    from: "+14155550100".into(),
                    to: "+14155552671".into(),
                    body: "Hello".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let r = rx.recv().await.unwrap();
        assert_eq!(r.inbox_id, 7);
        assert_eq!(
            r.event,
            InboundEvent::Status {
                provider_id: id.provider_ids[0].clone(),
                status: DeliveryStatus::Delivered,
                error: None
            }
        );
        let bad = carrier
            .send(7, &Outgoing { from: "x".into(), to: "12".into(), body: "Hello".into(), ..Default::default() })
            .await;
        assert!(matches!(bad, Err(SendError::Permanent(_))));
    }
}
