//! Business hours at work: the reply a customer gets when they write while the
//! inbox is closed (naming the next opening in their own zone, once per closed
//! period, never to a keyword), and the holding message when an open
//! conversation has waited too long, counted in business time, for a person.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use textdesk_core::gate::OutboundKind;
use textdesk_core::hours::{BusinessHours, HoursSettings, describe_opening};
use textdesk_core::template::{Template, Vars};
use textdesk_core::{Body, Invalid};
use textdesk_store::{Inbox, NewOutbound, Occasion, OutboundOutcome, StoreError};

use crate::services::Services;

/// `settings.off_hours_reply` of an inbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OffHoursReply {
    pub enabled: bool,
    /// A canned-response template; `{next_open}` is the next opening in the customer's zone.
    pub text: Option<String>,
}

impl Default for OffHoursReply {
    fn default() -> Self {
        OffHoursReply { enabled: true, text: None }
    }
}

/// `settings.acknowledge` of an inbox: off unless `after_minutes` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Acknowledge {
    /// Minutes of business time an open conversation may wait for a person.
    pub after_minutes: Option<u32>,
    pub text: Option<String>,
}

pub const DEFAULT_OFF_HOURS: &str =
    "Hi {contact.first_name}, thanks for your message. Someone from our team will reply by {next_open}.";
pub const DEFAULT_ACKNOWLEDGE: &str =
    "Thanks for waiting. We have your message and someone from our team will be with you shortly.";

/// An inbox's hours and automatic replies, read from its settings.
#[derive(Debug, Clone)]
pub struct InboxHours {
    pub hours: BusinessHours,
    pub off_hours: OffHoursReply,
    pub acknowledge: Acknowledge,
}

impl InboxHours {
    /// Checked when an admin saves the settings; the error names the bad entry.
    pub fn parse(settings: &serde_json::Value, business_zone: &TimeZone) -> Result<Self, Invalid> {
        fn part<T: for<'de> Deserialize<'de> + Default>(v: &serde_json::Value, key: &str) -> Result<T, Invalid> {
            match v.get(key) {
                None | Some(serde_json::Value::Null) => Ok(T::default()),
                Some(x) => serde_json::from_value(x.clone()).map_err(|e| Invalid::new(format!("{key}: {e}"))),
            }
        }
        let hours: HoursSettings = part(settings, "hours")?;
        let off_hours: OffHoursReply = part(settings, "off_hours_reply")?;
        let acknowledge: Acknowledge = part(settings, "acknowledge")?;
        for (key, text) in [("off_hours_reply.text", &off_hours.text), ("acknowledge.text", &acknowledge.text)] {
            if let Some(t) = text {
                Body::parse(t).map_err(|e| Invalid::new(format!("{key}: {e}")))?;
                Template::parse(t).map_err(|e| Invalid::new(format!("{key}: {e}")))?;
            }
        }
        if acknowledge.after_minutes.is_some_and(|m| m == 0 || m > 7 * 24 * 60) {
            return Err(Invalid::new("acknowledge.after_minutes: between 1 and 10080 (a week)"));
        }
        Ok(InboxHours { hours: hours.resolve(business_zone)?, off_hours, acknowledge })
    }

    /// The inbox's, or "always open, no automatic replies" if its settings no
    /// longer parse (they are checked on save, so only a hand-edited row gets here).
    pub fn of(inbox: &Inbox, business_zone: &TimeZone) -> Self {
        Self::parse(&inbox.settings, business_zone).unwrap_or_else(|e| {
            tracing::warn!(inbox = inbox.id, error = %e, "inbox hours settings are invalid; treating it as always open");
            InboxHours {
                hours: BusinessHours::always_open(business_zone.clone()),
                off_hours: OffHoursReply { enabled: false, text: None },
                acknowledge: Acknowledge::default(),
            }
        })
    }
}

impl Services {
    fn hours_of(&self, inbox: &Inbox) -> InboxHours {
        InboxHours::of(inbox, &self.timing.fallback_zone)
    }

    /// The customer's name and zone for a conversation.
    async fn customer(&self, account_id: i64, conversation_id: i64) -> Result<(String, TimeZone), StoreError> {
        let summary = self.store.conversation_summary(account_id, conversation_id).await?;
        let contact = self.store.contact(account_id, summary.conversation.contact_id).await?;
        let zone = self.timing.zone_for(contact.time_zone.as_deref(), &summary.contact_address);
        Ok((contact.name, zone))
    }

    /// "8:00 AM EST tomorrow" for this conversation's customer while the inbox
    /// is closed; None while it is open or when it never opens.
    pub async fn next_open_for(
        &self,
        inbox: &Inbox,
        account_id: i64,
        conversation_id: i64,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let hours = self.hours_of(inbox).hours;
        if hours.is_open(now) {
            return Ok(None);
        }
        let Some(opening) = hours.next_opening(now) else { return Ok(None) };
        let (_, zone) = self.customer(account_id, conversation_id).await?;
        Ok(Some(describe_opening(opening, &zone, now)))
    }

