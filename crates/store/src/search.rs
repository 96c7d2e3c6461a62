//! Search at scale: which conversations a search finds, before the list sorts
//! and pages them. Each way a conversation can match (a message's words, the
//! contact's name, digits of its number) gives at most `SEARCH_CUT` matches,
//! the newest first, through an index; the list then filters, sorts and pages
//! only those. A word in half the messages costs what a rare one does, and the
//! agent sees the conversations of its newest matches (docs/decisions.md,
//! "Search keeps the newest matches").

use std::collections::HashMap;

use sqlx::Row;
use textdesk_core::list::SearchQuery;

use crate::{Backend, Result, Store};

/// How many matches of each kind a search keeps, newest first.
pub(crate) const SEARCH_CUT: i64 = 250;

/// PostgreSQL: how many of the newest messages are read to guess how common
/// the words are, and from how many matches among them reading on (newest
/// first) beats the full-text index. The index's cost grows with every
/// matching message in the table, reading on with how rare the matches are.
const PROBE_MESSAGES: i64 = 4000;
const PROBE_COMMON: i64 = 32;
/// The most messages read on before the index's answer is cheaper anyway.
const WALK_MAX: i64 = 200_000;

/// A label on at most this many conversations is listed by their ids, read by
/// key; a commoner one by walking the list's sorted index, testing each row.
/// The planner cannot tell a rare label from a common one, and for a rare one
/// the walk reads most of the index before it fills a page.
const FEW_LABELLED: i64 = 1000;

/// What a search found.
#[derive(Debug, Default)]
pub(crate) struct Hits {
    /// The conversations found, each once, in no order.
    pub conversations: Vec<i64>,
    /// Each conversation's newest matching message, for its snippet.
    pub messages: HashMap<i64, i64>,
}

/// Words of a message around what a search matched: plain text in pieces,
/// each saying whether it is a match. Pages escape every piece.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snippet(pub Vec<(String, bool)>);

impl Snippet {
    /// The snippet as plain text (no marks).
    pub fn text(&self) -> String {
        self.0.iter().map(|(t, _)| t.as_str()).collect()
    }
}

fn ids(rows: &[sqlx::any::AnyRow], column: &str) -> Result<Vec<i64>> {
    Ok(rows.iter().map(|r| r.try_get::<i64, _>(column)).collect::<Result<Vec<_>, _>>()?)
}

impl Store {
    /// The conversations of `account_id` a search finds (see the module's note).
    pub(crate) async fn search_hits(&self, account_id: i64, q: &SearchQuery) -> Result<Hits> {
        let mut hits = Hits::default();
        self.hooks.maybe_panic_searching(q.words());
        if !q.words().is_empty() {
            for (message, conversation) in self.message_hits(account_id, q).await? {
                // Newest first: the first seen is the conversation's newest match.
                hits.messages.entry(conversation).or_insert(message);
            }
            hits.conversations.extend(hits.messages.keys().copied());
            hits.conversations.extend(self.name_hits(account_id, q).await?);
        }
        if let Some(digits) = q.digits() {
            hits.conversations.extend(self.number_hits(account_id, digits).await?);
        }
        hits.conversations.sort_unstable();
        hits.conversations.dedup();
        Ok(hits)
    }

