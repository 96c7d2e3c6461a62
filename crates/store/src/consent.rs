//! The consent ledger: append-only events; the contact row carries the latest
//! state, written in the same transaction, so the gate reads one column.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::ConsentState;

use crate::{Result, Store, from_ms, returned_id, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentEvent {
    pub id: i64,
    pub contact_id: i64,
    pub scope: String,
    /// `opt_in` or `opt_out`.
    pub kind: String,
    pub source: String,
    pub evidence: String,
    pub actor_id: Option<i64>,
    pub message_id: Option<i64>,
    pub created_at: Timestamp,
}

/// One consent change to append to the ledger.
pub(crate) struct NewConsent<'a> {
    pub contact_id: i64,
    pub state: ConsentState,
    pub source: &'a str,
    pub evidence: &'a str,
    pub actor_id: Option<i64>,
    pub message_id: Option<i64>,
}

pub(crate) async fn record(tx: &mut sqlx::AnyConnection, c: NewConsent<'_>, now: Timestamp) -> Result<i64> {
    let NewConsent { contact_id, state, source, evidence, actor_id, message_id } = c;
    let kind = if state == ConsentState::OptedOut { "opt_out" } else { "opt_in" };
    let row = sqlx::query(
        "INSERT INTO consent_events (contact_id, scope, kind, source, evidence, actor_id, message_id, created_at) VALUES ($1, 'account', $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(contact_id)
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
    returned_id(&row)
}

impl Store {
    /// Records an opt-in or opt-out. `state` must not be `Unknown`.
    pub async fn record_consent(
        &self,
        account_id: i64,
        contact_id: i64,
        state: ConsentState,
        source: &str,
        evidence: &str,
        actor_id: Option<i64>,
    ) -> Result<ConsentEvent> {
        self.record_consent_in(account_id, contact_id, None, state, source, evidence, actor_id).await
    }

    /// Records consent given or withdrawn during `conversation_id` (an agent
    /// noting a customer's words), with a timeline entry there.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_consent_in(
        &self,
        account_id: i64,
        contact_id: i64,
        conversation_id: Option<i64>,
        state: ConsentState,
        source: &str,
        evidence: &str,
        actor_id: Option<i64>,
    ) -> Result<ConsentEvent> {
        if state == ConsentState::Unknown {
            return Err(crate::StoreError::Invalid("consent is recorded as opted_in or opted_out".into()));
        }
        self.contact(account_id, contact_id).await?;
        let mut tx = self.begin_write().await?;
        let now = Timestamp::now();
        let id = record(&mut tx, NewConsent { contact_id, state, source, evidence, actor_id, message_id: None }, now)
            .await?;
        if let Some(conv) = conversation_id {
            let data = serde_json::json!({ "to": state.as_str(), "source": source });
            Store::add_event(&mut tx, conv, "consent_changed", actor_id, data, now).await?;
        }
        tx.commit().await?;
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
        rows.iter()
            .map(|r| {
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
            })
            .collect()
    }
}
