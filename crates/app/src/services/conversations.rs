//! What agents do to conversations. Each action is stored with its event in
//! one transaction; open screens hear of it from the event log.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use textdesk_core::Address;
use textdesk_core::gate::OutboundKind;
use textdesk_core::{Body, ConversationStatus, Invalid, Priority, SnoozePreset};
use textdesk_store::{
    Conversation, ConversationSummary, IdemKey, Keyed, Message, NewOutbound, OutboundOutcome, Snooze, StoreError,
    TimelineEvent, User,
};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
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
    /// Sent as an approved provider template (JSON, from `Services::template_draft`),
    /// with `body` its text as filled in.
    pub template: Option<String>,
    /// Another of the customer's channels to answer on (an inbox id, from
    /// `Services::reply_channels`); None: the conversation's own.
    pub via: Option<i64>,
}

impl Draft {
    pub fn reply(body: Body) -> Self {
        Draft {
            body,
            private: false,
            kind: OutboundKind::Reply,
            send_at: None,
            media: Vec::new(),
            template: None,
            via: None,
        }
    }
}

impl Services {
    /// The contact's clock at `at`, for the gate (the account's quiet hours, live exchange).
    pub(crate) async fn clock_at(
        &self,
        account_id: i64,
        conversation_id: i64,
        at: Timestamp,
    ) -> ServiceResult<textdesk_core::gate::Timing> {
        self.clock_via(account_id, conversation_id, None, at).await
    }

    /// As `clock_at`, for a message to `identity` (another of the customer's
    /// addresses: its number says where they are).
    pub(crate) async fn clock_via(
        &self,
        account_id: i64,
        conversation_id: i64,
        identity: Option<i64>,
        at: Timestamp,
    ) -> ServiceResult<textdesk_core::gate::Timing> {
        let mut clock = self.store.contact_clock(conversation_id).await?;
        if let Some(id) = identity {
            clock.address = self.store.identity_address(id).await?;
        }
        let policy = self.timing_for(account_id).await?;
        Ok(policy.timing(clock.time_zone.as_deref(), &clock.address, clock.last_inbound, at))
    }

