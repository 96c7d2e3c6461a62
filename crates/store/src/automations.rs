//! Automation rules as saved, and what the engine reads and writes inside the
//! transaction of the event it handles (so its effects and its cursor commit
//! together). Deciding is `core::automation`'s; the engine is the app's.

use std::collections::{BTreeMap, HashMap};

use jiff::{SignedDuration, Timestamp};
use sqlx::{AnyConnection, Row};
use textdesk_core::automation::{Builtin, Rule, RuleSpec};
use textdesk_core::{ConsentState, Invalid};

use crate::conversations::{CONVERSATION_COLUMNS, Conversation, conversation_from};
use crate::multirow::{Value, ints, select_in};
use crate::{Result, Store, StoreError, from_ms, returned_id, to_ms};

/// A rule as saved: its place in the account's order and, for a built-in
/// rule, the inbox it belongs to.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredRule {
    pub id: i64,
    #[serde(skip)]
    pub account_id: i64,
    pub inbox_id: Option<i64>,
    pub position: i64,
    #[serde(flatten)]
    pub rule: Rule,
    pub updated_at: Timestamp,
}

const RULE_COLUMNS: &str = "id, account_id, inbox_id, position, spec, updated_at";

fn rule_from(r: &sqlx::any::AnyRow) -> Result<StoredRule> {
    let spec: String = r.try_get("spec")?;
    let spec: RuleSpec =
        serde_json::from_str(&spec).map_err(|e| StoreError::Invalid(format!("a saved rule cannot be read: {e}")))?;
    Ok(StoredRule {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        inbox_id: r.try_get("inbox_id")?,
        position: r.try_get("position")?,
        rule: Rule::parse(spec)?,
        updated_at: from_ms(r.try_get("updated_at")?),
    })
}

fn builtin_name(b: Builtin) -> &'static str {
    match b {
        Builtin::OffHoursReply => "off_hours_reply",
        Builtin::HoldingMessage => "holding_message",
    }
}

fn spec_json(rule: &Rule) -> String {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string(&RuleSpec::from(rule.clone())).unwrap_or_default()
}

/// The account's rules in the order they run (by position, then age).
pub async fn rules_in(conn: &mut AnyConnection, account_id: i64) -> Result<Vec<StoredRule>> {
    let sql = format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE account_id = $1 ORDER BY position, id");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        match rule_from(r) {
            Ok(rule) => out.push(rule),
            // Checked when saved: only a hand-edited row gets here; the others still run.
            Err(e) => tracing::warn!(error = %e, "an automation rule cannot be read; it is skipped"),
        }
    }
    Ok(out)
}

impl Store {
    pub async fn automation_rules(&self, account_id: i64) -> Result<Vec<StoredRule>> {
        let mut conn = self.pool.acquire().await?;
        rules_in(&mut conn, account_id).await
    }

