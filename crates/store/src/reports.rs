//! Report rollups (migration 0032): what the `reports` consumer adds in its
//! transaction (each conversation's state, the rollup cells, the
//! once-per-contact keys), and the sums a report reads back.

use jiff::Timestamp;
use jiff::civil::Date;
use sqlx::{AnyConnection, Row};
use textdesk_core::report::{ConvState, Tally};

use std::collections::{BTreeMap, BTreeSet};

use crate::multirow::{self, Value};
use crate::{Result, Store, StoreError, to_ms};

/// Which rollup rows a report reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFilter {
    pub inbox_id: Option<i64>,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub medium: Option<String>,
    pub label: Option<String>,
}

/// Days `from..=to` on the business's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: Date,
    pub to: Date,
}

/// One summed row: a key (a day, an agent, a medium… by the query), the metric, its bucket, count and total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    pub key: String,
    pub metric: String,
    pub bucket: i64,
    pub count: i64,
    pub total_ms: i64,
}

/// A rollup row as a benchmark loads it (every conversation: label '').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupRow {
    pub day: Date,
    pub inbox_id: i64,
    pub team_id: i64,
    pub agent_id: i64,
    pub medium: String,
    pub metric: String,
    pub bucket: i64,
    pub count: i64,
    pub total_ms: i64,
}

/// What a report groups by besides metric and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Nothing,
    Day,
    /// The key is `YYYY-MM`.
    Month,
    Agent,
    Medium,
}

fn bad_day(e: jiff::Error) -> StoreError {
    StoreError::Invalid(format!("a report period past the calendar's end: {e}"))
}

/// Which rows a part of a period is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Span {
    Days,
    Months,
}

impl GroupBy {
    fn column(self) -> &'static str {
        match self {
            GroupBy::Nothing => "''",
            GroupBy::Day => "day",
            GroupBy::Month => "month",
            GroupBy::Agent => "CAST(agent_id AS TEXT)",
            GroupBy::Medium => "medium",
        }
    }
}

/// The account, inbox, contact and medium of a conversation (None once it is deleted).
pub async fn conversation_basics_in(
    tx: &mut AnyConnection,
    conversation_id: i64,
) -> Result<Option<(i64, i64, i64, String)>> {
    let row = sqlx::query(
        "SELECT c.account_id, c.inbox_id, c.contact_id, i.medium FROM conversations c JOIN inboxes i ON i.id = c.inbox_id
          WHERE c.id = $1",
    )
    .bind(conversation_id)
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).transpose()
}

/// A conversation's saved state, if reporting has seen it.
pub async fn report_state_in(tx: &mut AnyConnection, conversation_id: i64) -> Result<Option<ConvState>> {
    let row = sqlx::query("SELECT state FROM report_clocks WHERE conversation_id = $1")
        .bind(conversation_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let text: String = row.try_get(0)?;
    state_from(&text).map(Some)
}

/// A conversation's state as reporting last saved it, or, before reporting
/// has seen it, a new one from the conversation; None once the conversation is
/// gone and nothing was saved. One read for the two.
pub async fn report_state_or_new_in(tx: &mut AnyConnection, conversation_id: i64) -> Result<Option<ConvState>> {
    Ok(report_states_or_new_in(tx, &[conversation_id]).await?.remove(&conversation_id))
}

/// [`report_state_or_new_in`] for several conversations in one statement;
/// those with neither a saved state nor a conversation are not in the map.
pub async fn report_states_or_new_in(
    tx: &mut AnyConnection,
    conversation_ids: &[i64],
) -> Result<std::collections::HashMap<i64, ConvState>> {
    let mut out = std::collections::HashMap::new();
    let keys = multirow::ints(conversation_ids);
    let rows = multirow::select_in(
        tx,
        "SELECT rc.conversation_id AS id, rc.state, CAST(NULL AS BIGINT) AS inbox_id, CAST(NULL AS BIGINT) AS contact_id,
                CAST(NULL AS TEXT) AS medium
           FROM report_clocks rc WHERE rc.conversation_id IN ({in})
         UNION ALL
         SELECT c.id, CAST(NULL AS TEXT), c.inbox_id, c.contact_id, i.medium
           FROM conversations c JOIN inboxes i ON i.id = c.inbox_id
          WHERE c.id IN ({in}) AND NOT EXISTS (SELECT 1 FROM report_clocks rc WHERE rc.conversation_id = c.id)",
        &[],
        &keys,
    )
    .await?;
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let state = match r.try_get::<Option<String>, _>("state")? {
            Some(text) => state_from(&text)?,
            None => {
                ConvState::new(r.try_get("inbox_id")?, r.try_get("contact_id")?, &r.try_get::<String, _>("medium")?)
            }
        };
        out.insert(id, state);
    }
    Ok(out)
}

