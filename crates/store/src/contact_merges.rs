//! Merging two contacts who are one person, and undoing it. The merge moves
//! the other contact's addresses, conversations (with their labels), notes
//! and consent ledger to the survivor in one transaction, with its event and
//! audit entry, and keeps a record of exactly which rows moved; the other
//! contact's row stays, hidden, so an undo moves those rows back.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use textdesk_core::event::DomainEvent;
use textdesk_core::merge::{Fields, LedgerMark};

use crate::audit::{NewAudit, audit_in};
use crate::consent::state_of;
use crate::events::append_for_contact;
use crate::{Backend, ConsentEvent, Contact, Result, Store, StoreError, from_ms, placeholders, returned_id, to_ms};

/// One contact as a merge preview shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MergeSide {
    pub contact: Contact,
    /// Conversations per medium (`sms`, `whatsapp`…), most first.
    pub conversations: Vec<(String, i64)>,
    pub notes: i64,
    /// The consent ledger, oldest first.
    pub consent: Vec<ConsentEvent>,
}

impl MergeSide {
    pub fn fields(&self) -> Fields {
        Fields {
            name: self.contact.name.clone(),
            time_zone: self.contact.time_zone.clone(),
            attributes: self.contact.attribute_texts(),
        }
    }

    /// The opt-ins and opt-outs, as the merge rule reads them.
    pub fn ledger_marks(&self) -> Vec<LedgerMark> {
        self.consent
            .iter()
            .filter(|e| e.kind == "opt_in" || e.kind == "opt_out")
            .map(|e| LedgerMark { id: e.id, scope: e.scope.clone(), state: state_of(Some(&e.kind)), at: e.created_at })
            .collect()
    }
}

/// Exactly what a merge moved, and what the survivor was before.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Moved {
    pub identities: Vec<i64>,
    pub conversations: Vec<i64>,
    pub notes: Vec<i64>,
    pub consent_events: Vec<i64>,
    pub survivor_before: Fields,
    /// The largest message, consent event and identity ids when merged: a
    /// larger one on the survivor since is something new the undo cannot split.
    pub marks: (i64, i64, i64),
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactMerge {
    pub id: i64,
    pub survivor_id: i64,
    pub merged_id: i64,
    pub actor_id: Option<i64>,
    pub moved: Moved,
    pub created_at: Timestamp,
    pub undone_at: Option<Timestamp>,
}

fn merge_from(r: &sqlx::any::AnyRow) -> Result<ContactMerge> {
    let moved: String = r.try_get("moved")?;
    Ok(ContactMerge {
        id: r.try_get("id")?,
        survivor_id: r.try_get("survivor_id")?,
        merged_id: r.try_get("merged_id")?,
        actor_id: r.try_get("actor_id")?,
        moved: serde_json::from_str(&moved).map_err(|e| StoreError::Invalid(format!("a merge record: {e}")))?,
        created_at: from_ms(r.try_get("created_at")?),
        undone_at: r.try_get::<Option<i64>, _>("undone_at")?.map(from_ms),
    })
}

const MERGE_COLUMNS: &str = "id, survivor_id, merged_id, actor_id, moved, created_at, undone_at";

/// Ids of `table`'s rows belonging to `contact_id`.
async fn ids_of(tx: &mut AnyConnection, table: &str, contact_id: i64) -> Result<Vec<i64>> {
    let sql = format!("SELECT id FROM {table} WHERE contact_id = $1 ORDER BY id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).fetch_all(&mut *tx).await?;
    rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)?)).collect()
}

