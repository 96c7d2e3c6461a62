//! What the first-run checklist needs to know about an account: each fact is
//! read from what the account already holds, so a step ticks itself once done.

use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, StoreError, to_ms};

/// The facts behind the setup steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetupFacts {
    /// An inbox on a real provider (not the simulator).
    pub numbers: i64,
    /// People in the account, invited ones included.
    pub people: i64,
    /// A person has sent a text (not a note, not an automatic reply).
    pub texted: bool,
    /// An admin put the checklist away.
    pub dismissed: bool,
}

impl Store {
    pub async fn setup_facts(&self, account_id: i64) -> Result<SetupFacts> {
        let r = sqlx::query(
            "SELECT a.setup_dismissed_at,
                    (SELECT COUNT(*) FROM inboxes i WHERE i.account_id = a.id AND i.channel_kind <> 'simulator') AS numbers,
                    (SELECT COUNT(*) FROM users u WHERE u.account_id = a.id) AS people,
                    (SELECT COUNT(*) FROM (SELECT 1 FROM messages m JOIN inboxes i ON i.id = m.inbox_id
                       WHERE i.account_id = a.id AND m.direction = 'outbound' AND m.private = 0
                         AND m.author_id IS NOT NULL LIMIT 1) t) AS texted
             FROM accounts a WHERE a.id = $1",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("account"))?;
        Ok(SetupFacts {
            numbers: r.try_get("numbers")?,
            people: r.try_get("people")?,
            texted: r.try_get::<i64, _>("texted")? > 0,
            dismissed: r.try_get::<Option<i64>, _>("setup_dismissed_at")?.is_some(),
        })
    }

    pub async fn dismiss_setup(&self, account_id: i64, now: Timestamp) -> Result<()> {
        self.write_one(
            sqlx::query("UPDATE accounts SET setup_dismissed_at = $1 WHERE id = $2 AND setup_dismissed_at IS NULL")
                .bind(to_ms(now))
                .bind(account_id),
        )
        .await?;
        Ok(())
    }
}
