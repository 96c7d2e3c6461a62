//! Reports (F11). [`Rollups`] is a consumer of the event log: in the
//! transaction that moves its cursor, each event moves its conversation's
//! `core::report::ConvState` and adds what it measured to the rollups (by day
//! on the business's clock × inbox × team × agent × medium × label). Reports
//! read summed rollups only ([`build`]), so a year answers as fast as a day;
//! `textdesk report rebuild` forgets them and reads the log again.
//! The monthly summary to managers is in [`summary`]; the sweep that counts
//! customers still waiting past a target is in [`sla`].

pub mod build;
pub mod sla;
pub mod summary;

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use jiff::tz::TimeZone;
use sqlx::AnyConnection;
use textdesk_core::event::DomainEvent;
use textdesk_core::hours::BusinessHours;
use textdesk_core::report::{Context, ConvState, SlaTargets, Tally};
use textdesk_store::reports as db;
use textdesk_store::{Consumer, LoggedEvent, StoreError};

use crate::services::Services;
use crate::services::error::ServiceResult;
use crate::services::hours::InboxHours;
use crate::services::privacy::Progress;

/// The cursor row's name.
pub const CURSOR: &str = "reports";

/// Events read per transaction at most (the store commits sooner, after
/// its time budget, when they take longer: `Store::consume`).
const BATCH: i64 = 500;

/// Whether reporting reads an event at all (deliveries, reads, notes… are not counted).
fn counted(e: &DomainEvent) -> bool {
    use DomainEvent as E;
    matches!(
        e,
        E::ConversationCreated { .. }
            | E::MessageReceived { .. }
            | E::MessageQueued { .. }
            | E::StatusChanged { .. }
            | E::Assigned { .. }
            | E::Unassigned {}
            | E::TeamChanged { .. }
            | E::LabelsChanged { .. }
            | E::LabelCatalogueChanged { .. }
            | E::FlowStarted { .. }
            | E::HandedOff { .. }
            | E::Escalated { .. }
            | E::SurveySent { .. }
            | E::SurveyAnswered { .. }
            | E::ConsentChanged { .. }
            | E::SlaMissed { .. }
    )
}

/// An account's clock and targets, as the fold reads them.
struct AccountClock {
    zone: TimeZone,
    targets: SlaTargets,
}

/// The consumer, with the accounts' zones and targets and the inboxes' hours read before a run.
pub struct Rollups {
    accounts: HashMap<i64, AccountClock>,
    hours: Mutex<HashMap<i64, Arc<BusinessHours>>>,
    /// A missed target puts the conversation in the review queue, when it was
    /// missed lately: not while a rebuild reads history again.
    queue_breaches: bool,
    /// What the batch's events have done so far, written at its end.
    pending: Mutex<Pending>,
}

/// A batch's work not written yet: each conversation's state as its events
/// left it (read once a batch, saved once), and the tallies in order; and
/// the states read ahead for the events about to be counted (None: the
/// conversation is gone and was never counted), taken by their first event.
#[derive(Default)]
struct Pending {
    states: HashMap<i64, (i64, ConvState)>,
    tallies: Vec<(i64, Tally)>,
    ahead: HashMap<i64, Option<ConvState>>,
}

/// How recent a missed target must be to be queued for review: an upgrade
/// counts the whole log once, and a supervisor wants this week's, not last
/// year's.
const BREACH_QUEUED_WITHIN: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

impl Rollups {
    async fn load(s: &Services, queue_breaches: bool) -> ServiceResult<Rollups> {
        let mut accounts = HashMap::new();
        let mut hours = HashMap::new();
        for a in s.store.accounts().await? {
            let settings = s.account_settings(a.id).await?;
            let zone = s.business_zone(a.id).await?;
            for inbox in s.store.inboxes(a.id).await? {
                hours.insert(inbox.id, Arc::new(InboxHours::of(&inbox, &zone).hours));
            }
            accounts.insert(a.id, AccountClock { zone, targets: settings.targets.sla() });
        }
        Ok(Rollups { accounts, hours: Mutex::new(hours), queue_breaches, pending: Mutex::default() })
    }

    async fn hours_of(
        &self,
        tx: &mut AnyConnection,
        inbox_id: i64,
        zone: &TimeZone,
    ) -> textdesk_store::Result<Arc<BusinessHours>> {
        if let Some(h) = self.hours.lock().ok().and_then(|m| m.get(&inbox_id).cloned()) {
            return Ok(h);
        }
        // An inbox added since the run began.
        let inbox = textdesk_store::inbox_in(tx, inbox_id).await?;
        let h = Arc::new(InboxHours::of(&inbox, zone).hours);
        if let Ok(mut m) = self.hours.lock() {
            m.insert(inbox_id, h.clone());
        }
        Ok(h)
    }

