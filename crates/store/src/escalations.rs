//! Escalations: each one written with what it changes (priority, assignee, the
//! meeting link's text through the gate) and its `escalated` event, in one
//! transaction; listed per conversation.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::escalation::EscalationKind;
use textdesk_core::event::DomainEvent;
use textdesk_core::{BlockReason, Priority};

use crate::conversation_changes::{self as changes, Change};
use crate::messages::{NewOutbound, insert_outbound};
use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

/// How a message that came by email is marked (its `provider_id` starts with this).
pub const EMAIL_PROVIDER_PREFIX: &str = "email:";

/// One escalation, as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Escalation {
    pub id: i64,
    pub conversation_id: i64,
    pub kind: EscalationKind,
    pub reason: Option<String>,
    pub actor_id: Option<i64>,
    pub actor_name: Option<String>,
    pub supervisor_id: Option<i64>,
    pub supervisor_name: Option<String>,
    pub kept_agent: bool,
    pub link: Option<String>,
    pub message_id: Option<i64>,
    pub created_at: Timestamp,
}

/// What an escalation does besides being recorded.
pub enum EscalationAct {
    /// Priority urgent; assigned to the supervisor unless `kept_agent`.
    Supervisor { supervisor_id: i64, kept_agent: bool },
    /// The meeting link texted to the customer through the gate.
    Video { link: String, text: Box<NewOutbound> },
    /// An email sent (before this is recorded); `reply_to` carries the
    /// conversation's token, so a reply can find its way back.
    Email { reply_to: String },
    /// A call the provider took (`provider_id`), already written by `start_call`.
    Call { call_id: i64, provider_id: String },
    /// A call back queued for `due_at`.
    Callback { due_at: Timestamp },
}

pub struct NewEscalation {
    pub account_id: i64,
    pub conversation_id: i64,
    pub actor_id: i64,
    pub reason: Option<String>,
    pub act: EscalationAct,
    pub now: Timestamp,
}

/// Recorded, or refused by the gate (nothing written).
#[derive(Debug)]
pub enum EscalationOutcome {
    Recorded(Box<Escalation>),
    Blocked(BlockReason),
}

const COLUMNS: &str = "e.id, e.conversation_id, e.kind, e.reason, e.actor_id, a.name AS actor_name, e.supervisor_id, \
     s.name AS supervisor_name, e.kept_agent, e.link, e.message_id, e.created_at";