/// A saved state, as `save_report_states_in` wrote it.
fn state_from(text: &str) -> Result<ConvState> {
    serde_json::from_str(text).map_err(|e| StoreError::Invalid(format!("report state: {e}")))
}

/// Saves conversations' states (and whether a target was missed in each), in
/// one statement: ((account, conversation), state), each conversation once.
pub async fn save_report_states_in(tx: &mut AnyConnection, states: &[((i64, i64), ConvState)]) -> Result<()> {
    let mut rows = Vec::with_capacity(states.len());
    for ((account_id, conversation_id), state) in states {
        let text = serde_json::to_string(state).map_err(|e| StoreError::Invalid(format!("report state: {e}")))?;
        rows.push(vec![
            Value::Int(*conversation_id),
            Value::Int(*account_id),
            Value::Text(text),
            Value::Int(i64::from(state.breached)),
        ]);
    }
    multirow::run(
        tx,
        "INSERT INTO report_clocks (conversation_id, account_id, state, breached) VALUES {values}
         ON CONFLICT (conversation_id) DO UPDATE SET state = excluded.state, breached = excluded.breached",
        &rows,
    )
    .await?;
    Ok(())
}

/// One rollup cell of one table: (table, account, label, day or month, inbox,
/// team, agent, medium, metric, bucket).
type CellKey = (&'static str, i64, String, String, i64, i64, i64, String, String, i64);

/// Adds tallies, (account, tally) in the order they were made, to the
/// rollups: one row for every conversation ('') and one per label, by day and
/// by month; a once-per-contact tally only if its key is new to the store and
/// to the tallies before it. A statement for the keys and one a table, the
/// cells summed first: a batch of events costs three statements, not three a
/// tally.
pub async fn add_tallies_in(tx: &mut AnyConnection, tallies: &[(i64, Tally)]) -> Result<()> {
    let keys: BTreeSet<(i64, String)> =
        tallies.iter().filter_map(|(a, t)| t.once.as_ref().map(|o| (*a, o.key()))).collect();
    let rows: Vec<Vec<Value>> = keys.iter().map(|(a, k)| vec![Value::Int(*a), Value::Text(k.clone())]).collect();
    let mut new_keys = BTreeSet::new();
    let sql =
        "INSERT INTO report_once (account_id, key) VALUES {values} ON CONFLICT DO NOTHING RETURNING account_id, key";
    for r in multirow::run(tx, sql, &rows).await? {
        new_keys.insert((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?));
    }
    let mut cells: BTreeMap<CellKey, (i64, i64)> = BTreeMap::new();
    for (account_id, t) in tallies {
        // Counted by its first tally only.
        if let Some(once) = &t.once
            && !new_keys.remove(&(*account_id, once.key()))
        {
            continue;
        }
        let c = &t.cell;
        let row = RollupRow {
            day: c.day,
            inbox_id: c.inbox_id,
            team_id: c.team_id.unwrap_or(0),
            agent_id: c.agent_id.unwrap_or(0),
            medium: c.medium.clone(),
            metric: c.metric.to_owned(),
            bucket: c.bucket,
            count: 1,
            total_ms: t.total_ms,
        };
        for label in std::iter::once("").chain(t.labels.iter().map(String::as_str)) {
            add_to(&mut cells, (*account_id, label), &row);
        }
    }
    upsert_cells(tx, &cells).await
}

/// Adds a row's count and total to its cells, the day's and the month's.
fn add_to(cells: &mut BTreeMap<CellKey, (i64, i64)>, (account_id, label): (i64, &str), r: &RollupRow) {
    let day = r.day.to_string();
    let month = day[..7].to_owned();
    for (table, when) in [("report_rollups", day), ("report_monthly", month)] {
        let key = (
            table,
            account_id,
            label.to_owned(),
            when,
            r.inbox_id,
            r.team_id,
            r.agent_id,
            r.medium.clone(),
            r.metric.clone(),
            r.bucket,
        );
        let sums = cells.entry(key).or_default();
        sums.0 += r.count;
        sums.1 += r.total_ms;
    }
}

/// Adds summed cells to the rollups, in one statement a table (each cell once:
/// PostgreSQL will not update a row twice in one statement).
async fn upsert_cells(tx: &mut AnyConnection, cells: &BTreeMap<CellKey, (i64, i64)>) -> Result<()> {
    for (table, col) in [("report_rollups", "day"), ("report_monthly", "month")] {
        let rows: Vec<Vec<Value>> = cells
            .iter()
            .filter(|(k, _)| k.0 == table)
            .map(|((_, account, label, when, inbox, team, agent, medium, metric, bucket), (count, total))| {
                vec![
                    Value::Int(*account),
                    Value::Text(label.clone()),
                    Value::Text(when.clone()),
                    Value::Int(*inbox),
                    Value::Int(*team),
                    Value::Int(*agent),
                    Value::Text(medium.clone()),
                    Value::Text(metric.clone()),
                    Value::Int(*bucket),
                    Value::Int(*count),
                    Value::Int(*total),
                ]
            })
            .collect();
        let sql = format!(
            "INSERT INTO {table} (account_id, label, {col}, inbox_id, team_id, agent_id, medium, metric, bucket, count, total_ms)
             VALUES {{values}}
             ON CONFLICT (account_id, label, {col}, inbox_id, team_id, agent_id, medium, metric, bucket)
             DO UPDATE SET count = {table}.count + excluded.count, total_ms = {table}.total_ms + excluded.total_ms"
        );
        multirow::run(tx, &sql, &rows).await?;
    }
    Ok(())
}

impl Store {
    /// Sums of the rollups over `days` matching `filter`, grouped by `group`,
    /// metric and bucket; `metrics` (when not empty) limits the metrics read.
    /// Whole months are read from the monthly rows, the days around them from
    /// the daily ones (by day, everything from the daily ones).
    pub async fn report_rows(
        &self,
        account_id: i64,
        filter: &ReportFilter,
        days: DayRange,
        group: GroupBy,
        metrics: &[&str],
    ) -> Result<Vec<ReportRow>> {
        let first_whole =
            if days.from.day() == 1 { days.from } else { days.from.last_of_month().tomorrow().map_err(bad_day)? };
        let last_whole = if days.to == days.to.last_of_month() {
            days.to
        } else {
            days.to.first_of_month().yesterday().map_err(bad_day)?
        };
        let mut parts: Vec<(Span, String, String)> = Vec::new();
        if group == GroupBy::Day || first_whole > last_whole {
            parts.push((Span::Days, days.from.to_string(), days.to.to_string()));
        } else {
            if days.from < first_whole {
                parts.push((Span::Days, days.from.to_string(), first_whole.yesterday().map_err(bad_day)?.to_string()));
            }
            let month = |d: Date| d.strftime("%Y-%m").to_string();
            parts.push((Span::Months, month(first_whole), month(last_whole)));
            if last_whole < days.to {
                parts.push((Span::Days, last_whole.tomorrow().map_err(bad_day)?.to_string(), days.to.to_string()));
            }
        }
        let mut sums: std::collections::BTreeMap<(String, String, i64), (i64, i64)> = Default::default();
        for (span, from, to) in parts {
            for r in self.rows_in(account_id, filter, (span, &from, &to), group, metrics).await? {
                let e = sums.entry((r.key, r.metric, r.bucket)).or_default();
                e.0 += r.count;
                e.1 += r.total_ms;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((key, metric, bucket), (count, total_ms))| ReportRow { key, metric, bucket, count, total_ms })
            .collect())
    }

    async fn rows_in(
        &self,
        account_id: i64,
        filter: &ReportFilter,
        (span, from, to): (Span, &str, &str),
        group: GroupBy,
        metrics: &[&str],
    ) -> Result<Vec<ReportRow>> {
        let (table, col) = match span {
            Span::Days => ("report_rollups", "day"),
            Span::Months => ("report_monthly", "month"),
        };
        let key = match (group, span) {
            (GroupBy::Month, Span::Days) => "SUBSTR(day, 1, 7)",
            (GroupBy::Month, Span::Months) => "month",
            (g, _) => g.column(),
        };
        let mut sql = format!(
            "SELECT {key} AS k, metric, bucket, CAST(SUM(count) AS BIGINT), CAST(SUM(total_ms) AS BIGINT) FROM {table}
              WHERE account_id = $1 AND label = $2 AND {col} >= $3 AND {col} <= $4"
        );
        let mut n = 4;
        let mut next = |c: &str, sql: &mut String| {
            n += 1;
            sql.push_str(&format!(" AND {c} = ${n}"));
        };
        if filter.inbox_id.is_some() {
            next("inbox_id", &mut sql);
        }
        if filter.team_id.is_some() {
            next("team_id", &mut sql);
        }
        if filter.agent_id.is_some() {
            next("agent_id", &mut sql);
        }
        if filter.medium.is_some() {
            next("medium", &mut sql);
        }
        if !metrics.is_empty() {
            sql.push_str(&format!(" AND metric IN ({})", crate::placeholders(n + 1, metrics.len())));
        }
        // PostgreSQL groups by no constant: "nothing" is metric and bucket alone.
        match group {
            GroupBy::Nothing => sql.push_str(" GROUP BY metric, bucket"),
            _ => sql.push_str(&format!(" GROUP BY {key}, metric, bucket")),
        }
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(filter.label.clone().unwrap_or_default())
            .bind(from.to_owned())
            .bind(to.to_owned());
        for v in [filter.inbox_id, filter.team_id, filter.agent_id].into_iter().flatten() {
            q = q.bind(v);
        }
        if let Some(m) = &filter.medium {
            q = q.bind(m.clone());
        }
        for m in metrics {
            q = q.bind(m.to_string());
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(ReportRow {
                    key: r.try_get(0)?,
                    metric: r.try_get(1)?,
                    bucket: r.try_get(2)?,
                    count: r.try_get(3)?,
                    total_ms: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Every rollup row of an account, as stored: (label, row). For checking
    /// the rollups against a recomputation, and for exports.
    pub async fn rollup_rows(&self, account_id: i64) -> Result<Vec<(String, RollupRow)>> {
        let rows = sqlx::query(
            "SELECT label, day, inbox_id, team_id, agent_id, medium, metric, bucket, count, total_ms FROM report_rollups
              WHERE account_id = $1 ORDER BY label, day, inbox_id, team_id, agent_id, medium, metric, bucket",
        )
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let day: String = r.try_get(1)?;
                Ok((
                    r.try_get(0)?,
                    RollupRow {
                        day: day.parse().map_err(|e| StoreError::Invalid(format!("rollup day {day:?}: {e}")))?,
                        inbox_id: r.try_get(2)?,
                        team_id: r.try_get(3)?,
                        agent_id: r.try_get(4)?,
                        medium: r.try_get(5)?,
                        metric: r.try_get(6)?,
                        bucket: r.try_get(7)?,
                        count: r.try_get(8)?,
                        total_ms: r.try_get(9)?,
                    },
                ))
            })
            .collect()
    }

    /// Whether a target was missed in the conversation (first response or resolution).
    pub async fn report_breached(&self, conversation_id: i64) -> Result<bool> {
        let row = sqlx::query("SELECT breached FROM report_clocks WHERE conversation_id = $1")
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<i64, _>(0)? != 0,
            None => false,
        })
    }

    /// Forgets every rollup and moves the `cursor` consumer back to the start
    /// of the log, in one transaction: the next runs rebuild them from it.
    pub async fn reset_reports(&self, cursor: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for table in ["report_rollups", "report_monthly", "report_clocks", "report_once"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}"))).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM event_cursors WHERE name = $1").bind(cursor).execute(&mut *tx).await?;
        self.commit(tx).await
    }

    /// The highest id in the log (for a rebuild's progress).
    pub async fn last_event_id(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM event_log").fetch_one(&self.pool).await?;
        Ok(row.try_get(0)?)
    }

    /// Claims the monthly summary of `month` (YYYY-MM) for an account while
    /// it is sent: true for the one caller, on any node, that gets to send
    /// it. A claim older than `stale_before` that was never marked sent (its
    /// node stopped while sending) may be taken again.
    pub async fn claim_monthly_summary(
        &self,
        account_id: i64,
        month: &str,
        via: &str,
        (now, stale_before): (Timestamp, Timestamp),
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let inserted = sqlx::query(
            "INSERT INTO report_summaries (account_id, month, sent_via, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(month)
        .bind(via)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let claimed = if inserted == 1 {
            1
        } else {
            sqlx::query(
                "UPDATE report_summaries SET created_at = $1, sent_via = $2
                 WHERE account_id = $3 AND month = $4 AND sent_at IS NULL AND created_at < $5",
            )
            .bind(to_ms(now))
            .bind(via)
            .bind(account_id)
            .bind(month)
            .bind(to_ms(stale_before))
            .execute(&mut *tx)
            .await?
            .rows_affected()
        };
        self.commit(tx).await?;
        Ok(claimed == 1)
    }

    /// Records a claimed monthly summary as sent (`sent`) or gives the claim
    /// back so the next run tries again (`!sent`).
    pub async fn settle_monthly_summary(&self, account_id: i64, month: &str, sent: bool, now: Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let q = if sent {
            sqlx::query(
                "UPDATE report_summaries SET sent_at = $3 WHERE account_id = $1 AND month = $2 AND sent_at IS NULL",
            )
            .bind(account_id)
            .bind(month)
            .bind(to_ms(now))
        } else {
            sqlx::query("DELETE FROM report_summaries WHERE account_id = $1 AND month = $2 AND sent_at IS NULL")
                .bind(account_id)
                .bind(month)
        };
        q.execute(&mut *tx).await?;
        self.commit(tx).await
    }

    /// Whether the month's summary of an account is recorded as sent.
    pub async fn monthly_summary_sent(&self, account_id: i64, month: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT COUNT(*) FROM report_summaries WHERE account_id = $1 AND month = $2 AND sent_at IS NOT NULL",
        )
        .bind(account_id)
        .bind(month)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Open conversations of the inbox whose customer has waited since before
    /// `since` with no sweep mark for this wait, longest first.
    pub async fn unswept_waits(&self, inbox_id: i64, since: Timestamp, limit: i64) -> Result<Vec<(i64, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT c.id, c.waiting_since FROM conversations c
             WHERE c.inbox_id = $1 AND c.status = 'open' AND c.waiting_since IS NOT NULL AND c.waiting_since <= $2
               AND NOT EXISTS (SELECT 1 FROM sla_marks k
                               WHERE k.conversation_id = c.id AND k.waiting_since = c.waiting_since)
             ORDER BY c.waiting_since LIMIT $3",
        )
        .bind(inbox_id)
        .bind(to_ms(since))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, crate::from_ms(r.try_get("waiting_since")?)))).collect()
    }

    /// A conversation's reporting state, as the `reports` consumer last saved it.
    pub async fn report_state(&self, conversation_id: i64) -> Result<Option<ConvState>> {
        let mut conn = self.pool.acquire().await?;
        report_state_in(&mut conn, conversation_id).await
    }

    /// Marks a conversation's wait (`waiting_since` as the conversation has
    /// it) as swept, with `missed` appended to its log in the same
    /// transaction when given; false when it was marked already (by another
    /// node, or an earlier pass).
    pub async fn mark_swept_wait(
        &self,
        (account_id, conversation_id): (i64, i64),
        waiting_since: Timestamp,
        missed: Option<&textdesk_core::event::DomainEvent>,
        now: Timestamp,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO sla_marks (conversation_id, waiting_since, account_id, marked_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(conversation_id)
        .bind(to_ms(waiting_since))
        .bind(account_id)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        if let Some(ev) = missed {
            crate::events::append(&mut tx, (account_id, conversation_id), ev, None, now).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// Claims the month's summary and queues it, in the same transaction, to
    /// every active subscription to `report.monthly`; false when another
    /// node (or an earlier run) already did.
    pub async fn queue_monthly_summary(
        &self,
        account_id: i64,
        month: &str,
        payload: &str,
        now: Timestamp,
    ) -> Result<bool> {
        use textdesk_core::webhook::REPORT_MONTHLY;
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO report_summaries (account_id, month, sent_via, created_at, sent_at)
             VALUES ($1, $2, 'webhook', $3, $3) ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(month)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        // Every subscription on now (`now` names the month; it may be a test's clock).
        let on_at = now.max(Timestamp::now());
        for (sub, events) in crate::webhooks::active_webhooks_in(&mut tx, account_id, on_at).await? {
            if !events.iter().any(|e| e == REPORT_MONTHLY) {
                continue;
            }
            let msg_id = format!("msg_{sub}_report_{month}");
            let d = crate::webhooks::NewDelivery {
                subscription_id: sub,
                account_id,
                event_id: None,
                contact_id: None,
                msg_id: &msg_id,
                event_type: REPORT_MONTHLY,
                payload,
                now,
            };
            crate::webhooks::queue_webhook_delivery(&mut tx, d).await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// Adds rollup rows (every conversation: label ''), by day and by month: for loading a benchmark's year.
    pub async fn insert_rollup_rows(&self, account_id: i64, rows: &[RollupRow]) -> Result<()> {
        let mut cells = BTreeMap::new();
        for r in rows {
            add_to(&mut cells, (account_id, ""), r);
        }
        let mut tx = self.begin_write().await?;
        upsert_cells(&mut tx, &cells).await?;
        self.commit(tx).await
    }
}
