//! Codes texted to a number a web chat visitor left, so they prove it is
//! theirs before their chat moves to it (migration 0050). The text goes
//! through the one outbox, as a row that names this check instead of a
//! message: nothing about the number is attached to a contact or a
//! conversation until the code comes back (see `webchat::hand_off_to_sms`).

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;
use textdesk_core::gate::{self, OutboundKind, OutboundRequest, Verdict};
use textdesk_core::webchat::{CODE_LIFETIME, CODE_TRIES, CODES_PER_HOUR};
use textdesk_core::{Address, Capabilities};

use crate::{Backend, Result, Store, from_ms, returned_id, to_ms};

/// A code to send: who asked, where it goes, and the text around it.
pub struct NewPhoneCheck<'a> {
    pub account_id: i64,
    pub from_inbox_id: i64,
    pub visitor: &'a str,
    pub sms_inbox_id: i64,
    pub phone: &'a Address,
    /// The page the visitor agreed on (kept for the consent's evidence).
    pub page: &'a str,
    /// Random; the code is derived from it with the server's key.
    pub salt: &'a str,
    /// The text, with `{code}` where the code goes.
    pub body: &'a str,
    pub now: Timestamp,
}

/// Why no code was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckRefused {
    /// This number had its codes for the hour; the next may go at `retry_at`.
    NumberBusy { retry_at: Timestamp },
    /// This visitor had theirs.
    VisitorBusy { retry_at: Timestamp },
    /// The number replied STOP to this sender (or the account).
    OptedOut,
}

/// A visitor's latest code, as the widget and the check need it.
#[derive(Debug, Clone)]
pub struct PhoneCheck {
    pub id: i64,
    pub phone: String,
    pub page: String,
    pub salt: String,
    pub sms_inbox_id: i64,
    /// `pending`, `confirmed` or `burned`.
    pub state: String,
    pub wrong_tries: i64,
    /// `queued`, `sending`, `sent`, `delivered`, `failed` or `blocked`.
    pub send_status: String,
    pub expires_at: Timestamp,
    pub created_at: Timestamp,
}

/// SQL for the consent that counts for the check `pc`'s number on inbox
/// `ib`: that of whichever contact already has the number, if any.
pub(crate) fn check_consent_sql() -> String {
    format!(
        "(SELECT e.kind FROM consent_events e JOIN contact_identities ci ON ci.contact_id = e.contact_id
          WHERE ci.account_id = pc.account_id AND ci.namespace = 'phone' AND ci.address = pc.phone
          AND e.kind IN ('opt_in', 'opt_out') AND e.scope IN ({}, 'account') ORDER BY e.id DESC LIMIT 1)",
        crate::consent::INBOX_SCOPE
    )
}

impl Store {
    /// Queues a code for `c.phone`, unless the hour's limits (per number and
    /// per visitor, counted here so every node shares them) or the number's
    /// opt-out forbid it. The visitor's earlier codes stop working. Returns
    /// the check's id.
    pub async fn start_phone_check(&self, c: NewPhoneCheck<'_>) -> Result<std::result::Result<i64, CheckRefused>> {
        let now_ms = to_ms(c.now);
        let mut tx = self.begin_write().await?;
        if self.backend == Backend::Postgres {
            // Two requests counting at once could both see two codes and send a
            // fourth; codes are rare, so they simply take turns (SQLite's writer
            // already does).
            sqlx::query("SELECT pg_advisory_xact_lock(7214050)").execute(&mut *tx).await?;
        }
        let hour_ago = to_ms(c.now - SignedDuration::from_hours(1));
        let counted = |r: sqlx::any::AnyRow| -> Result<(i64, Option<i64>)> {
            Ok((r.try_get::<i64, _>("n")?, r.try_get::<Option<i64>, _>("oldest")?))
        };
        let (per_number, oldest) = counted(
            sqlx::query(
                "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM phone_checks WHERE phone = $1 AND created_at > $2",
            )
            .bind(c.phone.value())
            .bind(hour_ago)
            .fetch_one(&mut *tx)
            .await?,
        )?;
        let again = |oldest: Option<i64>| from_ms(oldest.unwrap_or(now_ms)) + SignedDuration::from_hours(1);
        if per_number >= CODES_PER_HOUR {
            return Ok(Err(CheckRefused::NumberBusy { retry_at: again(oldest) }));
        }
        let (per_visitor, oldest) = counted(
            sqlx::query(
                "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM phone_checks
                 WHERE from_inbox_id = $1 AND visitor = $2 AND created_at > $3",
            )
            .bind(c.from_inbox_id)
            .bind(c.visitor)
            .bind(hour_ago)
            .fetch_one(&mut *tx)
            .await?,
        )?;
        if per_visitor >= CODES_PER_HOUR {
            return Ok(Err(CheckRefused::VisitorBusy { retry_at: again(oldest) }));
        }
        let consent_sql = format!(
            "SELECT {} AS kind FROM (SELECT CAST($1 AS BIGINT) AS account_id, CAST($2 AS TEXT) AS phone) pc, inboxes ib WHERE ib.id = $3",
            check_consent_sql()
        );
        let kind: Option<String> = sqlx::query(sqlx::AssertSqlSafe(consent_sql))
            .bind(c.account_id)
            .bind(c.phone.value())
            .bind(c.sms_inbox_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("kind")?;
        let request = OutboundRequest {
            kind: OutboundKind::VerificationCode,
            consent: crate::consent::state_of(kind.as_deref()),
            now: c.now,
            timing: None,
            // SMS has no reply window: only the consent counts.
            channel: Capabilities {
                media: false,
                max_chars: 1600,
                reply_window: None,
                human_agent_window: None,
                delivery_receipts: true,
                read_receipts: false,
            },
            last_inbound: None,
            template: false,
            by_person: false,
        };
        if gate::decide(&request) != Verdict::Allow {
            return Ok(Err(CheckRefused::OptedOut));
        }
        sqlx::query(
            "UPDATE phone_checks SET state = 'burned' WHERE from_inbox_id = $1 AND visitor = $2 AND state = 'pending'",
        )
        .bind(c.from_inbox_id)
        .bind(c.visitor)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "INSERT INTO phone_checks (account_id, from_inbox_id, visitor, sms_inbox_id, phone, page, salt, body, state, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $10) RETURNING id",
        )
        .bind(c.account_id)
        .bind(c.from_inbox_id)
        .bind(c.visitor)
        .bind(c.sms_inbox_id)
        .bind(c.phone.value())
        .bind(c.page)
        .bind(c.salt)
        .bind(c.body)
        .bind(to_ms(c.now + CODE_LIFETIME))
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?;
        let id = returned_id(&row)?;
        sqlx::query(
            "INSERT INTO outbox (check_id, inbox_id, kind, state, not_before, attempts, created_at, updated_at)
             VALUES ($1, $2, $3, 'queued', $4, 0, $4, $4)",
        )
        .bind(id)
        .bind(c.sms_inbox_id)
        .bind(OutboundKind::VerificationCode.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(Ok(id))
    }

    /// Forgets codes made more than a day ago (and their outbox rows): they
    /// hold a number that may be nobody's who agreed to anything, and only
    /// the last hour counts for the limits.
    pub async fn drop_old_phone_checks(&self, now: Timestamp) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let cutoff = to_ms(now - SignedDuration::from_hours(24));
        // The outbox rows first: SQLite's foreign keys may be off, and nothing should name a missing check.
        sqlx::query("DELETE FROM outbox WHERE check_id IN (SELECT id FROM phone_checks WHERE created_at < $1)")
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM phone_checks WHERE created_at < $1").bind(cutoff).execute(&mut *tx).await?;
        self.commit(tx).await?;
        Ok(n.rows_affected())
    }