    pub async fn automation_rule(&self, account_id: i64, id: i64) -> Result<StoredRule> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE account_id = $1 AND id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        rule_from(&row.ok_or(StoreError::NotFound("automation rule"))?)
    }

    /// A new rule, last in the order.
    pub async fn create_automation_rule(&self, account_id: i64, rule: &Rule) -> Result<StoredRule> {
        if rule.builtin().is_some() {
            return Err(StoreError::Invalid("built-in rules come with each inbox; edit the inbox's own".into()));
        }
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO automation_rules (account_id, inbox_id, builtin, position, spec, created_at, updated_at)
             VALUES ($1, NULL, NULL, (SELECT COALESCE(MAX(position), 0) + 1 FROM automation_rules WHERE account_id = $1), $2, $3, $3)
             RETURNING id",
        )
        .bind(account_id)
        .bind(spec_json(rule))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let id = returned_id(&row)?;
        self.commit(tx).await?;
        self.automation_rule(account_id, id).await
    }

    /// Replaces a rule's definition. A built-in rule stays built-in (and stays
    /// its inbox's): only its wording, timing and switch change.
    pub async fn update_automation_rule(&self, account_id: i64, id: i64, rule: &Rule) -> Result<StoredRule> {
        let current = self.automation_rule(account_id, id).await?;
        if current.rule.builtin() != rule.builtin() {
            return Err(StoreError::Invalid(match current.rule.builtin() {
                Some(_) => "a built-in rule stays built-in: keep its \"builtin\" field".into(),
                None => "only the rules that come with an inbox are built-in".into(),
            }));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE automation_rules SET spec = $1, updated_at = $2 WHERE id = $3 AND account_id = $4")
            .bind(spec_json(rule))
            .bind(to_ms(Timestamp::now()))
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await?;
        self.automation_rule(account_id, id).await
    }

    /// Puts a rule at `position` (1 is first) and renumbers the rest.
    pub async fn move_automation_rule(&self, account_id: i64, id: i64, position: usize) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query("SELECT id FROM automation_rules WHERE account_id = $1 ORDER BY position, id")
            .bind(account_id)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<_, _>>()?;
        let Some(from) = ids.iter().position(|x| *x == id) else {
            return Err(StoreError::NotFound("automation rule"));
        };
        let mut order = ids;
        let moved = order.remove(from);
        order.insert(position.clamp(1, order.len() + 1) - 1, moved);
        for (n, rule_id) in order.iter().enumerate() {
            sqlx::query("UPDATE automation_rules SET position = $1 WHERE id = $2")
                .bind(n as i64 + 1)
                .bind(*rule_id)
                .execute(&mut *tx)
                .await?;
        }
        self.commit(tx).await
    }

    /// Deletes a rule of the account's own; built-in rules are switched off instead.
    pub async fn delete_automation_rule(&self, account_id: i64, id: i64) -> Result<()> {
        let current = self.automation_rule(account_id, id).await?;
        if current.rule.builtin().is_some() {
            return Err(StoreError::Invalid(
                "a built-in rule cannot be deleted: switch it off instead (\"enabled\": false)".into(),
            ));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM automation_rules WHERE id = $1 AND account_id = $2")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        self.commit(tx).await
    }

    /// The inbox's built-in rule of this kind, if it has been made.
    pub async fn builtin_rule(&self, inbox_id: i64, builtin: Builtin) -> Result<Option<StoredRule>> {
        let sql = format!("SELECT {RULE_COLUMNS} FROM automation_rules WHERE inbox_id = $1 AND builtin = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(inbox_id)
            .bind(builtin_name(builtin))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rule_from).transpose()
    }

    /// Makes an inbox's built-in rule unless it exists, first in the order,
    /// carrying over the once-marks of the column the old code kept (so the
    /// upgrade does not answer a closed period or a wait twice). True when made.
    pub async fn ensure_builtin_rule(
        &self,
        account_id: i64,
        inbox_id: i64,
        rule: &Rule,
        old_marks: Option<&str>,
    ) -> Result<bool> {
        let Some(builtin) = rule.builtin() else {
            return Err(StoreError::Invalid("not a built-in rule".into()));
        };
        let now = to_ms(Timestamp::now());
        let mut tx = self.begin_write().await?;
        let made = sqlx::query(
            "INSERT INTO automation_rules (account_id, inbox_id, builtin, position, spec, created_at, updated_at)
             VALUES ($1, $2, $3, 0, $4, $5, $5) ON CONFLICT (inbox_id, builtin) WHERE builtin IS NOT NULL DO NOTHING
             RETURNING id",
        )
        .bind(account_id)
        .bind(inbox_id)
        .bind(builtin_name(builtin))
        .bind(spec_json(rule))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(made) = made else {
            tx.rollback().await?;
            return Ok(false);
        };
        let rule_id = returned_id(&made)?;
        if let Some(column) = old_marks {
            let column = match column {
                "off_hours_replied_for" | "acknowledged_wait" => column,
                _ => return Err(StoreError::Invalid("unknown mark column".into())),
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO automation_marks (rule_id, conversation_id, mark, created_at)
                 SELECT $1, id, {column}, $2 FROM conversations WHERE inbox_id = $3 AND {column} IS NOT NULL"
            )))
            .bind(rule_id)
            .bind(now)
            .bind(inbox_id)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await?;
        Ok(true)
    }

    /// Open conversations of `inbox_id` whose customer has waited since
    /// before `since`, with no mark of `rule_id` for that wait.
    pub async fn unmarked_waits(
        &self,
        rule_id: i64,
        inbox_id: i64,
        since: Timestamp,
        limit: i64,
    ) -> Result<Vec<(i64, Timestamp)>> {
        let rows = sqlx::query(
            "SELECT c.id, c.waiting_since FROM conversations c
             WHERE c.inbox_id = $1 AND c.status = 'open' AND c.waiting_since IS NOT NULL AND c.waiting_since <= $2
               AND NOT EXISTS (SELECT 1 FROM automation_marks k
                               WHERE k.rule_id = $3 AND k.conversation_id = c.id AND k.mark = c.waiting_since)
             ORDER BY c.waiting_since LIMIT $4",
        )
        .bind(inbox_id)
        .bind(to_ms(since))
        .bind(rule_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.try_get("id")?, from_ms(r.try_get("waiting_since")?)))).collect()
    }

    /// Conversations of the account that are not resolved, with no mark of
    /// `rule_id` for this scheduled run (`mark`), oldest activity first.
    pub async fn unmarked_for_run(&self, account_id: i64, rule_id: i64, mark: i64, limit: i64) -> Result<Vec<i64>> {
        let rows = sqlx::query(
            "SELECT c.id FROM conversations c
             WHERE c.account_id = $1 AND c.status <> 'resolved'
               AND NOT EXISTS (SELECT 1 FROM automation_marks k
                               WHERE k.rule_id = $2 AND k.conversation_id = c.id AND k.mark = $3)
             ORDER BY c.last_activity_at, c.id LIMIT $4",
        )
        .bind(account_id)
        .bind(rule_id)
        .bind(mark)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    /// A write transaction for one firing outside the event log (a wait, a
    /// scheduled run): its mark and effects commit together.
    pub async fn automation_tx(&self) -> Result<crate::WriteTx> {
        self.begin_write().await
    }

    pub async fn commit_automation(&self, tx: crate::WriteTx) -> Result<()> {
        self.commit(tx).await
    }
}

