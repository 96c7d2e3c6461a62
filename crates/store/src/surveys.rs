//! Satisfaction polls (migration `0031_surveys`): one row per conversation,
//! armed when it is resolved (the surveys consumer), claimed once when due
//! (compare-and-set on its state, so one node sends it), answered or
//! commented by ingest in the reply's own transaction, expired by
//! housekeeping. Each change appends its `survey_*` event in the same
//! transaction.

use jiff::Timestamp;
use sqlx::{AnyConnection, Row};
use textdesk_core::event::DomainEvent;
use textdesk_core::survey::{self, Answer, SurveyKind};
use textdesk_core::{ConversationStatus, LatestConversation};

use crate::conversations::Conversation;
use crate::events::append;
use crate::{Result, Store, StoreError, from_ms, to_ms};

/// The longest comment kept (a customer's letter is still kept whole in its message).
const MAX_COMMENT_CHARS: usize = 1_000;

#[derive(Debug, Clone, serde::Serialize)]
pub struct Survey {
    pub id: i64,
    #[serde(skip)]
    pub account_id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub inbox_id: i64,
    pub kind: SurveyKind,
    /// due, sent, answered, commented, expired or suppressed.
    pub state: String,
    /// Why a poll was not sent (with `suppressed`).
    pub reason: Option<String>,
    pub due_at: Option<Timestamp>,
    pub score: Option<u8>,
    pub comment: Option<String>,
    /// The agent and team the conversation had when it was resolved.
    pub agent_id: Option<i64>,
    pub team_id: Option<i64>,
    pub message_id: Option<i64>,
    pub answer_message_id: Option<i64>,
    pub followup_message_id: Option<i64>,
    pub comment_message_id: Option<i64>,
    /// The automation rule that asked for this poll (None: the inbox's poll after every resolve).
    pub rule_id: Option<i64>,
    pub sent_at: Option<Timestamp>,
    pub answered_at: Option<Timestamp>,
    pub commented_at: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

const COLUMNS: &str =
    "id, account_id, conversation_id, contact_id, inbox_id, kind, state, reason, due_at, score, comment,
    agent_id, team_id, message_id, answer_message_id, followup_message_id, comment_message_id, sent_at, answered_at,
    commented_at, expires_at, created_at, rule_id";

fn survey_from(r: &sqlx::any::AnyRow) -> Result<Survey> {
    let kind: String = r.try_get("kind")?;
    let ms = |name: &str| -> Result<Option<Timestamp>> { Ok(r.try_get::<Option<i64>, _>(name)?.map(from_ms)) };
    Ok(Survey {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        conversation_id: r.try_get("conversation_id")?,
        contact_id: r.try_get("contact_id")?,
        inbox_id: r.try_get("inbox_id")?,
        kind: SurveyKind::parse(&kind).ok_or_else(|| StoreError::Invalid(format!("a survey of kind {kind:?}")))?,
        state: r.try_get("state")?,
        reason: r.try_get("reason")?,
        due_at: ms("due_at")?,
        score: r.try_get::<Option<i64>, _>("score")?.and_then(|s| u8::try_from(s).ok()),
        comment: r.try_get("comment")?,
        agent_id: r.try_get("agent_id")?,
        team_id: r.try_get("team_id")?,
        message_id: r.try_get("message_id")?,
        answer_message_id: r.try_get("answer_message_id")?,
        followup_message_id: r.try_get("followup_message_id")?,
        comment_message_id: r.try_get("comment_message_id")?,
        rule_id: r.try_get("rule_id")?,
        sent_at: ms("sent_at")?,
        answered_at: ms("answered_at")?,
        commented_at: ms("commented_at")?,
        expires_at: ms("expires_at")?,
        created_at: from_ms(r.try_get("created_at")?),
    })
}

pub async fn survey_in(conn: &mut AnyConnection, id: i64) -> Result<Option<Survey>> {
    let sql = format!("SELECT {COLUMNS} FROM surveys WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&mut *conn).await?;
    row.as_ref().map(survey_from).transpose()
}

/// Arms the conversation's poll for `due_at` (a resolve), with the agent and
/// team it has now. A poll already sent, answered or suppressed stays as it
/// is: never twice per conversation.
pub async fn arm(conn: &mut AnyConnection, c: &Conversation, kind: SurveyKind, due_at: Timestamp) -> Result<()> {
    let now = to_ms(Timestamp::now());
    sqlx::query(
        "INSERT INTO surveys (account_id, conversation_id, contact_id, inbox_id, kind, state, due_at, agent_id, team_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'due', $6, $7, $8, $9, $9)
         ON CONFLICT (conversation_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind,
            agent_id = excluded.agent_id, team_id = excluded.team_id, updated_at = excluded.updated_at
         WHERE surveys.state = 'due'",
    )
    .bind(c.account_id)
    .bind(c.id)
    .bind(c.contact_id)
    .bind(c.inbox_id)
    .bind(kind.as_str())
    .bind(to_ms(due_at))
    .bind(c.assignee_id)
    .bind(c.team_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Arms the conversation's poll for an automation rule (its "send the
/// satisfaction poll" action), marked as the rule's. False when the
/// conversation already had its poll: never twice per conversation.
pub async fn arm_for_rule(
    conn: &mut AnyConnection,
    c: &Conversation,
    kind: SurveyKind,
    due_at: Timestamp,
    rule_id: i64,
) -> Result<bool> {
    let now = to_ms(Timestamp::now());
    let n = sqlx::query(
        "INSERT INTO surveys (account_id, conversation_id, contact_id, inbox_id, kind, state, due_at, agent_id, team_id, rule_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'due', $6, $7, $8, $9, $10, $10)
         ON CONFLICT (conversation_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind,
            agent_id = excluded.agent_id, team_id = excluded.team_id, rule_id = excluded.rule_id,
            updated_at = excluded.updated_at
         WHERE surveys.state = 'due'",
    )
    .bind(c.account_id)
    .bind(c.id)
    .bind(c.contact_id)
    .bind(c.inbox_id)
    .bind(kind.as_str())
    .bind(to_ms(due_at))
    .bind(c.assignee_id)
    .bind(c.team_id)
    .bind(rule_id)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(n.rows_affected() > 0)
}

/// The conversation is open again before its poll went: it waits for the next resolve.
pub async fn disarm(conn: &mut AnyConnection, conversation_id: i64) -> Result<()> {
    sqlx::query("UPDATE surveys SET due_at = NULL, updated_at = $1 WHERE conversation_id = $2 AND state = 'due'")
        .bind(to_ms(Timestamp::now()))
        .bind(conversation_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes a due poll for sending. None when it is not due any more (another
/// node took it, or the conversation reopened): on PostgreSQL the update
/// waits for a racing node's transaction and then finds the state changed.
pub async fn claim_due(conn: &mut AnyConnection, id: i64, now: Timestamp) -> Result<Option<Survey>> {
    let n = sqlx::query("UPDATE surveys SET updated_at = $1 WHERE id = $2 AND state = 'due' AND due_at <= $1")
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if n.rows_affected() == 0 {
        return Ok(None);
    }
    survey_in(conn, id).await
}

/// Not sent, and why (`opted_out`, `never_wrote`, `recent_poll`, `switched_off`, a gate's block code).
pub async fn suppress(conn: &mut AnyConnection, id: i64, reason: &str, now: Timestamp) -> Result<()> {
    sqlx::query("UPDATE surveys SET state = 'suppressed', reason = $1, due_at = NULL, updated_at = $2 WHERE id = $3")
        .bind(reason)
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether another poll went to the contact since `since`.
pub async fn sent_since(conn: &mut AnyConnection, contact_id: i64, since: Timestamp, except: i64) -> Result<bool> {
    let row = sqlx::query("SELECT 1 FROM surveys WHERE contact_id = $1 AND sent_at >= $2 AND id <> $3 LIMIT 1")
        .bind(contact_id)
        .bind(to_ms(since))
        .bind(except)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.is_some())
}

/// The poll's text is queued (`message_id`): it waits for an answer until
/// `expires_at`, counted from when the outbox may send it (quiet hours).
pub async fn mark_sent(conn: &mut AnyConnection, s: &Survey, message_id: i64, now: Timestamp) -> Result<Timestamp> {
    let not_before: Option<i64> = sqlx::query("SELECT not_before FROM outbox WHERE message_id = $1")
        .bind(message_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| r.try_get("not_before"))
        .transpose()?;
    let goes_at = not_before.map(from_ms).filter(|t| *t > now).unwrap_or(now);
    sqlx::query(
        "UPDATE surveys SET state = 'sent', message_id = $1, sent_at = $2, due_at = NULL, updated_at = $2 WHERE id = $3",
    )
    .bind(message_id)
    .bind(to_ms(now))
    .bind(s.id)
    .execute(&mut *conn)
    .await?;
    let ev = DomainEvent::SurveySent { survey_id: s.id, kind: s.kind, message_id };
    append(conn, (s.account_id, s.conversation_id), &ev, None, now).await?;
    Ok(goes_at)
}

pub async fn set_expiry(conn: &mut AnyConnection, id: i64, expires_at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE surveys SET expires_at = $1 WHERE id = $2")
        .bind(to_ms(expires_at))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The follow-up after a low score went: the customer's next reply, until
/// `expires_at`, is the comment.
pub async fn set_followup(conn: &mut AnyConnection, id: i64, message_id: i64, expires_at: Timestamp) -> Result<()> {
    sqlx::query("UPDATE surveys SET followup_message_id = $1, expires_at = $2, updated_at = $3 WHERE id = $4")
        .bind(message_id)
        .bind(to_ms(expires_at))
        .bind(to_ms(Timestamp::now()))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Whether a customer's message answered a poll (it is not for automations).
pub async fn answered_poll(conn: &mut AnyConnection, message_id: i64) -> Result<bool> {
    Ok(answered_polls(conn, &[message_id]).await?.contains(&message_id))
}

/// Which of these messages answered a poll, in one statement.
pub async fn answered_polls(conn: &mut AnyConnection, message_ids: &[i64]) -> Result<std::collections::HashSet<i64>> {
    let keys = crate::multirow::ints(message_ids);
    let sql = "SELECT answer_message_id FROM surveys WHERE answer_message_id IN ({in})";
    crate::multirow::select_in(conn, sql, &[], &keys).await?.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// What a customer's text is to a poll of theirs.
#[derive(Debug, Clone)]
pub(crate) enum PollReply {
    /// A score for a poll waiting in its still-resolved conversation: it lands
    /// there and reopens nothing.
    Answer(Survey, Answer),
    /// The reply after the follow-up: an ordinary message that is also the comment.
    Comment(Survey),
}

/// SQL for the poll a text from contact `{who}.contact_id` to inbox
/// `{who}.inbox_id` at `{who}.at_ms` may answer or comment: their latest in
/// that inbox still waiting for either (its id, NULL: none). `{who}` names
/// the caller's row of them.
pub(crate) fn waiting_poll_sql(who: &str) -> String {
    format!(
        "(SELECT s.id FROM surveys s WHERE s.contact_id = {who}.contact_id AND s.inbox_id = {who}.inbox_id
            AND s.state IN ('sent', 'answered') AND s.expires_at > {who}.at_ms ORDER BY s.id DESC LIMIT 1)"
    )
}

/// The polls with these ids.
pub(crate) async fn polls_by_id(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<std::collections::HashMap<i64, Survey>> {
    use crate::multirow::{ints, select_in};
    let keys = ints(ids);
    let sql = format!("SELECT {COLUMNS} FROM surveys WHERE id IN ({{in}})");
    let mut out = std::collections::HashMap::new();
    for r in select_in(conn, &sql, &[], &keys).await? {
        let s = survey_from(&r)?;
        out.insert(s.id, s);
    }
    Ok(out)
}

/// What a customer's text (not a consent keyword) is to `s`, the poll
/// waiting for them in its inbox ([`waiting_poll_sql`]).
pub(crate) fn reply_to_poll(s: Survey, latest: Option<&LatestConversation>, body: &str) -> Option<PollReply> {
    if s.state == "answered" {
        let waits = s.followup_message_id.is_some() && s.comment_message_id.is_none();
        return waits.then_some(PollReply::Comment(s));
    }
    // Only while the conversation it asks about stays resolved and is the
    // customer's latest: once they wrote about something else, it is not read.
    let resolved_here = latest.is_some_and(|c| c.id == s.conversation_id && c.status == ConversationStatus::Resolved);
    if !resolved_here {
        return None;
    }
    survey::read_answer(s.kind, body).map(|a| PollReply::Answer(s, a))
}

/// Records a score (and the words that came with it); the event goes with
/// the message's events.
pub(crate) async fn record_answer(
    conn: &mut AnyConnection,
    s: &Survey,
    answer: &Answer,
    message_id: i64,
    now: Timestamp,
) -> Result<DomainEvent> {
    sqlx::query(
        "UPDATE surveys SET state = 'answered', score = $1, comment = $2, answer_message_id = $3, answered_at = $4, updated_at = $4
         WHERE id = $5",
    )
    .bind(i64::from(answer.score))
    .bind(answer.comment.as_deref().map(clip))
    .bind(message_id)
    .bind(to_ms(now))
    .bind(s.id)
    .execute(&mut *conn)
    .await?;
    Ok(DomainEvent::SurveyAnswered {
        survey_id: s.id,
        kind: s.kind,
        score: answer.score,
        message_id,
        agent_id: s.agent_id,
        team_id: s.team_id,
    })
}

/// The reply after the follow-up, kept after any words that came with the score.
pub(crate) async fn record_comment(
    conn: &mut AnyConnection,
    s: &Survey,
    body: &str,
    message_id: i64,
    now: Timestamp,
) -> Result<()> {
    let comment = match &s.comment {
        Some(first) => clip(&format!("{first}\n{}", body.trim())),
        None => clip(body.trim()),
    };
    sqlx::query(
        "UPDATE surveys SET state = 'commented', comment = $1, comment_message_id = $2, commented_at = $3, updated_at = $3
         WHERE id = $4 AND comment_message_id IS NULL",
    )
    .bind(comment)
    .bind(message_id)
    .bind(to_ms(now))
    .bind(s.id)
    .execute(&mut *conn)
    .await?;
    let ev = DomainEvent::SurveyCommented { survey_id: s.id, message_id };
    append(conn, (s.account_id, s.conversation_id), &ev, None, now).await?;
    Ok(())
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_COMMENT_CHARS).collect()
}

impl Store {
    /// Polls due by `now` (every account's), oldest first: (id, inbox).
    pub async fn due_surveys(&self, now: Timestamp, limit: i64) -> Result<Vec<(i64, i64)>> {
        let rows = sqlx::query(
            "SELECT id, inbox_id FROM surveys WHERE state = 'due' AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("inbox_id")?))).collect()
    }

    /// Polls sent and unanswered past their time: expired, each with its
    /// event, once (the state is compared and set). Returns how many.
    pub async fn expire_surveys(&self, now: Timestamp, limit: i64) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT id, account_id, conversation_id FROM surveys WHERE state = 'sent' AND expires_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(to_ms(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        let mut expired = 0;
        for r in &rows {
            let (id, account_id, conversation_id): (i64, i64, i64) =
                (r.try_get("id")?, r.try_get("account_id")?, r.try_get("conversation_id")?);
            let mut tx = self.begin_write().await?;
            let n =
                sqlx::query("UPDATE surveys SET state = 'expired', updated_at = $1 WHERE id = $2 AND state = 'sent'")
                    .bind(to_ms(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            if n.rows_affected() == 0 {
                tx.rollback().await?;
                continue;
            }
            append(&mut tx, (account_id, conversation_id), &DomainEvent::SurveyExpired { survey_id: id }, None, now)
                .await?;
            self.commit(tx).await?;
            expired += 1;
        }
        Ok(expired)
    }

    /// A conversation's poll (at most one), for the API and the thread.
    pub async fn surveys_of(&self, account_id: i64, conversation_id: i64) -> Result<Vec<Survey>> {
        let sql = format!("SELECT {COLUMNS} FROM surveys WHERE account_id = $1 AND conversation_id = $2 ORDER BY id");
        let rows =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(conversation_id).fetch_all(&self.pool).await?;
        rows.iter().map(survey_from).collect()
    }

    pub async fn survey(&self, id: i64) -> Result<Option<Survey>> {
        let mut conn = self.pool.acquire().await?;
        survey_in(&mut conn, id).await
    }
}
