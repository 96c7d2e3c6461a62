use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::Medium;

use textdesk_core::event::DomainEvent;

use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Inbox {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// The key of the provider that connects it (`textdesk_channels::registry`):
    /// kept as text, so an inbox of a provider this build lacks still loads.
    pub provider: String,
    /// What it carries to the customer (SMS, WhatsApp…).
    pub medium: Medium,
    /// The business's address on the channel (its phone number for SMS).
    pub sender: String,
    pub settings: serde_json::Value,
    pub created_at: Timestamp,
}

pub struct NewInbox {
    pub account_id: i64,
    pub name: String,
    pub provider: String,
    pub medium: Medium,
    pub sender: String,
    pub settings: serde_json::Value,
    /// Provider credentials: sealed (`vault`) when written, never read back by listing queries.
    pub secrets: serde_json::Value,
}

// `channel_kind` holds the provider's key (its name from before media were told apart).
const COLUMNS: &str = "id, account_id, name, channel_kind, medium, sender, settings, created_at";

fn inbox_from(r: &sqlx::any::AnyRow) -> Result<Inbox> {
    let medium: String = r.try_get("medium")?;
    let settings: String = r.try_get("settings")?;
    Ok(Inbox {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        name: r.try_get("name")?,
        provider: r.try_get("channel_kind")?,
        medium: Medium::parse(&medium)?,
        sender: r.try_get("sender")?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        created_at: from_ms(r.try_get("created_at")?),
    })
}

impl Store {
    pub async fn create_inbox(&self, new: NewInbox) -> Result<Inbox> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("INSERT INTO inboxes (account_id, name, channel_kind, medium, sender, settings, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(new.account_id)
            .bind(&new.name)
            .bind(&new.provider)
            .bind(new.medium.as_str())
            .bind(&new.sender)
            .bind(new.settings.to_string())
            .bind(to_ms(Timestamp::now()))
            .fetch_one(&mut *tx)
            .await?;
        let id = returned_id(&row)?;
        sqlx::query("INSERT INTO inbox_secrets (inbox_id, secrets) VALUES ($1, $2)")
            .bind(id)
            .bind(self.seal_inbox_secrets(id, &new.secrets.to_string())?)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        self.inbox(new.account_id, id).await
    }

    pub async fn inbox(&self, account_id: i64, id: i64) -> Result<Inbox> {
        let sql = format!("SELECT {COLUMNS} FROM inboxes WHERE account_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        inbox_from(&row.ok_or(StoreError::NotFound("inbox"))?)
    }

    /// Renames an inbox and/or replaces its settings (already checked by the caller).
    pub async fn update_inbox(
        &self,
        account_id: i64,
        id: i64,
        name: Option<&str>,
        settings: Option<&serde_json::Value>,
    ) -> Result<Inbox> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE inboxes SET name = COALESCE($1, name), settings = COALESCE($2, settings) WHERE account_id = $3 AND id = $4",
        )
        .bind(name)
        .bind(settings.map(|s| s.to_string()))
        .bind(account_id)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("inbox"));
        }
        changed(&mut tx, account_id, id).await?;
        self.commit(tx).await?;
        self.inbox(account_id, id).await
    }

    /// Replaces an inbox's provider connection: the settings object (already
    /// checked, with the connection's shown part under the provider's key)
    /// and its sealed secrets, together.
    pub async fn update_inbox_setup(
        &self,
        account_id: i64,
        id: i64,
        settings: &serde_json::Value,
        secrets: &serde_json::Value,
    ) -> Result<Inbox> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE inboxes SET settings = $1 WHERE account_id = $2 AND id = $3")
            .bind(settings.to_string())
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("inbox"));
        }
        sqlx::query("UPDATE inbox_secrets SET secrets = $1 WHERE inbox_id = $2")
            .bind(self.seal_inbox_secrets(id, &secrets.to_string())?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changed(&mut tx, account_id, id).await?;
        self.commit(tx).await?;
        self.inbox(account_id, id).await
    }

    /// Shares (or with None, stops sharing) a consent scope with other inboxes.
    pub async fn set_inbox_consent_scope(&self, account_id: i64, id: i64, scope: Option<&str>) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE inboxes SET consent_scope = $1 WHERE account_id = $2 AND id = $3")
            .bind(scope)
            .bind(account_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Err(StoreError::NotFound("inbox"));
        }
        changed(&mut tx, account_id, id).await?;
        self.commit(tx).await?;
        Ok(())
    }

    /// An inbox by id alone, for webhooks and workers that are not acting for a user.
    pub async fn inbox_by_id(&self, id: i64) -> Result<Inbox> {
        let mut conn = self.pool.acquire().await?;
        inbox_in(&mut conn, id).await
    }

    pub async fn inboxes(&self, account_id: i64) -> Result<Vec<Inbox>> {
        let sql = format!("SELECT {COLUMNS} FROM inboxes WHERE account_id = $1 ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(inbox_from).collect()
    }

    /// Every account's inboxes of one provider (by its key).
    pub async fn inboxes_of_provider(&self, provider: &str) -> Result<Vec<Inbox>> {
        let sql = format!("SELECT {COLUMNS} FROM inboxes WHERE channel_kind = $1 ORDER BY id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(provider).fetch_all(&self.pool).await?;
        rows.iter().map(inbox_from).collect()
    }

    /// Credentials for the channel code that needs them to send or verify.
    pub async fn inbox_secrets(&self, inbox_id: i64) -> Result<serde_json::Value> {
        let row = sqlx::query("SELECT secrets FROM inbox_secrets WHERE inbox_id = $1")
            .bind(inbox_id)
            .fetch_optional(&self.pool)
            .await?;
        let s: String = row.ok_or(StoreError::NotFound("inbox"))?.try_get("secrets")?;
        Ok(serde_json::from_str(&self.open_inbox_secrets(inbox_id, s)?).unwrap_or_default())
    }
}

/// Tells every node, through the log, to read the inbox again: what it
/// keeps of it (settings, verifier) is out of date once this commits.
async fn changed(tx: &mut sqlx::AnyConnection, account_id: i64, inbox_id: i64) -> Result<()> {
    crate::events::append(tx, (account_id, 0), &DomainEvent::InboxChanged { inbox_id }, None, Timestamp::now()).await?;
    Ok(())
}

/// An inbox read through the caller's connection (a writer that holds
/// SQLite's lock must not wait for a second connection from the pool).
pub async fn inbox_in(conn: &mut sqlx::AnyConnection, id: i64) -> Result<Inbox> {
    let sql = format!("SELECT {COLUMNS} FROM inboxes WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await?;
    inbox_from(&row.ok_or(StoreError::NotFound("inbox"))?)
}
