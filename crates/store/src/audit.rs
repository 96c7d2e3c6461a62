//! The audit trail: who did what, when and from where, per account. General on
//! purpose: sign-in lockouts write to it today; erasures and other acts that an
//! admin must be able to account for later will too.

use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, from_ms, returned_id, to_ms};

/// An entry to write. `actor_user_id` is None for the system or an anonymous visitor.
#[derive(Debug, Clone, Default)]
pub struct NewAudit<'a> {
    pub account_id: i64,
    pub actor_user_id: Option<i64>,
    /// A dotted name such as `sign_in.locked`.
    pub action: &'a str,
    /// What the entry is about (an e-mail, `user:12`, `contact:7`).
    pub subject: &'a str,
    pub ip: Option<&'a str>,
    /// Plain words for people reading the trail.
    pub detail: &'a str,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Timestamp,
    pub actor_user_id: Option<i64>,
    /// The actor's name as it is now (None for the system or an anonymous visitor).
    pub actor_name: Option<String>,
    pub action: String,
    pub subject: String,
    pub ip: Option<String>,
    pub detail: String,
}

/// Which entries to read: by whom, what (an action, or its family by the
/// first word: `sign_in`), and when (`from` inclusive, `to` exclusive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor_user_id: Option<i64>,
    pub action: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

impl Store {
    /// The actions the account's trail holds, for the page's filter.
    pub async fn audit_actions(&self, account_id: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT DISTINCT action FROM audit_log WHERE account_id = $1 ORDER BY action")
            .bind(account_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }
}

/// At most this many entries are read at once.
pub const MAX_AUDIT_READ: i64 = 500;

impl Store {
    pub async fn record_audit(&self, e: NewAudit<'_>, at: Timestamp) -> Result<i64> {
        let mut conn = self.pool.acquire().await?;
        audit_in(&mut conn, &e, at).await
    }

    /// The account's entries, newest first, older than `before_id` when given.
    pub async fn audit_entries(&self, account_id: i64, before_id: Option<i64>, limit: i64) -> Result<Vec<AuditEntry>> {
        self.audit_entries_matching(account_id, &AuditFilter::default(), before_id, limit).await
    }

    /// The account's entries matching `f`, newest first, older than `before_id` when given.
    pub async fn audit_entries_matching(
        &self,
        account_id: i64,
        f: &AuditFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let action = f.action.as_deref().unwrap_or("");
        let rows = sqlx::query(
            "SELECT a.id, a.at, a.actor_user_id, u.name AS actor_name, a.action, a.subject, a.ip, a.detail
             FROM audit_log a LEFT JOIN users u ON u.id = a.actor_user_id
             WHERE a.account_id = $1 AND a.id < $2
             AND ($4 = 0 OR a.actor_user_id = $4) AND ($5 = '' OR a.action = $5 OR a.action LIKE $6)
             AND a.at >= $7 AND a.at < $8
             ORDER BY a.id DESC LIMIT $3",
        )
        .bind(account_id)
        .bind(before_id.unwrap_or(i64::MAX))
        .bind(limit.clamp(1, MAX_AUDIT_READ))
        .bind(f.actor_user_id.unwrap_or(0))
        .bind(action)
        // A family of actions by its first word: `sign_in` finds `sign_in.failed` and `sign_in.locked`.
        .bind(format!("{}.%", action.replace('%', "")))
        .bind(f.from.map(to_ms).unwrap_or(i64::MIN))
        .bind(f.to.map(to_ms).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: from_ms(r.try_get("at")?),
                    actor_user_id: r.try_get("actor_user_id")?,
                    actor_name: r.try_get("actor_name")?,
                    action: r.try_get("action")?,
                    subject: r.try_get("subject")?,
                    ip: r.try_get("ip")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect()
    }
}

/// Writes an entry in the caller's transaction, so an act and its entry commit together.
pub(crate) async fn audit_in(conn: &mut sqlx::AnyConnection, e: &NewAudit<'_>, at: Timestamp) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO audit_log (account_id, at, actor_user_id, action, subject, ip, detail)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(e.account_id)
    .bind(to_ms(at))
    .bind(e.actor_user_id)
    .bind(e.action)
    .bind(e.subject)
    .bind(e.ip)
    .bind(e.detail)
    .fetch_one(&mut *conn)
    .await?;
    returned_id(&row)
}
