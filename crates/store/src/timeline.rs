//! A conversation's timeline: the events of the log that show there, typed.

use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::event::DomainEvent;

use crate::{Result, Store};

/// One entry in the conversation's timeline (assignment, status changes…).
#[derive(Debug, Clone)]
pub struct TimelineEvent {
    pub id: i64,
    pub conversation_id: i64,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub event: DomainEvent,
    pub created_at: Timestamp,
}

impl Store {
    /// The conversation's timeline, oldest first. Entries from before the log
    /// (migration 0012) come first: their ids are below every new one.
    pub async fn timeline(&self, conversation_id: i64) -> Result<Vec<TimelineEvent>> {
        let sql = format!(
            "SELECT {}, u.name AS actor_name FROM event_log e LEFT JOIN users u ON u.id = e.actor_id
             WHERE e.conversation_id = $1 AND e.timeline = 1 ORDER BY e.id",
            crate::events::LOG_COLUMNS.split(", ").map(|c| format!("e.{c}")).collect::<Vec<_>>().join(", ")
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(conversation_id).fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            if let Some(e) = crate::events::logged_from(r)? {
                out.push(TimelineEvent {
                    id: e.id,
                    conversation_id: e.conversation_id,
                    actor_id: e.actor_id,
                    actor_name: r.try_get("actor_name")?,
                    event: e.event,
                    created_at: e.created_at,
                });
            }
        }
        Ok(out)
    }

    /// Records an event that is the whole change (nothing else to write), in
    /// its own transaction. Returns its id.
    pub async fn record_event(
        &self,
        account_id: i64,
        conversation_id: i64,
        ev: &DomainEvent,
        actor_id: Option<i64>,
    ) -> Result<i64> {
        self.record_event_at(account_id, conversation_id, ev, actor_id, Timestamp::now()).await
    }

    /// [`Store::record_event`] at a given time: for tests and benchmarks that
    /// script what happened when (reports read the events' times).
    pub async fn record_event_at(
        &self,
        account_id: i64,
        conversation_id: i64,
        ev: &DomainEvent,
        actor_id: Option<i64>,
        at: Timestamp,
    ) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let id = crate::events::append(&mut tx, (account_id, conversation_id), ev, actor_id, at).await?;
        self.commit(tx).await?;
        Ok(id)
    }
}
