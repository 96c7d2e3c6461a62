//! Calls placed for a conversation (their latest status, moved forward only,
//! each move an event in the same transaction) and the call back queue (a
//! request waits; one agent takes it with a compare-and-set, so two nodes or
//! two agents never both call).

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::event::DomainEvent;
use textdesk_core::gate::{OutboundKind, Timing};
use textdesk_core::voice::{CallStatus, CallStopped};
use textdesk_core::{BlockReason, Capabilities, DeliveryStatus};

use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

/// A call as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Call {
    pub id: i64,
    pub account_id: i64,
    pub conversation_id: i64,
    pub inbox_id: i64,
    pub agent_id: Option<i64>,
    pub escalation_id: Option<i64>,
    pub provider_id: Option<String>,
    pub status: CallStatus,
    pub duration_secs: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A call an agent asks for, checked against the gate in the transaction
/// that writes it.
pub struct NewCall {
    pub account_id: i64,
    pub conversation_id: i64,
    pub agent_id: i64,
    pub now: Timestamp,
    /// The contact's clock; a call never counts as a live exchange.
    pub timing: Timing,
    pub channel: Capabilities,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallStart {
    Started(i64),
    Blocked(BlockReason),
    /// The customer's quiet hours: not before this.
    Quiet(Timestamp),
}

const CALL_COLUMNS: &str = "id, account_id, conversation_id, inbox_id, agent_id, escalation_id, provider_id, status, \
     duration_secs, created_at, updated_at";

fn call_from(r: &sqlx::any::AnyRow) -> Result<Call> {
    let status: String = r.try_get("status")?;
    Ok(Call {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        conversation_id: r.try_get("conversation_id")?,
        inbox_id: r.try_get("inbox_id")?,
        agent_id: r.try_get("agent_id")?,
        escalation_id: r.try_get("escalation_id")?,
        provider_id: r.try_get("provider_id")?,
        status: CallStatus::parse(&status)?,
        duration_secs: r.try_get::<Option<i64>, _>("duration_secs")?.and_then(|d| u32::try_from(d).ok()),
        created_at: from_ms(r.try_get("created_at")?),
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

/// One call back, as the queue lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Callback {
    pub id: i64,
    pub conversation_id: i64,
    /// choosing, waiting, taken, called, cancelled.
    pub state: String,
    pub due_at: Option<Timestamp>,
    pub requested_by: Option<i64>,
    pub taken_by: Option<i64>,
    pub taken_by_name: Option<String>,
    pub contact_name: String,
    pub contact_address: String,
    pub time_zone: Option<String>,
    pub created_at: Timestamp,
}

const CALLBACK_COLUMNS: &str = "cb.id, cb.conversation_id, cb.state, cb.due_at, cb.requested_by, cb.taken_by, \
     u.name AS taken_by_name, ct.name AS contact_name, i.address AS contact_address, ct.time_zone, cb.created_at";
const CALLBACK_FROM: &str = "callbacks cb JOIN conversations c ON c.id = cb.conversation_id \
     JOIN contacts ct ON ct.id = c.contact_id JOIN contact_identities i ON i.id = c.identity_id \
     LEFT JOIN users u ON u.id = cb.taken_by";

fn callback_from(r: &sqlx::any::AnyRow) -> Result<Callback> {
    Ok(Callback {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        state: r.try_get("state")?,
        due_at: r.try_get::<Option<i64>, _>("due_at")?.map(from_ms),
        requested_by: r.try_get("requested_by")?,
        taken_by: r.try_get("taken_by")?,
        taken_by_name: r.try_get("taken_by_name")?,
        contact_name: r.try_get::<Option<String>, _>("contact_name")?.unwrap_or_default(),
        contact_address: r.try_get("contact_address")?,
        time_zone: r.try_get("time_zone")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

impl Store {
    /// Writes a call about to be placed, once the gate allows it now (consent,
    /// the customer's quiet hours). No event yet: the escalation that follows
    /// the provider's acceptance says it happened.
    pub async fn start_call(&self, new: NewCall) -> Result<CallStart> {
        let conv = self.conversation(new.account_id, new.conversation_id).await?;
        let mut tx = self.begin_write().await?;
        let timing = Timing { live_exchange: false, ..new.timing };
        let who = (conv.id, conv.contact_id, conv.inbox_id);
        let verdict = crate::messages::gate_in_tx(
            &mut tx,
            who,
            OutboundKind::Reply,
            (new.now, None),
            Some(timing),
            (new.channel, false, true),
        )
        .await?;
        match verdict {
            Err(reason) => return Ok(CallStart::Blocked(reason)),
            Ok((DeliveryStatus::Scheduled, until)) => return Ok(CallStart::Quiet(until)),
            Ok(_) => {}
        }
        let row = sqlx::query(
            "INSERT INTO calls (account_id, conversation_id, inbox_id, agent_id, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, 'queued', $5, $5) RETURNING id",
        )
        .bind(new.account_id)
        .bind(conv.id)
        .bind(conv.inbox_id)
        .bind(new.agent_id)
        .bind(to_ms(new.now))
        .fetch_one(&mut *tx)
        .await?;
        let id = returned_id(&row)?;
        self.commit(tx).await?;
        Ok(CallStart::Started(id))
    }

    /// A call the provider refused to place: it never was.
    pub async fn forget_call(&self, call_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM calls WHERE id = $1 AND provider_id IS NULL").bind(call_id).execute(&mut *tx).await?;
        self.commit(tx).await
    }

    /// Any account's call (the provider's callbacks name it by id).
    pub async fn call(&self, call_id: i64) -> Result<Call> {
        let sql = format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(call_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("call"))?;
        call_from(&r)
    }

    /// A conversation's calls, oldest first.
    pub async fn calls(&self, account_id: i64, conversation_id: i64) -> Result<Vec<Call>> {
        let sql =
            format!("SELECT {CALL_COLUMNS} FROM calls WHERE account_id = $1 AND conversation_id = $2 ORDER BY id");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(conversation_id).fetch_all(&self.pool).await?;
        rows.iter().map(call_from).collect()
    }

    /// What the provider reported, if it moves the call forward: written with
    /// its event. False for a late, repeated or out-of-order report.
    pub async fn record_call_status(
        &self,
        call_id: i64,
        status: CallStatus,
        duration_secs: Option<u32>,
        now: Timestamp,
    ) -> Result<bool> {
        let call = self.call(call_id).await?;
        if !call.status.may_become(status) {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        let duration = if status == CallStatus::Completed { duration_secs } else { None };
        // Compare-and-set on the status read: two reports racing move it once.
        let moved = sqlx::query(
            "UPDATE calls SET status = $1, duration_secs = COALESCE($2, duration_secs), updated_at = $3
             WHERE id = $4 AND status = $5",
        )
        .bind(status.as_str())
        .bind(duration.map(i64::from))
        .bind(to_ms(now))
        .bind(call_id)
        .bind(call.status.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        let ev = DomainEvent::CallStatusChanged { call_id, status, duration_secs: duration, reason: None };
        crate::events::append(&mut tx, (call.account_id, call.conversation_id), &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The gate asked again as the provider fetches the bridge: the customer
    /// may have opted out, or their quiet hours begun, since the click. A call
    /// that may no longer go is cancelled with why, in the same transaction
    /// (once: a repeated fetch finds it cancelled and is refused the same way).
    pub async fn recheck_call(
        &self,
        call_id: i64,
        timing: Timing,
        channel: Capabilities,
        now: Timestamp,
    ) -> Result<Option<CallStopped>> {
        let call = self.call(call_id).await?;
        let conv = self.conversation(call.account_id, call.conversation_id).await?;
        let mut tx = self.begin_write().await?;
        let timing = Timing { live_exchange: false, ..timing };
        let who = (conv.id, conv.contact_id, conv.inbox_id);
        let verdict = crate::messages::gate_in_tx(
            &mut tx,
            who,
            OutboundKind::Reply,
            (now, None),
            Some(timing),
            (channel, false, true),
        )
        .await?;
        let stopped = match verdict {
            Err(reason) => CallStopped::Blocked(reason),
            Ok((DeliveryStatus::Scheduled, _)) => CallStopped::QuietHours,
            Ok(_) => return Ok(None),
        };
        if call.status.may_become(CallStatus::Canceled) {
            let moved =
                sqlx::query("UPDATE calls SET status = 'canceled', updated_at = $1 WHERE id = $2 AND status = $3")
                    .bind(to_ms(now))
                    .bind(call_id)
                    .bind(call.status.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if moved == 1 {
                let ev = DomainEvent::CallStatusChanged {
                    call_id,
                    status: CallStatus::Canceled,
                    duration_secs: None,
                    reason: Some(stopped.thread_words()),
                };
                crate::events::append(&mut tx, (call.account_id, call.conversation_id), &ev, None, now).await?;
            }
        }
        self.commit(tx).await?;
        Ok(Some(stopped))
    }

    /// The account's call backs still to make (waiting or taken), soonest first.
    pub async fn callback_queue(&self, account_id: i64) -> Result<Vec<Callback>> {
        let sql = format!(
            "SELECT {CALLBACK_COLUMNS} FROM {CALLBACK_FROM}
             WHERE cb.account_id = $1 AND cb.state IN ('waiting', 'taken') ORDER BY cb.due_at, cb.id LIMIT 500"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&self.pool).await?;
        rows.iter().map(callback_from).collect()
    }

    pub async fn callback(&self, account_id: i64, id: i64) -> Result<Callback> {
        let sql = format!("SELECT {CALLBACK_COLUMNS} FROM {CALLBACK_FROM} WHERE cb.account_id = $1 AND cb.id = $2");
        let r = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("call back"))?;
        callback_from(&r)
    }

    /// Takes a waiting call back for `user_id`: exactly one taker wins, on any
    /// node. False when someone else took it first (or it is no longer waiting).
    pub async fn take_callback(&self, account_id: i64, id: i64, user_id: i64, now: Timestamp) -> Result<bool> {
        let cb = self.callback(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            "UPDATE callbacks SET state = 'taken', taken_by = $1, taken_at = $2
             WHERE id = $3 AND account_id = $4 AND state = 'waiting'",
        )
        .bind(user_id)
        .bind(to_ms(now))
        .bind(id)
        .bind(account_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(false);
        }
        let ev = DomainEvent::CallbackTaken { callback_id: id };
        crate::events::append(&mut tx, (account_id, cb.conversation_id), &ev, Some(user_id), now).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The call back's call was placed (by the agent who took it).
    pub async fn callback_called(&self, account_id: i64, id: i64, call_id: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE callbacks SET state = 'called', call_id = $1 WHERE id = $2 AND account_id = $3")
            .bind(call_id)
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await
    }

    /// Call backs whose time has come and whose reminder has not gone out yet, soonest first.
    pub async fn due_callbacks(&self, now: Timestamp, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT id FROM callbacks WHERE state IN ('waiting', 'taken') AND due_at <= $1 AND reminded_at IS NULL
             ORDER BY due_at, id LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// The call back's reminder: marked and its event written in one
    /// transaction, by whichever node marks it first. False when another did
    /// (or it was called, or cancelled, meanwhile).
    pub async fn remind_callback(&self, id: i64, now: Timestamp) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let marked = sqlx::query(
            "UPDATE callbacks SET reminded_at = $1
             WHERE id = $2 AND reminded_at IS NULL AND state IN ('waiting', 'taken') AND due_at <= $1",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(false);
        }
        let r = sqlx::query("SELECT account_id, conversation_id, due_at, taken_by FROM callbacks WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let ids = (r.try_get::<i64, _>("account_id")?, r.try_get::<i64, _>("conversation_id")?);
        let due_at = r.try_get::<Option<i64>, _>("due_at")?.map(from_ms).unwrap_or(now);
        let ev = DomainEvent::CallbackDue { callback_id: id, due_at, taken_by: r.try_get("taken_by")? };
        crate::events::append(&mut tx, ids, &ev, None, now).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// The conversation's call back the customer is choosing a time for, with the times offered.
    pub async fn choosing_callback(&self, conversation_id: i64) -> Result<Option<(i64, Vec<Timestamp>)>> {
        choosing_in(&mut *self.pool.acquire().await?, conversation_id).await
    }
}

/// In the caller's transaction (the automations engine's): the conversation's
/// call back being chosen, with the times offered.
pub async fn choosing_in(conn: &mut AnyConnection, conversation_id: i64) -> Result<Option<(i64, Vec<Timestamp>)>> {
    Ok(choosing_all(conn, &[conversation_id]).await?.remove(&conversation_id))
}

/// [`choosing_in`] for several conversations in one statement.
pub async fn choosing_all(
    conn: &mut AnyConnection,
    conversation_ids: &[i64],
) -> Result<std::collections::HashMap<i64, (i64, Vec<Timestamp>)>> {
    let mut out = std::collections::HashMap::new();
    let keys = crate::multirow::ints(conversation_ids);
    let sql =
        "SELECT conversation_id, id, offered FROM callbacks WHERE state = 'choosing' AND conversation_id IN ({in})
               ORDER BY id DESC";
    for r in crate::multirow::select_in(conn, sql, &[], &keys).await? {
        let conversation_id: i64 = r.try_get("conversation_id")?;
        if out.contains_key(&conversation_id) {
            // The newest offer counts.
            continue;
        }
        let offered: Vec<i64> = serde_json::from_str(&r.try_get::<String, _>("offered")?).unwrap_or_default();
        out.insert(conversation_id, (r.try_get("id")?, offered.into_iter().map(from_ms).collect()));
    }
    Ok(out)
}

/// The customer's answer was not a choice: the offer lapses.
pub async fn lapse_offer(conn: &mut AnyConnection, conversation_id: i64) -> Result<()> {
    sqlx::query("UPDATE callbacks SET state = 'cancelled' WHERE conversation_id = $1 AND state = 'choosing'")
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A customer asked for a call (texted CALL): the times offered are kept
/// until they choose. An earlier offer still open is replaced.
pub async fn offer_callback(
    conn: &mut AnyConnection,
    (account_id, conversation_id): (i64, i64),
    offered: &[Timestamp],
    now: Timestamp,
) -> Result<i64> {
    lapse_offer(conn, conversation_id).await?;
    let offered: Vec<i64> = offered.iter().map(|t| to_ms(*t)).collect();
    let row = sqlx::query(
        "INSERT INTO callbacks (account_id, conversation_id, state, offered, created_at)
         VALUES ($1, $2, 'choosing', $3, $4) RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(serde_json::to_string(&offered).unwrap_or_else(|_| "[]".into()))
    .bind(to_ms(now))
    .fetch_one(&mut *conn)
    .await?;
    returned_id(&row)
}

/// The customer chose `due_at`: the call back joins the queue, with its event.
pub async fn choose_callback(
    conn: &mut AnyConnection,
    (account_id, conversation_id, id): (i64, i64, i64),
    due_at: Timestamp,
    now: Timestamp,
) -> Result<()> {
    sqlx::query("UPDATE callbacks SET state = 'waiting', due_at = $1 WHERE id = $2 AND state = 'choosing'")
        .bind(to_ms(due_at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let ev = DomainEvent::CallbackRequested { callback_id: id, due_at, by_customer: true };
    crate::events::append(conn, (account_id, conversation_id), &ev, None, now).await?;
    Ok(())
}

/// An agent's call back request, in the escalation's transaction: queued at `due_at`.
pub(crate) async fn request_callback(
    conn: &mut AnyConnection,
    (account_id, conversation_id, agent_id): (i64, i64, i64),
    due_at: Timestamp,
    now: Timestamp,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO callbacks (account_id, conversation_id, state, due_at, requested_by, created_at)
         VALUES ($1, $2, 'waiting', $3, $4, $5) RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(to_ms(due_at))
    .bind(agent_id)
    .bind(to_ms(now))
    .fetch_one(&mut *conn)
    .await?;
    let id = returned_id(&row)?;
    let ev = DomainEvent::CallbackRequested { callback_id: id, due_at, by_customer: false };
    crate::events::append(conn, (account_id, conversation_id), &ev, Some(agent_id), now).await?;
    Ok(id)
}
