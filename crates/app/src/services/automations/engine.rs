//! The automations engine: a consumer of the event log. Each event that can
//! trigger a rule (a customer's message, a conversation created, resolved or
//! reopened) is decided against the account's rules inside the transaction
//! that moves the engine's cursor, so what the rules do happens once, even
//! across a crash or several nodes. Waits and scheduled runs are found by
//! [`Services::run_timed_automations`] and each acted on in its own transaction
//! with its once-mark.

use std::future::Future;

use jiff::civil::Weekday;
use jiff::{SignedDuration, Timestamp};
use sqlx::AnyConnection;
use textdesk_core::automation::{Action, AutoEscalation, Decision, Facts, Moment, Once, Trigger, guard};
use textdesk_core::event::DomainEvent;
use textdesk_core::gate::OutboundKind;
use textdesk_core::hours::{BusinessHours, describe_opening};
use textdesk_core::{Body, ConversationStatus};
use textdesk_store::automations::{self as db, Firing};
use textdesk_store::{Consumer, Inbox, LoggedEvent, NewOutbound, Received, Situation, StoreError, StoredRule};

use crate::services::Services;
use crate::services::batch_state as cached;
use crate::services::error::ServiceResult;
use crate::services::hours::InboxHours;

/// The cursor row's name.
pub const ENGINE: &str = "automations";

/// A customer's message older than this when the engine reaches it (the
/// server was down) gets no automatic answer: "we're closed" hours later
/// answers nothing. The rule's other actions still happen.
pub const FRESH: SignedDuration = SignedDuration::from_mins(10);

/// Conversations one timed rule looks at per pass.
const TIMED_BATCH: i64 = 200;

/// A scheduled run missed by more than this (the server was down) is skipped.
const SCHEDULE_GRACE: SignedDuration = SignedDuration::from_hours(1);

/// Everything the engine reads inside its transaction goes through that
/// transaction's connection, and what it needs from elsewhere (the account's
/// timing policy) is read before: on SQLite, a writer holding the lock that
/// waited for a second pooled connection could wait on writers waiting for it.
pub struct Engine {
    pub(super) services: Services,
    /// Each account's timing policy, read before the batch; an account made
    /// since (none of its events can be older than its rules) falls back to
    /// the server's defaults until the next batch reads it.
    pub(super) policies: std::collections::HashMap<i64, textdesk_core::timing::TimingPolicy>,
    /// Each account's name, for automatic replies.
    pub(super) names: std::collections::HashMap<i64, String>,
    /// Each account's call back keyword (`CALL`), empty when switched off.
    pub(super) callback_keywords: std::collections::HashMap<i64, String>,
    /// Each account's rules as this batch first read them (in its
    /// transaction): read once a batch, not twice an event.
    rules: Cache<std::sync::Arc<Vec<StoredRule>>>,
    /// The inboxes this batch has read, the same way.
    inboxes: Cache<Inbox>,
    /// What this batch read ahead for its events (`ahead`).
    pub(super) ahead: std::sync::Mutex<super::ahead::Ahead>,
}

/// What a batch has read, by id; emptied when the next batch begins.
type Cache<T> = std::sync::Mutex<std::collections::HashMap<i64, T>>;

impl Consumer for Engine {
    fn name(&self) -> &str {
        ENGINE
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.on_event(tx, event)
    }

    fn begin(&self) {
        cached(&self.rules).clear();
        cached(&self.inboxes).clear();
        self.forget_ahead();
    }

    fn prepare<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        events: &'a [LoggedEvent],
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.read_ahead(tx, events)
    }
}

