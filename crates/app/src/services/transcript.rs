//! A conversation's transcript (F12): every message and every timeline entry
//! in order, for training and disputes, as a print-ready page and as JSON.
//! Reading one is an export of the customer's words, so it is written to the
//! audit trail.

use jiff::Timestamp;
use textdesk_store::{Contact, ConversationSummary, Message, MessagePage, NewAudit, Team, TimelineEvent, User};

use crate::services::Services;
use crate::services::error::ServiceResult;

/// The most messages a transcript holds; a longer conversation's transcript
/// says it stops there.
pub const MAX_MESSAGES: usize = 20_000;

/// Messages read per query.
const PAGE: i64 = 1_000;

pub struct Transcript {
    pub summary: ConversationSummary,
    pub contact: Contact,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Oldest first.
    pub events: Vec<TimelineEvent>,
    /// Whether messages past [`MAX_MESSAGES`] were left out.
    pub cut: bool,
    /// For the timeline's words.
    pub users: Vec<User>,
    pub teams: Vec<Team>,
}

/// One line of the transcript: a message or a timeline entry, in the order
/// they happened (a conversation's start before its first message, what a
/// message caused after it).
pub enum Entry<'a> {
    Message(&'a Message),
    Event(&'a TimelineEvent),
}

impl Transcript {
    pub fn entries(&self) -> Vec<(Timestamp, Entry<'_>)> {
        use textdesk_core::event::DomainEvent;
        let mut items: Vec<(Timestamp, u8, i64, Entry<'_>)> =
            self.messages.iter().map(|m| (m.created_at, 1, m.id, Entry::Message(m))).collect();
        for e in &self.events {
            let rank = if matches!(e.event, DomainEvent::ConversationCreated { .. }) { 0 } else { 2 };
            items.push((e.created_at, rank, e.id, Entry::Event(e)));
        }
        items.sort_by_key(|(t, rank, id, _)| (*t, *rank, *id));
        items.into_iter().map(|(t, _, _, e)| (t, e)).collect()
    }
}

impl Services {
    /// Conversation `id` of the account, whole; `by` (a user id) is written
    /// to the audit trail with the address the request came from.
    pub async fn transcript(
        &self,
        (account_id, id): (i64, i64),
        by: i64,
        ip: Option<&str>,
    ) -> ServiceResult<Transcript> {
        let t = self.read_transcript(account_id, id).await?;
        let subject = format!("conversation:{id}");
        let detail = format!("{} messages", t.messages.len());
        let entry = NewAudit {
            account_id,
            actor_user_id: Some(by),
            action: "conversation.transcript",
            subject: &subject,
            ip,
            detail: &detail,
        };
        self.store.record_audit(entry, Timestamp::now()).await?;
        Ok(t)
    }

    /// The conversation as a transcript holds it, read inside the app (a
    /// reviewer's scoring screen): nothing leaves, so nothing is audited.
    pub async fn read_transcript(&self, account_id: i64, id: i64) -> ServiceResult<Transcript> {
        let summary = self.store.conversation_summary(account_id, id).await?;
        let contact = self.store.contact(account_id, summary.conversation.contact_id).await?;
        let mut messages: Vec<Message> = Vec::new();
        let mut cut = false;
        loop {
            let after = messages.last().map(|m| m.id).unwrap_or(0);
            let page = self.store.messages(account_id, id, MessagePage::After(Some(after)), PAGE).await?;
            let done = (page.len() as i64) < PAGE;
            messages.extend(page);
            if messages.len() >= MAX_MESSAGES {
                cut = !done || messages.len() > MAX_MESSAGES;
                messages.truncate(MAX_MESSAGES);
                break;
            }
            if done {
                break;
            }
        }
        let mut events = self.store.timeline(id).await?;
        if cut && let Some(last) = messages.last().map(|m| m.created_at) {
            events.retain(|e| e.created_at <= last);
        }
        Ok(Transcript {
            users: self.store.users(account_id).await?,
            teams: self.store.teams(account_id).await?,
            summary,
            contact,
            messages,
            events,
            cut,
        })
    }
}
