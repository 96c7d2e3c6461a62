use jiff::Timestamp;
use sqlx::Row;
use textdesk_core::list::{ListSort, SearchQuery};
use textdesk_core::{ConsentState, ConversationStatus, Invalid, Medium, Priority};

use textdesk_core::event::{DomainEvent, StatusReason};

use crate::conversation_changes::{self as changes, Change, NewStatus};
use crate::events::append;
use crate::list_sql::{Bind, Order, WAITING_KEY, Where};
pub use crate::search::Snippet;

use crate::{Result, Store, StoreError, from_ms, to_ms};

#[derive(Debug, Clone, serde::Serialize)]
pub struct Conversation {
    pub id: i64,
    pub account_id: i64,
    pub inbox_id: i64,
    pub contact_id: i64,
    pub identity_id: i64,
    pub status: ConversationStatus,
    pub snoozed_until: Option<Timestamp>,
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    pub priority: Priority,
    pub labels: Vec<String>,
    pub last_activity_at: Timestamp,
    /// Since when the customer has been waiting for a person (None once answered).
    pub waiting_since: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub unread: i64,
    pub created_at: Timestamp,
    /// A self-service flow is answering the customer: shown as "bot", not
    /// waiting for a person, not routed (the status stays `open`).
    pub bot: bool,
}

/// A conversation as the inbox list shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConversationSummary {
    #[serde(flatten)]
    pub conversation: Conversation,
    pub contact_name: String,
    pub contact_address: String,
    pub consent: ConsentState,
    pub inbox_name: String,
    /// The inbox's provider key (named `channel_kind` where it is shown, as before).
    #[serde(rename = "channel_kind")]
    pub provider: String,
    pub medium: Medium,
    pub assignee_name: Option<String>,
    /// The last message actually sent or received (not a note, nor one still
    /// scheduled, blocked or failed): "Dana: See you then", or the customer's words.
    pub preview: String,
    /// The customer's last words, when the preview is ours: an automatic or
    /// agent's reply must not hide the question from the list.
    pub customer_preview: Option<String>,
    /// In search results: the words that matched, in their message's context.
    pub snippet: Option<Snippet>,
}

/// A preview line's length in characters.
const PREVIEW_CHARS: usize = 140;

/// SQL for the id of conversation `c`'s last message actually exchanged.
/// Inbound messages always count, so the customer's last one is never newer.
const LAST_EXCHANGED: &str = "(SELECT m2.id FROM messages m2 WHERE m2.conversation_id = c.id AND m2.private = 0
      AND m2.status NOT IN ('scheduled', 'blocked', 'failed') ORDER BY m2.id DESC LIMIT 1)";
const LAST_INBOUND: &str = "(SELECT m3.id FROM messages m3 WHERE m3.conversation_id = c.id AND m3.direction = 'inbound'
      ORDER BY m3.id DESC LIMIT 1)";

/// A message as a preview line: who wrote it (for ours), and its text or that it is a file.
fn preview_line(r: &sqlx::any::AnyRow) -> Result<String> {
    let body: String = r.try_get("body")?;
    let media: i64 = r.try_get("media")?;
    let text = if body.trim().is_empty() && media > 0 { "📎 attachment".to_owned() } else { body };
    let direction: String = r.try_get("direction")?;
    let line = if direction == "inbound" {
        text
    } else {
        let author: Option<String> = r.try_get("author_name")?;
        let first = author.as_deref().and_then(|n| n.split_whitespace().next()).unwrap_or("Auto");
        format!("{first}: {text}")
    };
    Ok(line.chars().take(PREVIEW_CHARS).collect())
}

/// When a snooze ends, and the clock it was chosen on (the agent's zone), so
/// the timeline can say the time on that clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snooze {
    pub until: Timestamp,
    pub zone: Option<String>,
}

