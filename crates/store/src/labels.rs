//! The account's label catalogue (migration `0010_labels`). Conversations hold
//! a label by its name in `conversation_labels`, so renaming and deleting here
//! carry over to every conversation in the same transaction.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::event::DomainEvent;
use textdesk_core::{LabelColor, LabelName};

use crate::{Result, Store, StoreError, from_ms, is_unique_violation, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Label {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// `#rrggbb`, one of `textdesk_core::label::PALETTE`.
    pub color: String,
    pub description: String,
    /// How many conversations carry it now.
    pub conversations: i64,
    pub created_at: Timestamp,
}

/// A label's validated parts, for creating or replacing one.
pub struct LabelFields {
    pub name: LabelName,
    pub color: LabelColor,
    pub description: String,
}

/// What a rename or a delete touched: the conversations to announce.
pub struct LabelChange {
    pub label: Label,
    pub conversation_ids: Vec<i64>,
}

const SELECT: &str = "SELECT l.id, l.account_id, l.name, l.color, l.description, l.created_at,
        (SELECT COUNT(*) FROM conversation_labels cl JOIN conversations c ON c.id = cl.conversation_id
         WHERE c.account_id = l.account_id AND cl.label = l.name) AS uses
     FROM labels l";

fn label_from(r: &sqlx::any::AnyRow) -> Result<Label> {
    Ok(Label {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        color: r.try_get("color")?,
        description: r.try_get("description")?,
        conversations: r.try_get("uses")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

fn taken(name: &LabelName) -> StoreError {
    StoreError::Conflict(format!("there is already a label named {name}"))
}

impl Store {
    /// The account's labels, by name.
    pub async fn labels(&self, account_id: i64) -> Result<Vec<Label>> {
        let sql = format!("{SELECT} WHERE l.account_id = $1 ORDER BY LOWER(l.name), l.id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(label_from).collect()
    }

    pub async fn label(&self, account_id: i64, id: i64) -> Result<Label> {
        let sql = format!("{SELECT} WHERE l.account_id = $1 AND l.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        label_from(&row.ok_or(StoreError::NotFound("label"))?)
    }

    /// Whether another label of the account has this name in any case. The
    /// unique index is the backstop; SQLite's LOWER folds only ASCII, so the
    /// check that counts for every alphabet is this one, inside the write.
    async fn label_name_taken(
        conn: &mut sqlx::AnyConnection,
        account_id: i64,
        name: &LabelName,
        except: Option<i64>,
    ) -> Result<bool> {
        let rows =
            sqlx::query("SELECT id, name FROM labels WHERE account_id = $1").bind(account_id).fetch_all(conn).await?;
        for r in rows {
            let (id, other): (i64, String) = (r.try_get("id")?, r.try_get("name")?);
            if Some(id) != except && other.to_lowercase() == name.key() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn create_label(&self, account_id: i64, f: &LabelFields) -> Result<Label> {
        let mut tx = self.begin_write().await?;
        if Self::label_name_taken(&mut tx, account_id, &f.name, None).await? {
            return Err(taken(&f.name));
        }
        let res = sqlx::query(
            "INSERT INTO labels (account_id, name, color, description, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(account_id)
        .bind(f.name.as_str())
        .bind(f.color.as_str())
        .bind(&f.description)
        .bind(to_ms(Timestamp::now()))
        .fetch_one(&mut *tx)
        .await;
        let id = match res {
            Ok(row) => returned_id(&row)?,
            Err(e) if is_unique_violation(&e) => return Err(taken(&f.name)),
            Err(e) => return Err(e.into()),
        };
        self.commit(tx).await?;
        self.label(account_id, id).await
    }

    /// Conversations of the account carrying the label `name`.
    async fn carrying(conn: &mut sqlx::AnyConnection, account_id: i64, name: &str) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT cl.conversation_id FROM conversation_labels cl JOIN conversations c ON c.id = cl.conversation_id
             WHERE c.account_id = $1 AND cl.label = $2 ORDER BY cl.conversation_id",
        )
        .bind(account_id)
        .bind(name)
        .fetch_all(conn)
        .await?;
        rows.iter().map(|r| Ok(r.try_get::<i64, _>("conversation_id")?)).collect()
    }

    /// Replaces a label's name, colour and description; a new name is carried
    /// over to every conversation that has the label.
    pub async fn update_label(&self, account_id: i64, id: i64, f: &LabelFields) -> Result<LabelChange> {
        let current = self.label(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        if Self::label_name_taken(&mut tx, account_id, &f.name, Some(id)).await? {
            return Err(taken(&f.name));
        }
        let renamed = current.name != f.name.as_str();
        let conversation_ids =
            if renamed { Self::carrying(&mut tx, account_id, &current.name).await? } else { Vec::new() };
        let res =
            sqlx::query("UPDATE labels SET name = $1, color = $2, description = $3 WHERE account_id = $4 AND id = $5")
                .bind(f.name.as_str())
                .bind(f.color.as_str())
                .bind(&f.description)
                .bind(account_id)
                .bind(id)
                .execute(&mut *tx)
                .await;
        match res {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => return Err(taken(&f.name)),
            Err(e) => return Err(e.into()),
        }
        let ev = DomainEvent::LabelCatalogueChanged {
            label: current.name.clone(),
            renamed_to: Some(f.name.as_str().to_owned()),
        };
        for conversation in &conversation_ids {
            sqlx::query("UPDATE conversation_labels SET label = $1 WHERE conversation_id = $2 AND label = $3")
                .bind(f.name.as_str())
                .bind(conversation)
                .bind(&current.name)
                .execute(&mut *tx)
                .await?;
            crate::events::append(&mut tx, (account_id, *conversation), &ev, None, Timestamp::now()).await?;
        }
        self.commit(tx).await?;
        Ok(LabelChange { label: self.label(account_id, id).await?, conversation_ids })
    }

    /// Deletes a label and takes it off every conversation. Timeline entries
    /// that named it keep their words.
    pub async fn delete_label(&self, account_id: i64, id: i64) -> Result<LabelChange> {
        let label = self.label(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        let conversation_ids = Self::carrying(&mut tx, account_id, &label.name).await?;
        let ev = DomainEvent::LabelCatalogueChanged { label: label.name.clone(), renamed_to: None };
        for conversation in &conversation_ids {
            sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1 AND label = $2")
                .bind(conversation)
                .bind(&label.name)
                .execute(&mut *tx)
                .await?;
            crate::events::append(&mut tx, (account_id, *conversation), &ev, None, Timestamp::now()).await?;
        }
        sqlx::query("DELETE FROM labels WHERE account_id = $1 AND id = $2")
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(LabelChange { label, conversation_ids })
    }
}
