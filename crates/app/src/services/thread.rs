//! What a conversation's page reads: the thread with its timeline and the
//! people, teams and labels its menus offer, and the contact panel's history.

use textdesk_store::{
    ConsentEvent, Contact, ContactNote, ConversationFilter, ConversationSummary, Label, Message, MessagePage, Team,
    TimelineEvent, User,
};

use crate::services::Services;
use crate::services::error::ServiceResult;

/// One conversation as its page shows it.
pub struct Thread {
    pub summary: ConversationSummary,
    pub contact: Contact,
    /// The latest `read` messages, oldest first.
    pub messages: Vec<Message>,
    pub events: Vec<TimelineEvent>,
    pub users: Vec<User>,
    pub teams: Vec<Team>,
    pub labels: Vec<Label>,
    /// The contact's opt-ins and opt-outs, oldest first.
    pub consent: Vec<ConsentEvent>,
    /// The scope consent is kept under for the conversation's inbox.
    pub inbox_scope: String,
}

/// The contact panel's history: their other conversations and the notes kept about them.
pub struct ContactHistory {
    /// Newest first, up to the number asked for (this conversation included when it is among them).
    pub conversations: Vec<ConversationSummary>,
    pub notes: Vec<ContactNote>,
}

impl Services {
    /// Conversation `id` of the account with its latest `read` messages.
    pub async fn thread(&self, account_id: i64, id: i64, read: i64) -> ServiceResult<Thread> {
        let summary = self.store.conversation_summary(account_id, id).await?;
        let contact = self.store.contact(account_id, summary.conversation.contact_id).await?;
        let messages = self.store.messages(account_id, id, MessagePage::Before(None), read).await?;
        Ok(Thread {
            messages,
            events: self.store.timeline(id).await?,
            users: self.store.users(account_id).await?,
            teams: self.store.teams(account_id).await?,
            labels: self.store.labels(account_id).await?,
            consent: self.store.consent_history(contact.id).await?,
            inbox_scope: self.store.inbox_consent_scope(summary.conversation.inbox_id).await?,
            summary,
            contact,
        })
    }

    /// The contact's latest `limit` conversations and every note about them.
    pub async fn contact_history(&self, account_id: i64, contact_id: i64, limit: i64) -> ServiceResult<ContactHistory> {
        let filter = ConversationFilter { contact_id: Some(contact_id), ..Default::default() };
        let conversations = self.store.list_conversations(account_id, &filter, None, limit).await?.items;
        let notes = self.store.contact_notes(account_id, contact_id).await?;
        Ok(ContactHistory { conversations, notes })
    }
}