/// Writes a rule's once-mark for a conversation. False when it was already
/// there: the rule has acted for this occasion.
pub async fn mark(conn: &mut AnyConnection, rule_id: i64, conversation_id: i64, mark: i64) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO automation_marks (rule_id, conversation_id, mark, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (rule_id, conversation_id, mark) DO NOTHING",
    )
    .bind(rule_id)
    .bind(conversation_id)
    .bind(mark)
    .bind(to_ms(Timestamp::now()))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// What the engine knows of a conversation when it decides, read in its
/// transaction.
#[derive(Debug, Clone)]
pub struct Situation {
    pub conversation: Conversation,
    pub contact_name: String,
    pub contact_time_zone: Option<String>,
    pub address: String,
    pub attributes: BTreeMap<String, String>,
    /// In the conversation's inbox's consent scope.
    pub consent: ConsentState,
    pub last_person_reply_at: Option<Timestamp>,
    /// The customer's last message (for the live exchange of a reply).
    pub last_inbound: Option<Timestamp>,
    /// Automatic messages written in the last hour, oldest first.
    pub automatic_sent: Vec<Timestamp>,
}

/// A customer's message as the engine sees it.
#[derive(Debug, Clone)]
pub struct Received {
    pub text: String,
    pub at: Timestamp,
    /// The first the customer sent in this conversation.
    pub first: bool,
}

pub async fn situation(conn: &mut AnyConnection, conversation_id: i64, now: Timestamp) -> Result<Situation> {
    situations(conn, &[conversation_id], now)
        .await?
        .remove(&conversation_id)
        .ok_or(StoreError::NotFound("conversation"))
}

