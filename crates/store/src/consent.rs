//! The consent ledger: append-only events, each in a scope: a sender (an
//! inbox's number, `inbox:<id>`, or a pool several inboxes share) or the whole
//! `account`. The state that counts for a contact and an inbox is the latest
//! event in the inbox's scope or the account's: a STOP to one number silences
//! that number; an opt-out recorded for the account silences all of them. The
//! contact row carries the latest change in any scope, for lists.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::ConsentState;
use textdesk_core::event::DomainEvent;

use crate::{Result, Store, from_ms, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentEvent {
    pub id: i64,
    pub contact_id: i64,
    pub scope: String,
    /// `opt_in` or `opt_out`; `opt_in_requested` notes a double opt-in question (no change).
    pub kind: String,
    pub source: String,
    pub evidence: String,
    pub actor_id: Option<i64>,
    pub message_id: Option<i64>,
    pub created_at: Timestamp,
}

/// The scope every sender shares: an event here applies to all of them.
pub const ACCOUNT_SCOPE: &str = "account";

/// SQL for the scope of inbox `ib`.
pub(crate) const INBOX_SCOPE: &str = "COALESCE(ib.consent_scope, 'inbox:' || CAST(ib.id AS TEXT))";

/// SQL for the consent that counts for contact `ct` on inbox `ib`: the latest
/// opt-in or opt-out in the inbox's scope or the account's (NULL: none).
pub(crate) fn scoped_consent_sql() -> String {
    format!(
        "(SELECT e.kind FROM consent_events e WHERE e.contact_id = ct.id AND e.kind IN ('opt_in', 'opt_out')
          AND e.scope IN ({INBOX_SCOPE}, 'account') ORDER BY e.id DESC LIMIT 1)"
    )
}

/// The state a ledger kind stands for.
pub(crate) fn state_of(kind: Option<&str>) -> ConsentState {
    match kind {
        Some("opt_out") => ConsentState::OptedOut,
        Some("opt_in") => ConsentState::OptedIn,
        _ => ConsentState::Unknown,
    }
}

/// The consent that counts for `contact_id` on `inbox_id`, read in the caller's transaction.
pub(crate) async fn scoped_state(tx: &mut sqlx::AnyConnection, contact_id: i64, inbox_id: i64) -> Result<ConsentState> {
    let sql =
        format!("SELECT {} AS kind FROM contacts ct, inboxes ib WHERE ct.id = $1 AND ib.id = $2", scoped_consent_sql());
    let kind: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(contact_id)
        .bind(inbox_id)
        .fetch_one(&mut *tx)
        .await?
        .try_get("kind")?;
    Ok(state_of(kind.as_deref()))
}

/// How long a double opt-in question waits for its YES.
pub(crate) const CONFIRM_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

/// Notes in the ledger that a JOIN was asked to confirm (it changes no state).
pub(crate) async fn record_confirmation_request(
    tx: &mut sqlx::AnyConnection,
    (contact_id, inbox_id): (i64, i64),
    evidence: &str,
    message_id: i64,
    now: Timestamp,
) -> Result<()> {
    let scope = scope_of_inbox(tx, inbox_id).await?;
    sqlx::query(
        "INSERT INTO consent_events (contact_id, scope, kind, source, evidence, actor_id, message_id, created_at) VALUES ($1, $2, 'opt_in_requested', 'keyword', $3, NULL, $4, $5)",
    )
    .bind(contact_id)
    .bind(scope)
    .bind(evidence)
    .bind(message_id)
    .bind(to_ms(now))
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The scope of an inbox's sender.
pub(crate) async fn scope_of_inbox(tx: &mut sqlx::AnyConnection, inbox_id: i64) -> Result<String> {
    let sql = format!("SELECT {INBOX_SCOPE} AS scope FROM inboxes ib WHERE ib.id = $1");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql)).bind(inbox_id).fetch_one(&mut *tx).await?.try_get("scope")?)
}

