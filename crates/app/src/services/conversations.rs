//! What agents do to conversations. Each action is stored with its event in
//! one transaction; open screens hear of it from the event log.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use textdesk_core::gate::{BlockReason, OutboundKind};
use textdesk_core::{Body, ConversationStatus, Invalid, Priority, SnoozePreset};
use textdesk_store::{Conversation, IdemKey, Keyed, Message, NewOutbound, OutboundOutcome, Snooze, StoreError, User};

use crate::services::Services;
use crate::services::metrics::Metrics;
use crate::services::schedule::moment;

/// How many labels one conversation may carry.
const MAX_LABELS: usize = 20;
/// How far ahead a conversation may be snoozed.
const SNOOZE_HORIZON: SignedDuration = SignedDuration::from_hours(24 * 366);

/// What an agent asks a snooze to last until.
#[derive(Debug, Clone, PartialEq)]
pub enum SnoozeWhen {
    Preset(SnoozePreset),
    /// "2026-12-08T09:00" (read in the zone) or an instant with its offset.
    At(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", .0.explain())]
    Blocked(BlockReason),
}

/// What an agent or an API client asks to send.
#[derive(Debug, Clone)]
pub struct Draft {
    pub body: Body,
    /// A note for colleagues: stored, never sent.
    pub private: bool,
    /// A reply in the conversation, or a business-initiated notification (which needs an opt-in).
    pub kind: OutboundKind,
    /// Not before this moment (a scheduled message); None sends as soon as the gate allows.
    pub send_at: Option<Timestamp>,
    /// The author's uploads that go with it (an MMS), in order.
    pub media: Vec<i64>,
}

impl Draft {
    pub fn reply(body: Body) -> Self {
        Draft { body, private: false, kind: OutboundKind::Reply, send_at: None, media: Vec::new() }
    }
}

impl Services {
    /// The contact's clock at `at`, for the gate (the account's quiet hours, live exchange).
    pub(crate) async fn clock_at(
        &self,
        account_id: i64,
        conversation_id: i64,
        at: Timestamp,
    ) -> Result<textdesk_core::gate::Timing, StoreError> {
        let clock = self.store.contact_clock(conversation_id).await?;
        let policy = self.timing_for(account_id).await?;
        Ok(policy.timing(clock.time_zone.as_deref(), &clock.address, clock.last_inbound, at))
    }

    /// An agent's reply, note, notification or scheduled message.
    pub async fn send(&self, user: &User, conversation_id: i64, draft: Draft) -> Result<Message, ActionError> {
        match self.send_keyed(user, conversation_id, draft, None).await? {
            Keyed::Fresh(m) => Ok(m),
            Keyed::Taken => Err(StoreError::Conflict("an unkeyed send found a key taken".into()).into()),
        }
    }

