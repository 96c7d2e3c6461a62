//! The conversation changes a person or an automation makes (assign, team,
//! priority, labels, status), each written with its event in the caller's
//! transaction: one place for each, whoever asks.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::event::{DomainEvent, StatusReason};
use textdesk_core::{ConversationStatus, Priority};

use crate::events::append;
use crate::{Result, StoreError, to_ms};

/// Who and when, for the event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub account_id: i64,
    pub conversation_id: i64,
    pub actor_id: Option<i64>,
    pub now: Timestamp,
}

impl Change {
    async fn record(self, conn: &mut AnyConnection, ev: &DomainEvent) -> Result<()> {
        append(conn, (self.account_id, self.conversation_id), ev, self.actor_id, self.now).await?;
        Ok(())
    }
}

/// A person taking, snoozing or resolving a conversation ends the flow that
/// was answering it: the bot never talks over a person.
async fn person_steps_in(conn: &mut AnyConnection, c: Change) -> Result<()> {
    use textdesk_core::event::FlowEndReason;
    let end = crate::flows::SessionEnd::Ended(FlowEndReason::PersonStepped);
    crate::flows::end_session(conn, (c.account_id, c.conversation_id), end, c.now).await?;
    Ok(())
}

/// Fails unless `user_id` is an active user of the account.
pub(crate) async fn active_user(conn: &mut AnyConnection, account_id: i64, user_id: i64) -> Result<()> {
    let row = sqlx::query("SELECT 1 AS one FROM users WHERE id = $1 AND account_id = $2 AND active <> 0")
        .bind(user_id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    match row {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid("the assignee must be an active user of this account".into())),
    }
}

/// The team's name, or not found.
pub(crate) async fn team_name(conn: &mut AnyConnection, account_id: i64, team_id: i64) -> Result<String> {
    let r = sqlx::query("SELECT name FROM teams WHERE account_id = $1 AND id = $2")
        .bind(account_id)
        .bind(team_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("team"))?;
    Ok(r.try_get("name")?)
}

/// The catalogue's spelling of a label named in any case.
pub(crate) async fn catalogue_label(conn: &mut AnyConnection, account_id: i64, wanted: &str) -> Result<String> {
    let key = wanted.trim().to_lowercase();
    let names: Vec<String> = sqlx::query("SELECT name FROM labels WHERE account_id = $1")
        .bind(account_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| r.try_get("name"))
        .collect::<std::result::Result<_, _>>()?;
    names.into_iter().find(|n| n.to_lowercase() == key).ok_or_else(|| {
        StoreError::Invalid(format!(
            "no label named {:?} in this account; add it under Settings → Labels first",
            wanted.trim()
        ))
    })
}

pub(crate) async fn write_assignee(conn: &mut AnyConnection, c: Change, assignee: Option<i64>) -> Result<()> {
    if assignee.is_some() {
        person_steps_in(conn, c).await?;
    }
    sqlx::query("UPDATE conversations SET assignee_id = $1 WHERE id = $2")
        .bind(assignee)
        .bind(c.conversation_id)
        .execute(&mut *conn)
        .await?;
    let ev = match assignee {
        Some(assignee_id) => DomainEvent::Assigned { assignee_id, why: None },
        None => DomainEvent::Unassigned {},
    };
    c.record(conn, &ev).await
}

pub(crate) async fn write_team(conn: &mut AnyConnection, c: Change, team: Option<(i64, String)>) -> Result<()> {
    let (team_id, team_name) = team.unzip();
    sqlx::query("UPDATE conversations SET team_id = $1 WHERE id = $2")
        .bind(team_id)
        .bind(c.conversation_id)
        .execute(&mut *conn)
        .await?;
    c.record(conn, &DomainEvent::TeamChanged { team_id, team_name }).await
}

pub(crate) async fn write_priority(conn: &mut AnyConnection, c: Change, priority: Priority) -> Result<()> {
    sqlx::query("UPDATE conversations SET priority = $1 WHERE id = $2")
        .bind(priority.as_str())
        .bind(c.conversation_id)
        .execute(&mut *conn)
        .await?;
    c.record(conn, &DomainEvent::PriorityChanged { priority }).await
}

/// Replaces the label set with `labels` (catalogue spellings, sorted, unique).
pub(crate) async fn write_labels(conn: &mut AnyConnection, c: Change, labels: Vec<String>) -> Result<()> {
    sqlx::query("DELETE FROM conversation_labels WHERE conversation_id = $1")
        .bind(c.conversation_id)
        .execute(&mut *conn)
        .await?;
    for l in &labels {
        sqlx::query("INSERT INTO conversation_labels (conversation_id, label) VALUES ($1, $2)")
            .bind(c.conversation_id)
            .bind(l)
            .execute(&mut *conn)
            .await?;
    }
    c.record(conn, &DomainEvent::LabelsChanged { labels }).await
}

/// A status change; `until` for a snooze (with the clock it was chosen on).
/// Resolving stamps `resolved_at`, which the reopen rule reads.
pub(crate) struct NewStatus {
    pub from: ConversationStatus,
    pub to: ConversationStatus,
    pub until: Option<Timestamp>,
    pub zone: Option<String>,
    pub reason: Option<StatusReason>,
}

pub(crate) async fn write_status(conn: &mut AnyConnection, c: Change, s: NewStatus) -> Result<()> {
    if s.to != ConversationStatus::Open {
        person_steps_in(conn, c).await?;
    }
    write_status_only(conn, c, s).await
}

/// The status change alone, for the flow that ends itself (no flow to end).
pub(crate) async fn write_status_only(conn: &mut AnyConnection, c: Change, s: NewStatus) -> Result<()> {
    let resolved_at = (s.to == ConversationStatus::Resolved).then(|| to_ms(c.now));
    sqlx::query("UPDATE conversations SET status = $1, snoozed_until = $2, resolved_at = $3 WHERE id = $4")
        .bind(s.to.as_str())
        .bind(s.until.map(to_ms))
        .bind(resolved_at)
        .bind(c.conversation_id)
        .execute(&mut *conn)
        .await?;
    let ev = DomainEvent::StatusChanged {
        from: s.from,
        to: s.to,
        until: s.until,
        zone: s.until.and(s.zone),
        reason: s.reason,
    };
    c.record(conn, &ev).await
}