/// Which moment an event is to the rules, if any.
pub(super) fn moment_of(event: &DomainEvent) -> Option<Moment> {
    use ConversationStatus::Resolved;
    match event {
        DomainEvent::MessageReceived { .. } => Some(Moment::MessageReceived),
        DomainEvent::ConversationCreated { .. } => Some(Moment::ConversationCreated),
        DomainEvent::StatusChanged { to: Resolved, .. } => Some(Moment::ConversationResolved),
        // Leaving resolved is a reopen, as reports count it; a snooze
        // waking or pending turning open is not (docs/decisions.md).
        DomainEvent::StatusChanged { from: Resolved, .. } => Some(Moment::ConversationReopened),
        _ => None,
    }
}

/// What triggered a decision.
#[derive(Clone, Copy)]
pub(super) struct Occasion<'a> {
    pub(super) moment: Moment,
    pub(super) now: Timestamp,
    pub(super) received: Option<&'a Received>,
    pub(super) keyword: bool,
    /// A rule that fires now starts a self-service flow: the flow answers,
    /// so no other rule replies (no double answers).
    pub(super) flow_answers: bool,
    /// The bot has the customer and only rules that hand over are asked:
    /// nothing they do may write to the customer while the bot still does.
    pub(super) with_bot: bool,
}

impl Engine {
    pub async fn load(services: &Services, account_id: i64) -> ServiceResult<Self> {
        let policy = services.timing_for(account_id).await?;
        let name = services.business_name_of(account_id).await?;
        let keyword = services.account_settings(account_id).await?.escalation.callback_keyword;
        Ok(Engine {
            services: services.clone(),
            policies: [(account_id, policy)].into(),
            names: [(account_id, name)].into(),
            callback_keywords: [(account_id, keyword)].into(),
            rules: Default::default(),
            inboxes: Default::default(),
            ahead: Default::default(),
        })
    }

    /// The engine for every account's events.
    pub async fn load_all(services: &Services, accounts: &[i64]) -> ServiceResult<Self> {
        let mut policies = std::collections::HashMap::new();
        let mut names = std::collections::HashMap::new();
        let mut callback_keywords = std::collections::HashMap::new();
        for &a in accounts {
            policies.insert(a, services.timing_for(a).await?);
            names.insert(a, services.business_name_of(a).await?);
            callback_keywords.insert(a, services.account_settings(a).await?.escalation.callback_keyword);
        }
        Ok(Engine {
            services: services.clone(),
            policies,
            names,
            callback_keywords,
            rules: Default::default(),
            inboxes: Default::default(),
            ahead: Default::default(),
        })
    }

    /// The account's rules, read in the batch's transaction the first time
    /// an event of the batch asks.
    pub(super) async fn rules_of(
        &self,
        tx: &mut AnyConnection,
        account_id: i64,
    ) -> textdesk_store::Result<std::sync::Arc<Vec<StoredRule>>> {
        if let Some(rules) = cached(&self.rules).get(&account_id) {
            return Ok(rules.clone());
        }
        let rules = std::sync::Arc::new(db::rules_in(tx, account_id).await?);
        cached(&self.rules).insert(account_id, rules.clone());
        Ok(rules)
    }

    /// An inbox, read in the batch's transaction the first time an event of
    /// the batch asks.
    pub(super) async fn inbox_of(&self, tx: &mut AnyConnection, inbox_id: i64) -> textdesk_store::Result<Inbox> {
        if let Some(inbox) = cached(&self.inboxes).get(&inbox_id) {
            return Ok(inbox.clone());
        }
        let inbox = textdesk_store::inbox_in(tx, inbox_id).await?;
        cached(&self.inboxes).insert(inbox_id, inbox.clone());
        Ok(inbox)
    }

    /// The account's name for `{business_name}` (the server's while unknown).
    pub(super) fn business_name(&self, account_id: i64) -> &str {
        self.names.get(&account_id).unwrap_or(&self.services.business_name)
    }