    async fn on_event(&self, tx: &mut AnyConnection, e: &LoggedEvent) -> textdesk_store::Result<()> {
        if !counted(&e.event) || e.conversation_id <= 0 {
            return Ok(());
        }
        let Some(account) = self.accounts.get(&e.account_id) else {
            // An account made since the run began: the batch is read again with it.
            return Err(StoreError::Conflict(format!("account {} is new to reports; reading again", e.account_id)));
        };
        let earlier = {
            let mut pending = self.pending();
            match pending.states.remove(&e.conversation_id) {
                Some((_, s)) => Some(Some(s)),
                None => pending.ahead.remove(&e.conversation_id),
            }
        };
        let state = match earlier {
            Some(s) => s,
            None => db::report_state_or_new_in(tx, e.conversation_id).await?,
        };
        // Erased since: nothing to count.
        let Some(mut state) = state else { return Ok(()) };
        let hours = self.hours_of(tx, state.inbox_id, &account.zone).await?;
        let ctx = Context { hours: &hours, zone: &account.zone, targets: account.targets };
        let was_breached = state.breached;
        let tallies = state.on_event(&e.event, e.created_at, &ctx);
        if self.queue_breaches
            && state.breached
            && !was_breached
            && e.created_at >= jiff::Timestamp::now() - BREACH_QUEUED_WITHIN
        {
            let why = textdesk_core::review::ReviewReason::SlaBreach;
            textdesk_store::reviews::enqueue(tx, (e.account_id, e.conversation_id), why, None, e.created_at).await?;
        }
        let mut pending = self.pending();
        pending.tallies.extend(tallies.into_iter().map(|t| (e.account_id, t)));
        pending.states.insert(e.conversation_id, (e.account_id, state));
        Ok(())
    }

    /// Reads the clocks of a read of the log's conversations in one
    /// statement (those this batch has not counted yet), not one each.
    async fn read_ahead(&self, tx: &mut AnyConnection, events: &[LoggedEvent]) -> textdesk_store::Result<()> {
        let mut ids: Vec<i64> =
            events.iter().filter(|e| counted(&e.event) && e.conversation_id > 0).map(|e| e.conversation_id).collect();
        {
            let pending = self.pending();
            ids.retain(|id| !pending.states.contains_key(id) && !pending.ahead.contains_key(id));
        }
        ids.sort_unstable();
        ids.dedup();
        let mut states = db::report_states_or_new_in(tx, &ids).await?;
        let mut pending = self.pending();
        for id in ids {
            pending.ahead.insert(id, states.remove(&id));
        }
        Ok(())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        crate::services::batch_state(&self.pending)
    }

    async fn write_pending(&self, tx: &mut AnyConnection) -> textdesk_store::Result<()> {
        let Pending { states, tallies, .. } = std::mem::take(&mut *self.pending());
        db::add_tallies_in(tx, &tallies).await?;
        let states: Vec<((i64, i64), ConvState)> =
            states.into_iter().map(|(conversation_id, (account_id, s))| ((account_id, conversation_id), s)).collect();
        db::save_report_states_in(tx, &states).await
    }
}

impl Consumer for Rollups {
    fn name(&self) -> &str {
        CURSOR
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.on_event(tx, event)
    }

    fn begin(&self) {
        *self.pending() = Pending::default();
    }

    fn prepare<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        events: &'a [LoggedEvent],
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.read_ahead(tx, events)
    }

    fn finish<'a>(&'a self, tx: &'a mut AnyConnection) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.write_pending(tx)
    }
}

impl Services {
    /// Adds every event not counted yet to the rollups; returns how many it
    /// passed. The background loop runs it as events are written; tests call
    /// it to bring reports up to date.
    pub async fn run_reports(&self) -> ServiceResult<usize> {
        if !self.store.consumer_behind(CURSOR).await? {
            return Ok(0);
        }
        let rollups = Rollups::load(self, true).await?;
        Ok(self.store.consume_all(&rollups, BATCH).await?)
    }

    /// Forgets the rollups and counts the whole event log again (what the log
    /// still holds after retention), telling `progress` as it goes.
    pub async fn rebuild_reports(&self, progress: &mut dyn FnMut(Progress)) -> ServiceResult<usize> {
        self.store.reset_reports(CURSOR).await?;
        self.count_log(progress, false).await
    }

    /// Counts what the rollups have not counted yet, a batch at a time,
    /// telling `progress` how far through the log it is.
    pub async fn catch_up_reports(&self, progress: &mut dyn FnMut(Progress)) -> ServiceResult<usize> {
        self.count_log(progress, true).await
    }

    async fn count_log(&self, progress: &mut dyn FnMut(Progress), queue_breaches: bool) -> ServiceResult<usize> {
        let total = self.store.last_event_id().await?.max(0) as usize;
        let rollups = Rollups::load(self, queue_breaches).await?;
        let mut passed = 0;
        let step = "counting the event log";
        progress(Progress { done: self.store.consumer_position(CURSOR).await?.max(0) as usize, total, step });
        loop {
            let n = self.store.consume(&rollups, BATCH).await?;
            if n == 0 {
                break;
            }
            passed += n;
            let at = self.store.consumer_position(CURSOR).await?.max(0) as usize;
            progress(Progress { done: at.min(total), total, step });
        }
        progress(Progress { done: total, total, step });
        Ok(passed)
    }

    /// Whether a target (first response, resolution) was missed in the
    /// conversation, as far as reports have counted: for the review queue.
    pub async fn breached(&self, conversation_id: i64) -> ServiceResult<bool> {
        Ok(self.store.report_breached(conversation_id).await?)
    }
}
