//! Who a private note mentions, recorded with the note.

use sqlx::Row;
use textdesk_core::list::{handle_matches, mention_handles};

use crate::Result;

/// Records a mention for every active colleague a note's `@handle` names
/// (first name or email local part, case-insensitive). A handle that fits two
/// colleagues mentions both: a heads-up too many is cheaper than one missed.
/// The author is never recorded as mentioning themselves.
pub(crate) async fn record(
    tx: &mut sqlx::AnyConnection,
    (account_id, conversation_id, message_id): (i64, i64, i64),
    author_id: Option<i64>,
    body: &str,
    now_ms: i64,
) -> Result<()> {
    let handles = mention_handles(body);
    if handles.is_empty() {
        return Ok(());
    }
    let users = sqlx::query("SELECT id, name, email FROM users WHERE account_id = $1 AND active = 1")
        .bind(account_id)
        .fetch_all(&mut *tx)
        .await?;
    for u in &users {
        let id: i64 = u.try_get("id")?;
        let (name, email): (String, String) = (u.try_get("name")?, u.try_get("email")?);
        if Some(id) == author_id || !handles.iter().any(|h| handle_matches(h, &name, &email)) {
            continue;
        }
        sqlx::query(
            "INSERT INTO mentions (account_id, conversation_id, message_id, user_id, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(account_id)
        .bind(conversation_id)
        .bind(message_id)
        .bind(id)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