    /// As `send`, claiming a client's idempotency key with the message (`Taken`: sent before).
    pub(crate) async fn send_keyed(
        &self,
        user: &User,
        conversation_id: i64,
        draft: Draft,
        key: Option<&IdemKey>,
    ) -> Result<Keyed<Message>, ActionError> {
        let (inbox, channel) = self.conversation_channel(user.account_id, conversation_id).await?;
        if !draft.private {
            if !draft.media.is_empty() && !channel.media {
                return Err(StoreError::Invalid(format!(
                    "{} messages cannot carry attachments: send the text alone, or add the file to a private note",
                    inbox.provider
                ))
                .into());
            }
            channel.check_length(draft.body.as_str()).map_err(|e| StoreError::Invalid(e.0))?;
        }
        let now = Timestamp::now();
        let send_at = draft.send_at.filter(|t| *t > now);
        let timing = if draft.private {
            None
        } else {
            Some(self.clock_at(user.account_id, conversation_id, send_at.unwrap_or(now)).await?)
        };
        let outcome = self
            .store
            .send_outbound_keyed(
                NewOutbound {
                    account_id: user.account_id,
                    conversation_id,
                    author_id: Some(user.id),
                    body: draft.body,
                    private: draft.private,
                    kind: draft.kind,
                    now,
                    timing,
                    channel,
                    send_at: if draft.private { None } else { send_at },
                    media: draft.media,
                },
                key,
            )
            .await?;
        let outcome = match outcome {
            Keyed::Fresh(o) => o,
            Keyed::Taken => return Ok(Keyed::Taken),
        };
        match outcome {
            OutboundOutcome::Stored(m) => Ok(Keyed::Fresh(*m)),
            OutboundOutcome::Blocked(reason) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ActionError::Blocked(reason))
            }
        }
    }

    pub async fn assign(&self, actor: &User, id: i64, assignee: Option<i64>) -> Result<Conversation, StoreError> {
        self.store.assign(actor.account_id, id, assignee, Some(actor.id)).await
    }

    pub async fn set_team(&self, actor: &User, id: i64, team: Option<i64>) -> Result<Conversation, StoreError> {
        self.store.set_team(actor.account_id, id, team, Some(actor.id)).await
    }

    pub async fn set_status(
        &self,
        actor: &User,
        id: i64,
        status: ConversationStatus,
        until: Option<Snooze>,
    ) -> Result<Conversation, StoreError> {
        self.store.set_status(actor.account_id, id, status, until, Some(actor.id)).await
    }

    pub async fn set_priority(&self, actor: &User, id: i64, p: Priority) -> Result<Conversation, StoreError> {
        self.store.set_priority(actor.account_id, id, p, Some(actor.id)).await
    }

    /// Replaces the labels with these from the account's catalogue (422 naming any other).
    pub async fn set_labels(&self, actor: &User, id: i64, labels: &[String]) -> Result<Conversation, StoreError> {
        if labels.len() > MAX_LABELS {
            return Err(StoreError::Invalid(format!("a conversation has at most {MAX_LABELS} labels")));
        }
        self.store.set_labels(actor.account_id, id, labels, Some(actor.id)).await
    }

    /// The agent has seen it. Announced (only when it was unread) under a kind
    /// that refreshes lists, not open threads: a thread refresh reads it
    /// again, and re-rendering the thread the agent is using would close
    /// whatever they had open in it.
    pub async fn mark_read(&self, actor: &User, id: i64) -> Result<(), StoreError> {
        self.store.mark_read(actor.account_id, id, Some(actor.id)).await?;
        Ok(())
    }

    /// Shows it unread again until someone opens it. Not a timeline event: it
    /// is a note to oneself, noise to everyone else. Announced under its own
    /// kind, which refreshes lists but not an open thread (refreshing a thread
    /// marks it read, and would undo this at once in a colleague's tab).
    pub async fn mark_unread(&self, actor: &User, id: i64) -> Result<Conversation, StoreError> {
        self.store.mark_unread(actor.account_id, id, Some(actor.id)).await
    }

    /// When a snooze asked for as `when` ends: a preset on the clock of `zone`
    /// (the agent's own, as their browser reports it; the business's when
    /// empty), or a moment (RFC 3339, or a local time read in that zone).
    /// The snooze remembers the agent's zone, so the timeline says the time
    /// on the clock it was chosen on.
    pub fn snooze_until(&self, when: &SnoozeWhen, zone: Option<&str>, now: Timestamp) -> Result<Snooze, Invalid> {
        let named = zone.map(str::trim).filter(|z| !z.is_empty());
        let zone = match named {
            None => self.timing.fallback_zone.clone(),
            Some(name) => TimeZone::get(name).map_err(|_| {
                Invalid::new(format!("{name:?} is not a time zone; use an IANA name such as Europe/Paris"))
            })?,
        };
        let until = match when {
            SnoozeWhen::Preset(p) => p.until(now, &zone),
            SnoozeWhen::At(text) => moment(text, &zone)?,
        };
        if until <= now {
            return Err(Invalid::new("snoozing needs a time in the future"));
        }
        if until > now + SNOOZE_HORIZON {
            return Err(Invalid::new("a conversation can be snoozed at most a year ahead"));
        }
        Ok(Snooze { until, zone: zone.iana_name().map(str::to_owned) })
    }

    /// Opens snoozed conversations whose time has come.
    pub async fn wake_snoozed(&self) -> Result<usize, StoreError> {
        Ok(self.store.wake_snoozed(Timestamp::now()).await?.len())
    }
}
