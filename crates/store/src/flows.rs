//! Self-service flows as saved, and the running sessions: where each customer
//! is in a flow, written in the automations engine's transaction (so a reply
//! is answered once across crashes and nodes). A lookup waiting to be made is
//! a session with `lookup_input`, claimed with a lease by the node that calls
//! out, outside any transaction.

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row};
use textdesk_core::event::{DomainEvent, FlowEndReason, HandoffReason};
use textdesk_core::flow::{Flow, FlowSpec};
use textdesk_core::{ConversationStatus, Invalid};

use crate::conversation_changes::{self as changes, Change, NewStatus};
use crate::events::append;
use crate::{Backend, Result, Store, StoreError, from_ms, returned_id, to_ms};

/// A flow as saved.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredFlow {
    pub id: i64,
    #[serde(skip)]
    pub account_id: i64,
    #[serde(flatten)]
    pub flow: Flow,
    pub updated_at: Timestamp,
}

/// Where a customer is in a flow.
#[derive(Debug, Clone)]
pub struct FlowSession {
    pub id: i64,
    pub conversation_id: i64,
    pub flow_id: i64,
    pub step: String,
    pub misses: u8,
    /// Customer messages up to this id came before the flow started.
    pub after_message_id: i64,
    pub lookup_input: Option<String>,
    pub lookup_lease_until: Option<Timestamp>,
    pub timeout_at: Timestamp,
}

/// How a session ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionEnd {
    Handoff { reason: HandoffReason, team_id: Option<i64> },
    Ended(FlowEndReason),
}

const FLOW_COLUMNS: &str = "id, account_id, spec, updated_at";
const SESSION_COLUMNS: &str =
    "id, conversation_id, flow_id, step, misses, after_message_id, lookup_input, lookup_lease_until, timeout_at";

