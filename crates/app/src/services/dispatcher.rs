//! The dispatcher: claims due outbox rows and hands each to its channel. Written
//! as "do one step, say what happened" so tests drive it without sleeping.

use jiff::{SignedDuration, Timestamp};
use textdesk_channels::{Accepted, Outgoing, SendError};
use textdesk_core::ChannelKind;
use textdesk_core::gate::{self, OutboundKind, OutboundRequest, Verdict};
use textdesk_store::Claimed;

use crate::services::Services;
use crate::services::metrics::Metrics;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub deferred: usize,
    pub blocked: usize,
}

const MAX_ATTEMPTS: i64 = 5;
/// How long a claim may stay in `sending` before it is judged interrupted.
pub const CLAIM_LEASE: SignedDuration = SignedDuration::from_mins(5);

/// Exponential backoff with jitter: 2 s, 4 s, 8 s … capped at 5 minutes.
fn backoff(attempts: i64) -> SignedDuration {
    let base = 2i64.saturating_pow(attempts.clamp(1, 10) as u32).min(300);
    let jitter = rand::random_range(0..=base * 250);
    SignedDuration::from_millis(base * 1000 + jitter)
}

impl Services {
    pub async fn dispatch_once(&self, worker: &str, batch: i64) -> textdesk_store::Result<DispatchReport> {
        self.dispatch_at(worker, batch, Timestamp::now()).await
    }

    /// One step as if the clock read `now` (tests move time forward with it).
    pub async fn dispatch_at(
        &self,
        worker: &str,
        batch: i64,
        now: Timestamp,
    ) -> textdesk_store::Result<DispatchReport> {
        let claimed = self.store.claim_due(worker, now, batch).await?;
        let mut report = DispatchReport { claimed: claimed.len(), ..Default::default() };
        for row in claimed {
            // The gate looks again: consent or the hour may have changed while
            // the message waited (a STOP, a retry that slid into the night).
            let timing = (row.kind != OutboundKind::ConsentConfirmation).then(|| {
                self.timing.timing(row.clock.time_zone.as_deref(), &row.clock.address, row.clock.last_inbound, now)
            });
            match gate::decide(&OutboundRequest { kind: row.kind, consent: row.consent, now, timing }) {
                Verdict::Allow => {}
                Verdict::Defer(until) => {
                    self.store.defer_claimed(row.outbox_id, until, now).await?;
                    report.deferred += 1;
                    self.publish(row.account_id, "message.updated", row.conversation_id, Some(row.message_id)).await;
                    continue;
                }
                Verdict::Block(reason) => {
                    self.store.block_claimed(row.outbox_id, reason, now).await?;
                    Metrics::inc(&self.metrics.outbound_blocked);
                    report.blocked += 1;
                    self.publish(row.account_id, "message.updated", row.conversation_id, Some(row.message_id)).await;
                    continue;
                }
            }
            let result = self.send_via_channel(&row).await;
            match result {
                Ok(accepted) => {
                    let provider_id = accepted.provider_ids.first().map(String::as_str).unwrap_or_default();
                    self.store.mark_sent(row.outbox_id, provider_id, now).await?;
                    Metrics::inc(&self.metrics.outbound_sent);
                    report.sent += 1;
                }
                Err(SendError::Retryable(e)) if row.attempts < MAX_ATTEMPTS => {
                    self.store.mark_failed(row.outbox_id, &e, Some(now + backoff(row.attempts)), now).await?;
                    Metrics::inc(&self.metrics.outbound_retried);
                    report.retried += 1;
                }
                Err(e) => {
                    self.store.mark_failed(row.outbox_id, &e.to_string(), None, now).await?;
                    Metrics::inc(&self.metrics.outbound_failed);
                    report.failed += 1;
                }
            }
            self.publish(row.account_id, "message.updated", row.conversation_id, Some(row.message_id)).await;
        }
        Ok(report)
    }

    async fn send_via_channel(&self, row: &Claimed) -> Result<Accepted, SendError> {
        let msg =
            Outgoing { from: row.sender.clone(), to: row.to.clone(), body: row.body.clone(), ..Default::default() };
        match row.channel_kind {
            ChannelKind::Simulator => self.carrier.send(row.inbox_id, &msg).await,
            other => Err(SendError::Permanent(format!("sending over {other} is not available in this version"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(1) >= SignedDuration::from_secs(2) && backoff(1) <= SignedDuration::from_millis(2500));
        assert!(backoff(3) >= SignedDuration::from_secs(8));
        assert!(backoff(50) <= SignedDuration::from_secs(375));
    }
}
