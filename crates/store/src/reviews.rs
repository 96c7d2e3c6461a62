//! The supervisors' review queue (F12): conversations queued for a reason
//! (each reason once per waiting review, with its `review_queued` event in the
//! same transaction), scorecards against the rubric with their `review_scored`
//! event, the business's rubric and sample size, and the weekly sample drawn
//! once per account and week across nodes.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::event::DomainEvent;
use textdesk_core::review::{ReviewReason, Rubric};

use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

/// One review, as the queue and the scorecard show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Review {
    pub id: i64,
    pub conversation_id: i64,
    pub contact_name: String,
    /// The number or address the conversation is with (for a contact nobody named).
    pub contact_address: String,
    pub agent_id: Option<i64>,
    pub agent_name: Option<String>,
    pub reasons: Vec<ReviewReason>,
    pub queued_at: Timestamp,
    pub reviewer_id: Option<i64>,
    pub reviewer_name: Option<String>,
    /// The rubric it was scored against (criteria change; a scorecard keeps its own).
    pub rubric: Option<Rubric>,
    pub scores: Vec<Option<u8>>,
    pub comment: String,
    pub overall: Option<u8>,
    pub scored_at: Option<Timestamp>,
}

/// Which reviews a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReviewState {
    /// Waiting for a reviewer: the queue, oldest first.
    #[default]
    Waiting,
    /// Scored, newest first.
    Scored,
}

#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    pub state: ReviewState,
    pub agent_id: Option<i64>,
    pub reason: Option<ReviewReason>,
}

/// A scorecard as a reviewer hands it in (already checked against the rubric).
pub struct Scorecard<'a> {
    pub reviewer_id: i64,
    pub rubric: &'a Rubric,
    pub scores: &'a [Option<u8>],
    pub comment: &'a str,
    pub overall: Option<u8>,
    pub now: Timestamp,
}

/// At most this many reviews are read at once.
pub const MAX_REVIEWS_READ: i64 = 200;

const COLUMNS: &str = "r.id, r.conversation_id, c.name AS contact_name, i.address AS contact_address, r.agent_id, a.name AS agent_name, r.reasons, \
     r.queued_at, r.reviewer_id, v.name AS reviewer_name, r.rubric, r.scores, r.comment, r.overall, r.scored_at";
const FROM: &str = "FROM reviews r JOIN conversations cv ON cv.id = r.conversation_id \
     JOIN contacts c ON c.id = cv.contact_id JOIN contact_identities i ON i.id = cv.identity_id LEFT JOIN users a ON a.id = r.agent_id LEFT JOIN users v ON v.id = r.reviewer_id";

fn review_from(r: &sqlx::any::AnyRow) -> Result<Review> {
    let json_of = |col: &str| -> Result<Option<String>> { Ok(r.try_get::<Option<String>, _>(col)?) };
    let rubric = json_of("rubric")?.and_then(|t| serde_json::from_str::<Rubric>(&t).ok());
    let scores = json_of("scores")?.and_then(|t| serde_json::from_str::<Vec<Option<u8>>>(&t).ok()).unwrap_or_default();
    Ok(Review {
        id: r.try_get("id")?,
        conversation_id: r.try_get("conversation_id")?,
        contact_name: r.try_get("contact_name")?,
        contact_address: r.try_get("contact_address")?,
        agent_id: r.try_get("agent_id")?,
        agent_name: r.try_get("agent_name")?,
        reasons: ReviewReason::read_set(&r.try_get::<String, _>("reasons")?),
        queued_at: from_ms(r.try_get("queued_at")?),
        reviewer_id: r.try_get("reviewer_id")?,
        reviewer_name: r.try_get("reviewer_name")?,
        rubric,
        scores,
        comment: r.try_get("comment")?,
        overall: r.try_get::<Option<i64>, _>("overall")?.and_then(|o| u8::try_from(o).ok()),
        scored_at: r.try_get::<Option<i64>, _>("scored_at")?.map(from_ms),
    })
}

