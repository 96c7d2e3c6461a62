//! What agents change about a contact (name, zone, attributes) and the notes
//! they keep about the person. Every change is an event on each of the
//! contact's recent conversations (in its transaction), so every open screen
//! showing them refreshes.

use textdesk_core::{Address, ContactName, NoteBody, Role};
use textdesk_store::{Contact, ContactNote, ContactPatch, Origin, StoreError, User};

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
    /// A new contact, its name checked as an edit checks it.
    pub async fn create_contact(
        &self,
        user: &User,
        name: &str,
        address: &Address,
        time_zone: Option<&str>,
    ) -> Result<Contact, StoreError> {
        let name = ContactName::parse(name)?;
        let tz = time_zone.map(parse_zone).transpose()?;
        self.store.create_contact(user.account_id, name.as_str(), address, tz.as_deref()).await
    }

    /// `shown_in`: the conversation the agent made the change from, if any.
    pub async fn edit_contact(
        &self,
        user: &User,
        contact_id: i64,
        patch: ContactPatch,
        shown_in: Option<i64>,
    ) -> Result<Contact, StoreError> {
        let by = Origin { actor_id: Some(user.id), shown_in };
        self.store.update_contact(user.account_id, contact_id, patch, by).await
    }

    pub async fn add_contact_note(
        &self,
        user: &User,
        contact_id: i64,
        body: &str,
        shown_in: Option<i64>,
    ) -> Result<ContactNote, StoreError> {
        let body = NoteBody::parse(body)?;
        self.store.add_contact_note(user.account_id, contact_id, user.id, &body, shown_in).await
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
        let by = Origin { actor_id: Some(user.id), shown_in };
        self.store.delete_contact_note(user.account_id, note_id, by).await?;
        Ok(())
    }
}
