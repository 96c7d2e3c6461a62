//! The dispatcher: claims due outbox rows and hands each to its channel. Written
//! as "do one step, say what happened" so tests drive it without sleeping.

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use textdesk_channels::provider::{FindSent, SentQuery};
use textdesk_channels::{Accepted, Outgoing, OutgoingTemplate, SendError, registry};
use textdesk_core::gate::{self, OutboundKind, OutboundRequest, Verdict, WindowUse};
use textdesk_core::pacing::{Rate, SenderKind};
use textdesk_core::{ConsentState, Invalid};
use textdesk_store::{Claimed, DueSender, RecordConsent, User};

use crate::services::Services;
use crate::services::automations::engine::FRESH;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::metrics::Metrics;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DispatchReport {
    pub claimed: usize,
    pub sent: usize,
    pub retried: usize,
    pub failed: usize,
    pub deferred: usize,
    pub blocked: usize,
    /// Claimed, then handed back unsent because the node is stopping.
    pub released: usize,
    /// When a row passed over in this step (its sender not free yet, or the
    /// row not due yet) may go: the dispatcher's next step need not wait longer.
    pub next_due: Option<Timestamp>,
}

const MAX_ATTEMPTS: i64 = 5;

/// Exponential backoff with jitter: 2 s, 4 s, 8 s … capped at 5 minutes.
fn backoff(attempts: i64) -> SignedDuration {
    let base = 2i64.saturating_pow(attempts.clamp(1, 10) as u32).min(300);
    let jitter = rand::random_range(0..=base * 250);
    SignedDuration::from_millis(base * 1000 + jitter)
}

impl Services {
    pub async fn dispatch_once(&self, worker: &str, batch: i64) -> ServiceResult<DispatchReport> {
        self.dispatch_by(worker, batch, Timestamp::now).await
    }

    /// One step as if the clock read `now` (tests move time forward with it).
    pub async fn dispatch_at(&self, worker: &str, batch: i64, now: Timestamp) -> ServiceResult<DispatchReport> {
        self.dispatch_by(worker, batch, move || now).await
    }

    /// One step on `clock`: each sender with due rows has as many claimed as
    /// its pace allows, and the senders are served side by side, so a slow or
    /// backlogged one never holds up another.
    ///
    /// A sender's rows leave as soon as they are claimed, while the next
    /// sender is claimed, and each claim is paced by the clock as it reads at
    /// that claim. Claiming every sender first held a row back for the others'
    /// claims, for as long as they took; the next row, claimed on another node
    /// whose wait was shorter, then reached the provider right behind it, and
    /// with three nodes a sender paced at one a second sent three in one
    /// second (the replies benchmark, docs/performance.md).
    async fn dispatch_by(
        &self,
        worker: &str,
        batch: i64,
        clock: impl Fn() -> Timestamp,
    ) -> ServiceResult<DispatchReport> {
        let (claimed, batches) = tokio::sync::mpsc::unbounded_channel();
        let claiming = async move {
            let started = clock();
            let mut next_due = self.store.next_not_before(started).await?;
            for DueSender { inbox_id, tat } in self.store.due_senders(started).await? {
                let rate = self.sender_rate(inbox_id).await?;
                let now = clock();
                // Not free yet: passed over without taking the write lock, and
                // looked at again the moment it is.
                if let (Some(rate), Some(tat)) = (rate, tat)
                    && rate.free_at(tat) > now
                {
                    next_due = Some(next_due.map_or(rate.free_at(tat), |t| t.min(rate.free_at(tat))));
                    continue;
                }
                let rows = self.store.claim_for_sender(worker, inbox_id, now, batch, rate).await?;
                let rows: Vec<Claimed> = rows.into_iter().map(|r| self.with_code(r)).collect();
                if !rows.is_empty() {
                    let _ = claimed.send((rows, now));
                }
            }
            Ok::<Option<Timestamp>, ServiceError>(next_due)
        };
        let sending = futures_util::stream::unfold(batches, |mut rx| async move { rx.recv().await.map(|b| (b, rx)) })
            .map(|(rows, now)| self.send_batch(rows, now))
            .buffer_unordered(usize::MAX)
            .collect::<Vec<_>>();
        let (claiming, sent) = futures_util::future::join(claiming, sending).await;
        let mut report = DispatchReport::default();
        for r in sent {
            let r = r?;
            report.claimed += r.claimed;
            report.sent += r.sent;
            report.retried += r.retried;
            report.failed += r.failed;
            report.deferred += r.deferred;
            report.blocked += r.blocked;
            report.released += r.released;
        }
        report.next_due = claiming?;
        Ok(report)
    }