/// Puts a conversation in the review queue for `why`, inside the caller's
/// transaction: a new waiting review, or `why` added to the one waiting, with
/// a `review_queued` event. Nothing when its waiting review already has that
/// reason, or the conversation is not the account's. `agent_id` is the agent
/// reviewed; None takes the conversation's assignee. Returns the review queued.
/// The one way into the queue: the event-log consumer (low scores,
/// escalations), the weekly sample and missed targets all call it.
pub async fn enqueue(
    tx: &mut AnyConnection,
    (account_id, conversation_id): (i64, i64),
    why: ReviewReason,
    agent_id: Option<i64>,
    now: Timestamp,
) -> Result<Option<i64>> {
    let Some(conv) = sqlx::query("SELECT assignee_id FROM conversations WHERE id = $1 AND account_id = $2")
        .bind(conversation_id)
        .bind(account_id)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let agent_id = match agent_id {
        Some(a) => Some(a),
        None => conv.try_get::<Option<i64>, _>("assignee_id")?,
    };
    let inserted = sqlx::query(
        "INSERT INTO reviews (account_id, conversation_id, agent_id, reasons, queued_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (conversation_id) WHERE scored_at IS NULL DO NOTHING RETURNING id",
    )
    .bind(account_id)
    .bind(conversation_id)
    .bind(agent_id)
    .bind(why.as_str())
    .bind(to_ms(now))
    .fetch_optional(&mut *tx)
    .await?;
    let review_id = match inserted {
        Some(row) => returned_id(&row)?,
        None => {
            // One statement both checks and adds, so two writers cannot add it twice.
            let added = sqlx::query(
                "UPDATE reviews SET reasons = reasons || ',' || $1
                 WHERE conversation_id = $2 AND scored_at IS NULL AND (',' || reasons || ',') NOT LIKE $3 RETURNING id",
            )
            .bind(why.as_str())
            .bind(conversation_id)
            .bind(format!("%,{},%", why.as_str()))
            .fetch_optional(&mut *tx)
            .await?;
            match added {
                Some(row) => returned_id(&row)?,
                None => return Ok(None),
            }
        }
    };
    let ev = DomainEvent::ReviewQueued { review_id, why: why.as_str().to_owned() };
    crate::events::append(tx, (account_id, conversation_id), &ev, None, now).await?;
    Ok(Some(review_id))
}

impl Store {
    /// [`enqueue`] in a transaction of its own.
    pub async fn queue_review(
        &self,
        at: (i64, i64),
        why: ReviewReason,
        agent_id: Option<i64>,
        now: Timestamp,
    ) -> Result<Option<i64>> {
        let mut tx = self.begin_write().await?;
        let queued = enqueue(&mut tx, at, why, agent_id, now).await?;
        if queued.is_some() {
            self.commit(tx).await?;
        } else {
            tx.rollback().await?;
        }
        Ok(queued)
    }