    /// The code texts `inbox_id` handed to the provider for `phone`, oldest
    /// first: (check id, text with `{code}`, salt, when), for the simulated
    /// phone, which shows what it received.
    pub async fn code_texts_to(&self, inbox_id: i64, phone: &str) -> Result<Vec<(i64, String, String, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT id, body, salt, created_at FROM phone_checks
             WHERE sms_inbox_id = $1 AND phone = $2 AND send_status IN ('sent', 'delivered') ORDER BY id",
        )
        .bind(inbox_id)
        .bind(phone)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("body")?, r.try_get("salt")?, from_ms(r.try_get("created_at")?))))
            .collect()
    }

    /// The visitor's latest code in this web chat inbox, whatever became of it.
    pub async fn latest_phone_check(&self, from_inbox_id: i64, visitor: &str) -> Result<Option<PhoneCheck>> {
        let row = sqlx::query(
            "SELECT id, phone, page, salt, sms_inbox_id, state, wrong_tries, send_status, expires_at, created_at
             FROM phone_checks WHERE from_inbox_id = $1 AND visitor = $2 ORDER BY id DESC LIMIT 1",
        )
        .bind(from_inbox_id)
        .bind(visitor)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(PhoneCheck {
            id: r.try_get("id")?,
            phone: r.try_get("phone")?,
            page: r.try_get("page")?,
            salt: r.try_get("salt")?,
            sms_inbox_id: r.try_get("sms_inbox_id")?,
            state: r.try_get("state")?,
            wrong_tries: r.try_get("wrong_tries")?,
            send_status: r.try_get("send_status")?,
            expires_at: from_ms(r.try_get("expires_at")?),
            created_at: from_ms(r.try_get("created_at")?),
        }))
    }

    /// Counts a wrong code against a pending check; the fifth burns it.
    /// Returns the tries left (0: burned, or no longer pending).
    pub async fn wrong_phone_code(&self, check_id: i64) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE phone_checks SET wrong_tries = wrong_tries + 1,
                    state = CASE WHEN wrong_tries + 1 >= $1 THEN 'burned' ELSE state END
             WHERE id = $2 AND state = 'pending' RETURNING wrong_tries",
        )
        .bind(CODE_TRIES)
        .bind(check_id)
        .fetch_optional(&mut *tx)
        .await?;
        self.commit(tx).await?;
        let tries = match row {
            Some(r) => r.try_get::<i64, _>("wrong_tries")?,
            None => CODE_TRIES,
        };
        Ok((CODE_TRIES - tries).max(0))
    }
}

/// Takes a pending, unexpired check as confirmed, in the hand-off's
/// transaction: false when it was burned, used or expired meanwhile.
pub(crate) async fn confirm(tx: &mut sqlx::AnyConnection, check_id: i64, now: Timestamp) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE phone_checks SET state = 'confirmed' WHERE id = $1 AND state = 'pending' AND expires_at > $2 AND wrong_tries < $3",
    )
    .bind(check_id)
    .bind(to_ms(now))
    .bind(CODE_TRIES)
    .execute(&mut *tx)
    .await?;
    Ok(n.rows_affected() == 1)
}

/// What the outbox says became of a check's text.
pub(crate) async fn record_send(
    tx: &mut sqlx::AnyConnection,
    check_id: i64,
    status: &str,
    error: Option<&str>,
    provider_id: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "UPDATE phone_checks SET send_status = $1, send_error = $2, provider_id = COALESCE($3, provider_id) WHERE id = $4",
    )
    .bind(status)
    .bind(error)
    .bind(provider_id)
    .bind(check_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