    pub(super) fn policy(&self, account_id: i64) -> std::borrow::Cow<'_, textdesk_core::timing::TimingPolicy> {
        match self.policies.get(&account_id) {
            Some(p) => std::borrow::Cow::Borrowed(p),
            None => std::borrow::Cow::Owned((*self.services.timing).clone()),
        }
    }

    async fn on_event(&self, tx: &mut AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<()> {
        let Some(moment) = moment_of(&event.event) else { return Ok(()) };
        let message = match event.event {
            DomainEvent::MessageReceived { message_id, keyword } => Some((message_id, keyword)),
            _ => None,
        };
        // A poll's score is for the poll, not a question for the rules or the bot.
        if let Some((id, _)) = message
            && self.answered_poll(tx, id).await?
        {
            return Ok(());
        }
        // Read once for the call back check and the rules.
        let received = match message {
            Some((id, _)) => self.received(tx, id).await?,
            None => None,
        };
        if let (Some((_, false)), Some(r)) = (message, &received)
            && self.callback_message(tx, (event.account_id, event.conversation_id), r).await?
        {
            return Ok(());
        }
        // A rule may take the customer from the bot (before the bot answers this message).
        if let Some((id, false)) = message
            && self.rules_hand_off(tx, event, moment, id).await?
        {
            return Ok(());
        }
        if let Some((id, keyword)) = message
            && self.flow_message(tx, event.conversation_id, id, keyword).await?
        {
            return Ok(());
        }
        let rules = self.rules_of(tx, event.account_id).await?;
        if !rules.iter().any(|r| r.rule.enabled() && r.rule.trigger().fires_on(moment)) {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut s = match self.situation(tx, event.conversation_id, now).await {
            Err(StoreError::NotFound(_)) => return Ok(()),
            other => other?,
        };
        self.spend(&s);
        let keyword = message.is_some_and(|(_, k)| k);
        let occasion =
            Occasion { moment, now, received: received.as_ref(), keyword, flow_answers: false, with_bot: false };
        self.run_rules(tx, &rules, &occasion, &mut s).await?;
        Ok(())
    }

    /// Decides every rule in order for one conversation at one moment and
    /// does what those that fire say. Returns how many acted.
    pub(super) async fn run_rules(
        &self,
        tx: &mut AnyConnection,
        rules: &[StoredRule],
        occasion: &Occasion<'_>,
        s: &mut Situation,
    ) -> textdesk_store::Result<usize> {
        let now = occasion.now;
        let inbox = self.inbox_of(tx, s.conversation.inbox_id).await?;
        let hours = InboxHours::of(&inbox, &self.policy(inbox.account_id).fallback_zone).hours;
        let mut acted = 0;
        if s.conversation.bot && !occasion.with_bot {
            // A flow is answering (it started at an earlier moment): the rules wait for it to end.
            return Ok(0);
        }
        let before = facts_of(&inbox, &hours, occasion, s);
        let flow_answers = s.conversation.assignee_id.is_none()
            && !occasion.keyword
            && rules.iter().any(|r| {
                matches!(r.rule.decide(occasion.moment, &before), Decision::Fire(a)
                    if a.iter().any(|a| matches!(a, Action::StartFlow { .. })))
            })
            && !textdesk_store::flows::handed_off_unresolved(tx, s.conversation.id).await?;
        let occasion = &Occasion { flow_answers, ..*occasion };
        for r in rules {
            let facts = facts_of(&inbox, &hours, occasion, s);
            let Decision::Fire(actions) = r.rule.decide(occasion.moment, &facts) else { continue };
            let key = match r.rule.once() {
                Once::EveryTime => None,
                Once::PerClosedPeriod => Some(hours.next_opening(now).map(textdesk_store::to_ms).unwrap_or(0)),
                Once::PerWait => Some(s.conversation.waiting_since.map(textdesk_store::to_ms).unwrap_or(0)),
                Once::PerConversation => Some(0),
            };
            if let Some(k) = key
                && !db::mark(tx, r.id, s.conversation.id, k).await?
            {
                continue;
            }
            let firing = self.act(tx, r, actions, occasion, s, (&inbox, &hours)).await?;
            if firing.did.is_empty() && firing.silenced.is_none() {
                continue;
            }
            db::record_firing(tx, s, firing, now).await?;
            acted += 1;
            if s.conversation.bot && !occasion.with_bot {
                // The flow has the customer now; later rules wait for it to end.
                break;
            }
        }
        Ok(acted)
    }

    async fn act<'r>(
        &self,
        tx: &mut AnyConnection,
        r: &'r StoredRule,
        actions: &[Action],
        occasion: &Occasion<'_>,
        s: &mut Situation,
        (inbox, hours): (&Inbox, &BusinessHours),
    ) -> textdesk_store::Result<Firing<'r>> {
        let now = occasion.now;
        let mut firing =
            Firing { rule_id: r.id, rule: r.rule.name(), did: Vec::new(), silenced: None, webhooks: Vec::new() };
        for action in actions {
            if let Action::HandOff = action {
                if self.hand_off(tx, s, now).await? {
                    firing.did.push("took the customer from the bot to a person".into());
                }
                continue;
            }
            if occasion.with_bot && s.conversation.bot && action.sends() {
                // The bot is still talking to the customer: one voice at a time.
                continue;
            }
            if let Action::CallWebhook { webhook_id } = action {
                // Delivered by the webhooks consumer when it reads this firing.
                match db::webhook_name(tx, s.conversation.account_id, *webhook_id).await? {
                    Some(name) => {
                        firing.webhooks.push(*webhook_id);
                        firing.did.push(format!("called the webhook {name}"));
                    }
                    None => firing.did.push("could not act: the webhook is gone".into()),
                }
                continue;
            }
            if let Action::StartFlow { flow_id } = action {
                // A flow answers a person: not a keyword, not another machine, not a stale text.
                let not_for_bot = occasion.keyword
                    || occasion
                        .received
                        .is_some_and(|m| now.duration_since(m.at) > FRESH || guard::looks_automatic(&m.text));
                if not_for_bot && let Some(why) = silence(occasion, s, now) {
                    firing.silenced = Some(why);
                    continue;
                }
                match self.start_flow(tx, s, *flow_id, now).await? {
                    super::bot::Started::Yes(did) | super::bot::Started::No(did) => firing.did.push(did),
                    super::bot::Started::NotNeeded => {}
                }
                continue;
            }
            if let Action::Escalate { to: AutoEscalation::Email, send, .. } = action {
                firing.did.push(self.queue_email(tx, r.id, *send, s, now).await?);
                continue;
            }
            if let Action::SendSurvey { after_minutes } = action {
                let did = crate::services::surveys::arm_for_rule(tx, s, inbox, r.id, (*after_minutes, now)).await?;
                firing.did.push(did);
                continue;
            }
            if let Action::Escalate { to: AutoEscalation::CallbackOffer, .. } = action {
                if let Some(why) = silence(occasion, s, now) {
                    firing.silenced = Some(why);
                    continue;
                }
                let at = occasion.received.map(|m| m.at);
                match self.offer_callback(tx, s, (inbox, hours), at, now).await? {
                    Ok(()) => firing.did.push("offered the customer a call back".into()),
                    Err(why) => firing.did.push(format!("did not offer a call back: {why}")),
                }
                continue;
            }
            if let Action::Reply { text } = action {
                if occasion.flow_answers {
                    firing.silenced = Some("a self-service flow answers the customer".into());
                    continue;
                }
                if let Some(why) = silence(occasion, s, now) {
                    firing.silenced = Some(why);
                    continue;
                }
                match self.reply(tx, s, inbox, hours, text, occasion.received, now).await? {
                    Ok(()) => firing.did.push("replied".into()),
                    Err(why) => firing.did.push(format!("did not reply: {why}")),
                }
                continue;
            }
            match db::apply(tx, s, action, now).await {
                Ok(Some(did)) => firing.did.push(did),
                Ok(None) => {}
                // A user, team or label deleted since the rule was saved: said
                // in the timeline, and the rule's other actions still happen.
                Err(StoreError::Invalid(why)) => firing.did.push(format!("could not act: {why}")),
                Err(StoreError::NotFound(what)) => firing.did.push(format!("could not act: the {what} is gone")),
                Err(e) => return Err(e),
            }
        }
        Ok(firing)
    }

    /// Queues the rule's reply through the gate and the outbox; Err says why
    /// the gate refused it.
    #[allow(clippy::too_many_arguments)]
    async fn reply(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        inbox: &Inbox,
        hours: &BusinessHours,
        template: &str,
        received: Option<&Received>,
        now: Timestamp,
    ) -> textdesk_store::Result<Result<(), String>> {
        let services = &self.services;
        let zone = self.policy(inbox.account_id).zone_for(s.contact_time_zone.as_deref(), &s.address);
        let next_open =
            if hours.is_open(now) { None } else { hours.next_opening(now).map(|o| describe_opening(o, &zone, now)) };
        let business = self.business_name(inbox.account_id);
        let text = services.fill(template, business, &s.contact_name, next_open)?;
        let body = Body::parse(text.trim())?;
        let last_inbound = received.map(|m| m.at).or(s.last_inbound);
        // An answer to the text that just came in is a reply in a live
        // exchange, whatever the account's live window: quiet hours never hold
        // "we're closed" until the morning, when the real answer goes too.
        self.automatic_reply(tx, s, inbox, body, (last_inbound, received.is_some()), now).await
    }

    /// One automatic message (a rule's reply, the bot's words) through the
    /// gate and the outbox, written by no person; Err says why the gate
    /// refused it. `live`: it answers the customer's text just now, so quiet
    /// hours do not hold it.
    pub(super) async fn automatic_reply(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        inbox: &Inbox,
        body: Body,
        (last_inbound, live): (Option<Timestamp>, bool),
        now: Timestamp,
    ) -> textdesk_store::Result<Result<(), String>> {
        let c = &s.conversation;
        let mut timing =
            self.policy(inbox.account_id).timing(s.contact_time_zone.as_deref(), &s.address, last_inbound, now);
        if live {
            timing.live_exchange = true;
        }
        let new = NewOutbound {
            account_id: c.account_id,
            conversation_id: c.id,
            author_id: None,
            body,
            private: false,
            kind: OutboundKind::Reply,
            now,
            timing: Some(timing),
            channel: self.services.capabilities(&inbox.provider, inbox.medium),
            send_at: None,
            media: Vec::new(),
            template: None,
        };
        Ok(match db::queue_reply(tx, s, &new).await? {
            Ok(_) => {
                s.automatic_sent.push(now);
                Ok(())
            }
            Err(block) => Err(block.explain().to_owned()),
        })
    }
}

