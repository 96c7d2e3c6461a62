//! What agents do to conversations. Each action is stored, then announced to
//! every open screen.

use jiff::Timestamp;
use textdesk_core::gate::{BlockReason, OutboundKind};
use textdesk_core::{Body, ConversationStatus, Priority};
use textdesk_store::{Conversation, Message, NewOutbound, OutboundOutcome, StoreError, User};

use crate::services::Services;
use crate::services::metrics::Metrics;

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
        let now = Timestamp::now();
        let send_at = draft.send_at.filter(|t| *t > now);
        let timing = if draft.private {
            None
        } else {
            Some(self.clock_at(user.account_id, conversation_id, send_at.unwrap_or(now)).await?)
        };
        let outcome = self
            .store
            .send_outbound(NewOutbound {
                account_id: user.account_id,
                conversation_id,
                author_id: Some(user.id),
                body: draft.body,
                private: draft.private,
                kind: draft.kind,
                now,
                timing,
                send_at: if draft.private { None } else { send_at },
                media: draft.media,
            })
            .await?;
        match outcome {
            OutboundOutcome::Stored(m) => {
                self.publish(user.account_id, "message.created", conversation_id, Some(m.id)).await;
                Ok(*m)
            }
            OutboundOutcome::Blocked(reason) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ActionError::Blocked(reason))
            }
        }
    }

    async fn changed(&self, c: Conversation) -> Conversation {
        self.publish(c.account_id, "conversation.updated", c.id, None).await;
        c
    }

    pub async fn assign(&self, actor: &User, id: i64, assignee: Option<i64>) -> Result<Conversation, StoreError> {
        let c = self.store.assign(actor.account_id, id, assignee, Some(actor.id)).await?;
        Ok(self.changed(c).await)
    }

    pub async fn set_team(&self, actor: &User, id: i64, team: Option<i64>) -> Result<Conversation, StoreError> {
        let c = self.store.set_team(actor.account_id, id, team, Some(actor.id)).await?;
        Ok(self.changed(c).await)
    }

    pub async fn set_status(
        &self,
        actor: &User,
        id: i64,
        status: ConversationStatus,
        until: Option<Timestamp>,
    ) -> Result<Conversation, StoreError> {
        let c = self.store.set_status(actor.account_id, id, status, until, Some(actor.id)).await?;
        Ok(self.changed(c).await)
    }

    pub async fn set_priority(&self, actor: &User, id: i64, p: Priority) -> Result<Conversation, StoreError> {
        let c = self.store.set_priority(actor.account_id, id, p, Some(actor.id)).await?;
        Ok(self.changed(c).await)
    }

    pub async fn set_labels(&self, actor: &User, id: i64, labels: &[String]) -> Result<Conversation, StoreError> {
        for l in labels {
            if l.is_empty() || l.len() > 50 || !l.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
                return Err(StoreError::Invalid(format!("label {l:?}: use 1 to 50 letters, digits, '-' or '_'")));
            }
        }
        let c = self.store.set_labels(actor.account_id, id, labels, Some(actor.id)).await?;
        Ok(self.changed(c).await)
    }

    /// Opens snoozed conversations whose time has come.
    pub async fn wake_snoozed(&self) -> Result<usize, StoreError> {
        let woken = self.store.wake_snoozed(Timestamp::now()).await?;
        for (account, id) in &woken {
            self.publish(*account, "conversation.updated", *id, None).await;
        }
        Ok(woken.len())
    }
}
