//! The missed-target sweep: a customer still waiting for a first or a next
//! reply past the business's target (in business time) is counted as a
//! missed target while they wait, not only when the answer finally comes,
//! and so joins the review queue. The sweep writes an `sla_missed` event; the
//! `reports` consumer counts it (once per wait) and queues the conversation
//! as it does any missed target, so a rebuild from the log counts the same.

use jiff::Timestamp;
use textdesk_core::event::DomainEvent;

use crate::services::Services;
use crate::services::error::ServiceResult;
use crate::services::hours::InboxHours;

/// Conversations per inbox looked at on one pass (longest waits first).
const SWEEP_BATCH: i64 = 200;

impl Services {
    /// Counts every customer of every account waiting past their target now,
    /// once per wait across nodes (the wait's mark is the claim); returns how
    /// many waits were counted on this pass. Reports are brought up to date
    /// first (the wait is read from them) and after (to count what was found).
    pub async fn sweep_missed_targets(&self, now: Timestamp) -> ServiceResult<usize> {
        self.run_reports().await?;
        let mut counted = 0;
        for account in self.store.accounts().await? {
            let targets = self.account_settings(account.id).await?.targets.sla();
            let Some(shortest) = [targets.first_response, targets.reply].into_iter().flatten().min() else {
                continue;
            };
            let zone = self.business_zone(account.id).await?;
            for inbox in self.store.inboxes(account.id).await? {
                let hours = InboxHours::of(&inbox, &zone).hours;
                // Business time is never longer than the wall clock's: only waits that long may have missed.
                for (conversation_id, since) in self.store.unswept_waits(inbox.id, now - shortest, SWEEP_BATCH).await? {
                    // The wait as reporting measures it (self-service, notes and automatic replies aside).
                    let Some(state) = self.store.report_state(conversation_id).await? else { continue };
                    let Some(wait) = state.clock.waiting_since else { continue };
                    let at = (account.id, conversation_id);
                    let (kind, target) = targets.for_wait(state.clock.answered);
                    let Some(target) = target else {
                        // No target for this kind of wait: nothing to look at again until the next wait.
                        self.store.mark_swept_wait(at, since, None, now).await?;
                        continue;
                    };
                    if hours.open_time_between(wait, now) <= target {
                        continue;
                    }
                    let missed = DomainEvent::SlaMissed { target: kind, waiting_since: wait };
                    if self.store.mark_swept_wait(at, since, Some(&missed), now).await? {
                        counted += 1;
                    }
                }
            }
        }
        if counted > 0 {
            self.run_reports().await?;
        }
        Ok(counted)
    }
}
