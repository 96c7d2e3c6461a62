//! What agents change about a contact (name, zone, attributes) and the notes
//! they keep about the person. Every change is announced on each of the
//! contact's conversations, so every open screen showing them refreshes.

use textdesk_core::{NoteBody, Role};
use textdesk_store::{Contact, ContactNote, ContactPatch, ConversationFilter, StoreError, User};

use crate::services::Services;

#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("{0}")]
    Forbidden(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An IANA zone name the bundled database knows, e.g. `America/Chicago`.
pub fn parse_zone(z: &str) -> Result<String, StoreError> {
    let z = z.trim();
    jiff::tz::TimeZone::get(z)
        .map(|_| z.to_owned())
        .map_err(|_| StoreError::Invalid(format!("{z:?} is not a time zone (use a name like America/Chicago)")))
}

impl Services {
    /// `shown_in`: the conversation the agent made the change from, if any.
    pub async fn edit_contact(
        &self,
        user: &User,
        contact_id: i64,
        patch: ContactPatch,
        shown_in: Option<i64>,
    ) -> Result<Contact, StoreError> {
        let contact = self.store.update_contact(user.account_id, contact_id, patch).await?;
        self.announce_contact(user.account_id, contact_id, shown_in).await?;
        Ok(contact)
    }

    pub async fn add_contact_note(
        &self,
        user: &User,
        contact_id: i64,
        body: &str,
        shown_in: Option<i64>,
    ) -> Result<ContactNote, StoreError> {
        let body = NoteBody::parse(body)?;
        let note = self.store.add_contact_note(user.account_id, contact_id, user.id, &body).await?;
        self.announce_contact(user.account_id, contact_id, shown_in).await?;
        Ok(note)
    }

    /// The author deletes their note; an admin may delete anyone's (a former
    /// colleague's, say).
    pub async fn delete_contact_note(
        &self,
        user: &User,
        contact_id: i64,
        note_id: i64,
        shown_in: Option<i64>,
    ) -> Result<(), ContactError> {
        let note = self.store.contact_note(user.account_id, contact_id, note_id).await?;
        if note.author_id != Some(user.id) && !user.role.at_least(Role::Admin) {
            return Err(ContactError::Forbidden("only the note's author (or an admin) may delete it"));
        }
        self.store.delete_contact_note(user.account_id, note_id).await?;
        self.announce_contact(user.account_id, contact_id, shown_in).await?;
        Ok(())
    }

    /// `conversation.updated` on the contact's latest conversations (the ones
    /// an agent may have open). Screens coalesce a burst of events and act on
    /// the last, so the one most likely open goes last: the conversation the
    /// change came from, else the newest.
    async fn announce_contact(
        &self,
        account_id: i64,
        contact_id: i64,
        shown_in: Option<i64>,
    ) -> Result<(), StoreError> {
        let filter = ConversationFilter { contact_id: Some(contact_id), ..Default::default() };
        let page = self.store.list_conversations(account_id, &filter, None, 20).await?;
        let others = page.items.iter().map(|c| c.conversation.id).filter(|id| Some(*id) != shown_in);
        let mut order: Vec<i64> = others.collect();
        order.reverse();
        order.extend(shown_in);
        for id in order {
            self.publish(account_id, "conversation.updated", id, None).await;
        }
        Ok(())
    }
}