fn event_from(r: &sqlx::any::AnyRow) -> Result<ConsentEvent> {
    Ok(ConsentEvent {
        id: r.try_get("id")?,
        contact_id: r.try_get("contact_id")?,
        scope: r.try_get("scope")?,
        kind: r.try_get("kind")?,
        source: r.try_get("source")?,
        evidence: r.try_get("evidence")?,
        actor_id: r.try_get("actor_id")?,
        message_id: r.try_get("message_id")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

/// One consent change to append to the ledger.
pub(crate) struct NewConsent<'a> {
    pub contact_id: i64,
    /// `account`, or a sender's scope.
    pub scope: &'a str,
    pub state: ConsentState,
    pub source: &'a str,
    pub evidence: &'a str,
    pub actor_id: Option<i64>,
    pub message_id: Option<i64>,
}

pub(crate) async fn record(tx: &mut sqlx::AnyConnection, c: NewConsent<'_>, now: Timestamp) -> Result<i64> {
    let NewConsent { contact_id, scope, state, source, evidence, actor_id, message_id } = c;
    let kind = if state == ConsentState::OptedOut { "opt_out" } else { "opt_in" };
    let row = sqlx::query(
        "INSERT INTO consent_events (contact_id, scope, kind, source, evidence, actor_id, message_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(contact_id)
    .bind(scope)
    .bind(kind)
    .bind(source)
    .bind(evidence)
    .bind(actor_id)
    .bind(message_id)
    .bind(to_ms(now))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("UPDATE contacts SET consent = $1, updated_at = $2 WHERE id = $3")
        .bind(state.as_str())
        .bind(to_ms(now))
        .bind(contact_id)
        .execute(&mut *tx)
        .await?;
    if state == ConsentState::OptedOut {
        // Nobody may answer them now: they no longer wait for anyone (the list's
        // waiting sort, the holding message and the late badge all read this).
        let sql = format!(
            "UPDATE conversations SET waiting_since = NULL WHERE contact_id = $1 AND waiting_since IS NOT NULL
               AND ($2 = 'account' OR inbox_id IN (SELECT ib.id FROM inboxes ib WHERE {INBOX_SCOPE} = $2))"
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).bind(scope).execute(&mut *tx).await?;
        cancel_automatic(tx, contact_id, scope, now).await?;
    }
    returned_id(&row)
}

/// Automatic replies still waiting to go to a contact who just opted out
/// are withdrawn (the thread keeps no "Send now" for them; the timeline keeps
/// what they said). A person's waiting messages stay, blocked at their turn,
/// for the person to see.
async fn cancel_automatic(tx: &mut sqlx::AnyConnection, contact_id: i64, scope: &str, now: Timestamp) -> Result<()> {
    let sql = format!(
        "SELECT m.id, m.body, c.id AS conversation_id, c.account_id FROM messages m
         JOIN outbox o ON o.message_id = m.id
         JOIN conversations c ON c.id = m.conversation_id
         WHERE c.contact_id = $1 AND o.state = 'queued' AND o.kind = 'reply' AND m.author_id IS NULL
           AND ($2 = 'account' OR c.inbox_id IN (SELECT ib.id FROM inboxes ib WHERE {INBOX_SCOPE} = $2))"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(contact_id).bind(scope).fetch_all(&mut *tx).await?;
    withdraw(tx, rows, now).await
}

/// Deletes the queued automatic replies `rows` name (id, body,
/// conversation_id, account_id), each with its timeline event.
async fn withdraw(tx: &mut sqlx::AnyConnection, rows: Vec<sqlx::any::AnyRow>, now: Timestamp) -> Result<()> {
    for r in rows {
        let message_id: i64 = r.try_get("id")?;
        sqlx::query("DELETE FROM outbox WHERE message_id = $1").bind(message_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM messages WHERE id = $1").bind(message_id).execute(&mut *tx).await?;
        let ev = textdesk_core::event::DomainEvent::ScheduleChanged {
            action: textdesk_core::event::ScheduleAction::Cancelled,
            message_id,
            send_at: None,
            body: Some(r.try_get("body")?),
        };
        let place = (r.try_get("account_id")?, r.try_get("conversation_id")?);
        crate::events::append(tx, place, &ev, None, now).await?;
    }
    Ok(())
}

/// Appends ledger rows in order, a few hundred per statement, without
/// [`record`]'s effects: the caller (a contacts import) writes each contact's
/// `consent` column with its other fields, and calls [`account_opt_outs`] for
/// the contacts that may have conversations.
pub(crate) async fn append_many(tx: &mut sqlx::AnyConnection, events: &[NewConsent<'_>], now: Timestamp) -> Result<()> {
    use crate::multirow::Value;
    let rows: Vec<Vec<Value>> = events
        .iter()
        .map(|c| {
            let kind = if c.state == ConsentState::OptedOut { "opt_out" } else { "opt_in" };
            vec![
                Value::Int(c.contact_id),
                Value::Text(c.scope.to_owned()),
                Value::Text(kind.to_owned()),
                Value::Text(c.source.to_owned()),
                Value::Text(c.evidence.to_owned()),
                Value::OptInt(c.actor_id),
                Value::OptInt(c.message_id),
                Value::Int(to_ms(now)),
            ]
        })
        .collect();
    let sql = "INSERT INTO consent_events (contact_id, scope, kind, source, evidence, actor_id, message_id, created_at) VALUES {values}";
    crate::multirow::run(tx, sql, &rows).await?;
    Ok(())
}

/// What [`record`] does after an opt-out in the account's scope, for many
/// contacts at once: their conversations wait for nobody, and automatic
/// replies queued for them are withdrawn.
pub(crate) async fn account_opt_outs(tx: &mut sqlx::AnyConnection, contact_ids: &[i64], now: Timestamp) -> Result<()> {
    use crate::multirow::{ints, select_in};
    let ids = ints(contact_ids);
    let sql = "UPDATE conversations SET waiting_since = NULL WHERE waiting_since IS NOT NULL AND contact_id IN ({in})";
    select_in(tx, sql, &[], &ids).await?;
    let sql = "SELECT m.id, m.body, c.id AS conversation_id, c.account_id FROM messages m
         JOIN outbox o ON o.message_id = m.id
         JOIN conversations c ON c.id = m.conversation_id
         WHERE o.state = 'queued' AND o.kind = 'reply' AND m.author_id IS NULL AND c.contact_id IN ({in})
         ORDER BY m.id";
    let rows = select_in(tx, sql, &[], &ids).await?;
    withdraw(tx, rows, now).await
}

/// A consent change recorded by a person or an API client.
pub struct RecordConsent<'a> {
    pub contact_id: i64,
    pub conversation_id: Option<i64>,
    pub scope: &'a str,
    pub state: ConsentState,
    pub source: &'a str,
    pub evidence: &'a str,
    pub actor_id: Option<i64>,
}

impl Store {
    /// The consent scope of an inbox's sender.
    pub async fn inbox_consent_scope(&self, inbox_id: i64) -> Result<String> {
        let mut conn = self.pool.acquire().await?;
        scope_of_inbox(&mut conn, inbox_id).await
    }

    /// The scopes consent can be recorded in: the account's and each inbox's.
    pub async fn consent_scopes(&self, account_id: i64) -> Result<Vec<String>> {
        let sql = format!("SELECT DISTINCT {INBOX_SCOPE} AS scope FROM inboxes ib WHERE ib.account_id = $1 ORDER BY 1");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        let mut out = vec![ACCOUNT_SCOPE.to_owned()];
        for r in rows {
            out.push(r.try_get("scope")?);
        }
        Ok(out)
    }

    /// Records consent given or withdrawn, by a person or an API client, in
    /// `scope` (the account's unless a sender's is named); during
    /// `conversation_id`, with a timeline entry there.
    pub async fn record_consent(&self, account_id: i64, r: RecordConsent<'_>) -> Result<ConsentEvent> {
        let RecordConsent { contact_id, conversation_id, scope, state, source, evidence, actor_id } = r;
        if state == ConsentState::Unknown {
            return Err(crate::StoreError::Invalid("consent is recorded as opted_in or opted_out".into()));
        }
        self.contact(account_id, contact_id).await?;
        if !self.consent_scopes(account_id).await?.iter().any(|s| s == scope) {
            return Err(crate::StoreError::Invalid(format!(
                "scope {scope:?}: use account or the scope of one of your inboxes"
            )));
        }
        let mut tx = self.begin_write().await?;
        let now = Timestamp::now();
        let new = NewConsent { contact_id, scope, state, source, evidence, actor_id, message_id: None };
        let id = record(&mut tx, new, now).await?;
        if let Some(conv) = conversation_id {
            let ev = DomainEvent::ConsentChanged {
                to: state,
                source: source.into(),
                scope: Some(scope.into()),
                message_id: None,
            };
            crate::events::append(&mut tx, (account_id, conv), &ev, actor_id, now).await?;
        }
        self.commit(tx).await?;
        let mut all = self.consent_history(contact_id).await?;
        all.retain(|e| e.id == id);
        all.pop().ok_or(crate::StoreError::NotFound("consent event"))
    }

    pub async fn consent_history(&self, contact_id: i64) -> Result<Vec<ConsentEvent>> {
        let rows = sqlx::query(
            "SELECT id, contact_id, scope, kind, source, evidence, actor_id, message_id, created_at FROM consent_events WHERE contact_id = $1 ORDER BY id",
        )
        .bind(contact_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from).collect()
    }
}

/// One line of the consent ledger as an auditor reads it.
#[derive(Debug, Clone)]
pub struct LedgerLine {
    pub event: ConsentEvent,
    pub contact_name: String,
    /// The contact's first address (their phone number for SMS).
    pub address: Option<String>,
    pub actor_name: Option<String>,
    /// The text that caused it, for keyword events.
    pub message_body: Option<String>,
}

impl Store {
    /// The account's ledger in order, optionally for one contact and a time range.
    pub async fn consent_ledger(
        &self,
        account_id: i64,
        contact_id: Option<i64>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    ) -> Result<Vec<LedgerLine>> {
        let rows = sqlx::query(
            "SELECT e.id, e.contact_id, e.scope, e.kind, e.source, e.evidence, e.actor_id, e.message_id, e.created_at,
                    ct.name AS contact_name, u.name AS actor_name, m.body AS message_body,
                    (SELECT i.address FROM contact_identities i WHERE i.contact_id = ct.id ORDER BY i.id LIMIT 1) AS address
             FROM consent_events e
             JOIN contacts ct ON ct.id = e.contact_id
             LEFT JOIN users u ON u.id = e.actor_id
             LEFT JOIN messages m ON m.id = e.message_id
             WHERE ct.account_id = $1 AND ($2 IS NULL OR e.contact_id = $2)
               AND ($3 IS NULL OR e.created_at >= $3) AND ($4 IS NULL OR e.created_at < $4)
             ORDER BY e.id",
        )
        .bind(account_id)
        .bind(contact_id)
        .bind(from.map(to_ms))
        .bind(to.map(to_ms))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerLine {
                    event: event_from(r)?,
                    contact_name: r.try_get("contact_name")?,
                    address: r.try_get("address")?,
                    actor_name: r.try_get("actor_name")?,
                    message_body: r.try_get("message_body")?,
                })
            })
            .collect()
    }
}