/// The situations of several conversations, read together in three
/// statements whatever their number (the engine reads a batch's at once;
/// one conversation's took six). A conversation that does not exist is not
/// in the map.
pub async fn situations(conn: &mut AnyConnection, ids: &[i64], now: Timestamp) -> Result<HashMap<i64, Situation>> {
    let keys = ints(ids);
    let sql = format!(
        "SELECT {CONVERSATION_COLUMNS}, ct.name AS contact_name, ct.time_zone, ct.attributes, ci.address,
                (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'outbound'
                   AND m.author_id IS NOT NULL AND m.private = 0) AS last_person,
                (SELECT MAX(m.created_at) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound') AS last_inbound,
                {} AS consent_kind
         FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
         JOIN contact_identities ci ON ci.id = c.identity_id JOIN inboxes ib ON ib.id = c.inbox_id
         WHERE c.id IN ({{in}})",
        crate::consent::scoped_consent_sql()
    );
    let rows = select_in(conn, &sql, &[], &keys).await?;
    let mut labels: HashMap<i64, Vec<String>> = HashMap::new();
    let label_rows = select_in(
        conn,
        "SELECT conversation_id, label FROM conversation_labels WHERE conversation_id IN ({in}) ORDER BY conversation_id, label",
        &[],
        &keys,
    )
    .await?;
    for r in &label_rows {
        labels.entry(r.try_get("conversation_id")?).or_default().push(r.try_get("label")?);
    }
    let hour_ago = now - SignedDuration::from_hours(1);
    let mut automatic_sent: HashMap<i64, Vec<Timestamp>> = HashMap::new();
    let sent_rows = select_in(
        conn,
        "SELECT conversation_id, created_at FROM messages
         WHERE direction = 'outbound' AND author_id IS NULL AND private = 0 AND created_at >= $1
           AND conversation_id IN ({in})
         ORDER BY conversation_id, created_at",
        &[Value::Int(to_ms(hour_ago))],
        &keys,
    )
    .await?;
    for r in &sent_rows {
        automatic_sent.entry(r.try_get("conversation_id")?).or_default().push(from_ms(r.try_get("created_at")?));
    }
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        let conversation = conversation_from(r, labels.remove(&id).unwrap_or_default())?;
        let last_person: Option<i64> = r.try_get("last_person")?;
        let last_inbound: Option<i64> = r.try_get("last_inbound")?;
        let consent: Option<String> = r.try_get("consent_kind")?;
        let situation = Situation {
            contact_name: r.try_get("contact_name")?,
            contact_time_zone: r.try_get("time_zone")?,
            address: r.try_get("address")?,
            conversation,
            attributes: attributes_from(&r.try_get::<String, _>("attributes")?),
            consent: crate::consent::state_of(consent.as_deref()),
            last_person_reply_at: last_person.map(from_ms),
            last_inbound: last_inbound.map(from_ms),
            automatic_sent: automatic_sent.remove(&id).unwrap_or_default(),
        };
        out.insert(id, situation);
    }
    Ok(out)
}

