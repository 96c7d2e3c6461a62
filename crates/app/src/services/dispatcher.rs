//! The dispatcher: claims due outbox rows and hands each to its channel. Written
//! as "do one step, say what happened" so tests drive it without sleeping.

use std::collections::{HashMap, HashSet};

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use textdesk_channels::provider::{FindSent, SentQuery};
use textdesk_channels::{Accepted, Outgoing, OutgoingTemplate, SendError, registry};
use textdesk_core::gate::{self, OutboundKind, OutboundRequest, Verdict, WindowUse};
use textdesk_core::pacing::{Rate, SenderKind};
use textdesk_core::{ConsentState, Invalid};
use textdesk_store::{Claimed, DueSender, RecordConsent, User};
use tokio::task::JoinSet;

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

/// What a claim pass did, and when the dispatcher should look again.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    /// When a row passed over (its sender not free yet, or the row not due
    /// yet) may go: the next pass need not wait longer.
    pub next_due: Option<Timestamp>,
    /// A sender has more to send than its lane took (it was free but still
    /// sending, or its batch was full): the next pass should come as soon as a
    /// lane finishes.
    pub waiting_on_lane: bool,
}

/// The senders whose claimed rows are being sent, each in a lane of its own:
/// a sender is not claimed again until its lane is done, so its rows leave in
/// order. (Its pace is charged at the claim: docs/decisions.md, "Each sender
/// sends in a lane of its own".)
#[derive(Default)]
pub struct Lanes {
    busy: HashMap<tokio::task::Id, i64>,
    senders: HashSet<i64>,
    sends: JoinSet<ServiceResult<DispatchReport>>,
}

impl Lanes {
    /// Waits for the next lane to finish and frees its sender (never, with no lane open).
    pub async fn next_done(&mut self) -> Option<ServiceResult<DispatchReport>> {
        let Some(done) = self.sends.join_next_with_id().await else {
            return std::future::pending().await;
        };
        Some(self.free(done))
    }

    /// The lanes that have finished, without waiting.
    pub fn reap(&mut self) -> Vec<ServiceResult<DispatchReport>> {
        let mut done = Vec::new();
        while let Some(d) = self.sends.try_join_next_with_id() {
            done.push(self.free(d));
        }
        done
    }

    /// Waits for every lane; the first failure is returned after all have finished.
    pub async fn finish(mut self) -> ServiceResult<DispatchReport> {
        let mut report = DispatchReport::default();
        let mut failure = None;
        while let Some(done) = self.sends.join_next_with_id().await {
            match self.free(done) {
                Ok(r) => report.add(&r),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(report), Err)
    }

    fn start(&mut self, inbox_id: i64, send: impl Future<Output = ServiceResult<DispatchReport>> + Send + 'static) {
        let id = self.sends.spawn(send).id();
        self.busy.insert(id, inbox_id);
        self.senders.insert(inbox_id);
    }

    fn free(
        &mut self,
        done: Result<(tokio::task::Id, ServiceResult<DispatchReport>), tokio::task::JoinError>,
    ) -> ServiceResult<DispatchReport> {
        let id = match &done {
            Ok((id, _)) => *id,
            Err(e) => e.id(),
        };
        if let Some(inbox_id) = self.busy.remove(&id) {
            self.senders.remove(&inbox_id);
        }
        match done {
            Ok((_, report)) => report,
            // The rows it held are settled as interrupted sends once their lease runs out.
            Err(e) => Err(ServiceError::Internal(format!("a send lane ended abnormally: {e}"))),
        }
    }
}

impl DispatchReport {
    fn add(&mut self, r: &DispatchReport) {
        self.claimed += r.claimed;
        self.sent += r.sent;
        self.retried += r.retried;
        self.failed += r.failed;
        self.deferred += r.deferred;
        self.blocked += r.blocked;
        self.released += r.released;
    }
}

const MAX_ATTEMPTS: i64 = 5;

/// Senders claimed side by side in a pass (each claim holds a connection).
const CLAIMS_AT_ONCE: usize = 4;

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