fn flow_from(r: &sqlx::any::AnyRow) -> Result<StoredFlow> {
    let spec: String = r.try_get("spec")?;
    let spec: FlowSpec =
        serde_json::from_str(&spec).map_err(|e| StoreError::Invalid(format!("a saved flow cannot be read: {e}")))?;
    Ok(StoredFlow {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        flow: Flow::parse(spec)?,
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn session_from(r: &sqlx::any::AnyRow) -> Result<FlowSession> {
    Ok(FlowSession {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        flow_id: r.try_get("flow_id")?,
        step: r.try_get("step")?,
        misses: r.try_get::<i64, _>("misses")?.clamp(0, 255) as u8,
        after_message_id: r.try_get("after_message_id")?,
        lookup_input: r.try_get("lookup_input")?,
        lookup_lease_until: r.try_get::<Option<i64>, _>("lookup_lease_until")?.map(from_ms),
        timeout_at: from_ms(r.try_get("timeout_at")?),
    })
}

fn spec_json(flow: &Flow) -> String {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string(flow.spec()).unwrap_or_default()
}

fn name_taken(e: sqlx::Error, name: &str) -> StoreError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => {
            StoreError::Conflict(format!("there is already a flow named '{name}'"))
        }
        _ => e.into(),
    }
}

impl Store {
    pub async fn flows(&self, account_id: i64) -> Result<Vec<StoredFlow>> {
        let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE account_id = $1 ORDER BY name, id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(flow_from).collect()
    }

    pub async fn flow(&self, account_id: i64, id: i64) -> Result<StoredFlow> {
        let mut conn = self.pool.acquire().await?;
        flow_in(&mut conn, account_id, id).await?.ok_or(StoreError::NotFound("flow"))
    }

    /// Teams a flow hands over to must be the account's.
    async fn check_flow_teams(&self, conn: &mut AnyConnection, account_id: i64, flow: &Flow) -> Result<()> {
        for team in flow.teams() {
            if changes::team_name(conn, account_id, team).await.is_err() {
                return Err(Invalid::new(format!("there is no team {team} in this account")).into());
            }
        }
        Ok(())
    }

    pub async fn create_flow(&self, account_id: i64, flow: &Flow) -> Result<StoredFlow> {
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        self.check_flow_teams(&mut tx, account_id, flow).await?;
        let row = sqlx::query(
            "INSERT INTO flows (account_id, name, spec, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(account_id)
        .bind(flow.name())
        .bind(spec_json(flow))
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| name_taken(e, flow.name()))?;
        let id = returned_id(&row)?;
        self.commit(tx).await?;
        self.flow(account_id, id).await
    }

    pub async fn update_flow(&self, account_id: i64, id: i64, flow: &Flow) -> Result<StoredFlow> {
        self.flow(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        self.check_flow_teams(&mut tx, account_id, flow).await?;
        sqlx::query("UPDATE flows SET name = $1, spec = $2, updated_at = $3 WHERE id = $4 AND account_id = $5")
            .bind(flow.name())
            .bind(spec_json(flow))
            .bind(to_ms(Timestamp::now()))
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await
            .map_err(|e| name_taken(e, flow.name()))?;
        self.commit(tx).await?;
        self.flow(account_id, id).await
    }

    /// Deletes a flow no rule starts and no customer is in.
    pub async fn delete_flow(&self, account_id: i64, id: i64) -> Result<()> {
        self.flow(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        let running: i64 = sqlx::query("SELECT COUNT(*) AS n FROM flow_sessions WHERE flow_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
        if running > 0 {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "{running} customer(s) are in this flow now; delete it once they are done (at most its timeout)"
            )));
        }
        let rules = crate::automations::rules_in(&mut tx, account_id).await?;
        if let Some(r) = rules.iter().find(|r| {
            r.rule
                .actions()
                .iter()
                .any(|a| matches!(a, textdesk_core::automation::Action::StartFlow { flow_id } if *flow_id == id))
        }) {
            tx.rollback().await?;
            return Err(StoreError::Conflict(format!(
                "the automation rule '{}' starts this flow: change or delete the rule first",
                r.rule.name()
            )));
        }
        sqlx::query("DELETE FROM flows WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await
    }

    /// Sessions whose lookup is waiting and not claimed (or whose claim ran
    /// out), claimed for `lease`: (session, the conversation's account, the
    /// customer's address).
    pub async fn claim_flow_lookups(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: i64,
    ) -> Result<Vec<(FlowSession, i64, String)>> {
        let skip = if self.backend == Backend::Postgres { " FOR UPDATE OF s SKIP LOCKED" } else { "" };
        let mut tx = self.begin_write().await?;
        // CROSS JOIN keeps SQLite's planner on the sessions first: with few or
        // none it chose to scan every conversation (7-15 ms at 100,000, after
        // every event, holding the write lock). PostgreSQL plans it as a join.
        let sql = format!(
            "SELECT s.id, s.conversation_id, s.flow_id, s.step, s.misses, s.after_message_id, s.lookup_input,
                    s.lookup_lease_until, s.timeout_at, s.account_id, ci.address
             FROM flow_sessions s CROSS JOIN conversations c CROSS JOIN contact_identities ci
             WHERE c.id = s.conversation_id AND ci.id = c.identity_id
               AND s.lookup_input IS NOT NULL AND (s.lookup_lease_until IS NULL OR s.lookup_lease_until < $1)
             ORDER BY s.id LIMIT $2{skip}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now)).bind(limit).fetch_all(&mut *tx).await?;
        let until = now + lease;
        let mut out = Vec::new();
        for r in &rows {
            let mut s = session_from(r)?;
            let claimed = sqlx::query(
                "UPDATE flow_sessions SET lookup_lease_until = $1
                 WHERE id = $2 AND lookup_input IS NOT NULL AND (lookup_lease_until IS NULL OR lookup_lease_until < $3)",
            )
            .bind(to_ms(until))
            .bind(s.id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            if claimed.rows_affected() == 1 {
                s.lookup_lease_until = Some(from_ms(to_ms(until)));
                out.push((s, r.try_get("account_id")?, r.try_get("address")?));
            }
        }
        self.commit(tx).await?;
        Ok(out)
    }

    /// Conversations whose flow has waited past its timeout.
    pub async fn timed_out_flows(&self, now: Timestamp, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT conversation_id FROM flow_sessions WHERE timeout_at <= $1 AND lookup_input IS NULL
             ORDER BY timeout_at LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("conversation_id")?)).collect()
    }
}