/// A contact's saved attributes as text (a number or a flag as written).
fn attributes_from(json: &str) -> BTreeMap<String, String> {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The customer's message `message_id`, if it is one.
pub async fn received(conn: &mut AnyConnection, message_id: i64) -> Result<Option<Received>> {
    Ok(received_all(conn, &[message_id]).await?.remove(&message_id))
}

/// [`received`] for several messages in one statement: those that are
/// customers' messages, by id.
pub async fn received_all(conn: &mut AnyConnection, message_ids: &[i64]) -> Result<HashMap<i64, Received>> {
    let keys = ints(message_ids);
    let rows = select_in(
        conn,
        "SELECT m.id, m.body, m.created_at,
                (SELECT COUNT(*) FROM messages p WHERE p.conversation_id = m.conversation_id
                   AND p.direction = 'inbound' AND p.id < m.id) AS before
         FROM messages m WHERE m.direction = 'inbound' AND m.id IN ({in})",
        &[],
        &keys,
    )
    .await?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in &rows {
        let received = Received {
            text: r.try_get("body")?,
            at: from_ms(r.try_get("created_at")?),
            first: r.try_get::<i64, _>("before")? == 0,
        };
        out.insert(r.try_get("id")?, received);
    }
    Ok(out)
}

/// Checks that a rule's references (users, teams, labels) exist in the
/// account, so a saved rule cannot point at nothing.
pub async fn check_references(conn: &mut AnyConnection, account_id: i64, rule: &Rule) -> Result<()> {
    use textdesk_core::automation::{Action, Condition};
    for a in rule.actions() {
        match a {
            Action::Assign { user_id } => {
                crate::conversation_changes::active_user(conn, account_id, *user_id).await?;
            }
            Action::AssignTeam { team_id } => {
                crate::conversation_changes::team_name(conn, account_id, *team_id).await?;
            }
            Action::AddLabel { label } => {
                crate::conversation_changes::catalogue_label(conn, account_id, label).await?;
            }
            Action::CallWebhook { webhook_id } if webhook_name(conn, account_id, *webhook_id).await?.is_none() => {
                return Err(Invalid::new(format!("there is no webhook {webhook_id} in this account")).into());
            }
            Action::StartFlow { flow_id } if crate::flows::flow_in(conn, account_id, *flow_id).await?.is_none() => {
                return Err(Invalid::new(format!("there is no flow {flow_id} in this account")).into());
            }
            _ => {}
        }
    }
    for c in rule.conditions() {
        if let Condition::Inbox { any_of } = c {
            for inbox in any_of {
                let found = sqlx::query("SELECT 1 AS one FROM inboxes WHERE id = $1 AND account_id = $2")
                    .bind(*inbox)
                    .bind(account_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                if found.is_none() {
                    return Err(Invalid::new(format!("there is no inbox {inbox} in this account")).into());
                }
            }
        }
    }
    Ok(())
}

impl Store {
    pub async fn check_rule_references(&self, account_id: i64, rule: &Rule) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        check_references(&mut conn, account_id, rule).await
    }
}

/// Does one of a rule's conversation actions (not a reply: the app builds
/// that with the contact's clock and calls [`queue_reply`]) in the caller's
/// transaction, with its event. Returns what it did, in words for the
/// timeline, or None when there was nothing to change.
pub async fn apply(
    conn: &mut AnyConnection,
    s: &mut Situation,
    action: &textdesk_core::automation::Action,
    now: Timestamp,
) -> Result<Option<String>> {
    use crate::conversation_changes::{self as changes, Change, NewStatus};
    use textdesk_core::ConversationStatus;
    use textdesk_core::automation::Action;
    let c = &mut s.conversation;
    let change = Change { account_id: c.account_id, conversation_id: c.id, actor_id: None, now };
    Ok(match action {
        Action::Reply { .. }
        | Action::CallWebhook { .. }
        | Action::StartFlow { .. }
        | Action::SendSurvey { .. }
        | Action::HandOff => None,
        // Written by the engine (an offer through the gate, an email job); nothing to change here.
        Action::Escalate {
            to:
                textdesk_core::automation::AutoEscalation::CallbackOffer | textdesk_core::automation::AutoEscalation::Email,
            ..
        } => None,
        Action::Escalate { supervisor_id, .. } => {
            let chosen = match (*supervisor_id, c.team_id) {
                (Some(id), _) => Some(id),
                (None, Some(team)) => crate::escalations::team_lead_in(conn, c.account_id, team).await?,
                (None, None) => None,
            };
            let sup = chosen.ok_or_else(|| {
                crate::StoreError::Invalid("the conversation's team has no supervisor to escalate to".into())
            })?;
            crate::escalations::supervisor(conn, c.account_id, sup).await?;
            if c.priority != textdesk_core::Priority::Urgent {
                changes::write_priority(conn, change, textdesk_core::Priority::Urgent).await?;
                c.priority = textdesk_core::Priority::Urgent;
            }
            // A person already on it keeps it; the supervisor watches.
            let kept_agent = c.assignee_id.is_some_and(|a| a != sup);
            if c.assignee_id.is_none() {
                changes::write_assignee(conn, change, Some(sup)).await?;
                c.assignee_id = Some(sup);
            }
            let w = crate::escalations::Written {
                kind: textdesk_core::escalation::EscalationKind::Supervisor,
                reason: None,
                supervisor_id: Some(sup),
                kept_agent,
                link: None,
                message_id: None,
            };
            crate::escalations::write_escalation(conn, (c.account_id, c.id, None), w, now).await?;
            let name: String =
                sqlx::query("SELECT CASE WHEN name = '' THEN email ELSE name END AS name FROM users WHERE id = $1")
                    .bind(sup)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("name")?;
            Some(format!("escalated it to {name}"))
        }
        Action::Assign { user_id } => {
            if c.assignee_id == Some(*user_id) {
                return Ok(None);
            }
            changes::active_user(conn, c.account_id, *user_id).await?;
            changes::write_assignee(conn, change, Some(*user_id)).await?;
            c.assignee_id = Some(*user_id);
            let name: String =
                sqlx::query("SELECT CASE WHEN name = '' THEN email ELSE name END AS name FROM users WHERE id = $1")
                    .bind(*user_id)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get("name")?;
            Some(format!("assigned it to {name}"))
        }
        Action::AssignTeam { team_id } => {
            if c.team_id == Some(*team_id) {
                return Ok(None);
            }
            let name = changes::team_name(conn, c.account_id, *team_id).await?;
            changes::write_team(conn, change, Some((*team_id, name.clone()))).await?;
            c.team_id = Some(*team_id);
            Some(format!("gave it to the {name} team"))
        }
        Action::AddLabel { label } => {
            let name = changes::catalogue_label(conn, c.account_id, label).await?;
            if c.labels.contains(&name) {
                return Ok(None);
            }
            c.labels.push(name.clone());
            c.labels.sort();
            changes::write_labels(conn, change, c.labels.clone()).await?;
            Some(format!("added the label {name}"))
        }
        Action::SetPriority { priority } => {
            if c.priority == *priority {
                return Ok(None);
            }
            changes::write_priority(conn, change, *priority).await?;
            c.priority = *priority;
            Some(format!("set the priority to {}", priority.as_str()))
        }
        Action::Snooze { minutes } => {
            if c.status == ConversationStatus::Resolved {
                return Ok(None);
            }
            let until = now + SignedDuration::from_mins((*minutes).into());
            let new = NewStatus {
                from: c.status,
                to: ConversationStatus::Snoozed,
                until: Some(until),
                zone: None,
                reason: None,
            };
            changes::write_status(conn, change, new).await?;
            c.status = ConversationStatus::Snoozed;
            Some(format!("snoozed it for {}", textdesk_core::automation::minutes_words(*minutes)))
        }
        Action::Resolve => {
            if c.status == ConversationStatus::Resolved {
                return Ok(None);
            }
            let new =
                NewStatus { from: c.status, to: ConversationStatus::Resolved, until: None, zone: None, reason: None };
            changes::write_status(conn, change, new).await?;
            c.status = ConversationStatus::Resolved;
            Some("resolved it".into())
        }
    })
}

/// Queues an automatic reply through the one gate and outbox, in the
/// caller's transaction. Err(reason) when the gate blocks it (nothing written).
pub async fn queue_reply(
    conn: &mut AnyConnection,
    s: &Situation,
    new: &crate::NewOutbound,
) -> Result<std::result::Result<i64, textdesk_core::gate::BlockReason>> {
    let c = &s.conversation;
    crate::messages::insert_outbound(conn, (c.id, c.inbox_id, c.contact_id), new).await
}

/// What a rule did, in the conversation's timeline (and to live screens).
pub struct Firing<'a> {
    pub rule_id: i64,
    pub rule: &'a str,
    pub did: Vec<String>,
    pub silenced: Option<String>,
    /// Outgoing webhooks the rule called.
    pub webhooks: Vec<i64>,
}

pub async fn record_firing(conn: &mut AnyConnection, s: &Situation, f: Firing<'_>, now: Timestamp) -> Result<()> {
    let c = &s.conversation;
    let ev = textdesk_core::event::DomainEvent::AutomationFired {
        rule_id: f.rule_id,
        rule: f.rule.to_owned(),
        did: f.did,
        silenced: f.silenced,
        webhooks: f.webhooks,
    };
    crate::events::append(conn, (c.account_id, c.id), &ev, None, now).await?;
    Ok(())
}

/// An outgoing webhook of the account, by its description (else its address);
/// None when there is none with that id.
pub async fn webhook_name(conn: &mut AnyConnection, account_id: i64, id: i64) -> Result<Option<String>> {
    let row = sqlx::query("SELECT description, url FROM webhook_subscriptions WHERE id = $1 AND account_id = $2")
        .bind(id)
        .bind(account_id)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| {
        let d: String = r.try_get("description")?;
        let url: String = r.try_get("url")?;
        Ok(if d.trim().is_empty() { url } else { d })
    })
    .transpose()
}
