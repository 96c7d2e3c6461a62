//! The account's retention policy (F14): messages and media of resolved
//! conversations older than N months deleted or redacted, daily, once across
//! every node; a dry run counts what would go.

use jiff::{SignedDuration, Span, Timestamp};
use textdesk_store::{NewAudit, RetentionAction, RetentionCounts, RetentionPolicy};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// How often the policy runs.
pub const RUN_EVERY: SignedDuration = SignedDuration::from_hours(24);

/// The range of months a policy may keep (ten years at most).
pub const MONTHS: std::ops::RangeInclusive<u32> = 1..=120;

/// A policy from what a person typed: months (1 to 120) and `delete` or `redact`.
pub fn parse_policy(months: &str, action: &str) -> ServiceResult<RetentionPolicy> {
    let months: u32 = months
        .trim()
        .parse()
        .ok()
        .filter(|m| MONTHS.contains(m))
        .ok_or_else(|| ServiceError::Invalid("keep messages for 1 to 120 months".into()))?;
    Ok(RetentionPolicy { months, action: RetentionAction::parse(action.trim())? })
}

/// The instant before which messages go: `months` calendar months before
/// `now`, counted in UTC.
pub fn cutoff(now: Timestamp, months: u32) -> Timestamp {
    let span = Span::new().months(i64::from(months.min(*MONTHS.end())));
    now.to_zoned(jiff::tz::TimeZone::UTC).checked_sub(span).map(|z| z.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH)
}

impl Services {
    /// The account's policy and when it last ran, if one is set.
    pub async fn retention_policy(&self, account_id: i64) -> ServiceResult<Option<textdesk_store::StoredRetention>> {
        Ok(self.store.retention_policy(account_id).await?)
    }

    /// What `policy` would take now.
    pub async fn retention_dry_run(
        &self,
        account_id: i64,
        policy: RetentionPolicy,
        now: Timestamp,
    ) -> ServiceResult<RetentionCounts> {
        Ok(self.store.retention_counts(account_id, policy.action, cutoff(now, policy.months)).await?)
    }

    /// Saves the policy (None: keep everything) and says so in the audit trail.
    pub async fn set_retention(
        &self,
        account_id: i64,
        policy: Option<RetentionPolicy>,
        by: Option<i64>,
    ) -> ServiceResult<()> {
        self.store.set_retention_policy(account_id, policy).await?;
        let detail = match policy {
            Some(p) => format!("{} messages of resolved conversations after {} months", p.action.as_str(), p.months),
            None => "keep everything".into(),
        };
        let audit = NewAudit {
            account_id,
            actor_user_id: by,
            action: "retention.changed",
            subject: "retention policy",
            ip: None,
            detail: &detail,
        };
        self.store.record_audit(audit, Timestamp::now()).await?;
        Ok(())
    }

    /// Runs `policy` now: what went, its files deleted, an audit entry.
    pub async fn run_retention(
        &self,
        account_id: i64,
        policy: RetentionPolicy,
        now: Timestamp,
    ) -> ServiceResult<RetentionCounts> {
        let (counts, files) = self.store.apply_retention(account_id, policy.action, cutoff(now, policy.months)).await?;
        for name in &files {
            self.remove_media_file(name).await;
        }
        let detail = format!(
            "{} {} messages and {} files of {} resolved conversations older than {} months; {} events removed",
            if policy.action == RetentionAction::Delete { "deleted" } else { "redacted" },
            counts.messages,
            counts.files,
            counts.conversations,
            policy.months,
            counts.events
        );
        let audit = NewAudit {
            account_id,
            actor_user_id: None,
            action: "retention.ran",
            subject: "retention policy",
            ip: None,
            detail: &detail,
        };
        self.store.record_audit(audit, now).await?;
        Ok(counts)
    }

    /// Runs every account's policy that has not run for a day, each on one
    /// node only (the one whose claim moved `last_run_at`). Returns the runs
    /// this node did.
    pub async fn run_due_retention(&self, now: Timestamp) -> ServiceResult<Vec<(i64, RetentionCounts)>> {
        let mut done = Vec::new();
        for p in self.store.retention_policies().await? {
            if self.store.claim_retention_run(p.account_id, now, now - RUN_EVERY).await? {
                done.push((p.account_id, self.run_retention(p.account_id, p.policy, now).await?));
            }
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_read_from_what_people_type() {
        let p = parse_policy(" 12 ", "redact").unwrap();
        assert_eq!((p.months, p.action), (12, RetentionAction::Redact));
        assert!(parse_policy("0", "delete").is_err());
        assert!(parse_policy("121", "delete").is_err());
        assert!(parse_policy("twelve", "delete").is_err());
        assert!(parse_policy("12", "shred").is_err());
    }

    #[test]
    fn the_cutoff_counts_calendar_months() {
        let now: Timestamp = "2026-03-31T12:00:00Z".parse().unwrap();
        assert_eq!(cutoff(now, 1).to_string(), "2026-02-28T12:00:00Z");
        assert_eq!(cutoff(now, 12).to_string(), "2025-03-31T12:00:00Z");
    }
}