/// What the rules decide on: the inbox, the moment and the conversation as it is now.
fn facts_of<'a>(inbox: &'a Inbox, hours: &BusinessHours, occasion: &Occasion<'a>, s: &'a Situation) -> Facts<'a> {
    Facts {
        inbox_id: inbox.id,
        channel: &inbox.provider,
        medium: inbox.medium,
        text: occasion.received.map(|m| m.text.as_str()),
        open_now: hours.is_open(occasion.now),
        attributes: &s.attributes,
        consent: s.consent,
        status: s.conversation.status,
        priority: s.conversation.priority,
        labels: &s.conversation.labels,
        assignee_id: s.conversation.assignee_id,
        team_id: s.conversation.team_id,
        first_message: occasion.received.is_some_and(|m| m.first),
        now: occasion.now,
    }
}

/// Why an automatic message must not go now, if it must not.
fn silence(occasion: &Occasion<'_>, s: &Situation, now: Timestamp) -> Option<String> {
    if let Some(m) = occasion.received
        && now.duration_since(m.at) > FRESH
    {
        return Some("the customer's message was too old to answer automatically (the server was not running)".into());
    }
    let exchange = guard::Exchange {
        keyword: occasion.keyword,
        inbound: occasion.received.map(|m| (m.text.as_str(), m.at)),
        last_person_reply_at: s.last_person_reply_at,
        claimed: s.conversation.assignee_id.is_some(),
        automatic_sent: &s.automatic_sent,
    };
    guard::check(&exchange, now).err().map(|why| why.describe().to_owned())
}

