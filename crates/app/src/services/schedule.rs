//! Scheduled messages: the moment an agent or API client asks for, read in the
//! customer's zone, the business's or a named one; and the changes allowed
//! while the message waits (edit, move, send now, cancel).

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use textdesk_core::{Body, Invalid};
use textdesk_store::{Message, Reschedule, StoreError, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::metrics::Metrics;

/// How far ahead a message may be scheduled.
const HORIZON: SignedDuration = SignedDuration::from_hours(24 * 366);
/// A moment this little in the past is "now" (the form took a while to send).
const LEEWAY: SignedDuration = SignedDuration::from_mins(2);

/// The zone a local time is read in.
#[derive(Debug, Clone, PartialEq)]
pub enum ZoneChoice {
    /// The customer's own (set by an agent, else from their number).
    Contact,
    /// The business's (`time_zone` in the config).
    Business,
    Named(TimeZone),
}

impl ZoneChoice {
    /// `contact`, `business`, or an IANA name such as the agent's browser reports.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "" | "contact" => Ok(ZoneChoice::Contact),
            "business" => Ok(ZoneChoice::Business),
            name => TimeZone::get(name).map(ZoneChoice::Named).map_err(|_| {
                Invalid::new(format!("{name:?} is not a time zone; use contact, business or an IANA name"))
            }),
        }
    }
}

/// "2026-11-23T09:00" in `zone`, or an instant with its offset ("2026-11-23T17:00:00Z").
/// A local time the clocks skip reads as the moment after the gap; one they
/// repeat, as its first occurrence (jiff's "compatible" rule, as calendars do).
pub fn moment(text: &str, zone: &TimeZone) -> Result<Timestamp, Invalid> {
    let text = text.trim();
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(t);
    }
    let civil: DateTime = text
        .parse()
        .map_err(|_| Invalid::new(format!("{text:?} is not a time like 2026-11-23T09:00 or 2026-11-23T17:00:00Z")))?;
    zone.to_ambiguous_timestamp(civil)
        .compatible()
        .map_err(|_| Invalid::new(format!("{text:?} does not exist in that time zone")))
}

/// Checks a requested moment against now: not in the past, not absurdly far.
pub fn check_future(at: Timestamp, now: Timestamp) -> Result<Timestamp, Invalid> {
    if at < now - LEEWAY {
        return Err(Invalid::new("that time has already passed"));
    }
    if at > now + HORIZON {
        return Err(Invalid::new("a message can be scheduled at most a year ahead"));
    }
    Ok(at.max(now))
}

impl Services {
    /// The zone `choice` names for this conversation's customer.
    pub async fn zone_for(
        &self,
        account_id: i64,
        conversation_id: i64,
        choice: &ZoneChoice,
    ) -> ServiceResult<TimeZone> {
        Ok(match choice {
            ZoneChoice::Contact => {
                // The account's conversation, or none at all.
                self.store.conversation(account_id, conversation_id).await?;
                let clock = self.store.contact_clock(conversation_id).await?;
                self.timing_for(account_id).await?.zone_for(clock.time_zone.as_deref(), &clock.address)
            }
            ZoneChoice::Business => self.business_zone(account_id).await?,
            ZoneChoice::Named(z) => z.clone(),
        })
    }

    /// Reads a requested send time for this conversation.
    pub async fn send_time(
        &self,
        account_id: i64,
        conversation_id: i64,
        text: &str,
        zone: &ZoneChoice,
    ) -> ServiceResult<Timestamp> {
        let zone = self.zone_for(account_id, conversation_id, zone).await?;
        let at = moment(text, &zone).map_err(StoreError::from)?;
        Ok(check_future(at, Timestamp::now()).map_err(StoreError::from)?)
    }

    pub async fn scheduled(&self, user: &User, conversation_id: i64) -> ServiceResult<Vec<Message>> {
        Ok(self.store.scheduled_messages(user.account_id, conversation_id).await?)
    }

    /// Edits or moves a waiting message; `send_at: None` sends it now (if the gate allows).
    pub async fn reschedule(
        &self,
        user: &User,
        message_id: i64,
        body: Option<Body>,
        send_at: Option<Timestamp>,
    ) -> ServiceResult<Message> {
        let now = Timestamp::now();
        let m = self.store.message_in_account(user.account_id, message_id).await?;
        let timing = self.clock_at(user.account_id, m.conversation_id, send_at.unwrap_or(now).max(now)).await?;
        let (_, channel) = self.conversation_channel(user.account_id, m.conversation_id).await?;
        let r = Reschedule {
            account_id: user.account_id,
            message_id,
            actor_id: Some(user.id),
            body,
            send_at,
            now,
            timing: Some(timing),
            channel,
        };
        match self.store.reschedule(r).await? {
            Ok(m) => Ok(m),
            Err(reason) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ServiceError::Blocked(reason))
            }
        }
    }

    pub async fn cancel_scheduled(&self, user: &User, message_id: i64) -> ServiceResult<i64> {
        let conversation_id =
            self.store.cancel_scheduled(user.account_id, message_id, Some(user.id), Timestamp::now()).await?;
        Ok(conversation_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz(n: &str) -> TimeZone {
        TimeZone::get(n).unwrap()
    }

    #[test]
    fn local_times_read_in_the_chosen_zone_across_dst() {
        let ny = tz("America/New_York");
        assert_eq!(moment("2026-11-23T09:00", &ny).unwrap(), "2026-11-23T14:00:00Z".parse().unwrap());
        assert_eq!(moment("2026-07-01T09:00", &ny).unwrap(), "2026-07-01T13:00:00Z".parse().unwrap());
        // 02:30 does not exist on 2026-03-08 in New York: it reads as 03:30 EDT.
        assert_eq!(moment("2026-03-08T02:30", &ny).unwrap(), "2026-03-08T07:30:00Z".parse().unwrap());
        // 01:30 happens twice on 2026-11-01: the first, EDT.
        assert_eq!(moment("2026-11-01T01:30", &ny).unwrap(), "2026-11-01T05:30:00Z".parse().unwrap());
        // An instant with an offset ignores the zone.
        assert_eq!(moment("2026-11-23T17:00:00Z", &ny).unwrap(), "2026-11-23T17:00:00Z".parse().unwrap());
        assert!(moment("tomorrow", &ny).is_err());
    }

    #[test]
    fn zones_and_bounds_are_checked() {
        assert_eq!(ZoneChoice::parse("contact").unwrap(), ZoneChoice::Contact);
        assert_eq!(ZoneChoice::parse("business").unwrap(), ZoneChoice::Business);
        assert!(matches!(ZoneChoice::parse("Europe/Paris").unwrap(), ZoneChoice::Named(_)));
        assert!(ZoneChoice::parse("Mars/Olympus").unwrap_err().0.contains("not a time zone"));
        let now: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
        assert!(check_future(now - SignedDuration::from_hours(1), now).is_err());
        assert_eq!(check_future(now - SignedDuration::from_secs(30), now).unwrap(), now);
        assert!(check_future(now + SignedDuration::from_hours(24 * 400), now).is_err());
    }
}
