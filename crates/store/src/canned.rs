//! Canned responses, and the account's settings (the composer's tone rules
//! live there).

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::template::{Shortcut, Template};

use crate::{Result, Store, StoreError, from_ms, is_unique_violation, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct CannedResponse {
    pub id: i64,
    pub account_id: i64,
    pub shortcut: String,
    pub title: String,
    /// The template's source, `{variables}` and all.
    pub body: String,
    pub created_by: Option<i64>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A canned response's validated parts, for creating or replacing one.
pub struct CannedFields {
    pub shortcut: Shortcut,
    pub title: String,
    pub body: Template,
}

const COLUMNS: &str = "id, account_id, shortcut, title, body, created_by, created_at, updated_at";

fn canned_from(r: &sqlx::any::AnyRow) -> Result<CannedResponse> {
    Ok(CannedResponse {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        shortcut: r.try_get("shortcut")?,
        title: r.try_get("title")?,
        body: r.try_get("body")?,
        created_by: r.try_get("created_by")?,
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn taken(shortcut: &Shortcut) -> StoreError {
    StoreError::Conflict(format!("the shortcut /{shortcut} is already taken"))
}

/// `LIKE` matches the text literally: `%` and `_` typed by someone are not wildcards.
fn like_escaped(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

impl Store {
    pub async fn create_canned(&self, account_id: i64, f: &CannedFields, created_by: i64) -> Result<CannedResponse> {
        let now = to_ms(Timestamp::now());
        let res = self.write_row(sqlx::query(
            "INSERT INTO canned_responses (account_id, shortcut, title, body, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id",
        )
        .bind(account_id)
        .bind(f.shortcut.as_str())
        .bind(&f.title)
        .bind(f.body.as_str())
        .bind(created_by)
        .bind(now)
        )
        .await;
        match res {
            Ok(row) => self.canned(account_id, returned_id(&row)?).await,
            Err(e) if is_unique_violation(&e) => Err(taken(&f.shortcut)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn canned(&self, account_id: i64, id: i64) -> Result<CannedResponse> {
        let sql = format!("SELECT {COLUMNS} FROM canned_responses WHERE account_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        canned_from(&row.ok_or(StoreError::NotFound("canned response"))?)
    }

    /// The account's canned responses by shortcut; with `search`, those whose
    /// shortcut or title (or a word of it) starts with it.
    pub async fn canned_list(&self, account_id: i64, search: Option<&str>) -> Result<Vec<CannedResponse>> {
        let search = search.map(|s| s.trim().trim_start_matches('/').to_lowercase()).filter(|s| !s.is_empty());
        let rows = match search {
            None => {
                let sql = format!("SELECT {COLUMNS} FROM canned_responses WHERE account_id = $1 ORDER BY shortcut");
                sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?
            }
            Some(q) => {
                let sql = format!(
                    "SELECT {COLUMNS} FROM canned_responses WHERE account_id = $1
                     AND (shortcut LIKE $2 ESCAPE '\\' OR LOWER(title) LIKE $2 ESCAPE '\\' OR LOWER(title) LIKE $3 ESCAPE '\\')
                     ORDER BY shortcut"
                );
                let q = like_escaped(&q);
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(account_id)
                    .bind(format!("{q}%"))
                    .bind(format!("% {q}%"))
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(canned_from).collect()
    }

    pub async fn update_canned(&self, account_id: i64, id: i64, f: &CannedFields) -> Result<CannedResponse> {
        let res = self.write_one(sqlx::query(
            "UPDATE canned_responses SET shortcut = $1, title = $2, body = $3, updated_at = $4 WHERE account_id = $5 AND id = $6",
        )
        .bind(f.shortcut.as_str())
        .bind(&f.title)
        .bind(f.body.as_str())
        .bind(to_ms(Timestamp::now()))
        .bind(account_id)
        .bind(id)
        )
        .await;
        match res {
            Ok(r) if r.rows_affected() == 0 => Err(StoreError::NotFound("canned response")),
            Ok(_) => self.canned(account_id, id).await,
            Err(e) if is_unique_violation(&e) => Err(taken(&f.shortcut)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_canned(&self, account_id: i64, id: i64) -> Result<()> {
        let r = self
            .write_one(
                sqlx::query("DELETE FROM canned_responses WHERE account_id = $1 AND id = $2").bind(account_id).bind(id),
            )
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("canned response"));
        }
        Ok(())
    }

    /// The account's settings object (`{}` when nothing was set).
    pub async fn account_settings(&self, account_id: i64) -> Result<serde_json::Value> {
        let row = sqlx::query("SELECT settings FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("account"))?;
        let s: String = row.try_get("settings")?;
        Ok(serde_json::from_str(&s).unwrap_or_else(|_| serde_json::json!({})))
    }

    pub async fn account(&self, account_id: i64) -> Result<crate::Account> {
        let row = sqlx::query("SELECT id, name FROM accounts WHERE id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("account"))?;
        Ok(crate::Account { id: row.try_get("id")?, name: row.try_get("name")? })
    }

    /// Replaces the settings object; the caller has validated it.
    pub async fn set_account_settings(&self, account_id: i64, settings: &serde_json::Value) -> Result<()> {
        let r = self
            .write_one(
                sqlx::query("UPDATE accounts SET settings = $1 WHERE id = $2")
                    .bind(settings.to_string())
                    .bind(account_id),
            )
            .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }
}