impl Services {
    /// Starts the engine's position at the end of the log the first time it
    /// runs, so an upgrade does not act on years of history.
    pub async fn start_automations(&self) -> ServiceResult<()> {
        Ok(self.store.start_consumer_at_end(ENGINE).await?)
    }

    /// Hands the engine every event it has not handled yet. Returns how many
    /// it passed. The background loop runs this when events are written;
    /// tests call it to drive the engine a step at a time.
    pub async fn run_automations(&self) -> ServiceResult<usize> {
        // Caught up (the usual answer between texts): not even the rules are read.
        if !self.store.consumer_behind(ENGINE).await? {
            return Ok(0);
        }
        // An inbox made a moment ago (by the CLI, on another node) has its
        // built-in rules before its first text is decided. Reads only, once made.
        let accounts: Vec<i64> = self.store.accounts().await?.into_iter().map(|a| a.id).collect();
        for &a in &accounts {
            self.ensure_builtin_rules(a).await?;
        }
        let engine = Engine::load_all(self, &accounts).await?;
        Ok(self.store.consume_all(&engine, 100).await?)
    }

    /// The rules that run on time rather than on an event: after a wait of
    /// N business minutes, and on a weekly schedule. Returns how many
    /// conversations a rule acted on. Run by housekeeping; `now` is a
    /// parameter so tests can move the clock.
    pub async fn run_timed_automations(&self, now: Timestamp) -> ServiceResult<usize> {
        let mut acted = 0;
        for account in self.store.accounts().await? {
            self.ensure_builtin_rules(account.id).await?;
            let rules = self.store.automation_rules(account.id).await?;
            for r in rules.iter().filter(|r| r.rule.enabled()) {
                acted += match r.rule.trigger() {
                    Trigger::Waited { business_minutes } => {
                        self.run_waits(account.id, r, *business_minutes, now).await?
                    }
                    Trigger::Scheduled { days, at } => self.run_schedule(account.id, r, (days, at), now).await?,
                    _ => 0,
                };
            }
        }
        Ok(acted)
    }