    /// One step on `clock`: a claim pass, then every send it started, to the end.
    async fn dispatch_by(
        &self,
        worker: &str,
        batch: i64,
        clock: impl Fn() -> Timestamp,
    ) -> ServiceResult<DispatchReport> {
        let mut lanes = Lanes::default();
        let pass = self.claim_pass(worker, batch, clock, &mut lanes).await;
        let mut report = lanes.finish().await?;
        report.next_due = pass?.next_due;
        Ok(report)
    }

    /// Claims, for each sender with due rows that is free and not sending
    /// already, as many rows as its pace allows, and starts sending them in a
    /// lane of its own, while the next sender is claimed. Returns without
    /// waiting for the sends.
    ///
    /// Each claim is paced by the clock as it reads at that claim. A pass that
    /// waited for its sends kept every sender's next claim behind the slowest
    /// send of the pass (the first pass after a start, behind a backlog of
    /// consumers, took two seconds and cost each sender a quarter of its
    /// first ten seconds' pace: docs/performance.md). Claiming every sender
    /// first held a row back for the others' claims, and the next row, claimed
    /// on another node, reached the provider right behind it.
    pub async fn claim_pass(
        &self,
        worker: &str,
        batch: i64,
        clock: impl Fn() -> Timestamp,
        lanes: &mut Lanes,
    ) -> ServiceResult<Pass> {
        let started = clock();
        let mut pass = Pass { next_due: self.store.next_not_before(started).await?, ..Pass::default() };
        let mut free = Vec::new();
        for DueSender { inbox_id, tat } in self.store.due_senders(started).await? {
            let rate = self.sender_rate(inbox_id).await?;
            let free_at = rate.zip(tat).map(|(rate, tat)| rate.free_at(tat));
            // Not free yet: passed over without taking the write lock, and
            // looked at again the moment it is.
            if let Some(free_at) = free_at.filter(|t| *t > clock()) {
                pass.next_due = Some(pass.next_due.map_or(free_at, |t| t.min(free_at)));
                continue;
            }
            // Free, but its last rows are still going out: it goes again when they have.
            if lanes.senders.contains(&inbox_id) {
                pass.waiting_on_lane = true;
                continue;
            }
            free.push((inbox_id, rate));
        }
        // A few senders' claims at once: on PostgreSQL each is a transaction of
        // round trips, and one after another a pass over a hundred senders took
        // longer than their pace (SQLite's writers take turns either way).
        let clock = &clock;
        let mut claims = futures_util::stream::iter(free)
            .map(|(inbox_id, rate)| async move {
                let now = clock();
                (inbox_id, now, self.store.claim_for_sender(worker, inbox_id, now, batch, rate).await)
            })
            .buffer_unordered(CLAIMS_AT_ONCE);
        // Every claim under way is seen to its end, even after one fails: one
        // dropped between its commit and its rows' read would leave them
        // claimed and unsent until the lease ran out.
        let mut failure = None;
        while let Some((inbox_id, now, rows)) = claims.next().await {
            let rows = match rows {
                Ok(rows) if !rows.is_empty() => rows,
                Ok(_) => continue,
                Err(e) => {
                    failure = failure.or(Some(e));
                    continue;
                }
            };
            // A full batch: more may be waiting behind it.
            pass.waiting_on_lane |= rows.len() as i64 >= batch;
            let rows: Vec<Claimed> = rows.into_iter().map(|r| self.with_code(r)).collect();
            let services = self.clone();
            lanes.start(inbox_id, async move { services.send_batch(rows, now).await });
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(pass),
        }
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
            // A claim older than a quarter of its lease (far down a long
            // batch) is renewed, so the lease counts from this row's send; a
            // row settled meanwhile by another worker is theirs now. A fresher
            // one needs no write: its send starts inside a quarter of the lease
            // and is cut off at half of it, which leaves a quarter to record it
            // before any settler may take it.
            let sending_at = now.max(Timestamp::now());
            if sending_at.duration_since(row.claimed_at) > self.claim_lease / 4
                && !self.store.take_claim(row.outbox_id, row.claimed_at, sending_at).await?
            {
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
