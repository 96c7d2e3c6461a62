//! What agents change about a contact (name, zone, attributes) and the notes
//! they keep about the person. Every change is an event on each of the
//! contact's recent conversations (in its transaction), so every open screen
//! showing them refreshes.

use textdesk_core::{Address, ContactName, NoteBody, Role};
use textdesk_store::{Contact, ContactNote, ContactPatch, Origin, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// An IANA zone name the bundled database knows, e.g. `America/Chicago`.
pub fn parse_zone(z: &str) -> ServiceResult<String> {
    let z = z.trim();
    jiff::tz::TimeZone::get(z)
        .map(|_| z.to_owned())
        .map_err(|_| ServiceError::Invalid(format!("{z:?} is not a time zone (use a name like America/Chicago)")))
}

impl Services {
    /// Contacts whose name or address contains `q`, newest first, before `before_id`.
    pub async fn contacts(
        &self,
        account_id: i64,
        q: Option<&str>,
        before_id: Option<i64>,
        limit: i64,
    ) -> ServiceResult<Vec<Contact>> {
        Ok(self.store.contacts(account_id, q, before_id, limit).await?)
    }

    /// A contact of the account (404 for any other).
    pub async fn contact(&self, account_id: i64, id: i64) -> ServiceResult<Contact> {
        Ok(self.store.contact(account_id, id).await?)
    }

    /// Another address of the same person (409 when it belongs to another contact).
    pub async fn add_identity(&self, user: &User, contact_id: i64, address: &Address) -> ServiceResult<Contact> {
        Ok(self.store.add_identity(user.account_id, contact_id, address).await?)
    }

    /// The notes about a contact of the account, newest first.
    pub async fn contact_notes(&self, account_id: i64, contact_id: i64) -> ServiceResult<Vec<ContactNote>> {
        self.store.contact(account_id, contact_id).await?;
        Ok(self.store.contact_notes(account_id, contact_id).await?)
    }

    /// A new contact, its name checked as an edit checks it.
    pub async fn create_contact(
        &self,
        user: &User,
        name: &str,
        address: &Address,
        time_zone: Option<&str>,
    ) -> ServiceResult<Contact> {
        let name = ContactName::parse(name)?;
        let tz = time_zone.map(parse_zone).transpose()?;
        Ok(self.store.create_contact(user.account_id, name.as_str(), address, tz.as_deref()).await?)
    }

    /// `shown_in`: the conversation the agent made the change from, if any.
    pub async fn edit_contact(
        &self,
        user: &User,
        contact_id: i64,
        patch: ContactPatch,
        shown_in: Option<i64>,
    ) -> ServiceResult<Contact> {
        let by = Origin { actor_id: Some(user.id), shown_in };
        Ok(self.store.update_contact(user.account_id, contact_id, patch, by).await?)
    }

    pub async fn add_contact_note(
        &self,
        user: &User,
        contact_id: i64,
        body: &str,
        shown_in: Option<i64>,
    ) -> ServiceResult<ContactNote> {
        let body = NoteBody::parse(body)?;
        Ok(self.store.add_contact_note(user.account_id, contact_id, user.id, &body, shown_in).await?)
    }

    /// The author deletes their note; an admin may delete anyone's (a former
    /// colleague's, say).
    pub async fn delete_contact_note(
        &self,
        user: &User,
        contact_id: i64,
        note_id: i64,
        shown_in: Option<i64>,
    ) -> ServiceResult<()> {
        let note = self.store.contact_note(user.account_id, contact_id, note_id).await?;
        if note.author_id != Some(user.id) && !user.role.at_least(Role::Admin) {
            return Err(ServiceError::forbidden("only the note's author (or an admin) may delete it"));
        }
        let by = Origin { actor_id: Some(user.id), shown_in };
        self.store.delete_contact_note(user.account_id, note_id, by).await?;
        self.audit(user, "contact_note.deleted", &format!("contact:{contact_id}"), None, "").await
    }
}