    async fn run_waits(&self, account_id: i64, r: &StoredRule, minutes: u32, now: Timestamp) -> ServiceResult<usize> {
        let after = SignedDuration::from_mins(minutes.into());
        let engine = Engine::load(self, account_id).await?;
        let mut acted = 0;
        for inbox in self.store.inboxes(account_id).await? {
            if !rule_may_concern(r, inbox.id) {
                continue;
            }
            let hours = self.hours_of(&inbox).await?.hours;
            // Business time does not run while the inbox is closed.
            if !hours.is_open(now) {
                continue;
            }
            for (conversation_id, since) in self.store.unmarked_waits(r.id, inbox.id, now - after, TIMED_BATCH).await? {
                if hours.open_time_between(since, now) < after {
                    continue;
                }
                acted += self.timed_firing(&engine, r, conversation_id, Moment::Waited, None, now).await?;
            }
        }
        Ok(acted)
    }

    async fn run_schedule(
        &self,
        account_id: i64,
        r: &StoredRule,
        (days, at): (&[String], &str),
        now: Timestamp,
    ) -> ServiceResult<usize> {
        let zone = self.business_zone(account_id).await?;
        let Some(run) = last_run(days, at, &zone, now) else { return Ok(0) };
        if now.duration_since(run) > SCHEDULE_GRACE {
            return Ok(0);
        }
        let engine = Engine::load(self, account_id).await?;
        let mark = textdesk_store::to_ms(run);
        let mut acted = 0;
        for conversation_id in self.store.unmarked_for_run(account_id, r.id, mark, TIMED_BATCH).await? {
            acted += self.timed_firing(&engine, r, conversation_id, Moment::Scheduled, Some(mark), now).await?;
        }
        Ok(acted)
    }

