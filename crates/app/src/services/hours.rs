//! Business hours at work: an inbox's hours, when it next opens in the
//! customer's own words, and the wording of the two automatic replies that
//! come with every inbox (the off-hours reply and the holding message), which
//! run as built-in automation rules (`services::automations`).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};
use textdesk_core::hours::{BusinessHours, HoursSettings, describe_opening};
use textdesk_core::template::{Template, Vars};
use textdesk_core::{Body, Invalid};
use textdesk_store::Inbox;

use crate::services::Services;
use crate::services::error::ServiceResult;

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
    /// The inbox's hours; hours that name no zone are on the business's clock.
    pub(crate) async fn hours_of(&self, inbox: &Inbox) -> ServiceResult<InboxHours> {
        Ok(InboxHours::of(inbox, &self.business_zone(inbox.account_id).await?))
    }

    /// The customer's name and zone for a conversation.
    async fn customer(&self, account_id: i64, conversation_id: i64) -> ServiceResult<(String, TimeZone)> {
        let summary = self.store.conversation_summary(account_id, conversation_id).await?;
        let contact = self.store.contact(account_id, summary.conversation.contact_id).await?;
        let zone = self.timing_for(account_id).await?.zone_for(contact.time_zone.as_deref(), &summary.contact_address);
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
    ) -> ServiceResult<Option<String>> {
        let hours = self.hours_of(inbox).await?.hours;
        if hours.is_open(now) {
            return Ok(None);
        }
        let Some(opening) = hours.next_opening(now) else { return Ok(None) };
        let (_, zone) = self.customer(account_id, conversation_id).await?;
        Ok(Some(describe_opening(opening, &zone, now)))
    }

    /// An automatic reply's text: a canned-response template, signed by no agent.
    pub(crate) fn fill(
        &self,
        template: &str,
        business: &str,
        contact_name: &str,
        next_open: Option<String>,
    ) -> Result<String, textdesk_core::Invalid> {
        let vars = Vars::new(contact_name, "", business, next_open);
        Ok(Template::parse(template)?.render(&vars).text)
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