/// Points the rows `ids` of `table` now held by `from` at `to`.
async fn move_rows(tx: &mut AnyConnection, table: &str, ids: &[i64], from: i64, to: i64) -> Result<()> {
    for chunk in ids.chunks(500) {
        let sql = format!(
            "UPDATE {table} SET contact_id = $1 WHERE contact_id = $2 AND id IN ({})",
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to).bind(from);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Sets a contact's fields and its list consent (the latest change in any scope).
async fn write_fields(tx: &mut AnyConnection, contact_id: i64, f: &Fields, now: Timestamp) -> Result<()> {
    let attrs = serde_json::to_string(&f.attributes).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let latest: Option<String> = sqlx::query(
        "SELECT kind FROM consent_events WHERE contact_id = $1 AND kind IN ('opt_in', 'opt_out') ORDER BY id DESC LIMIT 1",
    )
    .bind(contact_id)
    .fetch_optional(&mut *tx)
    .await?
    .map(|r| r.try_get("kind"))
    .transpose()?;
    sqlx::query(
        "UPDATE contacts SET name = $1, time_zone = $2, attributes = $3, consent = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(&f.name)
    .bind(&f.time_zone)
    .bind(attrs)
    .bind(state_of(latest.as_deref()).as_str())
    .bind(to_ms(now))
    .bind(contact_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn max_id(tx: &mut AnyConnection, sql: &'static str) -> Result<i64> {
    Ok(sqlx::query(sql).fetch_one(&mut *tx).await?.try_get::<Option<i64>, _>(0)?.unwrap_or(0))
}

impl Store {
    /// A live (not merged away, not erased) contact of the account, locked for the transaction.
    async fn lock_live_contact(&self, tx: &mut AnyConnection, account_id: i64, id: i64) -> Result<()> {
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT merged_into, erased_at FROM contacts WHERE account_id = $1 AND id = $2{lock}");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("contact"))?;
        if row.try_get::<Option<i64>, _>("merged_into")?.is_some() {
            return Err(StoreError::NotFound("contact"));
        }
        if row.try_get::<Option<i64>, _>("erased_at")?.is_some() {
            return Err(StoreError::Conflict(format!("contact {id} was erased and cannot be merged")));
        }
        Ok(())
    }

    /// Everything a merge preview shows about one contact.
    pub async fn merge_side(&self, account_id: i64, contact_id: i64) -> Result<MergeSide> {
        let contact = self.contact(account_id, contact_id).await?;
        let rows = sqlx::query(
            "SELECT ib.medium AS medium, COUNT(*) AS n FROM conversations c JOIN inboxes ib ON ib.id = c.inbox_id
             WHERE c.account_id = $1 AND c.contact_id = $2 GROUP BY ib.medium ORDER BY COUNT(*) DESC, ib.medium",
        )
        .bind(account_id)
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        let conversations =
            rows.iter().map(|r| Ok((r.try_get("medium")?, r.try_get("n")?))).collect::<Result<Vec<_>>>()?;
        let notes: i64 = sqlx::query("SELECT COUNT(*) FROM contact_notes WHERE account_id = $1 AND contact_id = $2")
            .bind(account_id)
            .bind(contact_id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        let consent = self.consent_history(contact_id).await?;
        Ok(MergeSide { contact, conversations, notes, consent })
    }

    /// Moves everything of `merged_id` to `survivor_id`, whose fields become
    /// `fields`, and records what moved.
    pub async fn merge_contacts(
        &self,
        account_id: i64,
        (survivor_id, merged_id): (i64, i64),
        fields: &Fields,
        actor_id: Option<i64>,
        now: Timestamp,
    ) -> Result<ContactMerge> {
        if survivor_id == merged_id {
            return Err(StoreError::Invalid("a contact cannot be merged with itself".into()));
        }
        let mut tx = self.begin_write().await?;
        // Locked in id order, so two opposite merges at once cannot deadlock.
        for id in [survivor_id.min(merged_id), survivor_id.max(merged_id)] {
            self.lock_live_contact(&mut tx, account_id, id).await?;
        }
        let before = fields_of(&mut tx, survivor_id).await?;
        let marks = (
            max_id(&mut tx, "SELECT MAX(id) FROM messages").await?,
            max_id(&mut tx, "SELECT MAX(id) FROM consent_events").await?,
            max_id(&mut tx, "SELECT MAX(id) FROM contact_identities").await?,
        );
        let moved = Moved {
            identities: ids_of(&mut tx, "contact_identities", merged_id).await?,
            conversations: ids_of(&mut tx, "conversations", merged_id).await?,
            notes: ids_of(&mut tx, "contact_notes", merged_id).await?,
            consent_events: ids_of(&mut tx, "consent_events", merged_id).await?,
            survivor_before: before,
            marks,
        };
        move_rows(&mut tx, "contact_identities", &moved.identities, merged_id, survivor_id).await?;
        move_rows(&mut tx, "conversations", &moved.conversations, merged_id, survivor_id).await?;
        move_rows(&mut tx, "contact_notes", &moved.notes, merged_id, survivor_id).await?;
        move_rows(&mut tx, "consent_events", &moved.consent_events, merged_id, survivor_id).await?;
        write_fields(&mut tx, survivor_id, fields, now).await?;
        sqlx::query("UPDATE contacts SET merged_into = $1, updated_at = $2 WHERE id = $3")
            .bind(survivor_id)
            .bind(to_ms(now))
            .bind(merged_id)
            .execute(&mut *tx)
            .await?;
        let json = serde_json::to_string(&moved).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let row = sqlx::query(
            "INSERT INTO contact_merges (account_id, survivor_id, merged_id, actor_id, moved, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(account_id)
        .bind(survivor_id)
        .bind(merged_id)
        .bind(actor_id)
        .bind(json)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?;
        let merge_id = returned_id(&row)?;
        let ev = DomainEvent::ContactsMerged { merge_id, survivor_id, merged_id };
        append_for_contact(&mut tx, (account_id, survivor_id, None), &ev, actor_id, now).await?;
        let detail = format!(
            "contact {merged_id} merged into contact {survivor_id}: {} addresses, {} conversations, {} notes, {} consent events moved",
            moved.identities.len(),
            moved.conversations.len(),
            moved.notes.len(),
            moved.consent_events.len()
        );
        let subject = format!("contact:{survivor_id}");
        let entry = NewAudit {
            account_id,
            actor_user_id: actor_id,
            action: "contact.merged",
            subject: &subject,
            ip: None,
            detail: &detail,
        };
        audit_in(&mut tx, &entry, now).await?;
        self.commit(tx).await?;
        self.contact_merge(account_id, merge_id).await
    }

    pub async fn contact_merge(&self, account_id: i64, merge_id: i64) -> Result<ContactMerge> {
        let sql = format!("SELECT {MERGE_COLUMNS} FROM contact_merges WHERE account_id = $1 AND id = $2");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(merge_id).fetch_optional(&self.pool).await?;
        merge_from(&row.ok_or(StoreError::NotFound("merge"))?)
    }

    /// The merges into a contact, newest first.
    pub async fn merges_into(&self, account_id: i64, survivor_id: i64) -> Result<Vec<ContactMerge>> {
        let sql = format!(
            "SELECT {MERGE_COLUMNS} FROM contact_merges WHERE account_id = $1 AND survivor_id = $2 ORDER BY id DESC LIMIT 20"
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(survivor_id).fetch_all(&self.pool).await?;
        rows.iter().map(merge_from).collect()
    }

    /// What has happened to the merged person since the merge, in words (None: nothing).
    async fn new_since(&self, tx: &mut AnyConnection, m: &ContactMerge) -> Result<Option<&'static str>> {
        let (message, consent, identity) = m.moved.marks;
        let checks: [(&str, i64, &'static str); 4] = [
            (
                "SELECT COUNT(*) FROM messages x JOIN conversations c ON c.id = x.conversation_id WHERE c.contact_id = $1 AND x.id > $2",
                message,
                "a message was written or received",
            ),
            ("SELECT COUNT(*) FROM consent_events WHERE contact_id = $1 AND id > $2", consent, "consent was recorded"),
            (
                "SELECT COUNT(*) FROM contact_identities WHERE contact_id = $1 AND id > $2",
                identity,
                "an address was added",
            ),
            (
                "SELECT COUNT(*) FROM contact_merges WHERE (survivor_id = $1 OR merged_id = $1) AND id > $2 AND undone_at IS NULL",
                m.id,
                "another contact was merged into them",
            ),
        ];
        for (sql, mark, what) in checks {
            let n: i64 = sqlx::query(sql).bind(m.survivor_id).bind(mark).fetch_one(&mut *tx).await?.try_get(0)?;
            if n > 0 {
                return Ok(Some(what));
            }
        }
        Ok(None)
    }

    /// Moves back exactly what the merge moved and gives the survivor its
    /// fields back; refused once the window has passed or something new has happened.
    pub async fn undo_merge(
        &self,
        account_id: i64,
        merge_id: i64,
        actor_id: Option<i64>,
        now: Timestamp,
    ) -> Result<ContactMerge> {
        let mut tx = self.begin_write().await?;
        let lock = if self.backend == Backend::Postgres { " FOR UPDATE" } else { "" };
        let sql = format!("SELECT {MERGE_COLUMNS} FROM contact_merges WHERE account_id = $1 AND id = $2{lock}");
        let row =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(merge_id).fetch_optional(&mut *tx).await?;
        let m = merge_from(&row.ok_or(StoreError::NotFound("merge"))?)?;
        if m.undone_at.is_some() {
            return Err(StoreError::Conflict("this merge was already undone".into()));
        }
        let erased: i64 = sqlx::query("SELECT COUNT(*) FROM contacts WHERE id IN ($1, $2) AND erased_at IS NOT NULL")
            .bind(m.survivor_id)
            .bind(m.merged_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if erased > 0 {
            return Err(StoreError::Conflict(
                "this person's data was erased: the merge can no longer be undone".into(),
            ));
        }
        let since = self.new_since(&mut tx, &m).await?;
        textdesk_core::merge::undo_allowed(m.created_at, now, since).map_err(|e| StoreError::Conflict(e.0))?;
        let (s, o) = (m.survivor_id, m.merged_id);
        move_rows(&mut tx, "contact_identities", &m.moved.identities, s, o).await?;
        move_rows(&mut tx, "conversations", &m.moved.conversations, s, o).await?;
        move_rows(&mut tx, "contact_notes", &m.moved.notes, s, o).await?;
        move_rows(&mut tx, "consent_events", &m.moved.consent_events, s, o).await?;
        write_fields(&mut tx, s, &m.moved.survivor_before, now).await?;
        sqlx::query("UPDATE contacts SET merged_into = NULL, updated_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(o)
            .execute(&mut *tx)
            .await?;
        // The merged contact's list consent, from its own ledger again.
        let other = fields_of(&mut tx, o).await?;
        write_fields(&mut tx, o, &other, now).await?;
        sqlx::query("UPDATE contact_merges SET undone_at = $1 WHERE id = $2")
            .bind(to_ms(now))
            .bind(merge_id)
            .execute(&mut *tx)
            .await?;
        let ev = DomainEvent::ContactsUnmerged { merge_id, survivor_id: s, merged_id: o };
        append_for_contact(&mut tx, (account_id, s, None), &ev, actor_id, now).await?;
        append_for_contact(&mut tx, (account_id, o, None), &ev, actor_id, now).await?;
        let detail = format!("merge of contact {o} into contact {s} undone");
        let subject = format!("contact:{s}");
        let entry = NewAudit {
            account_id,
            actor_user_id: actor_id,
            action: "contact.merge_undone",
            subject: &subject,
            ip: None,
            detail: &detail,
        };
        audit_in(&mut tx, &entry, now).await?;
        self.commit(tx).await?;
        self.contact_merge(account_id, merge_id).await
    }
}

async fn fields_of(tx: &mut AnyConnection, id: i64) -> Result<Fields> {
    let r = sqlx::query("SELECT name, time_zone, attributes FROM contacts WHERE id = $1")
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
    let attrs: String = r.try_get("attributes")?;
    let value: serde_json::Value = serde_json::from_str(&attrs).unwrap_or_default();
    Ok(Fields {
        name: r.try_get("name")?,
        time_zone: r.try_get("time_zone")?,
        attributes: crate::contacts::attribute_texts(&value),
    })
}

/// Erasing a person erases who they were before their merges too: every
/// contact merged into `contact_id` (and into those, however deep) loses its
/// name, zone, attributes and notes, and the merge records forget the fields
/// they kept for an undo (an erased person's merge is never undone). Returns
/// the merged contacts, whose addresses the caller erases as the survivor's.
pub(crate) async fn erase_merged(tx: &mut AnyConnection, contact_id: i64, now: Timestamp) -> Result<Vec<i64>> {
    let mut merged: Vec<i64> = Vec::new();
    let mut frontier = vec![contact_id];
    while !frontier.is_empty() {
        let sql = format!("SELECT id FROM contacts WHERE merged_into IN ({})", placeholders(1, frontier.len()));
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in &frontier {
            q = q.bind(*id);
        }
        let next: Vec<i64> = q
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<_, _>>()?;
        frontier = next.into_iter().filter(|id| *id != contact_id && !merged.contains(id)).collect();
        merged.extend(&frontier);
    }
    for id in &merged {
        sqlx::query(
            "UPDATE contacts SET name = '', time_zone = NULL, attributes = '{}', erased_at = COALESCE(erased_at, $1), updated_at = $1 WHERE id = $2",
        )
        .bind(to_ms(now))
        .bind(*id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM contact_notes WHERE contact_id = $1").bind(*id).execute(&mut *tx).await?;
    }
    let everyone: Vec<i64> = std::iter::once(contact_id).chain(merged.iter().copied()).collect();
    let list = placeholders(1, everyone.len());
    let sql = format!("SELECT id, moved FROM contact_merges WHERE survivor_id IN ({list}) OR merged_id IN ({list})");
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in &everyone {
        q = q.bind(*id);
    }
    for r in q.fetch_all(&mut *tx).await? {
        let raw: String = r.try_get("moved")?;
        let mut moved: Moved =
            serde_json::from_str(&raw).map_err(|e| StoreError::Invalid(format!("a merge record: {e}")))?;
        moved.survivor_before = Fields::default();
        let json = serde_json::to_string(&moved).map_err(|e| StoreError::Invalid(e.to_string()))?;
        sqlx::query("UPDATE contact_merges SET moved = $1 WHERE id = $2")
            .bind(json)
            .bind(r.try_get::<i64, _>("id")?)
            .execute(&mut *tx)
            .await?;
    }
    Ok(merged)
}
