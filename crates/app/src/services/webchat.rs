//! The web chat widget's visitors: their token, what they send (through
//! ingest, like any provider's message), what they may read (their own
//! conversation's web messages only), and continuing by text.
//!
//! A visitor's token is `{visitor id}.{HMAC of the inbox and the id}`: random,
//! kept in the visitor's browser, and checked without a table; a forged or
//! another inbox's token names nobody.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{KeyInit, Mac};
use jiff::Timestamp;
use subtle::ConstantTimeEq;
use textdesk_channels::webchat::{KEY as WEBCHAT, WidgetSettings};
use textdesk_channels::{InboundEvent, MediaRef, provider::StoredSetup};
use textdesk_core::webchat::VisitorId;
use textdesk_core::{Address, Body, DeliveryStatus, Direction, Medium, media};
use textdesk_store::webchat::VisitorConversation;
use textdesk_store::{Inbox, IngestOutcome, Message};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::ingest::Ingested;
use crate::services::limits::Refusal;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

const WINDOW: Duration = Duration::from_secs(60);
/// New visitors per network per minute: a page load makes one at most.
pub const VISITORS_PER_MINUTE: u32 = 10;
/// Messages (and attachments) per visitor per minute: faster than anyone types.
pub const MESSAGES_PER_VISITOR: u32 = 20;
/// Messages per network per minute: an office behind one address has several visitors.
pub const MESSAGES_PER_NETWORK: u32 = 60;
const MAX_TRACKED: usize = 100_000;