    /// After a customer's text (not a keyword) arrives while the inbox is closed:
    /// one reply per closed period naming when someone will answer.
    pub async fn off_hours_reply(
        &self,
        inbox: &Inbox,
        account_id: i64,
        conversation_id: i64,
        at: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let h = self.hours_of(inbox);
        if !h.off_hours.enabled || h.hours.is_open(at) {
            return Ok(None);
        }
        // A business that never opens again has nothing honest to promise.
        let Some(opening) = h.hours.next_opening(at) else { return Ok(None) };
        let (name, zone) = self.customer(account_id, conversation_id).await?;
        let template = h.off_hours.text.as_deref().unwrap_or(DEFAULT_OFF_HOURS);
        let text = self.fill(template, &name, Some(describe_opening(opening, &zone, at)))?;
        self.automatic(Occasion::OffHours, opening, account_id, conversation_id, &text, at).await
    }

    /// Sends the holding message to every open conversation that has waited
    /// `after_minutes` of business time for a person, once per wait. Run by the
    /// housekeeping loop; `now` is a parameter so tests can move the clock.
    pub async fn acknowledge_waiting_at(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut sent = 0;
        let Some(account) = self.store.first_account().await? else { return Ok(0) };
        for inbox in self.store.inboxes(account.id).await? {
            let h = self.hours_of(&inbox);
            let Some(minutes) = h.acknowledge.after_minutes else { continue };
            if !h.hours.is_open(now) {
                continue;
            }
            let after = SignedDuration::from_mins(minutes.into());
            for w in self.store.unacknowledged_waits(inbox.id, now - after, 200).await? {
                if h.hours.open_time_between(w.waiting_since, now) < after {
                    continue;
                }
                let (name, _) = self.customer(w.account_id, w.conversation_id).await?;
                let text = self.fill(h.acknowledge.text.as_deref().unwrap_or(DEFAULT_ACKNOWLEDGE), &name, None)?;
                let id = self.automatic(
                    Occasion::Acknowledgement,
                    w.waiting_since,
                    w.account_id,
                    w.conversation_id,
                    &text,
                    now,
                );
                if id.await?.is_some() {
                    sent += 1;
                }
            }
        }
        Ok(sent)
    }

    /// An automatic reply's text: a canned-response template, signed by no agent.
    fn fill(&self, template: &str, contact_name: &str, next_open: Option<String>) -> Result<String, StoreError> {
        let vars = Vars::new(contact_name, "", &self.business_name, next_open);
        Ok(Template::parse(template)?.render(&vars).text)
    }

    /// An automatic reply in a conversation, once per `occasion`/`key`.
    async fn automatic(
        &self,
        occasion: Occasion,
        key: Timestamp,
        account_id: i64,
        conversation_id: i64,
        text: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let body = Body::parse(text.trim())?;
        let timing = self.clock_at(account_id, conversation_id, now).await?;
        let (_, channel) = self.conversation_channel(account_id, conversation_id).await?;
        let new = NewOutbound {
            account_id,
            conversation_id,
            author_id: None,
            body,
            private: false,
            kind: OutboundKind::Reply,
            now,
            timing: Some(timing),
            channel,
            send_at: None,
            media: Vec::new(),
        };
        match self.store.send_once(occasion, key, new).await? {
            Some(OutboundOutcome::Stored(m)) => Ok(Some(m.id)),
            Some(OutboundOutcome::Blocked(_)) | None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(n: &str) -> TimeZone {
        TimeZone::get(n).unwrap()
    }

    #[test]
    fn settings_are_checked_and_name_the_bad_entry() {
        let la = tz("America/Los_Angeles");
        let ok = serde_json::json!({
            "hours": { "weekly": { "mon": ["08:00-17:00"] }, "holidays": ["2026-12-25"] },
            "off_hours_reply": { "text": "Closed now; back {next_open}." },
            "acknowledge": { "after_minutes": 15 }
        });
        let h = InboxHours::parse(&ok, &la).unwrap();
        assert!(h.off_hours.enabled);
        assert_eq!(h.acknowledge.after_minutes, Some(15));
        let bad = |v: serde_json::Value| InboxHours::parse(&v, &la).unwrap_err().0;
        assert!(bad(serde_json::json!({ "hours": { "weekly": { "mon": ["9-5"] } } })).contains("mon"));
        assert!(bad(serde_json::json!({ "acknowledge": { "after_minutes": 0 } })).contains("after_minutes"));
        assert!(bad(serde_json::json!({ "off_hours_reply": { "txt": "x" } })).contains("off_hours_reply"));
        assert!(bad(serde_json::json!({ "off_hours_reply": { "text": "  " } })).contains("off_hours_reply.text"));
        // Nothing set: always open, nothing automatic goes.
        let none = InboxHours::parse(&serde_json::json!({}), &la).unwrap();
        assert!(none.hours.is_always_open());
        assert_eq!(none.acknowledge.after_minutes, None);
    }
}