    /// One timed rule for one conversation, in its own transaction. A
    /// scheduled run marks every conversation it looked at (`run_mark`), so
    /// it looks once; a wait's mark is the rule's own "once per wait".
    #[allow(clippy::too_many_arguments)]
    async fn timed_firing(
        &self,
        engine: &Engine,
        r: &StoredRule,
        conversation_id: i64,
        moment: Moment,
        run_mark: Option<i64>,
        now: Timestamp,
    ) -> ServiceResult<usize> {
        let mut tx = self.store.automation_tx().await?;
        if let Some(m) = run_mark
            && !db::mark(&mut tx, r.id, conversation_id, m).await?
        {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(0);
        }
        let mut s = db::situation(&mut tx, conversation_id, now).await?;
        let occasion = Occasion { moment, now, received: None, keyword: false, flow_answers: false, with_bot: false };
        let acted = engine.run_rules(&mut tx, std::slice::from_ref(r), &occasion, &mut s).await?;
        self.store.commit_automation(tx).await?;
        Ok(acted)
    }
}

/// Whether a rule could apply to an inbox's conversations (its inbox
/// condition, if it has one).
fn rule_may_concern(r: &StoredRule, inbox_id: i64) -> bool {
    use textdesk_core::automation::Condition;
    r.rule.conditions().iter().all(|c| match c {
        Condition::Inbox { any_of } => any_of.contains(&inbox_id),
        _ => true,
    })
}

/// The latest moment at or before `now` that a weekly schedule names, in `zone`.
fn last_run(days: &[String], at: &str, zone: &jiff::tz::TimeZone, now: Timestamp) -> Option<Timestamp> {
    let (h, m) = at.trim().split_once(':')?;
    let time = jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()?;
    let today = now.to_zoned(zone.clone()).date();
    (0..8).find_map(|back| {
        let day = today.checked_sub(jiff::Span::new().days(back)).ok()?;
        let name = weekday_key(day.weekday());
        if !days.iter().any(|d| d == name) {
            return None;
        }
        let t = day.to_datetime(time).to_zoned(zone.clone()).ok()?.timestamp();
        (t <= now).then_some(t)
    })
}

fn weekday_key(d: Weekday) -> &'static str {
    match d {
        Weekday::Monday => "mon",
        Weekday::Tuesday => "tue",
        Weekday::Wednesday => "wed",
        Weekday::Thursday => "thu",
        Weekday::Friday => "fri",
        Weekday::Saturday => "sat",
        Weekday::Sunday => "sun",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_schedule_names_its_last_run_in_the_business_zone() {
        let ny = jiff::tz::TimeZone::get("America/New_York").unwrap();
        // Thursday 2026-12-03 15:00 in New York.
        let now: Timestamp = "2026-12-03T20:00:00Z".parse().unwrap();
        let days = |d: &[&str]| d.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let run = last_run(&days(&["thu"]), "09:00", &ny, now).unwrap();
        assert_eq!(run, "2026-12-03T14:00:00Z".parse::<Timestamp>().unwrap());
        // Later today has not come: last week's.
        let run = last_run(&days(&["thu"]), "16:00", &ny, now).unwrap();
        assert_eq!(run, "2026-11-26T21:00:00Z".parse::<Timestamp>().unwrap());
        let run = last_run(&days(&["mon", "tue"]), "08:30", &ny, now).unwrap();
        assert_eq!(run, "2026-12-01T13:30:00Z".parse::<Timestamp>().unwrap());
        assert_eq!(last_run(&days(&["mon"]), "8h", &ny, now), None);
    }
}