/// The widget's signing key and its request budgets (on this node).
pub struct Widget {
    key: [u8; 64],
    counts: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Widget {
    pub fn new(key: &str) -> Self {
        let mut padded = [0u8; 64];
        padded[..32].copy_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        Widget { key: padded, counts: Mutex::new(HashMap::new()) }
    }

    /// An HMAC of `what` under the widget's key; each use names itself in `what`.
    pub(crate) fn mac(&self, what: &str) -> [u8; 32] {
        let mut mac = <HmacSha256 as KeyInit>::new(&self.key.into());
        mac.update(what.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn signature(&self, inbox_id: i64, visitor: &VisitorId) -> String {
        hex::encode(self.mac(&format!("webchat.{inbox_id}.{}", visitor.as_str())))
    }

    fn token(&self, inbox_id: i64, visitor: &VisitorId) -> String {
        format!("{}.{}", visitor.as_str(), self.signature(inbox_id, visitor))
    }

    /// The visitor a token names for this inbox, if it is one we gave out.
    fn visitor(&self, inbox_id: i64, token: &str) -> Option<VisitorId> {
        let (id, sig) = token.split_once('.')?;
        let visitor = VisitorId::parse(id).ok()?;
        bool::from(self.signature(inbox_id, &visitor).as_bytes().ct_eq(sig.as_bytes())).then_some(visitor)
    }

    /// Counts one request against `key`'s budget of `per_minute`.
    pub(crate) fn charge(&self, key: String, per_minute: u32, now: Instant) -> Result<(), Refusal> {
        let Ok(mut counts) = self.counts.lock() else { return Ok(()) };
        if counts.len() >= MAX_TRACKED {
            counts.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = counts.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= per_minute {
            return Err(Refusal::TooMany { retry_after: WINDOW.saturating_sub(now.duration_since(entry.0)) });
        }
        entry.1 += 1;
        Ok(())
    }
}

/// A web chat inbox with its widget's settings.
pub struct WidgetInbox {
    pub inbox: Inbox,
    pub settings: WidgetSettings,
    pub business: String,
}

/// What the widget shows besides the messages.
pub struct WidgetState {
    /// Outside business hours: the away message.
    pub away: Option<String>,
    /// Whether "continue by text" is offered.
    pub can_text: bool,
    /// After continuing by text: the number the business texts from.
    pub texting_from: Option<String>,
}

/// A message as the visitor sees it.
pub struct VisitorMessage {
    pub id: i64,
    pub from_visitor: bool,
    pub body: String,
    pub at: Timestamp,
    /// (link, content type, whether a browser shows it inline).
    pub media: Vec<(String, String, bool)>,
}

/// A visitor's attachment as uploaded.
pub struct Upload<'a> {
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// The words a visitor agrees to before their chat moves to text: recorded
/// verbatim in the consent ledger.
pub fn consent_words(business: &str, sms_number: &str) -> String {
    format!(
        "I agree that {business} may text me at this number from {sms_number} about this conversation. \
         Message and data rates may apply. Reply STOP to stop."
    )
}

impl Services {
    /// A web chat inbox by id, for anyone (the widget is public): any other
    /// inbox, or a missing one, is "not found".
    pub async fn widget_inbox(&self, inbox_id: i64) -> ServiceResult<WidgetInbox> {
        let inbox = match self.store.inbox_by_id(inbox_id).await {
            Ok(i) if i.provider == WEBCHAT => i,
            Ok(_) | Err(textdesk_store::StoreError::NotFound(_)) => return Err(ServiceError::NotFound("chat")),
            Err(e) => return Err(e.into()),
        };
        let settings = WidgetSettings::of(&StoredSetup::of(WEBCHAT, &inbox.settings, &serde_json::Value::Null))
            .map_err(|e| ServiceError::Invalid(e.0))?;
        let business = self.business_name_of(inbox.account_id).await?;
        Ok(WidgetInbox { inbox, settings, business })
    }

    /// A new visitor's token, within the network's budget.
    pub fn new_visitor(&self, w: &WidgetInbox, network: &str) -> ServiceResult<String> {
        let key = format!("visitors:{network}");
        self.widget.charge(key, VISITORS_PER_MINUTE, Instant::now()).map_err(ServiceError::Refused)?;
        Ok(self.widget.token(w.inbox.id, &VisitorId::from_bytes(rand::random())))
    }

    /// The visitor a token names, or "not found" (a forged token sees nothing).
    pub fn visitor(&self, w: &WidgetInbox, token: &str) -> ServiceResult<VisitorId> {
        self.widget.visitor(w.inbox.id, token).ok_or(ServiceError::NotFound("visitor"))
    }

    pub async fn widget_state(&self, w: &WidgetInbox, visitor: &VisitorId) -> ServiceResult<WidgetState> {
        let hours = self.hours_of(&w.inbox).await?.hours;
        let away = (!hours.is_open(Timestamp::now())).then(|| w.settings.away_message.clone());
        let conv = self.store.visitor_conversation(w.inbox.id, visitor.as_str()).await?;
        let texting_from = match conv.and_then(|c| c.moved_to) {
            Some(to) => Some(self.store.inbox_by_id(to).await?.sender),
            None => None,
        };
        Ok(WidgetState { away, can_text: self.text_inbox(w).await?.is_some(), texting_from })
    }

    /// The SMS inbox the widget hands over to, when one is set and still an
    /// SMS inbox of the same account.
    pub(crate) async fn text_inbox(&self, w: &WidgetInbox) -> ServiceResult<Option<Inbox>> {
        let Some(id) = w.settings.sms_inbox else { return Ok(None) };
        match self.store.inbox(w.inbox.account_id, id).await {
            Ok(i) if i.medium == Medium::Sms => Ok(Some(i)),
            Ok(_) | Err(textdesk_store::StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The visitor's messages after `after`, as they may see them.
    pub async fn visitor_messages(
        &self,
        w: &WidgetInbox,
        visitor: &VisitorId,
        after: i64,
    ) -> ServiceResult<Vec<VisitorMessage>> {
        let Some(VisitorConversation { conversation_id, .. }) =
            self.store.visitor_conversation(w.inbox.id, visitor.as_str()).await?
        else {
            return Ok(Vec::new());
        };
        let list = self.store.visitor_messages(conversation_id, w.inbox.id, after, 200).await?;
        Ok(list.into_iter().filter(shown_to_visitor).map(|m| self.visitor_view(m)).collect())
    }

    fn visitor_view(&self, m: Message) -> VisitorMessage {
        let expires = Timestamp::now() + jiff::SignedDuration::from_hours(12);
        VisitorMessage {
            id: m.id,
            from_visitor: m.direction == Direction::Inbound,
            body: m.body,
            at: m.created_at,
            media: m
                .media
                .iter()
                .filter(|x| x.state == textdesk_store::MediaState::Stored)
                .map(|x| {
                    let kind = x.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
                    let inline = crate::services::media::is_picture(Some(&kind));
                    (self.media.link_path(x.id, expires), kind, inline)
                })
                .collect(),
        }
    }

    /// Stores a visitor's message (and attachment) once: `client_id` names it,
    /// so a retry after a lost answer is not a second message. Returns the
    /// conversation and whether it was new.
    pub async fn visitor_says(
        &self,
        w: &WidgetInbox,
        visitor: &VisitorId,
        network: &str,
        client_id: &str,
        body: &str,
        upload: Option<Upload<'_>>,
    ) -> ServiceResult<(i64, bool)> {
        let ok_id = !client_id.is_empty()
            && client_id.len() <= 40
            && client_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok_id {
            return Err(ServiceError::Invalid("the message id is 1 to 40 letters, digits, '-' or '_'".into()));
        }
        let body = body.trim();
        if body.is_empty() && upload.is_none() {
            return Err(ServiceError::Invalid("the message is empty".into()));
        }
        if !body.is_empty() {
            Body::parse(body).map_err(|e| ServiceError::Invalid(e.0))?;
        }
        let kind = match &upload {
            Some(u) => Some(self.check_upload(u)?),
            None => None,
        };
        let now = Instant::now();
        self.widget
            .charge(format!("visitor:{}:{}", w.inbox.id, visitor.as_str()), MESSAGES_PER_VISITOR, now)
            .and_then(|()| self.widget.charge(format!("network:{network}"), MESSAGES_PER_NETWORK, now))
            .map_err(ServiceError::Refused)?;
        let from = Address::parse(Medium::Webchat, visitor.as_str()).map_err(|e| ServiceError::Invalid(e.0))?;
        let media = kind.map(|k| MediaRef { url: "webchat:upload".into(), content_type: Some(k.essence.into()) });
        let event = InboundEvent::Message {
            from,
            provider_id: format!("WV{}-{client_id}", visitor.as_str()),
            body: body.to_owned(),
            media: media.into_iter().collect(),
            received_at: Timestamp::now(),
            consent_signal: None,
        };
        match self.ingest(w.inbox.id, event).await? {
            Ingested::Message(IngestOutcome::Stored { conversation_id, message_id, .. }) => {
                if let (Some(u), Some(k)) = (upload, kind) {
                    self.keep_visitor_upload(message_id, k.essence, u.bytes).await?;
                }
                // Agents read "Web visitor 3f9a1c" rather than 32 hex digits,
                // until someone gives the contact a name.
                let name = format!("Web visitor {}", &visitor.as_str()[..6]);
                let from = Address::parse(Medium::Webchat, visitor.as_str()).map_err(|e| ServiceError::Invalid(e.0))?;
                self.ingest(w.inbox.id, InboundEvent::Profile { from, name }).await?;
                Ok((conversation_id, true))
            }
            Ingested::Message(IngestOutcome::Duplicate { conversation_id, .. }) => Ok((conversation_id, false)),
            Ingested::Status { .. } | Ingested::Profile { .. } | Ingested::PhoneShared { .. } => {
                Err(ServiceError::Invalid("expected a message".into()))
            }
        }
    }

    /// The media store's own checks: size, allowed type, and content matching it.
    fn check_upload(&self, u: &Upload<'_>) -> ServiceResult<&'static media::FileKind> {
        if u.bytes.is_empty() {
            return Err(ServiceError::Invalid("the file is empty".into()));
        }
        if u.bytes.len() as u64 > self.media.max_bytes {
            return Err(ServiceError::Invalid(format!(
                "the file is larger than {}, the most a file may be",
                crate::services::media::human_size(self.media.max_bytes)
            )));
        }
        media::check(u.content_type, u.bytes).map_err(|refused| ServiceError::Invalid(refused.to_string()))
    }

    /// The SMS inbox's number and the words a visitor would agree to.
    pub async fn text_offer(&self, w: &WidgetInbox) -> ServiceResult<Option<(String, String)>> {
        Ok(self.text_inbox(w).await?.map(|sms| (consent_words(&w.business, &sms.sender), sms.sender)))
    }
}

impl Services {
    /// Event ids that changed the visitor's conversation, as they happen. A
    /// customer's new message elsewhere in the account makes it look again,
    /// in case the visitor's next message started a new conversation.
    pub async fn visitor_updates(
        &self,
        w: &WidgetInbox,
        visitor: VisitorId,
    ) -> ServiceResult<impl futures_util::Stream<Item = i64> + Send + use<>> {
        use futures_util::StreamExt;
        let inbox_id = w.inbox.id;
        let known = self.store.visitor_conversation(inbox_id, visitor.as_str()).await?.map(|c| c.conversation_id);
        let known = std::sync::Arc::new(Mutex::new(known));
        let (_, stream) = self.follow_events(w.inbox.account_id, None).await;
        let services = self.clone();
        Ok(stream.filter_map(move |live| {
            let (services, known, visitor) = (services.clone(), known.clone(), visitor.clone());
            async move {
                let ev = match live {
                    textdesk_store::Live::Event(ev) => ev,
                    textdesk_store::Live::Resync { last_id } => return Some(last_id),
                };
                let current = known.lock().ok().and_then(|k| *k);
                if current == Some(ev.conversation_id) {
                    return Some(ev.id);
                }
                if !(ev.inbound && ev.kind == "message.created") {
                    return None;
                }
                let found = services.store.visitor_conversation(inbox_id, visitor.as_str()).await.ok()??;
                if let Ok(mut k) = known.lock() {
                    *k = Some(found.conversation_id);
                }
                (found.conversation_id == ev.conversation_id).then_some(ev.id)
            }
        }))
    }
}

/// The "text us" page of an inbox: the business and the number to text.
pub struct TextUs {
    pub business: String,
    pub number: String,
}

/// A QR code that opens a new text to `number` (an `sms:` URI), as SVG.
pub fn sms_qr_svg(number: &str) -> ServiceResult<String> {
    let code = qrcode::QrCode::with_error_correction_level(format!("sms:{number}"), qrcode::EcLevel::M)
        .map_err(|e| ServiceError::Invalid(format!("no QR code for that number: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

impl Services {
    /// What the "text us" page of an inbox shows: an SMS inbox's own number,
    /// or a web chat's "continue by text" number. Other inboxes have none.
    pub async fn text_us(&self, inbox_id: i64) -> ServiceResult<TextUs> {
        let inbox = match self.store.inbox_by_id(inbox_id).await {
            Ok(i) => i,
            Err(textdesk_store::StoreError::NotFound(_)) => return Err(ServiceError::NotFound("text us page")),
            Err(e) => return Err(e.into()),
        };
        let sms = if inbox.medium == Medium::Sms {
            Some(inbox.clone())
        } else if inbox.provider == WEBCHAT {
            self.text_inbox(&self.widget_inbox(inbox_id).await?).await?
        } else {
            None
        };
        let sms = sms.ok_or(ServiceError::NotFound("text us page"))?;
        Ok(TextUs { business: self.business_name_of(inbox.account_id).await?, number: sms.sender })
    }
}

/// The visitor sees what they wrote and what was sent to them; never what is
/// waiting, was blocked or failed.
fn shown_to_visitor(m: &Message) -> bool {
    m.direction == Direction::Inbound
        || matches!(m.status, DeliveryStatus::Sent | DeliveryStatus::Delivered | DeliveryStatus::Read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_name_their_visitor_for_their_inbox_only() {
        let w = Widget::new("k");
        let v = VisitorId::from_bytes([7; 16]);
        let t = w.token(3, &v);
        assert_eq!(w.visitor(3, &t), Some(v.clone()));
        assert_eq!(w.visitor(4, &t), None, "another inbox's token");
        assert_eq!(Widget::new("other").visitor(3, &t), None, "another server's key");
        let forged = format!("{}.{}", VisitorId::from_bytes([8; 16]).as_str(), t.split_once('.').unwrap().1);
        assert_eq!(w.visitor(3, &forged), None);
        assert_eq!(w.visitor(3, "nonsense"), None);
    }

    #[test]
    fn budgets_refuse_then_recover() {
        let w = Widget::new("k");
        let t0 = Instant::now();
        for _ in 0..3 {
            w.charge("a".into(), 3, t0).unwrap();
        }
        assert!(matches!(w.charge("a".into(), 3, t0), Err(Refusal::TooMany { .. })));
        assert!(w.charge("b".into(), 3, t0).is_ok());
        assert!(w.charge("a".into(), 3, t0 + WINDOW).is_ok());
    }
}
