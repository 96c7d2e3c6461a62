//! Escalating a conversation: to a supervisor (priority urgent, assigned or
//! watched, alerted live), a phone call (the agent's phone rung, then the
//! customer's: `services::voice`), a call back (queued for a time), a video
//! call (a meeting link texted through the gate) or email.

use jiff::Timestamp;
use textdesk_core::escalation::{EmailContent, EscalationKind, parse_reason, video_invitation};
use textdesk_core::gate::OutboundKind;
use textdesk_core::{Body, Invalid};
use textdesk_store::{Escalation, EscalationAct, EscalationOutcome, NewEscalation, NewOutbound, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::metrics::Metrics;

/// What an agent or API client asks for.
#[derive(Debug, Clone, Default)]
pub struct EscalationAsk {
    /// supervisor, call, callback, video or email.
    pub to: String,
    pub reason: Option<String>,
    /// The supervisor chosen; else the conversation's team's lead.
    pub supervisor_id: Option<i64>,
    /// Keep the agent assigned; the supervisor watches instead of taking it.
    pub keep_agent: bool,
    /// With email: the customer's address (kept on the contact); else the one they have.
    pub email: Option<String>,
    /// With email: `transcript` (default) or `request`.
    pub send: Option<String>,
    /// With callback: when, in the customer's zone (or an instant).
    pub at: Option<String>,
}

impl Services {
    pub async fn escalate(&self, actor: &User, conversation_id: i64, ask: &EscalationAsk) -> ServiceResult<Escalation> {
        let kind = EscalationKind::parse(&ask.to)?;
        let reason = parse_reason(ask.reason.as_deref())?;
        let conversation = self.store.conversation(actor.account_id, conversation_id).await?;
        let now = Timestamp::now();
        let act = match kind {
            EscalationKind::Supervisor => {
                let supervisor_id = match (ask.supervisor_id, conversation.team_id) {
                    (Some(id), _) => id,
                    (None, Some(team)) => self.store.team_lead(actor.account_id, team).await?.ok_or_else(|| {
                        Invalid::new("this conversation's team has no supervisor: choose the supervisor to escalate to")
                    })?,
                    (None, None) => {
                        return Err(Invalid::new(
                            "this conversation has no team to take its lead from: choose the supervisor to escalate to",
                        )
                        .into());
                    }
                };
                if supervisor_id == actor.id && !ask.keep_agent && conversation.assignee_id == Some(actor.id) {
                    return Err(Invalid::new("you cannot escalate a conversation to yourself").into());
                }
                EscalationAct::Supervisor { supervisor_id, kept_agent: ask.keep_agent }
            }
            EscalationKind::Email => {
                let content = EmailContent::parse(ask.send.as_deref())?;
                self.email_escalation(actor, conversation_id, ask.email.as_deref(), content).await?
            }
            EscalationKind::Call => {
                let (call_id, provider_id) = self.place_call(actor, conversation_id).await?;
                EscalationAct::Call { call_id, provider_id }
            }
            EscalationKind::Callback => EscalationAct::Callback {
                due_at: self.callback_time(actor.account_id, conversation_id, ask.at.as_deref()).await?,
            },
            EscalationKind::Video => {
                let template = self.account_settings(actor.account_id).await?.escalation.video_template();
                let link = template.link(&new_room())?;
                let (_, channel) = self.conversation_channel(actor.account_id, conversation_id).await?;
                let body = Body::parse(&video_invitation(&link))?;
                channel.check_length(body.as_str()).map_err(|e| ServiceError::Invalid(e.0))?;
                let timing = Some(self.clock_at(actor.account_id, conversation_id, now).await?);
                let text = NewOutbound {
                    account_id: actor.account_id,
                    conversation_id,
                    author_id: Some(actor.id),
                    body,
                    private: false,
                    kind: OutboundKind::Reply,
                    now,
                    timing,
                    channel,
                    send_at: None,
                    media: Vec::new(),
                    template: None,
                };
                EscalationAct::Video { link, text: Box::new(text) }
            }
        };
        let new = NewEscalation { account_id: actor.account_id, conversation_id, actor_id: actor.id, reason, act, now };
        match self.store.escalate(new).await? {
            EscalationOutcome::Recorded(e) => Ok(*e),
            EscalationOutcome::Blocked(reason) => {
                Metrics::inc(&self.metrics.outbound_blocked);
                Err(ServiceError::Blocked(reason))
            }
        }
    }

    /// A conversation's escalations, oldest first.
    pub async fn escalations(&self, account_id: i64, conversation_id: i64) -> ServiceResult<Vec<Escalation>> {
        Ok(self.store.escalations(account_id, conversation_id).await?)
    }
}

/// A meeting id nobody can guess: 12 random letters and digits.
fn new_room() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..12).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}