    /// How fast an inbox's sender may go: its `rate_limit` setting, or what
    /// carriers allow its kind of number. A provider carriers do not meter
    /// (the simulator) is not paced unless set.
    async fn sender_rate(&self, inbox_id: i64) -> ServiceResult<Option<Rate>> {
        let inbox = self.cached_inbox(inbox_id).await?;
        let metered = registry::find(&inbox.provider).is_none_or(|p| p.metered());
        Ok(match rate_setting(&inbox.settings).ok().flatten() {
            Some(rate) => Some(rate),
            None if !metered => None,
            None => Some(SenderKind::of(&inbox.sender).default_rate()),
        })
    }

    /// One sender's claimed rows, in order.
    async fn send_batch(&self, claimed: Vec<Claimed>, now: Timestamp) -> ServiceResult<DispatchReport> {
        let mut report = DispatchReport { claimed: claimed.len(), ..Default::default() };
        for row in claimed {
            if self.shutdown.is_stopping() {
                // Handed back, not sent: the sends already under way finish; the rest go from another node at once.
                match self.store.unclaim(row.outbox_id, Timestamp::now()).await {
                    Ok(()) => report.released += 1,
                    // Settled meanwhile by another node's settler: theirs now.
                    Err(textdesk_store::StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
            // The lease counts from this row's send, not from the batch's
            // claim; a row settled meanwhile by another worker is theirs now.
            let sending_at = now.max(Timestamp::now());
            if !self.store.take_claim(row.outbox_id, row.claimed_at, sending_at).await? {
                continue;
            }
            // The gate looks again: consent or the hour may have changed while
            // the message waited (a STOP, a retry that slid into the night).
            // Quiet hours hold neither a confirmation the law requires nor a
            // code the person is waiting for.
            let timing = if matches!(row.kind, OutboundKind::ConsentConfirmation | OutboundKind::VerificationCode) {
                None
            } else {
                let policy = self.timing_for(row.account_id).await?;
                let mut timing =
                    policy.timing(row.clock.time_zone.as_deref(), &row.clock.address, row.clock.last_inbound, now);
                // An automatic answer to the text that just came in stays an
                // answer; a retry that slid far past it does not.
                if row.live_answer.is_some_and(|queued| now.duration_since(queued) <= FRESH) {
                    timing.live_exchange = true;
                }
                Some(timing)
            };
            let request = OutboundRequest {
                kind: row.kind,
                consent: row.consent,
                now,
                timing,
                channel: self.capabilities(&row.provider, row.medium),
                last_inbound: row.window_inbound,
                template: row.template.is_some(),
                by_person: row.by_person,
            };
            // Sent past the reply window as a person's reply: the provider is told (Messenger's tag).
            let human_agent = request.window_at(now) == WindowUse::HumanAgent;
            match gate::decide(&request) {
                Verdict::Allow => {}
                Verdict::Defer(until) => {
                    self.store.defer_claimed(row.outbox_id, until, now).await?;
                    report.deferred += 1;
                    continue;
                }
                Verdict::Block(reason) => {
                    self.store.block_claimed(row.outbox_id, reason, now).await?;
                    Metrics::inc(&self.metrics.outbound_blocked);
                    report.blocked += 1;
                    continue;
                }
            }
            // A call still open when the settler may look could be accepted after
            // it asked; ending ours at half the lease means it never is.
            let limit = (self.claim_lease / 2).unsigned_abs();
            let Ok(outcome) = tokio::time::timeout(limit, self.send_via_channel(&row, human_agent)).await else {
                tracing::warn!(outbox = row.outbox_id, "a send outlived half the claim lease; it will be settled");
                continue;
            };
            match outcome {
                Ok(accepted) => {
                    self.store.mark_sent(row.outbox_id, &accepted.provider_ids, now).await?;
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
                    // A code's number belongs to no contact yet: its check shows the failure.
                    if let (SendError::OptedOut(why), None) = (&e, &row.phone_check) {
                        self.provider_reports_opt_out(row.account_id, row.inbox_id, row.conversation_id, why).await?;
                    }
                    Metrics::inc(&self.metrics.outbound_failed);
                    report.failed += 1;
                }
            }
        }
        Ok(report)
    }

    /// A provider refused a message because the recipient unsubscribed with
    /// it (Twilio 21610): the ledger records it, for this sender's scope, so
    /// the gate stops further messages before they reach the provider.
    pub async fn provider_reports_opt_out(
        &self,
        account_id: i64,
        inbox_id: i64,
        conversation_id: i64,
        evidence: &str,
    ) -> ServiceResult<()> {
        let conversation = self.store.conversation(account_id, conversation_id).await?;
        let scope = self.store.inbox_consent_scope(inbox_id).await?;
        let record = RecordConsent {
            contact_id: conversation.contact_id,
            conversation_id: Some(conversation_id),
            scope: &scope,
            state: ConsentState::OptedOut,
            source: "provider",
            evidence,
            actor_id: None,
        };
        self.store.record_consent(account_id, record).await?;
        Ok(())
    }

    /// An agent's "retry now" on a failed message or one waiting to retry.
    pub async fn retry_now(&self, user: &User, message_id: i64) -> ServiceResult<()> {
        Ok(self.store.retry_now(user.account_id, message_id, Timestamp::now()).await?)
    }

    /// Settles rows a dead or hung worker left in `sending`. A provider that
    /// can say whether it received the message settles it: recorded as sent,
    /// or sent again. Where it cannot, a person decides (never sent twice).
    pub async fn settle_interrupted(&self, now: Timestamp, lease: SignedDuration) -> ServiceResult<usize> {
        let stale = self.store.stale_claims(now, lease).await?;
        let mut count = 0;
        for row in stale.into_iter().map(|r| self.with_code(r)) {
            // Its worker may be alive after all and sending it right now:
            // only one of us may hold the claim. The claim is read again with
            // the row, so it may have been renewed since it was found stale.
            if row.claimed_at >= now - lease || !self.store.take_claim(row.outbox_id, row.claimed_at, now).await? {
                continue;
            }
            match self.was_accepted(&row).await {
                Ok(Some(ids)) => self.store.mark_sent(row.outbox_id, &ids, now).await?,
                Ok(None) => self.store.requeue_interrupted(row.outbox_id, now).await?,
                Err(Unsettled::Unknowable) => {
                    self.store.mark_interrupted(row.outbox_id, now).await?;
                    Metrics::inc(&self.metrics.outbound_failed);
                }
                // The claim was just renewed: the row is asked about again after another lease.
                Err(Unsettled::AskLater(why)) => {
                    tracing::warn!(outbox = row.outbox_id, reason = %why, "could not ask the provider about an interrupted send");
                    continue;
                }
            }
            count += 1;
        }
        Ok(count)
    }

    /// Asks the row's provider whether it accepted the row's message.
    async fn was_accepted(&self, row: &Claimed) -> Result<Option<Vec<String>>, Unsettled> {
        let inbox = self.store.inbox_by_id(row.inbox_id).await.map_err(|e| Unsettled::AskLater(e.to_string()))?;
        let channel = self.channel(&inbox).await.map_err(|e| Unsettled::AskLater(e.to_string()))?;
        // A little before the claim, for clocks that disagree.
        let since = row.claimed_at - SignedDuration::from_secs(60);
        let query = SentQuery { from: &row.sender, to: &row.to, body: &row.body, since };
        match channel.find_sent(query).await {
            FindSent::Unsupported => Err(Unsettled::Unknowable),
            FindSent::AskLater(why) => Err(Unsettled::AskLater(why)),
            FindSent::Found(found) => {
                let known = self
                    .store
                    .known_provider_ids(row.inbox_id, &found)
                    .await
                    .map_err(|e| Unsettled::AskLater(e.to_string()))?;
                Ok(found.into_iter().find(|sid| !known.contains(sid)).map(|sid| vec![sid]))
            }
        }
    }

    async fn send_via_channel(&self, row: &Claimed, human_agent: bool) -> Result<Accepted, SendError> {
        // A phone check's code carries no attachments (and names no message).
        let media = match row.phone_check {
            Some(_) => Vec::new(),
            None => self
                .outgoing_media(row.message_id)
                .await
                .map_err(|e| SendError::Retryable(format!("reading the attachments failed: {e}")))?,
        };
        let mut media_urls = Vec::with_capacity(media.len());
        let mut media_types = Vec::with_capacity(media.len());
        let mut media_files = Vec::with_capacity(media.len());
        for m in media {
            media_urls.push(m.link);
            media_types.push(m.content_type);
            media_files.push(m.file);
        }
        let template = match row.template.as_deref().map(serde_json::from_str::<OutgoingTemplate>) {
            None => None,
            Some(Ok(t)) => Some(t),
            Some(Err(_)) => {
                return Err(SendError::Permanent("the template this message was sent as could not be read".into()));
            }
        };
        let msg = Outgoing {
            from: row.sender.clone(),
            to: row.to.clone(),
            body: row.body.clone(),
            media_urls,
            media_types,
            media_files,
            template,
            status_callback: None,
            human_agent,
        };
        self.provider_send(row.inbox_id, msg).await
    }
}

/// Why an interrupted send was not settled.
enum Unsettled {
    /// The provider cannot tell whether it received a message.
    Unknowable,
    /// It can, but could not be asked now (network, credentials, database).
    AskLater(String),
}

/// An inbox's `rate_limit` setting: `{"segments_per_second": 3}`.
pub fn rate_setting(settings: &serde_json::Value) -> Result<Option<Rate>, Invalid> {
    match settings.get("rate_limit") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(v) => {
            let per_second = v
                .get("segments_per_second")
                .and_then(serde_json::Value::as_f64)
                .filter(|_| v.as_object().is_some_and(|o| o.len() == 1))
                .ok_or_else(|| Invalid::new("rate_limit: {\"segments_per_second\": a number}"))?;
            Rate::new(per_second).map(Some).map_err(|e| Invalid::new(format!("rate_limit: {e}")))
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