    /// The newest `SEARCH_CUT` messages holding every word (as a prefix), as
    /// (message, conversation), newest first.
    async fn message_hits(&self, account_id: i64, q: &SearchQuery) -> Result<Vec<(i64, i64)>> {
        let rows = match self.backend {
            // FTS5 reads its index newest first and stops at the cut by itself.
            Backend::Sqlite => {
                sqlx::query(
                    "SELECT m.id, m.conversation_id FROM messages_fts f
                     JOIN messages m ON m.id = f.rowid
                     JOIN conversations s ON s.id = m.conversation_id
                     WHERE messages_fts MATCH $1 AND s.account_id = $2
                     ORDER BY f.rowid DESC LIMIT $3",
                )
                .bind(q.fts5())
                .bind(account_id)
                .bind(SEARCH_CUT)
                .fetch_all(&self.pool)
                .await?
            }
            // A GIN index answers in no order: every match is read before the
            // newest are known, which for a common word is most of the table. So
            // the newest messages are read first to see how common the words
            // are, and a common word is found by reading on, newest first, far
            // enough for the cut; a rarer one through the index. Each query is
            // written so that its plan cannot be the other one's (the planner
            // does not know how common a prefix is). No parallel workers nor JIT
            // compilation: their start costs more than these small reads.
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "SELECT set_config('max_parallel_workers_per_gather', '0', true), set_config('jit', 'off', true)",
                )
                .execute(&mut *tx)
                .await?;
                let common: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT search FROM messages ORDER BY id DESC LIMIT $2) r
                     WHERE r.search @@ textdesk_tsquery($1)",
                )
                .bind(q.tsquery())
                .bind(PROBE_MESSAGES)
                .fetch_one(&mut *tx)
                .await?;
                let rows = if common >= PROBE_COMMON {
                    // Twice the messages the probe's share says the cut needs.
                    let window = (PROBE_MESSAGES * SEARCH_CUT * 2 / common).clamp(PROBE_MESSAGES, WALK_MAX);
                    sqlx::query(
                        "SELECT m.id, m.conversation_id
                         FROM (SELECT id, conversation_id, search FROM messages ORDER BY id DESC LIMIT $3) m
                         JOIN conversations s ON s.id = m.conversation_id
                         WHERE m.search @@ textdesk_tsquery($1) AND s.account_id = $2
                         ORDER BY m.id DESC LIMIT $4",
                    )
                    .bind(q.tsquery())
                    .bind(account_id)
                    .bind(window)
                    .bind(SEARCH_CUT)
                    .fetch_all(&mut *tx)
                    .await?
                } else {
                    // `m.id + 0`: sorted after the index, not read in id order; the
                    // account looked up for each match, not every conversation hashed.
                    sqlx::query(
                        "SELECT m.id, m.conversation_id FROM messages m
                         WHERE m.search @@ textdesk_tsquery($1)
                           AND (SELECT s.account_id FROM conversations s WHERE s.id = m.conversation_id) = $2
                         ORDER BY m.id + 0 DESC LIMIT $3",
                    )
                    .bind(q.tsquery())
                    .bind(account_id)
                    .bind(SEARCH_CUT)
                    .fetch_all(&mut *tx)
                    .await?
                };
                tx.commit().await?;
                rows
            }
        };
        rows.iter().map(|r| Ok((r.try_get("id")?, r.try_get("conversation_id")?))).collect()
    }

    /// Conversations of the newest `SEARCH_CUT` contacts whose name holds every word.
    async fn name_hits(&self, account_id: i64, q: &SearchQuery) -> Result<Vec<i64>> {
        let (sql, query) = match self.backend {
            Backend::Sqlite => (
                "SELECT s.id FROM (SELECT ct.id FROM contacts_fts f JOIN contacts ct ON ct.id = f.rowid
                                   WHERE contacts_fts MATCH $1 AND ct.account_id = $2
                                   ORDER BY f.rowid DESC LIMIT $3) ct
                 JOIN conversations s ON s.contact_id = ct.id",
                q.fts5(),
            ),
            Backend::Postgres => (
                "SELECT s.id FROM (SELECT ct.id FROM contacts ct
                                   WHERE ct.account_id = $2 AND textdesk_tsvector(ct.name) @@ textdesk_tsquery($1)
                                   ORDER BY ct.id + 0 DESC LIMIT $3) ct
                 JOIN conversations s ON s.contact_id = ct.id",
                q.tsquery(),
            ),
        };
        let rows = sqlx::query(sql).bind(query).bind(account_id).bind(SEARCH_CUT).fetch_all(&self.pool).await?;
        ids(&rows, "id")
    }

    /// Conversations with the newest `SEARCH_CUT` addresses holding `digits`
    /// anywhere, found through the addresses' three-character pieces
    /// (migration 0042) and checked whole with LIKE.
    async fn number_hits(&self, account_id: i64, digits: &str) -> Result<Vec<i64>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT s.id FROM (SELECT i.id, i.contact_id FROM contact_identities_digits d
                                   JOIN contact_identities i ON i.id = d.rowid
                                   WHERE d.address LIKE $1 AND i.account_id = $2
                                   ORDER BY d.rowid DESC LIMIT $3) i
                 JOIN conversations s ON s.contact_id = i.contact_id AND s.identity_id = i.id"
            }
            Backend::Postgres => {
                "SELECT s.id FROM (SELECT i.id, i.contact_id FROM contact_identities i
                                   WHERE i.account_id = $2 AND i.address LIKE $1
                                     AND textdesk_digit_trigrams(i.address) @> textdesk_digit_trigrams($4)
                                   ORDER BY i.id + 0 DESC LIMIT $3) i
                 JOIN conversations s ON s.contact_id = i.contact_id AND s.identity_id = i.id"
            }
        };
        let mut query = sqlx::query(sql).bind(format!("%{digits}%")).bind(account_id).bind(SEARCH_CUT);
        if self.backend == Backend::Postgres {
            query = query.bind(digits.to_owned());
        }
        ids(&query.fetch_all(&self.pool).await?, "id")
    }

    /// The conversations holding `label` when there are few (in any account:
    /// the list's own account condition still applies); None when there are more.
    /// The ids come back only when there are few: a common label's answer is
    /// one row with its count (reading its first thousand ids cost more than
    /// the page itself).
    pub(crate) async fn few_labelled(&self, label: &str) -> Result<Option<Vec<i64>>> {
        let rows = sqlx::query(
            "SELECT k.n, l.conversation_id
             FROM (SELECT COUNT(*) AS n FROM (SELECT 1 FROM conversation_labels WHERE label = $1 LIMIT $2) x) k
             LEFT JOIN conversation_labels l ON l.label = $3 AND k.n <= $4",
        )
        .bind(label)
        .bind(FEW_LABELLED + 1)
        .bind(label)
        .bind(FEW_LABELLED)
        .fetch_all(&self.pool)
        .await?;
        let many = rows.first().map(|r| r.try_get::<i64, _>("n")).transpose()?.is_some_and(|n| n > FEW_LABELLED);
        if many {
            return Ok(None);
        }
        let labelled = rows.iter().filter_map(|r| r.try_get::<Option<i64>, _>("conversation_id").transpose());
        Ok(Some(labelled.collect::<Result<Vec<_>, _>>()?))
    }

    /// Each listed conversation's newest matching message, its words marked.
    pub(crate) async fn snippets(
        &self,
        hits: &Hits,
        conversations: &[i64],
        q: &SearchQuery,
    ) -> Result<HashMap<i64, Snippet>> {
        let wanted: Vec<(i64, i64)> =
            conversations.iter().filter_map(|c| hits.messages.get(c).map(|m| (*c, *m))).collect();
        let mut out = HashMap::new();
        if wanted.is_empty() {
            return Ok(out);
        }
        let sql = format!("SELECT id, body FROM messages WHERE id IN ({})", crate::placeholders(1, wanted.len()));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (_, message) in &wanted {
            query = query.bind(*message);
        }
        let mut bodies: HashMap<i64, String> = HashMap::new();
        for r in query.fetch_all(&self.pool).await? {
            bodies.insert(r.try_get("id")?, r.try_get("body")?);
        }
        for (conversation, message) in wanted {
            if let Some(parts) = bodies.get(&message).and_then(|b| q.highlight(b)) {
                out.insert(conversation, Snippet(parts));
            }
        }
        Ok(out)
    }
}