    pub async fn review(&self, account_id: i64, id: i64) -> Result<Review> {
        let sql = format!("SELECT {COLUMNS} {FROM} WHERE r.account_id = $1 AND r.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound("review"))?;
        review_from(&row)
    }

    /// Scored reviews with an overall score, per agent reviewed: (agent,
    /// reviews, sum of overall percentages) of those scored in `[from, to)`,
    /// narrowed as reports are (the conversation's inbox, team, medium and
    /// labels now; the agent reviewed).
    pub async fn review_scores(
        &self,
        account_id: i64,
        f: &crate::ReportFilter,
        (from, to): (Timestamp, Timestamp),
    ) -> Result<Vec<(i64, i64, i64)>> {
        let rows = sqlx::query(
            "SELECT r.agent_id, COUNT(*) AS n, CAST(SUM(r.overall) AS BIGINT) AS total
             FROM reviews r JOIN conversations c ON c.id = r.conversation_id JOIN inboxes i ON i.id = c.inbox_id
             WHERE r.account_id = $1 AND r.scored_at >= $2 AND r.scored_at < $3
               AND r.overall IS NOT NULL AND r.agent_id IS NOT NULL
               AND ($4 = 0 OR r.agent_id = $4) AND ($5 = 0 OR c.inbox_id = $5) AND ($6 = 0 OR c.team_id = $6)
               AND ($7 = '' OR i.medium = $7)
               AND ($8 = '' OR EXISTS (SELECT 1 FROM conversation_labels l
                                       WHERE l.conversation_id = c.id AND l.label = $8))
             GROUP BY r.agent_id",
        )
        .bind(account_id)
        .bind(to_ms(from))
        .bind(to_ms(to))
        .bind(f.agent_id.unwrap_or(0))
        .bind(f.inbox_id.unwrap_or(0))
        .bind(f.team_id.unwrap_or(0))
        .bind(f.medium.clone().unwrap_or_default())
        .bind(f.label.clone().unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("agent_id")?, r.try_get("n")?, r.try_get("total")?))).collect()
    }

    /// The conversation's review waiting in the queue, if any.
    pub async fn waiting_review(&self, account_id: i64, conversation_id: i64) -> Result<Option<Review>> {
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE r.account_id = $1 AND r.conversation_id = $2 AND r.scored_at IS NULL"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(conversation_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(review_from).transpose()
    }

    /// Reviews by `f`: the waiting ones oldest first (the queue's order), the
    /// scored ones newest first.
    pub async fn reviews(&self, account_id: i64, f: &ReviewFilter, limit: i64) -> Result<Vec<Review>> {
        let (state, order) = match f.state {
            ReviewState::Waiting => ("r.scored_at IS NULL", "r.queued_at, r.id"),
            ReviewState::Scored => ("r.scored_at IS NOT NULL", "r.scored_at DESC, r.id DESC"),
        };
        let sql = format!(
            "SELECT {COLUMNS} {FROM} WHERE r.account_id = $1 AND {state}
             AND ($2 = 0 OR r.agent_id = $2) AND ($3 = '' OR (',' || r.reasons || ',') LIKE $4)
             ORDER BY {order} LIMIT $5"
        );
        let reason = f.reason.map(|r| r.as_str()).unwrap_or("");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(account_id)
            .bind(f.agent_id.unwrap_or(0))
            .bind(reason)
            .bind(format!("%,{reason},%"))
            .bind(limit.clamp(1, MAX_REVIEWS_READ))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(review_from).collect()
    }

    /// Records a scorecard (a second one replaces the first) with its
    /// `review_scored` event, in one transaction.
    pub async fn score_review(&self, account_id: i64, id: i64, card: Scorecard<'_>) -> Result<Review> {
        let before = self.review(account_id, id).await?;
        let rubric = serde_json::to_string(card.rubric).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let scores = serde_json::to_string(card.scores).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE reviews SET reviewer_id = $1, rubric = $2, scores = $3, comment = $4, overall = $5, scored_at = $6
             WHERE id = $7 AND account_id = $8",
        )
        .bind(card.reviewer_id)
        .bind(rubric)
        .bind(scores)
        .bind(card.comment)
        .bind(card.overall.map(i64::from))
        .bind(to_ms(card.now))
        .bind(id)
        .bind(account_id)
        .execute(&mut *tx)
        .await;
        match done {
            Ok(_) => {}
            // A newer review of the conversation is already waiting: scoring this one again would make two.
            Err(e) if crate::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(
                    "this conversation has a newer review waiting; score that one".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        let ev = DomainEvent::ReviewScored {
            review_id: id,
            reviewer_id: card.reviewer_id,
            overall: card.overall,
            agent_id: before.agent_id,
        };
        crate::events::append(&mut tx, (account_id, before.conversation_id), &ev, Some(card.reviewer_id), card.now)
            .await?;
        self.commit(tx).await?;
        self.review(account_id, id).await
    }

    /// The account's sample size and rubric (JSON) as stored; None while it keeps the defaults.
    pub async fn review_settings(&self, account_id: i64) -> Result<Option<(i64, String)>> {
        let row = sqlx::query("SELECT sample_size, rubric FROM review_settings WHERE account_id = $1")
            .bind(account_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((r.try_get("sample_size")?, r.try_get("rubric")?))).transpose()
    }

    pub async fn set_review_settings(&self, account_id: i64, sample_size: u32, rubric: &Rubric) -> Result<()> {
        let rubric = serde_json::to_string(rubric).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO review_settings (account_id, sample_size, rubric, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (account_id) DO UPDATE SET sample_size = $2, rubric = $3, updated_at = $4",
        )
        .bind(account_id)
        .bind(i64::from(sample_size))
        .bind(rubric)
        .bind(to_ms(Timestamp::now()))
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await
    }

    /// Draws `week`'s sample once for the account: the conversations resolved
    /// in `[from, to)` and still resolved, grouped by assignee, `pick` choosing
    /// each agent's; each queued as [`ReviewReason::Sample`]. None when the
    /// week was drawn already (here or on another node); else how many were queued.
    pub async fn draw_review_sample(
        &self,
        account_id: i64,
        week: &str,
        (from, to): (Timestamp, Timestamp),
        pick: impl Fn(&[i64]) -> Vec<i64>,
        now: Timestamp,
    ) -> Result<Option<usize>> {
        let mut tx = self.begin_write().await?;
        let claimed = sqlx::query(
            "INSERT INTO review_samples (account_id, week, drawn_at, picked) VALUES ($1, $2, $3, 0)
             ON CONFLICT (account_id, week) DO NOTHING",
        )
        .bind(account_id)
        .bind(week)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT id, assignee_id FROM conversations WHERE account_id = $1 AND status = 'resolved'
             AND assignee_id IS NOT NULL AND resolved_at >= $2 AND resolved_at < $3 ORDER BY assignee_id, id",
        )
        .bind(account_id)
        .bind(to_ms(from))
        .bind(to_ms(to))
        .fetch_all(&mut *tx)
        .await?;
        let mut by_agent: Vec<(i64, Vec<i64>)> = Vec::new();
        for r in &rows {
            let (id, agent): (i64, i64) = (r.try_get("id")?, r.try_get("assignee_id")?);
            match by_agent.last_mut() {
                Some((a, ids)) if *a == agent => ids.push(id),
                _ => by_agent.push((agent, vec![id])),
            }
        }
        let mut queued = 0;
        for (agent, ids) in &by_agent {
            for id in pick(ids) {
                if enqueue(&mut tx, (account_id, id), ReviewReason::Sample, Some(*agent), now).await?.is_some() {
                    queued += 1;
                }
            }
        }
        sqlx::query("UPDATE review_samples SET picked = $1 WHERE account_id = $2 AND week = $3")
            .bind(queued as i64)
            .bind(account_id)
            .bind(week)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        Ok(Some(queued))
    }
}