    /// An agent's reply, note, notification or scheduled message.
    pub async fn send(&self, user: &User, conversation_id: i64, draft: Draft) -> ServiceResult<Message> {
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
    ) -> ServiceResult<Keyed<Message>> {
        let conv = self.store.conversation(user.account_id, conversation_id).await?;
        let (route, kind) = match draft.private {
            true => (None, draft.kind),
            false => self.route_via(&conv, draft.via, draft.kind).await?,
        };
        if route.is_some() && draft.template.is_some() {
            return Err(ServiceError::Invalid("a template goes through the conversation's own inbox".into()));
        }
        let inbox = self.store.inbox_by_id(route.as_ref().map_or(conv.inbox_id, |r| r.inbox_id)).await?;
        let channel = self.capabilities(&inbox.provider, inbox.medium);
        if !draft.private {
            if !draft.media.is_empty() && !channel.media {
                return Err(ServiceError::Invalid(format!(
                    "{} messages cannot carry attachments: send the text alone, or add the file to a private note",
                    inbox.provider
                )));
            }
            self.check_attachments(&inbox, user.id, &draft.media).await?;
            channel.check_length(draft.body.as_str()).map_err(|e| ServiceError::Invalid(e.0))?;
        }
        let now = Timestamp::now();
        let send_at = draft.send_at.filter(|t| *t > now);
        let timing = if draft.private {
            None
        } else {
            let identity = route.as_ref().map(|r| r.identity_id);
            Some(self.clock_via(user.account_id, conversation_id, identity, send_at.unwrap_or(now)).await?)
        };
        let outcome = self
            .store
            .send_outbound_routed(
                NewOutbound {
                    account_id: user.account_id,
                    conversation_id,
                    author_id: Some(user.id),
                    body: draft.body,
                    private: draft.private,
                    kind,
                    now,
                    timing,
                    channel,
                    send_at: if draft.private { None } else { send_at },
                    media: draft.media,
                    template: if draft.private { None } else { draft.template },
                },
                key,
                route,
            )
            .await?;
        let outcome = match outcome {
            Keyed::Fresh(o) => o,
            Keyed::Taken => return Ok(Keyed::Taken),
        };
        match outcome {
            OutboundOutcome::Stored(m) => {
                if !m.private {
                    self.assign_replier(user, conversation_id).await?;
                }
                Ok(Keyed::Fresh(*m))
            }
            OutboundOutcome::Blocked(reason) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ServiceError::Blocked(reason))
            }
        }
    }

    /// A conversation of the account (404 for any other).
    pub async fn conversation(&self, account_id: i64, id: i64) -> ServiceResult<Conversation> {
        Ok(self.store.conversation(account_id, id).await?)
    }

    /// A conversation with its contact's name and address and its preview, as lists show it.
    pub async fn conversation_summary(&self, account_id: i64, id: i64) -> ServiceResult<ConversationSummary> {
        Ok(self.store.conversation_summary(account_id, id).await?)
    }

    /// What happened in a conversation of the account, oldest first.
    pub async fn timeline(&self, account_id: i64, id: i64) -> ServiceResult<Vec<TimelineEvent>> {
        self.store.conversation(account_id, id).await?;
        Ok(self.store.timeline(id).await?)
    }

    /// The open conversation of an inbox with `to`, started by `actor` if there is none.
    pub async fn conversation_with(&self, actor: &User, inbox_id: i64, to: &Address) -> ServiceResult<i64> {
        Ok(self.store.conversation_with(actor.account_id, inbox_id, to, actor.id).await?)
    }

    pub async fn assign(&self, actor: &User, id: i64, assignee: Option<i64>) -> ServiceResult<Conversation> {
        Ok(self.store.assign(actor.account_id, id, assignee, Some(actor.id)).await?)
    }

    pub async fn set_team(&self, actor: &User, id: i64, team: Option<i64>) -> ServiceResult<Conversation> {
        Ok(self.store.set_team(actor.account_id, id, team, Some(actor.id)).await?)
    }

    pub async fn set_status(
        &self,
        actor: &User,
        id: i64,
        status: ConversationStatus,
        until: Option<Snooze>,
    ) -> ServiceResult<Conversation> {
        Ok(self.store.set_status(actor.account_id, id, status, until, Some(actor.id)).await?)
    }

    pub async fn set_priority(&self, actor: &User, id: i64, p: Priority) -> ServiceResult<Conversation> {
        Ok(self.store.set_priority(actor.account_id, id, p, Some(actor.id)).await?)
    }

    /// Replaces the labels with these from the account's catalogue (422 naming any other).
    pub async fn set_labels(&self, actor: &User, id: i64, labels: &[String]) -> ServiceResult<Conversation> {
        if labels.len() > MAX_LABELS {
            return Err(ServiceError::Invalid(format!("a conversation has at most {MAX_LABELS} labels")));
        }
        Ok(self.store.set_labels(actor.account_id, id, labels, Some(actor.id)).await?)
    }

    /// The agent has seen it. Announced (only when it was unread) under a kind
    /// that refreshes lists, not open threads: a thread refresh reads it
    /// again, and re-rendering the thread the agent is using would close
    /// whatever they had open in it.
    pub async fn mark_read(&self, actor: &User, id: i64) -> ServiceResult<()> {
        self.store.mark_read(actor.account_id, id, Some(actor.id)).await?;
        Ok(())
    }

    /// Shows it unread again until someone opens it. Not a timeline event: it
    /// is a note to oneself, noise to everyone else. Announced under its own
    /// kind, which refreshes lists but not an open thread (refreshing a thread
    /// marks it read, and would undo this at once in a colleague's tab).
    pub async fn mark_unread(&self, actor: &User, id: i64) -> ServiceResult<Conversation> {
        Ok(self.store.mark_unread(actor.account_id, id, Some(actor.id)).await?)
    }

    /// When a snooze asked for as `when` ends: a preset on the clock of `zone`
    /// (the agent's own, as their browser reports it; the business's when
    /// empty), or a moment (RFC 3339, or a local time read in that zone).
    /// The snooze remembers the agent's zone, so the timeline says the time
    /// on the clock it was chosen on.
    pub async fn snooze_until(
        &self,
        account_id: i64,
        when: &SnoozeWhen,
        zone: Option<&str>,
        now: Timestamp,
    ) -> ServiceResult<Snooze> {
        let named = zone.map(str::trim).filter(|z| !z.is_empty());
        let zone = match named {
            None => self.business_zone(account_id).await?,
            Some(name) => TimeZone::get(name).map_err(|_| {
                Invalid::new(format!("{name:?} is not a time zone; use an IANA name such as Europe/Paris"))
            })?,
        };
        let until = match when {
            SnoozeWhen::Preset(p) => p.until(now, &zone),
            SnoozeWhen::At(text) => moment(text, &zone)?,
        };
        if until <= now {
            return Err(Invalid::new("snoozing needs a time in the future").into());
        }
        if until > now + SNOOZE_HORIZON {
            return Err(Invalid::new("a conversation can be snoozed at most a year ahead").into());
        }
        Ok(Snooze { until, zone: zone.iana_name().map(str::to_owned) })
    }

    /// Opens snoozed conversations whose time has come.
    pub async fn wake_snoozed(&self) -> ServiceResult<usize> {
        Ok(self.store.wake_snoozed(Timestamp::now()).await?.len())
    }
}
