//! Notes about a contact, kept beside the person rather than one conversation.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::NoteBody;
use textdesk_core::event::DomainEvent;

use crate::events::append_for_contact;
use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ContactNote {
    pub id: i64,
    pub contact_id: i64,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub body: String,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "n.id, n.contact_id, n.author_id, u.name AS author_name, n.body, n.created_at";

fn note_from(r: &sqlx::any::AnyRow) -> Result<ContactNote> {
    Ok(ContactNote {
        id: r.try_get("id")?,
        contact_id: r.try_get("contact_id")?,
        author_id: r.try_get("author_id")?,
        author_name: r.try_get("author_name")?,
        body: r.try_get("body")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

impl Store {
    /// A contact's notes, newest first.
    pub async fn contact_notes(&self, account_id: i64, contact_id: i64) -> Result<Vec<ContactNote>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM contact_notes n LEFT JOIN users u ON u.id = n.author_id
             WHERE n.account_id = $1 AND n.contact_id = $2 ORDER BY n.id DESC"
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(contact_id).fetch_all(&self.pool).await?;
        rows.iter().map(note_from).collect()
    }

    pub async fn contact_note(&self, account_id: i64, contact_id: i64, id: i64) -> Result<ContactNote> {
        let sql = format!(
            "SELECT {COLUMNS} FROM contact_notes n LEFT JOIN users u ON u.id = n.author_id
             WHERE n.account_id = $1 AND n.contact_id = $2 AND n.id = $3"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(contact_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        note_from(&row.ok_or(StoreError::NotFound("note"))?)
    }

    pub async fn add_contact_note(
        &self,
        account_id: i64,
        contact_id: i64,
        author_id: i64,
        body: &NoteBody,
        shown_in: Option<i64>,
    ) -> Result<ContactNote> {
        self.contact(account_id, contact_id).await?;
        let now = Timestamp::now();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO contact_notes (account_id, contact_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(contact_id)
        .bind(author_id)
        .bind(body.as_str())
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?;
        let note_id = returned_id(&row)?;
        let ev = DomainEvent::ContactNoteAdded { contact_id, note_id };
        append_for_contact(&mut tx, (account_id, contact_id, shown_in), &ev, Some(author_id), now).await?;
        self.commit(tx).await?;
        self.contact_note(account_id, contact_id, note_id).await
    }

    /// Deletes a note; who may is the caller's decision.
    pub async fn delete_contact_note(&self, account_id: i64, id: i64, by: crate::Origin) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("DELETE FROM contact_notes WHERE account_id = $1 AND id = $2 RETURNING contact_id")
            .bind(account_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else { return Ok(()) };
        let contact_id: i64 = row.try_get(0)?;
        let ev = DomainEvent::ContactNoteDeleted { contact_id, note_id: id };
        append_for_contact(&mut tx, (account_id, contact_id, by.shown_in), &ev, by.actor_id, Timestamp::now()).await?;
        self.commit(tx).await?;
        Ok(())
    }
}
