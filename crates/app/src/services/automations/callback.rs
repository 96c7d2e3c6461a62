//! A customer asks for a call back by text: the account's keyword (`CALL`)
//! is answered with the next few times the business can call, in the
//! customer's zone; their answer ("2", "3pm") queues the call back. Both
//! happen inside the engine's transaction, so a text is answered once.

use jiff::Timestamp;
use sqlx::AnyConnection;
use textdesk_core::Body;
use textdesk_core::automation::guard;
use textdesk_core::hours::{BusinessHours, describe_opening};
use textdesk_core::voice::{CALLBACK_SLOTS, callback_slots, offer_text, read_choice};
use textdesk_store::voice as vdb;
use textdesk_store::{Inbox, Received, Situation};

use super::engine::Engine;
use crate::services::hours::InboxHours;

impl Engine {
    /// The customer's message, if it asks for a call back or answers the
    /// times offered. True when it was taken here, so the rules leave it alone.
    pub(super) async fn callback_message(
        &self,
        tx: &mut AnyConnection,
        (account_id, conversation_id): (i64, i64),
        received: &Received,
    ) -> textdesk_store::Result<bool> {
        let now = Timestamp::now();
        if guard::looks_automatic(&received.text) || now.duration_since(received.at) > super::engine::FRESH {
            return Ok(false);
        }
        let text = received.text.trim();
        let keyword = self.callback_keywords.get(&account_id).map(String::as_str).unwrap_or("");
        let asks = !keyword.is_empty() && textdesk_core::consent::normalise(text) == keyword;
        let choosing = self.choosing(tx, conversation_id).await?;
        // Read only now: nearly every text is neither.
        if !asks && choosing.is_none() {
            return Ok(false);
        }
        let mut s = match self.situation(tx, conversation_id, now).await {
            Err(textdesk_store::StoreError::NotFound(_)) => return Ok(false),
            other => other?,
        };
        self.spend(&s);
        let inbox = self.inbox_of(tx, s.conversation.inbox_id).await?;
        let policy = self.policy(account_id);
        let hours = InboxHours::of(&inbox, &policy.fallback_zone).hours;
        let timing = policy.timing(s.contact_time_zone.as_deref(), &s.address, Some(received.at), now);
        let slots = callback_slots(&hours, &timing.quiet, &timing.zone, now, CALLBACK_SLOTS);
        let reply = if asks {
            vdb::offer_callback(tx, (account_id, conversation_id), &slots, now).await?;
            offer_text(&slots, &timing.zone, now)
        } else {
            let Some((id, offered)) = choosing else { return Ok(false) };
            match read_choice(text, &offered, &timing.zone, now) {
                // Not an answer: the offer lapses and the message is the people's and the rules'.
                None => {
                    vdb::lapse_offer(tx, conversation_id).await?;
                    return Ok(false);
                }
                Some(at) if offered.contains(&at) || (hours.is_open(at) && timing.quiet.allows(at, &timing.zone)) => {
                    vdb::choose_callback(tx, (account_id, conversation_id, id), at, now).await?;
                    format!(
                        "Thank you: we will call you at {}. Text us here if that changes.",
                        describe_opening(at, &timing.zone, now)
                    )
                }
                Some(at) => format!(
                    "We cannot call at {}. {}",
                    describe_opening(at, &timing.zone, now),
                    offer_text(&slots, &timing.zone, now)
                ),
            }
        };
        let body = Body::parse(&reply)?;
        if let Err(why) = self.automatic_reply(tx, &mut s, &inbox, body, (Some(received.at), true), now).await? {
            tracing::info!(conversation_id, why = %why, "the call back answer was not sent");
        }
        Ok(true)
    }

    /// A rule's call back offer: the next times the business can call, texted
    /// through the gate; the customer's answer is read as after CALL.
    pub(super) async fn offer_callback(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        (inbox, hours): (&Inbox, &BusinessHours),
        received_at: Option<Timestamp>,
        now: Timestamp,
    ) -> textdesk_store::Result<Result<(), String>> {
        let policy = self.policy(inbox.account_id);
        let timing = policy.timing(s.contact_time_zone.as_deref(), &s.address, received_at, now);
        let slots = callback_slots(hours, &timing.quiet, &timing.zone, now, CALLBACK_SLOTS);
        if slots.is_empty() {
            return Ok(Err("no time to offer in the coming two weeks".into()));
        }
        vdb::offer_callback(tx, (inbox.account_id, s.conversation.id), &slots, now).await?;
        let body = Body::parse(&offer_text(&slots, &timing.zone, now))?;
        let last_inbound = received_at.or(s.last_inbound);
        self.automatic_reply(tx, s, inbox, body, (last_inbound, received_at.is_some()), now).await
    }
}
