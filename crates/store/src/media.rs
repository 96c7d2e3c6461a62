//! Pictures and files of messages. Rows only: the bytes live in the media
//! store (files under the data directory), named by `stored_name`.

use jiff::{SignedDuration, Timestamp};
use sqlx::Row;

use crate::{Backend, Result, Store, StoreError, to_ms};

/// Where a message's attachment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
    /// Still at the provider; fetched shortly (and retried if that fails).
    Pending,
    Stored,
    /// Could not be fetched; `last_error` says why.
    Failed,
}

impl MediaState {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaState::Pending => "pending",
            MediaState::Stored => "stored",
            MediaState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<MediaState> {
        match s {
            "pending" => Ok(MediaState::Pending),
            "stored" => Ok(MediaState::Stored),
            "failed" => Ok(MediaState::Failed),
            other => Err(StoreError::Invalid(format!("unknown media state {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Media {
    pub id: i64,
    /// None for an upload not yet sent with a message.
    pub message_id: Option<i64>,
    pub position: i64,
    pub content_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub state: MediaState,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub stored_name: Option<String>,
    #[serde(skip)]
    pub source_url: Option<String>,
    pub attempts: i64,
}

/// An attachment as a provider announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    pub url: String,
    pub content_type: Option<String>,
}

/// A pending attachment to fetch, with the inbox whose credentials fetch it.
#[derive(Debug, Clone)]
pub struct MediaFetch {
    pub media: Media,
    pub message_id: i64,
    pub inbox_id: i64,
}

const COLUMNS: &str = "md.id, md.message_id, md.position, md.content_type, md.size_bytes, md.state, md.last_error, md.stored_name, md.source_url, md.attempts";

fn media_from(r: &sqlx::any::AnyRow) -> Result<Media> {
    let state: String = r.try_get("state")?;
    Ok(Media {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        position: r.try_get("position")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        state: MediaState::parse(&state)?,
        last_error: r.try_get("last_error")?,
        stored_name: r.try_get("stored_name")?,
        source_url: r.try_get("source_url")?,
        attempts: r.try_get("attempts")?,
    })
}

/// Records a message's announced attachments, in the message's transaction.
pub(crate) async fn insert_pending(
    tx: &mut sqlx::AnyConnection,
    message_id: i64,
    media: &[NewMedia],
    now: Timestamp,
) -> Result<()> {
    for (position, m) in media.iter().enumerate() {
        sqlx::query(
            "INSERT INTO media (message_id, position, source_url, content_type, state, next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, 'pending', $5, $5)",
        )
        .bind(message_id)
        .bind(position as i64)
        .bind(&m.url)
        .bind(m.content_type.as_deref())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Gives `uploads` (the author's, not yet sent with anything) to the message
/// being written, in its transaction: a message never goes without them.
pub(crate) async fn attach_uploads(
    tx: &mut sqlx::AnyConnection,
    message_id: i64,
    author_id: Option<i64>,
    uploads: &[i64],
) -> Result<()> {
    if uploads.len() > 10 {
        return Err(StoreError::Invalid("a message carries at most 10 attachments".into()));
    }
    for (position, id) in uploads.iter().enumerate() {
        let n = sqlx::query(
            "UPDATE media SET message_id = $1, position = $2 WHERE id = $3 AND message_id IS NULL AND uploaded_by = $4",
        )
        .bind(message_id)
        .bind(position as i64)
        .bind(id)
        .bind(author_id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() != 1 {
            return Err(StoreError::Invalid(format!("attachment {id}: not an upload of yours waiting to be sent")));
        }
    }
    Ok(())
}

/// How long to wait after the `attempts`-th failed fetch: 1, 5, 30 minutes, then 2 hours.
fn fetch_backoff(attempts: i64) -> SignedDuration {
    SignedDuration::from_mins(match attempts {
        ..=1 => 1,
        2 => 5,
        3 => 30,
        _ => 120,
    })
}

/// A fetch that keeps failing is given up after this many tries.
pub const MAX_FETCH_ATTEMPTS: i64 = 5;

impl Store {
    /// The attachments of `message_ids`, in order.
    pub async fn media_of(&self, message_ids: &[i64]) -> Result<Vec<Media>> {
        if message_ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = crate::placeholders(1, message_ids.len());
        let sql = format!(
            "SELECT {COLUMNS} FROM media md WHERE md.message_id IN ({list}) ORDER BY md.message_id, md.position"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in message_ids {
            q = q.bind(id);
        }
        q.fetch_all(&self.pool).await?.iter().map(media_from).collect()
    }

    /// `user_id`'s upload `id` if it is still waiting to be sent (None for
    /// anyone else's, or one already sent), to check before a message takes it.
    pub async fn waiting_upload(&self, id: i64, user_id: i64) -> Result<Option<Media>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM media md WHERE md.id = $1 AND md.message_id IS NULL AND md.uploaded_by = $2"
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).bind(user_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(media_from).transpose()
    }

    pub async fn media(&self, id: i64) -> Result<Media> {
        let sql = format!("SELECT {COLUMNS} FROM media md WHERE md.id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
        media_from(&row.ok_or(StoreError::NotFound("media"))?)
    }

    /// Claims up to `limit` pending attachments due for a fetch (new, or
    /// waiting after a failure) for `lease`: each is moved out of reach of
    /// every other claim until then, so one fetch runs per attachment, on any
    /// number of nodes. A fetch that dies holding a claim is retried when the
    /// lease ends. On PostgreSQL rows another node is claiming are skipped
    /// (SKIP LOCKED); on SQLite the single writer makes the claim atomic.
    pub async fn claim_due_media(&self, now: Timestamp, lease: SignedDuration, limit: i64) -> Result<Vec<MediaFetch>> {
        let lock = match self.backend {
            Backend::Postgres => "FOR UPDATE OF md SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "SELECT {COLUMNS}, m.id AS id_of_message, m.inbox_id FROM media md JOIN messages m ON m.id = md.message_id
             WHERE md.state = 'pending' AND md.next_attempt_at <= $1 ORDER BY md.next_attempt_at, md.id LIMIT $2 {lock}"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(to_ms(now)).bind(limit).fetch_all(&mut *tx).await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for r in &rows {
            let due = MediaFetch {
                media: media_from(r)?,
                message_id: r.try_get("id_of_message")?,
                inbox_id: r.try_get("inbox_id")?,
            };
            // Compare-and-set: a row another claim moved meanwhile is left to it.
            let moved = sqlx::query(
                "UPDATE media SET next_attempt_at = $1 WHERE id = $2 AND state = 'pending' AND next_attempt_at <= $3",
            )
            .bind(to_ms(now + lease))
            .bind(due.media.id)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            if moved.rows_affected() == 1 {
                claimed.push(due);
            }
        }
        tx.commit().await?;
        Ok(claimed)
    }

    /// Which of `names` (files in the media store) a row still points to.
    pub async fn media_names_in_use(&self, names: &[String]) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let list = crate::placeholders(1, names.len());
        let sql = format!("SELECT stored_name FROM media WHERE stored_name IN ({list})");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for n in names {
            q = q.bind(n);
        }
        q.fetch_all(&self.pool).await?.iter().map(|r| Ok(r.try_get("stored_name")?)).collect()
    }

    /// The bytes are in the media store under `stored_name`. False when the
    /// attachment was no longer pending (the file is then nobody's).
    pub async fn media_stored(&self, id: i64, stored_name: &str, content_type: &str, size: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE media SET state = 'stored', stored_name = $1, content_type = $2, size_bytes = $3, last_error = NULL,
                    attempts = attempts + 1, next_attempt_at = NULL WHERE id = $4 AND state = 'pending'",
        )
        .bind(stored_name)
        .bind(content_type)
        .bind(size)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let stored = n.rows_affected() == 1;
        if stored {
            fetched(&mut tx, id, Timestamp::now()).await?;
        }
        self.commit(tx).await?;
        Ok(stored)
    }

    /// A fetch failed: tried again later when `retryable` and tries are left,
    /// otherwise given up with `error` shown in the thread.
    pub async fn media_fetch_failed(
        &self,
        id: i64,
        error: &str,
        retryable: bool,
        now: Timestamp,
    ) -> Result<MediaState> {
        let m = self.media(id).await?;
        let attempts = m.attempts + 1;
        let state = if retryable && attempts < MAX_FETCH_ATTEMPTS { MediaState::Pending } else { MediaState::Failed };
        let next = (state == MediaState::Pending).then(|| to_ms(now + fetch_backoff(attempts)));
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "UPDATE media SET state = $1, attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $5 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(attempts)
        .bind(error)
        .bind(next)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if n.rows_affected() > 0 {
            fetched(&mut tx, id, now).await?;
        }
        self.commit(tx).await?;
        Ok(state)
    }

    /// An agent's upload, already in the media store under `stored_name`.
    pub async fn add_upload(&self, user_id: i64, stored_name: &str, content_type: &str, size: i64) -> Result<Media> {
        let row = self.write_row(sqlx::query(
            "INSERT INTO media (uploaded_by, position, content_type, size_bytes, stored_name, state, created_at)
             VALUES ($1, 0, $2, $3, $4, 'stored', $5) RETURNING id",
        )
        .bind(user_id)
        .bind(content_type)
        .bind(size)
        .bind(stored_name)
        .bind(to_ms(Timestamp::now()))
        )
        .await?;
        self.media(crate::returned_id(&row)?).await
    }

    /// Stores a secret someone chose (an account's SMTP password), sealed; None removes it.
    /// One statement either way: a reader (an e-mail being sent) finds the old
    /// secret or the new one, never none, and a crash cannot lose it half-way.
    pub async fn set_server_secret(&self, name: &str, plain: Option<&str>) -> Result<()> {
        let q = match plain {
            Some(plain) => sqlx::query(
                "INSERT INTO server_keys (name, value) VALUES ($1, $2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(self.seal_server_key(name, plain)?),
            None => sqlx::query("DELETE FROM server_keys WHERE name = $1").bind(name),
        };
        self.write_one(q).await?;
        Ok(())
    }

    /// A secret stored by `set_server_secret`, opened; None when there is none.
    pub async fn server_secret(&self, name: &str) -> Result<Option<String>> {
        let row =
            sqlx::query("SELECT value FROM server_keys WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some(self.open_server_key(name, r.try_get("value")?)?)),
            None => Ok(None),
        }
    }

    /// A key this installation keeps (made at first use, the same on every node).
    pub async fn server_key(&self, name: &str) -> Result<String> {
        let fresh = hex::encode(rand::random::<[u8; 32]>());
        self.write_one(
            sqlx::query("INSERT INTO server_keys (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(self.seal_server_key(name, &fresh)?),
        )
        .await?;
        let row = sqlx::query("SELECT value FROM server_keys WHERE name = $1").bind(name).fetch_one(&self.pool).await?;
        self.open_server_key(name, row.try_get("value")?)
    }
}

/// Tells the log that an attachment of a message was fetched or tried.
async fn fetched(tx: &mut sqlx::AnyConnection, media_id: i64, now: Timestamp) -> Result<()> {
    let row = sqlx::query("SELECT message_id FROM media WHERE id = $1").bind(media_id).fetch_one(&mut *tx).await?;
    let Some(message_id) = row.try_get::<Option<i64>, _>(0)? else { return Ok(()) };
    let ev = textdesk_core::event::DomainEvent::MediaFetched { message_id };
    crate::events::append_for_message(tx, message_id, &ev, None, now).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetches_back_off() {
        assert!(fetch_backoff(1) < fetch_backoff(2));
        assert_eq!(fetch_backoff(9), SignedDuration::from_mins(120));
    }
}