fn escalation_from(r: &sqlx::any::AnyRow) -> Result<Escalation> {
    let kind: String = r.try_get("kind")?;
    Ok(Escalation {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        kind: EscalationKind::parse(&kind).map_err(|e| StoreError::Invalid(e.0))?,
        reason: r.try_get("reason")?,
        actor_id: r.try_get("actor_id")?,
        actor_name: r.try_get("actor_name")?,
        supervisor_id: r.try_get("supervisor_id")?,
        supervisor_name: r.try_get("supervisor_name")?,
        kept_agent: r.try_get::<i64, _>("kept_agent")? != 0,
        link: r.try_get("link")?,
        message_id: r.try_get("message_id")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

impl Store {
    /// Records an escalation with its effects and event, in one transaction.
    pub async fn escalate(&self, new: NewEscalation) -> Result<EscalationOutcome> {
        let conv = self.conversation(new.account_id, new.conversation_id).await?;
        let mut tx = self.begin_write().await?;
        let change =
            Change { account_id: new.account_id, conversation_id: conv.id, actor_id: Some(new.actor_id), now: new.now };
        let (kind, supervisor_id, kept_agent, link, message_id) = match &new.act {
            EscalationAct::Supervisor { supervisor_id, kept_agent } => {
                supervisor(&mut tx, new.account_id, *supervisor_id).await?;
                if conv.priority != Priority::Urgent {
                    changes::write_priority(&mut tx, change, Priority::Urgent).await?;
                }
                if !kept_agent && conv.assignee_id != Some(*supervisor_id) {
                    changes::write_assignee(&mut tx, change, Some(*supervisor_id)).await?;
                }
                (EscalationKind::Supervisor, Some(*supervisor_id), *kept_agent, None, None)
            }
            EscalationAct::Video { link, text } => {
                match insert_outbound(&mut tx, (conv.id, conv.inbox_id, conv.contact_id), text).await? {
                    Err(reason) => return Ok(EscalationOutcome::Blocked(reason)),
                    Ok(message_id) => (EscalationKind::Video, None, false, Some(link.clone()), Some(message_id)),
                }
            }
            EscalationAct::Email { reply_to } => (EscalationKind::Email, None, false, Some(reply_to.clone()), None),
            EscalationAct::Call { .. } => (EscalationKind::Call, None, false, None, None),
            EscalationAct::Callback { due_at } => {
                crate::voice::request_callback(&mut tx, (new.account_id, conv.id, new.actor_id), *due_at, new.now)
                    .await?;
                (EscalationKind::Callback, None, false, None, None)
            }
        };
        let written = Written { kind, reason: new.reason, supervisor_id, kept_agent, link, message_id };
        let escalation_id =
            write_escalation(&mut tx, (new.account_id, conv.id, Some(new.actor_id)), written, new.now).await?;
        if let EscalationAct::Call { call_id, provider_id } = &new.act {
            sqlx::query("UPDATE calls SET provider_id = $1, escalation_id = $2 WHERE id = $3")
                .bind(provider_id)
                .bind(escalation_id)
                .bind(call_id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await?;
        Ok(EscalationOutcome::Recorded(Box::new(self.escalation(new.account_id, escalation_id).await?)))
    }

    pub async fn escalation(&self, account_id: i64, id: i64) -> Result<Escalation> {
        let sql = format!(
            "SELECT {COLUMNS} FROM escalations e LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users s ON s.id = e.supervisor_id
             WHERE e.account_id = $1 AND e.id = $2"
        );
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("escalation"))?;
        escalation_from(&r)
    }

    /// A conversation's escalations, oldest first.
    pub async fn escalations(&self, account_id: i64, conversation_id: i64) -> Result<Vec<Escalation>> {
        self.conversation(account_id, conversation_id).await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM escalations e LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users s ON s.id = e.supervisor_id
             WHERE e.account_id = $1 AND e.conversation_id = $2 ORDER BY e.id"
        );
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(conversation_id).fetch_all(&self.pool).await?;
        rows.iter().map(escalation_from).collect()
    }

    /// A customer's email reply, threaded into the conversation whose email
    /// escalation gave out `reply_to`: stored as their message (once per
    /// `email_id`), the conversation reopened if resolved, in one transaction.
    /// None when no escalation gave out that address; Some((conversation, None)) for a repeat.
    /// `files` are its attachments, already checked and in the media store
    /// (stored name, content type, size), kept as the message's.
    pub async fn record_email_reply(
        &self,
        account_id: i64,
        reply_to: &str,
        (email_id, body, files): (&str, &str, &[(String, String, i64)]),
        now: Timestamp,
    ) -> Result<Option<(i64, Option<i64>)>> {
        let row = sqlx::query(
            "SELECT conversation_id FROM escalations WHERE account_id = $1 AND kind = 'email' AND link = $2 ORDER BY id LIMIT 1",
        )
        .bind(account_id)
        .bind(reply_to)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let conv = self.conversation(account_id, row.try_get("conversation_id")?).await?;
        let count = textdesk_core::segments::count(body);
        let now_ms = to_ms(now);
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO messages (conversation_id, inbox_id, direction, body, media, private, provider_id, status, segments, encoding, created_at, updated_at)
             VALUES ($1, $2, 'inbound', $3, '[]', 0, $4, 'received', $5, $6, $7, $7)
             ON CONFLICT (inbox_id, provider_id) DO NOTHING RETURNING id",
        )
        .bind(conv.id)
        .bind(conv.inbox_id)
        .bind(body)
        .bind(format!("{EMAIL_PROVIDER_PREFIX}{email_id}"))
        .bind(count.segments as i64)
        .bind(count.encoding.as_str())
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(inserted) = inserted else { return Ok(Some((conv.id, None))) };
        let message_id = returned_id(&inserted)?;
        for (position, (name, content_type, size)) in files.iter().enumerate() {
            sqlx::query(
                "INSERT INTO media (message_id, position, content_type, size_bytes, stored_name, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'stored', $6)",
            )
            .bind(message_id)
            .bind(position as i64)
            .bind(content_type)
            .bind(*size)
            .bind(name)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        let reopen = conv.status == textdesk_core::ConversationStatus::Resolved;
        sqlx::query(
            "UPDATE conversations SET status = 'open', snoozed_until = NULL, resolved_at = NULL, last_activity_at = $1,
                    waiting_since = COALESCE(waiting_since, $1), unread = unread + 1 WHERE id = $2",
        )
        .bind(now_ms)
        .bind(conv.id)
        .execute(&mut *tx)
        .await?;
        let place = (account_id, conv.id);
        if conv.status != textdesk_core::ConversationStatus::Open {
            let ev = DomainEvent::StatusChanged {
                from: conv.status,
                to: textdesk_core::ConversationStatus::Open,
                until: None,
                zone: None,
                reason: reopen.then_some(textdesk_core::event::StatusReason::CustomerReplied),
            };
            crate::events::append(&mut tx, place, &ev, None, now).await?;
        }
        let ev = DomainEvent::MessageReceived { message_id, keyword: false };
        crate::events::append(&mut tx, place, &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(Some((conv.id, Some(message_id))))
    }

    /// A team's lead: its supervisor or admin member who has been a user the
    /// longest (the lowest id), active; None when it has none.
    pub async fn team_lead(&self, account_id: i64, team_id: i64) -> Result<Option<i64>> {
        team_lead_in(&mut *self.pool.acquire().await?, account_id, team_id).await
    }
}

/// What an escalation row and its event hold.
pub(crate) struct Written {
    pub kind: EscalationKind,
    pub reason: Option<String>,
    pub supervisor_id: Option<i64>,
    pub kept_agent: bool,
    pub link: Option<String>,
    pub message_id: Option<i64>,
}

/// The escalation's row and its `escalated` event, in the caller's transaction.
pub(crate) async fn write_escalation(
    conn: &mut AnyConnection,
    (account_id, conversation_id, actor_id): (i64, i64, Option<i64>),
    w: Written,
    now: Timestamp,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO escalations (account_id, conversation_id, kind, reason, actor_id, supervisor_id, kept_agent, link, message_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(w.kind.as_str())
    .bind(w.reason.clone())
    .bind(actor_id)
    .bind(w.supervisor_id)
    .bind(w.kept_agent as i64)
    .bind(w.link.clone())
    .bind(w.message_id)
    .bind(to_ms(now))
    .fetch_one(&mut *conn)
    .await?;
    let escalation_id = returned_id(&row)?;
    let ev = DomainEvent::Escalated {
        escalation_id,
        to: w.kind,
        reason: w.reason,
        supervisor_id: w.supervisor_id,
        kept_agent: w.kept_agent,
        link: w.link,
        message_id: w.message_id,
    };
    crate::events::append(conn, (account_id, conversation_id), &ev, actor_id, now).await?;
    Ok(escalation_id)
}

/// The team's lead, in the caller's transaction (see `Store::team_lead`).
pub(crate) async fn team_lead_in(conn: &mut AnyConnection, account_id: i64, team_id: i64) -> Result<Option<i64>> {
    let r = sqlx::query(
        "SELECT u.id FROM team_members tm JOIN users u ON u.id = tm.user_id
         WHERE tm.team_id = $1 AND u.account_id = $2 AND u.active <> 0 AND u.role IN ('supervisor', 'admin')
         ORDER BY u.id LIMIT 1",
    )
    .bind(team_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(r.map(|r| r.try_get("id")).transpose()?)
}

/// Fails unless `user_id` is an active supervisor or admin of the account.
pub(crate) async fn supervisor(conn: &mut AnyConnection, account_id: i64, user_id: i64) -> Result<()> {
    let r = sqlx::query(
        "SELECT 1 AS one FROM users WHERE id = $1 AND account_id = $2 AND active <> 0 AND role IN ('supervisor', 'admin')",
    )
    .bind(user_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    match r {
        Some(_) => Ok(()),
        None => Err(StoreError::Invalid(
            "escalate to an active supervisor or admin of this account (agents cannot take escalations)".into(),
        )),
    }
}
