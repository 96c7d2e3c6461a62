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
    /// Conversation `id` of the account with its latest `read` messages. The
    /// reads go side by side in two rounds (the conversation with what needs
    /// only its id, then what needs its contact and inbox) where they were
    /// nine in a row. A conversation of another account fails the first
    /// round, and what else it read is dropped.
    pub async fn thread(&self, account_id: i64, id: i64, read: i64) -> ServiceResult<Thread> {
        let (summary, messages, events, users, teams, labels) = tokio::try_join!(
            self.store.conversation_summary(account_id, id),
            self.store.messages(account_id, id, MessagePage::Before(None), read),
            self.store.timeline(id),
            self.store.users(account_id),
            self.store.teams(account_id),
            self.store.labels(account_id),
        )?;
        let c = &summary.conversation;
        let (contact, consent, inbox_scope) = tokio::try_join!(
            self.store.contact(account_id, c.contact_id),
            self.store.consent_history(c.contact_id),
            self.store.inbox_consent_scope(c.inbox_id),
        )?;
        Ok(Thread { summary, contact, messages, events, users, teams, labels, consent, inbox_scope })
    }

    /// The contact's latest `limit` conversations and every note about them.
    pub async fn contact_history(&self, account_id: i64, contact_id: i64, limit: i64) -> ServiceResult<ContactHistory> {
        let filter = ConversationFilter { contact_id: Some(contact_id), ..Default::default() };
        let conversations = self.store.list_conversations(account_id, &filter, None, limit).await?.items;
        let notes = self.store.contact_notes(account_id, contact_id).await?;
        Ok(ContactHistory { conversations, notes })
    }
}