/// The account's flow `id`, read in the caller's transaction.
pub async fn flow_in(conn: &mut AnyConnection, account_id: i64, id: i64) -> Result<Option<StoredFlow>> {
    let sql = format!("SELECT {FLOW_COLUMNS} FROM flows WHERE account_id = $1 AND id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(flow_from).transpose()
}

/// The flow running in a conversation, if one is.
pub async fn session_in(conn: &mut AnyConnection, conversation_id: i64) -> Result<Option<FlowSession>> {
    Ok(sessions_in(conn, &[conversation_id]).await?.remove(&conversation_id))
}

/// [`session_in`] for several conversations in one statement.
pub async fn sessions_in(
    conn: &mut AnyConnection,
    conversation_ids: &[i64],
) -> Result<std::collections::HashMap<i64, FlowSession>> {
    let keys = crate::multirow::ints(conversation_ids);
    let sql = format!("SELECT {SESSION_COLUMNS} FROM flow_sessions WHERE conversation_id IN ({{in}})");
    let rows = crate::multirow::select_in(conn, &sql, &[], &keys).await?;
    rows.iter().map(|r| session_from(r).map(|s| (s.conversation_id, s))).collect()
}

/// Whether the flow handed this conversation to a person and it has not been
/// resolved since: the customer asked for a person, so no rule starts the bot
/// on them again until it is resolved.
pub async fn handed_off_unresolved(conn: &mut AnyConnection, conversation_id: i64) -> Result<bool> {
    let row = sqlx::query(
        "SELECT 1 AS one FROM event_log h WHERE h.conversation_id = $1 AND h.timeline = 1 AND h.kind = 'handed_off'
           AND NOT EXISTS (SELECT 1 FROM event_log r WHERE r.conversation_id = $1 AND r.timeline = 1 AND r.id > h.id
                             AND r.kind = 'status_changed' AND r.data LIKE '%\"to\":\"resolved\"%')
         LIMIT 1",
    )
    .bind(conversation_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.is_some())
}

/// The newest customer message of a conversation (0 when none).
pub async fn last_inbound_id(conn: &mut AnyConnection, conversation_id: i64) -> Result<i64> {
    let r = sqlx::query("SELECT MAX(id) AS id FROM messages WHERE conversation_id = $1 AND direction = 'inbound'")
        .bind(conversation_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(r.try_get::<Option<i64>, _>("id")?.unwrap_or(0))
}

/// Starts `flow` in the conversation: the conversation becomes the bot's
/// (its wait for a person is over until a handoff), and the timeline says so.
pub async fn start_session(
    conn: &mut AnyConnection,
    ids: (i64, i64),
    flow: &StoredFlow,
    step: &str,
    now: Timestamp,
) -> Result<i64> {
    let (account_id, conversation_id) = ids;
    let after = last_inbound_id(conn, conversation_id).await?;
    let row = sqlx::query(
        "INSERT INTO flow_sessions (account_id, conversation_id, flow_id, step, misses, after_message_id, timeout_at, started_at)
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7) RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(flow.id)
    .bind(step)
    .bind(after)
    .bind(to_ms(now + flow.flow.timeout()))
    .bind(to_ms(now))
    .fetch_one(&mut *conn)
    .await?;
    let id = returned_id(&row)?;
    sqlx::query("UPDATE conversations SET bot = 1, waiting_since = NULL WHERE id = $1")
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    let ev = DomainEvent::FlowStarted { flow_id: flow.id, flow: flow.flow.name().to_owned() };
    append(conn, ids, &ev, None, now).await?;
    Ok(id)
}

/// Moves a running session: to a step, with its misses, or to a lookup to make.
pub async fn move_session(
    conn: &mut AnyConnection,
    session_id: i64,
    (step, misses): (&str, u8),
    lookup_input: Option<&str>,
    timeout_at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE flow_sessions SET step = $1, misses = $2, lookup_input = $3, lookup_lease_until = NULL, timeout_at = $4
         WHERE id = $5",
    )
    .bind(step)
    .bind(misses as i64)
    .bind(lookup_input)
    .bind(to_ms(timeout_at))
    .bind(session_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Ends the flow running in a conversation, if one is: the conversation leaves
/// the bot. A handoff begins the customer's wait for a person now (and gives
/// the conversation to the flow's team); a finished flow or a timeout
/// resolves it (a new text reopens it). False when no flow was running.
pub async fn end_session(conn: &mut AnyConnection, ids: (i64, i64), end: SessionEnd, now: Timestamp) -> Result<bool> {
    let (account_id, conversation_id) = ids;
    let gone = sqlx::query("DELETE FROM flow_sessions WHERE conversation_id = $1")
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    if gone.rows_affected() == 0 {
        return Ok(false);
    }
    let waiting = if matches!(end, SessionEnd::Handoff { .. }) { "$1" } else { "NULL" };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE conversations SET bot = 0, waiting_since = {waiting} WHERE id = $2"
    )))
    .bind(to_ms(now))
    .bind(conversation_id)
    .execute(&mut *conn)
    .await?;
    let change = Change { account_id, conversation_id, actor_id: None, now };
    match end {
        SessionEnd::Handoff { reason, team_id } => {
            append(conn, ids, &DomainEvent::HandedOff { reason, team_id }, None, now).await?;
            if let Some(team) = team_id {
                let current: Option<i64> = sqlx::query("SELECT team_id FROM conversations WHERE id = $1")
                    .bind(conversation_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("team_id")?;
                // A team deleted since the flow was saved: the customer still reaches a person, unassigned.
                if current != Some(team)
                    && let Ok(name) = changes::team_name(conn, account_id, team).await
                {
                    changes::write_team(conn, change, Some((team, name))).await?;
                }
            }
        }
        SessionEnd::Ended(reason) => {
            append(conn, ids, &DomainEvent::FlowEnded { reason }, None, now).await?;
            // The bot answered, or the customer went quiet: nobody has anything to do.
            if matches!(reason, FlowEndReason::TimedOut | FlowEndReason::Finished) {
                let status: String = sqlx::query("SELECT status FROM conversations WHERE id = $1")
                    .bind(conversation_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("status")?;
                let from = ConversationStatus::parse(&status)?;
                if from != ConversationStatus::Resolved {
                    let new =
                        NewStatus { from, to: ConversationStatus::Resolved, until: None, zone: None, reason: None };
                    changes::write_status_only(conn, change, new).await?;
                }
            }
        }
    }
    Ok(true)
}