impl From<Timestamp> for Snooze {
    fn from(until: Timestamp) -> Self {
        Snooze { until, zone: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    User(i64),
    Nobody,
}

#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub assignee: Option<AssigneeFilter>,
    pub inbox_id: Option<i64>,
    pub team_id: Option<i64>,
    /// Conversations owned by any team this user belongs to.
    pub teams_of: Option<i64>,
    /// Conversations where a private note mentions this user.
    pub mentioned: Option<i64>,
    /// Conversations escalated to this supervisor.
    pub escalated_to: Option<i64>,
    pub label: Option<String>,
    pub priority: Option<Priority>,
    pub contact_id: Option<i64>,
    /// Words (prefixes) in a message or the contact's name, or a phone number's digits.
    pub q: Option<String>,
    pub sort: ListSort,
    /// Only conversations a flow is answering (true) or only the others (false).
    pub bot: Option<bool>,
}

/// Where a page of the list starts: after the row with this sort key and id.
/// It names its sort, so a cursor cannot silently continue a different order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub sort: ListSort,
    pub key: i64,
    pub id: i64,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}.{}.{}", self.sort.as_str(), self.key, self.id)
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("the cursor is not one this server gave out");
        let mut parts = s.splitn(3, '.');
        let (Some(sort), Some(key), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        Ok(Cursor {
            sort: ListSort::parse(sort).map_err(|_| bad())?,
            key: key.parse().map_err(|_| bad())?,
            id: id.parse().map_err(|_| bad())?,
        })
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConversationPage {
    pub items: Vec<ConversationSummary>,
    pub next_cursor: Option<String>,
}

pub(crate) const CONVERSATION_COLUMNS: &str = "c.id, c.account_id, c.inbox_id, c.contact_id, c.identity_id, c.status, c.snoozed_until, c.assignee_id, c.team_id, c.priority, c.last_activity_at, c.waiting_since, c.resolved_at, c.unread, c.created_at, c.bot";

pub(crate) fn conversation_from(r: &sqlx::any::AnyRow, labels: Vec<String>) -> Result<Conversation> {
    let status: String = r.try_get("status")?;
    let priority: String = r.try_get("priority")?;
    let opt_ts = |name: &str| -> Result<Option<Timestamp>> { Ok(r.try_get::<Option<i64>, _>(name)?.map(from_ms)) };
    Ok(Conversation {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        inbox_id: r.try_get("inbox_id")?,
        contact_id: r.try_get("contact_id")?,
        identity_id: r.try_get("identity_id")?,
        status: ConversationStatus::parse(&status)?,
        snoozed_until: opt_ts("snoozed_until")?,
        assignee_id: r.try_get("assignee_id")?,
        team_id: r.try_get("team_id")?,
        priority: Priority::parse(&priority)?,
        labels,
        last_activity_at: from_ms(r.try_get("last_activity_at")?),
        waiting_since: opt_ts("waiting_since")?,
        resolved_at: opt_ts("resolved_at")?,
        unread: r.try_get("unread")?,
        created_at: from_ms(r.try_get("created_at")?),
        bot: r.try_get::<i64, _>("bot")? != 0,
    })
}

impl Store {
    pub(crate) async fn labels_of(&self, conversation_id: i64) -> Result<Vec<String>> {
        Ok(self.labels_for(&[conversation_id]).await?.remove(&conversation_id).unwrap_or_default())
    }

    /// The labels of many conversations in one query.
    async fn labels_for(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, Vec<String>>> {
        let mut out: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT conversation_id, label FROM conversation_labels WHERE conversation_id IN ({}) ORDER BY label",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&self.pool).await? {
            out.entry(r.try_get("conversation_id")?).or_default().push(r.try_get("label")?);
        }
        Ok(out)
    }

    /// The preview lines of many conversations in one query: the last message
    /// exchanged, and the customer's last words when that message is ours.
    /// Computed on read, so a cancelled or still-scheduled message never shows.
    async fn previews_for(&self, ids: &[i64]) -> Result<std::collections::HashMap<i64, (String, Option<String>)>> {
        let mut out = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let sql = format!(
            "SELECT c.id AS conversation_id, m.id, m.direction, m.body, u.name AS author_name,
                    (SELECT COUNT(*) FROM media x WHERE x.message_id = m.id) AS media
             FROM conversations c
             JOIN messages m ON m.id IN ({LAST_EXCHANGED}, {LAST_INBOUND})
             LEFT JOIN users u ON u.id = m.author_id
             WHERE c.id IN ({})
             ORDER BY c.id, m.id DESC",
            crate::placeholders(1, ids.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(*id);
        }
        for r in q.fetch_all(&self.pool).await? {
            let line = preview_line(&r)?;
            // Newest first: the last exchanged, then (if older) the customer's last.
            match out.entry(r.try_get::<i64, _>("conversation_id")?) {
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert((line, None));
                }
                std::collections::hash_map::Entry::Occupied(mut e) => e.get_mut().1 = Some(line),
            }
        }
        Ok(out)
    }

    pub async fn conversation(&self, account_id: i64, id: i64) -> Result<Conversation> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations c WHERE c.account_id = $1 AND c.id = $2");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(account_id).bind(id).fetch_optional(&self.pool).await?;
        let row = row.ok_or(StoreError::NotFound("conversation"))?;
        conversation_from(&row, self.labels_of(id).await?)
    }

    pub async fn conversation_summary(&self, account_id: i64, id: i64) -> Result<ConversationSummary> {
        let mut w = Where::new();
        w.push("c.account_id = ?", Bind::I64(account_id));
        w.push("c.id = ?", Bind::I64(id));
        let mut items = self.summaries(w, &Order::activity(), 1).await?;
        items.pop().map(|(s, _)| s).ok_or(StoreError::NotFound("conversation"))
    }

    /// Rows with their sort key. The page is chosen from `conversations`
    /// alone; the contact, identity, inbox, assignee and consent are read for
    /// its rows only. Where the page is sorted rather than read off an index
    /// (a label on thousands of conversations, a search's ids), one query with
    /// the joins read them for every candidate before the sort (a label on
    /// 4,000 of 100,000 conversations: 10.4 ms of SQLite, 5.3 with the page
    /// chosen first).
    async fn summaries(&self, w: Where, order: &Order, limit: i64) -> Result<Vec<(ConversationSummary, i64)>> {
        let limit_ph = w.next_placeholder();
        let dir = if order.descending { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS}, ct.name AS contact_name, {consent} AS consent, i.address AS contact_address,
                    ib.name AS inbox_name, ib.channel_kind, ib.medium, u.name AS assignee_name, page.sort_key
             FROM (SELECT c.id, {key} AS sort_key FROM conversations c {join}
                   WHERE {} ORDER BY {key} {dir}, c.id {dir} LIMIT {limit_ph}) page
             JOIN conversations c ON c.id = page.id
             JOIN contacts ct ON ct.id = c.contact_id
             JOIN contact_identities i ON i.id = c.identity_id
             JOIN inboxes ib ON ib.id = c.inbox_id
             LEFT JOIN users u ON u.id = c.assignee_id
             ORDER BY page.sort_key {dir}, c.id {dir}",
            w.sql(),
            consent = crate::consent::scoped_consent_sql(),
            key = order.key,
            join = order.join,
        );
        let q = w.bind_all(sqlx::query(sqlx::AssertSqlSafe(sql))).bind(limit);
        let rows = q.fetch_all(&self.pool).await?;
        let ids = rows.iter().map(|r| r.try_get::<i64, _>("id")).collect::<Result<Vec<_>, _>>()?;
        let mut labels = self.labels_for(&ids).await?;
        let mut previews = self.previews_for(&ids).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            let medium: String = r.try_get("medium")?;
            let consent: Option<String> = r.try_get("consent")?;
            let (preview, customer_preview) = previews.remove(&id).unwrap_or_default();
            let summary = ConversationSummary {
                conversation: conversation_from(r, labels.remove(&id).unwrap_or_default())?,
                contact_name: r.try_get("contact_name")?,
                contact_address: r.try_get("contact_address")?,
                consent: crate::consent::state_of(consent.as_deref()),
                inbox_name: r.try_get("inbox_name")?,
                provider: r.try_get("channel_kind")?,
                medium: Medium::parse(&medium)?,
                assignee_name: r.try_get("assignee_name")?,
                preview,
                customer_preview,
                snippet: None,
            };
            out.push((summary, r.try_get("sort_key")?));
        }
        Ok(out)
    }

    /// One page of conversations in the filter's order.
    pub async fn list_conversations(
        &self,
        account_id: i64,
        f: &ConversationFilter,
        after: Option<Cursor>,
        limit: i64,
    ) -> Result<ConversationPage> {
        let limit = limit.clamp(1, 200);
        if let Some(cur) = after.filter(|c| c.sort != f.sort) {
            return Err(StoreError::Invalid(format!(
                "the cursor continues the {} sort, not {}; start again without a cursor",
                cur.sort.as_str(),
                f.sort.as_str()
            )));
        }
        let mut w = Where::new();
        w.push("c.account_id = ?", Bind::I64(account_id));
        let order = match f.sort {
            ListSort::Activity => Order::activity(),
            ListSort::Waiting => Order { join: String::new(), key: WAITING_KEY, descending: false },
            ListSort::Mentioned => {
                let user = f
                    .mentioned
                    .ok_or_else(|| StoreError::Invalid("the mentioned sort is for the mentions view only".into()))?;
                let n = w.binds.len() + 1;
                w.binds.push(Bind::I64(user));
                Order {
                    join: format!(
                        "JOIN (SELECT conversation_id, MAX(created_at) AS mentioned_at FROM mentions WHERE user_id = ${n} GROUP BY conversation_id) mn ON mn.conversation_id = c.id"
                    ),
                    key: "mn.mentioned_at",
                    descending: true,
                }
            }
        };
        if let Some(s) = f.status {
            w.push("c.status = ?", Bind::Str(s.as_str().into()));
        }
        if let Some(b) = f.bot {
            w.push("c.bot = ?", Bind::I64(b as i64));
        }
        match f.assignee {
            Some(AssigneeFilter::User(u)) => w.push("c.assignee_id = ?", Bind::I64(u)),
            Some(AssigneeFilter::Nobody) => w.push_raw("c.assignee_id IS NULL"),
            None => {}
        }
        if let Some(i) = f.inbox_id {
            w.push("c.inbox_id = ?", Bind::I64(i));
        }
        if let Some(t) = f.team_id {
            w.push("c.team_id = ?", Bind::I64(t));
        }
        if let Some(u) = f.teams_of {
            w.push("c.team_id IN (SELECT tm.team_id FROM team_members tm WHERE tm.user_id = ?)", Bind::I64(u));
        }
        if let Some(u) = f.mentioned.filter(|_| f.sort != ListSort::Mentioned) {
            w.push("c.id IN (SELECT mn.conversation_id FROM mentions mn WHERE mn.user_id = ?)", Bind::I64(u));
        }
        if let Some(u) = f.escalated_to {
            w.push("c.id IN (SELECT es.conversation_id FROM escalations es WHERE es.supervisor_id = ?)", Bind::I64(u));
        }
        if let Some(c) = f.contact_id {
            w.push("c.contact_id = ?", Bind::I64(c));
        }
        if let Some(p) = f.priority {
            w.push("c.priority = ?", Bind::Str(p.as_str().into()));
        }
        if let Some(l) = &f.label {
            match self.few_labelled(l).await? {
                Some(ids) if ids.is_empty() => return Ok(ConversationPage { items: Vec::new(), next_cursor: None }),
                Some(ids) => w.push_ids(&ids),
                // Many: walk the list's sorted index and test each row, which
                // stops at a page. `IN (SELECT ...)` read every labelled
                // conversation and sorted them (4,000 rows: 4 ms of SQLite
                // against 0.3 for the walk).
                None => w.push(
                    "EXISTS (SELECT 1 FROM conversation_labels l WHERE l.conversation_id = c.id AND l.label = ?)",
                    Bind::Str(l.clone()),
                ),
            }
        }
        let search = match f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(SearchQuery::parse) {
            Some(Some(q)) => {
                let hits = self.search_hits(account_id, &q).await?;
                if hits.conversations.is_empty() {
                    return Ok(ConversationPage { items: Vec::new(), next_cursor: None });
                }
                w.push_ids(&hits.conversations);
                Some((q, hits))
            }
            // Only punctuation: there is nothing it could match.
            Some(None) => return Ok(ConversationPage { items: Vec::new(), next_cursor: None }),
            None => None,
        };
        if let Some(cur) = after {
            let a = w.binds.len() + 1;
            let cmp = if order.descending { "<" } else { ">" };
            w.clauses.push(format!("({}, c.id) {cmp} (${a}, ${})", order.key, a + 1));
            w.binds.push(Bind::I64(cur.key));
            w.binds.push(Bind::I64(cur.id));
        }
        let mut rows = self.summaries(w, &order, limit + 1).await?;
        let next_cursor = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|(s, key)| Cursor { sort: f.sort, key: *key, id: s.conversation.id }.encode())
        } else {
            None
        };
        let mut items: Vec<ConversationSummary> = rows.into_iter().map(|(s, _)| s).collect();
        if let Some((q, hits)) = &search {
            let ids: Vec<i64> = items.iter().map(|s| s.conversation.id).collect();
            let mut snippets = self.snippets(hits, &ids, q).await?;
            for s in &mut items {
                s.snippet = snippets.remove(&s.conversation.id);
            }
        }
        Ok(ConversationPage { items, next_cursor })
    }

    /// Assigns (or with `None` unassigns) a conversation, recording who did it.
    pub async fn assign(
        &self,
        account_id: i64,
        id: i64,
        assignee: Option<i64>,
        actor_id: Option<i64>,
    ) -> Result<Conversation> {
        if let Some(u) = assignee {
            let user = self.user(u).await?;
            if user.account_id != account_id || !user.active {
                return Err(StoreError::Invalid("the assignee must be an active user of this account".into()));
            }
        }
        let current = self.conversation(account_id, id).await?;
        if current.assignee_id == assignee {
            return Ok(current);
        }
        let mut tx = self.begin_write().await?;
        let change = Change { account_id, conversation_id: id, actor_id, now: Timestamp::now() };
        changes::write_assignee(&mut tx, change, assignee).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    /// Sets the team that owns a conversation (None clears it).
    pub async fn set_team(
        &self,
        account_id: i64,
        id: i64,
        team_id: Option<i64>,
        actor_id: Option<i64>,
    ) -> Result<Conversation> {
        let team_name = match team_id {
            Some(t) => Some(self.team(account_id, t).await?.name),
            None => None,
        };
        let current = self.conversation(account_id, id).await?;
        if current.team_id == team_id {
            return Ok(current);
        }
        let mut tx = self.begin_write().await?;
        let change = Change { account_id, conversation_id: id, actor_id, now: Timestamp::now() };
        changes::write_team(&mut tx, change, team_id.zip(team_name)).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    /// Changes status. Snoozing needs a time in the future; resolving stamps
    /// `resolved_at`, which the reopen rule reads.
    pub async fn set_status(
        &self,
        account_id: i64,
        id: i64,
        status: ConversationStatus,
        snooze: Option<Snooze>,
        actor_id: Option<i64>,
    ) -> Result<Conversation> {
        let now = Timestamp::now();
        let zone = snooze.as_ref().and_then(|s| s.zone.clone());
        let until = match (status, snooze.map(|s| s.until)) {
            (ConversationStatus::Snoozed, Some(t)) if t > now => Some(t),
            (ConversationStatus::Snoozed, _) => {
                return Err(StoreError::Invalid("snoozing needs a time in the future".into()));
            }
            (_, _) => None,
        };
        let current = self.conversation(account_id, id).await?;
        if current.status == status && current.snoozed_until == until {
            return Ok(current);
        }
        let mut tx = self.begin_write().await?;
        let change = Change { account_id, conversation_id: id, actor_id, now };
        let new = NewStatus { from: current.status, to: status, until, zone, reason: None };
        changes::write_status(&mut tx, change, new).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    pub async fn set_priority(
        &self,
        account_id: i64,
        id: i64,
        priority: Priority,
        actor_id: Option<i64>,
    ) -> Result<Conversation> {
        let current = self.conversation(account_id, id).await?;
        if current.priority == priority {
            return Ok(current);
        }
        let mut tx = self.begin_write().await?;
        let change = Change { account_id, conversation_id: id, actor_id, now: Timestamp::now() };
        changes::write_priority(&mut tx, change, priority).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    /// Replaces the label set. Each name must be one of the account's labels
    /// (in any case); the conversation holds the catalogue's spelling.
    pub async fn set_labels(
        &self,
        account_id: i64,
        id: i64,
        labels: &[String],
        actor_id: Option<i64>,
    ) -> Result<Conversation> {
        let current = self.conversation(account_id, id).await?;
        let catalogue = self.labels(account_id).await?;
        let mut unknown = Vec::new();
        let mut resolved = Vec::new();
        for wanted in labels {
            let key = wanted.trim().to_lowercase();
            match catalogue.iter().find(|l| l.name.to_lowercase() == key) {
                Some(l) => resolved.push(l.name.clone()),
                None => unknown.push(format!("{:?}", wanted.trim())),
            }
        }
        if !unknown.is_empty() {
            return Err(StoreError::Invalid(format!(
                "no label named {} in this account; add it under Settings → Labels first",
                unknown.join(", ")
            )));
        }
        let mut labels = resolved;
        labels.sort();
        labels.dedup();
        if current.labels == labels {
            return Ok(current);
        }
        let mut tx = self.begin_write().await?;
        let change = Change { account_id, conversation_id: id, actor_id, now: Timestamp::now() };
        changes::write_labels(&mut tx, change, labels).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    /// An agent has seen the conversation. True when it was unread until now.
    pub async fn mark_read(&self, account_id: i64, id: i64, actor_id: Option<i64>) -> Result<bool> {
        // Opening a conversation and every live refresh of its thread come
        // here; most find it read already, and need not queue for SQLite's
        // one writer to learn that.
        let unread: Option<i64> =
            sqlx::query_scalar("SELECT unread FROM conversations WHERE id = $1 AND account_id = $2")
                .bind(id)
                .bind(account_id)
                .fetch_optional(&self.pool)
                .await?;
        if unread.is_none_or(|u| u == 0) {
            return Ok(false);
        }
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("UPDATE conversations SET unread = 0 WHERE id = $1 AND account_id = $2 AND unread <> 0")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        if n.rows_affected() == 0 {
            return Ok(false);
        }
        append(&mut tx, (account_id, id), &DomainEvent::ConversationRead {}, actor_id, Timestamp::now()).await?;
        self.commit(tx).await?;
        Ok(true)
    }

    /// An agent wants to come back to it: it shows unread again (at least one
    /// unread message) until someone opens it.
    pub async fn mark_unread(&self, account_id: i64, id: i64, actor_id: Option<i64>) -> Result<Conversation> {
        // Not found when it is another account's.
        self.conversation(account_id, id).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE conversations SET unread = 1 WHERE id = $1 AND account_id = $2 AND unread = 0")
            .bind(id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        // Told even when it was unread already: the agent's other tabs follow.
        append(&mut tx, (account_id, id), &DomainEvent::ConversationUnread {}, actor_id, Timestamp::now()).await?;
        self.commit(tx).await?;
        self.conversation(account_id, id).await
    }

    /// Snoozed conversations whose time has come are opened again.
    pub async fn wake_snoozed(&self, now: Timestamp) -> Result<Vec<(i64, i64)>> {
        let rows =
            sqlx::query("SELECT id, account_id FROM conversations WHERE status = 'snoozed' AND snoozed_until <= $1")
                .bind(to_ms(now))
                .fetch_all(&self.pool)
                .await?;
        let mut woken = Vec::new();
        for r in rows {
            let (id, account): (i64, i64) = (r.try_get("id")?, r.try_get("account_id")?);
            let mut tx = self.begin_write().await?;
            let n = sqlx::query(
                "UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = $1 AND status = 'snoozed'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            if n.rows_affected() == 1 {
                let ev = DomainEvent::StatusChanged {
                    from: ConversationStatus::Snoozed,
                    to: ConversationStatus::Open,
                    until: None,
                    zone: None,
                    reason: Some(StatusReason::SnoozeEnded),
                };
                append(&mut tx, (account, id), &ev, None, now).await?;
                woken.push((account, id));
            }
            self.commit(tx).await?;
        }
        Ok(woken)
    }
}
