//! Each inbox's provider templates (WhatsApp's), as last synced: replaced as
//! a whole on every sync, so one deleted at the provider is gone here too.

use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, StoreError, from_ms, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ChannelTemplate {
    pub id: i64,
    pub inbox_id: i64,
    pub name: String,
    pub language: String,
    /// As the provider says it: `APPROVED`, `PENDING`, `REJECTED`…
    pub status: String,
    pub category: String,
    /// With `{{1}}`-style variables.
    pub body: String,
    /// Its header and buttons (JSON of `core::channel_template::TemplateParts`).
    pub parts: String,
    pub synced_at: Timestamp,
}

/// A template as read from the provider, to be kept.
#[derive(Debug, Clone)]
pub struct SyncedTemplate {
    pub name: String,
    pub language: String,
    pub status: String,
    pub category: String,
    pub body: String,
    /// JSON of `core::channel_template::TemplateParts`.
    pub parts: String,
}

fn template_from(r: &sqlx::any::AnyRow) -> Result<ChannelTemplate> {
    Ok(ChannelTemplate {
        id: r.try_get("id")?,
        inbox_id: r.try_get("inbox_id")?,
        name: r.try_get("name")?,
        language: r.try_get("language")?,
        status: r.try_get("status")?,
        category: r.try_get("category")?,
        body: r.try_get("body")?,
        parts: r.try_get("parts")?,
        synced_at: from_ms(r.try_get("synced_at")?),
    })
}

const COLUMNS: &str = "id, inbox_id, name, language, status, category, body, parts, synced_at";

impl Store {
    /// Replaces an inbox's templates with what the provider holds now.
    /// Templates keep their id across syncs (a picker's choice stays valid).
    pub async fn replace_templates(&self, inbox_id: i64, synced: &[SyncedTemplate], now: Timestamp) -> Result<usize> {
        let mut tx = self.begin_write().await?;
        let now_ms = to_ms(now);
        for t in synced {
            sqlx::query(
                "INSERT INTO channel_templates (inbox_id, name, language, status, category, body, synced_at, parts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (inbox_id, name, language) DO UPDATE SET status = $4, category = $5, body = $6, synced_at = $7, parts = $8",
            )
            .bind(inbox_id)
            .bind(&t.name)
            .bind(&t.language)
            .bind(&t.status)
            .bind(&t.category)
            .bind(&t.body)
            .bind(now_ms)
            .bind(&t.parts)
            .execute(&mut *tx)
            .await?;
        }
        // Whatever this sync did not see is gone at the provider.
        sqlx::query("DELETE FROM channel_templates WHERE inbox_id = $1 AND synced_at <> $2")
            .bind(inbox_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(synced.len())
    }

    /// An inbox's templates, by name and language.
    pub async fn templates(&self, inbox_id: i64) -> Result<Vec<ChannelTemplate>> {
        let sql = format!("SELECT {COLUMNS} FROM channel_templates WHERE inbox_id = $1 ORDER BY name, language");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(inbox_id).fetch_all(&self.pool).await?;
        rows.iter().map(template_from).collect()
    }

    /// One template of an inbox (404 for another inbox's).
    pub async fn template(&self, inbox_id: i64, id: i64) -> Result<ChannelTemplate> {
        let sql = format!("SELECT {COLUMNS} FROM channel_templates WHERE inbox_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(inbox_id).bind(id).fetch_optional(&self.pool).await?;
        template_from(&row.ok_or(StoreError::NotFound("template"))?)
    }
}
