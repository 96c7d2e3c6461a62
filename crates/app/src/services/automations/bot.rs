//! The bot: a self-service flow answering a customer, inside the automations
//! engine's transaction (the one that moves its cursor), so each customer
//! message is answered once across crashes and nodes. Started by a rule's
//! `start_flow`; while it runs, the customer's messages are the flow's and no
//! rule answers them. Lookups and timeouts come back here from
//! [`crate::services::flows`], each in a transaction of its own.

use jiff::Timestamp;
use sqlx::AnyConnection;
use textdesk_core::automation::{Action, Moment, guard};
use textdesk_core::event::{FlowEndReason, HandoffReason};
use textdesk_core::flow::{Next, Outcome, Session};
use textdesk_core::hours::describe_opening;
use textdesk_core::{Body, ConsentState};
use textdesk_store::flows::{self as fdb, FlowSession, SessionEnd, StoredFlow};
use textdesk_store::{Inbox, LoggedEvent, Situation, StoredRule, automations as db};

use super::engine::{Engine, Occasion};
use crate::services::hours::InboxHours;

/// What starting a flow did, for the rule's firing in the timeline.
pub(super) enum Started {
    Yes(String),
    No(String),
    /// Not started, and nothing worth a line in the timeline: the bot or a
    /// person already has the customer (said on every message, it would bury
    /// the conversation).
    NotNeeded,
}

impl Engine {
    /// A customer's message where a flow is running: the flow answers (or a
    /// consent keyword ends it). True when the flow took the message, so the
    /// rules leave it alone.
    pub(super) async fn flow_message(
        &self,
        tx: &mut AnyConnection,
        conversation_id: i64,
        message_id: i64,
        keyword: bool,
    ) -> textdesk_store::Result<bool> {
        let Some(session) = self.session(tx, conversation_id).await? else { return Ok(false) };
        // The message that started the flow (or came just before it) is not an answer to it.
        if message_id <= session.after_message_id {
            return Ok(true);
        }
        let now = Timestamp::now();
        let mut s = self.situation(tx, conversation_id, now).await?;
        self.spend(&s);
        let ids = (s.conversation.account_id, conversation_id);
        if keyword {
            // STOP and its kind have their own answer, from ingest; a STOP also ends the flow.
            if s.consent == ConsentState::OptedOut {
                fdb::end_session(tx, ids, SessionEnd::Ended(FlowEndReason::OptedOut), now).await?;
            }
            return Ok(true);
        }
        let Some(received) = self.received(tx, message_id).await? else { return Ok(true) };
        // Another machine's answer, or a message while the lookup is out: no reply, no step.
        if guard::looks_automatic(&received.text) || session.lookup_input.is_some() {
            return Ok(true);
        }
        let Some(flow) = fdb::flow_in(tx, ids.0, session.flow_id).await? else {
            fdb::end_session(tx, ids, SessionEnd::Ended(FlowEndReason::Finished), now).await?;
            return Ok(false);
        };
        let at = Session { step: session.step.clone(), misses: session.misses };
        let outcome = flow.flow.respond(&at, &received.text);
        self.follow(tx, &mut s, &flow, session.id, outcome, now).await?;
        Ok(true)
    }

    /// A customer's message where a flow is running, asked of the rules that
    /// hand over (`hand_off`) before the bot answers it. True when one took
    /// the customer from the bot, so the bot says its handoff message instead.
    pub(super) async fn rules_hand_off(
        &self,
        tx: &mut AnyConnection,
        event: &LoggedEvent,
        moment: Moment,
        message_id: i64,
    ) -> textdesk_store::Result<bool> {
        // The rules first: read once a batch, and most accounts have none that hand over.
        let rules: Vec<StoredRule> = self
            .rules_of(tx, event.account_id)
            .await?
            .iter()
            .filter(|r| r.rule.enabled() && r.rule.trigger().fires_on(moment))
            .filter(|r| r.rule.actions().iter().any(|a| matches!(a, Action::HandOff)))
            .cloned()
            .collect();
        if rules.is_empty() {
            return Ok(false);
        }
        // Only the customer's answers to the bot: not the message that started it.
        let Some(session) = self.session(tx, event.conversation_id).await? else { return Ok(false) };
        if message_id <= session.after_message_id {
            return Ok(false);
        }
        let now = Timestamp::now();
        let mut s = self.situation(tx, event.conversation_id, now).await?;
        self.spend(&s);
        let Some(received) = self.received(tx, message_id).await? else { return Ok(false) };
        let occasion =
            Occasion { moment, now, received: Some(&received), keyword: false, flow_answers: false, with_bot: true };
        self.run_rules(tx, &rules, &occasion, &mut s).await?;
        Ok(!s.conversation.bot)
    }

    /// A rule's `hand_off`: the flow says its handoff message and ends, and
    /// the conversation waits for a person. False when no flow was running.
    pub(super) async fn hand_off(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        now: Timestamp,
    ) -> textdesk_store::Result<bool> {
        let Some(session) = fdb::session_in(tx, s.conversation.id).await? else { return Ok(false) };
        let ids = (s.conversation.account_id, s.conversation.id);
        match fdb::flow_in(tx, ids.0, session.flow_id).await? {
            Some(flow) => {
                let outcome = flow.flow.hand_over(HandoffReason::Rule, None);
                self.follow(tx, s, &flow, session.id, outcome, now).await?;
            }
            None => {
                let end = SessionEnd::Handoff { reason: HandoffReason::Rule, team_id: None };
                fdb::end_session(tx, ids, end, now).await?;
            }
        }
        s.conversation.bot = false;
        s.conversation.waiting_since = Some(now);
        Ok(true)
    }

    /// A rule's `start_flow`: the conversation becomes the bot's and the
    /// customer gets the first step.
    pub(super) async fn start_flow(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        flow_id: i64,
        now: Timestamp,
    ) -> textdesk_store::Result<Started> {
        if fdb::session_in(tx, s.conversation.id).await?.is_some() {
            return Ok(Started::NotNeeded);
        }
        if s.conversation.assignee_id.is_some() {
            return Ok(Started::NotNeeded);
        }
        if fdb::handed_off_unresolved(tx, s.conversation.id).await? {
            return Ok(Started::NotNeeded);
        }
        let Some(flow) = fdb::flow_in(tx, s.conversation.account_id, flow_id).await? else {
            return Ok(Started::No("could not act: the flow is gone".into()));
        };
        let ids = (s.conversation.account_id, s.conversation.id);
        let session_id = fdb::start_session(tx, ids, &flow, &flow.flow.first_step().name, now).await?;
        s.conversation.bot = true;
        s.conversation.waiting_since = None;
        let outcome = flow.flow.start();
        self.follow(tx, s, &flow, session_id, outcome, now).await?;
        Ok(Started::Yes(format!("started the flow {}", flow.flow.name())))
    }

    /// A lookup's answer (None: it failed or was slow), if the session still
    /// waits for the lookup this node claimed.
    pub(crate) async fn lookup_done(
        &self,
        tx: &mut AnyConnection,
        claimed: &FlowSession,
        value: Option<&str>,
    ) -> textdesk_store::Result<()> {
        let Some(session) = fdb::session_in(tx, claimed.conversation_id).await? else { return Ok(()) };
        let ours = session.id == claimed.id
            && session.lookup_input.is_some()
            && session.lookup_lease_until == claimed.lookup_lease_until;
        if !ours {
            return Ok(());
        }
        let now = Timestamp::now();
        let mut s = db::situation(tx, session.conversation_id, now).await?;
        let Some(flow) = fdb::flow_in(tx, s.conversation.account_id, session.flow_id).await? else { return Ok(()) };
        let outcome = flow.flow.looked_up(&session.step, value);
        self.follow(tx, &mut s, &flow, session.id, outcome, now).await
    }

    /// The flow's polite end when the customer has not answered in time.
    pub(crate) async fn flow_timed_out(
        &self,
        tx: &mut AnyConnection,
        conversation_id: i64,
        now: Timestamp,
    ) -> textdesk_store::Result<bool> {
        let Some(session) = fdb::session_in(tx, conversation_id).await? else { return Ok(false) };
        if session.timeout_at > now || session.lookup_input.is_some() {
            return Ok(false);
        }
        let mut s = db::situation(tx, conversation_id, now).await?;
        let ids = (s.conversation.account_id, conversation_id);
        if let Some(flow) = fdb::flow_in(tx, ids.0, session.flow_id).await? {
            let inbox = self.inbox_of(tx, s.conversation.inbox_id).await?;
            self.bot_says(tx, &mut s, &inbox, &flow.flow.spec().closing_message, now).await?;
        }
        fdb::end_session(tx, ids, SessionEnd::Ended(FlowEndReason::TimedOut), now).await
    }

    /// Sends the outcome's replies and moves the session where it says.
    async fn follow(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        flow: &StoredFlow,
        session_id: i64,
        outcome: Outcome,
        now: Timestamp,
    ) -> textdesk_store::Result<()> {
        let inbox = self.inbox_of(tx, s.conversation.inbox_id).await?;
        let mut replies = outcome.replies;
        // Handed over while nobody is at work: the customer hears when someone will be.
        if matches!(outcome.next, Next::Handoff { .. })
            && !InboxHours::of(&inbox, &self.policy(inbox.account_id).fallback_zone).hours.is_open(now)
            && let Some(last) = replies.last_mut()
            && !last.contains("{next_open}")
        {
            last.push_str(" We are back {next_open}.");
        }
        for text in &replies {
            self.bot_says(tx, s, &inbox, text, now).await?;
        }
        let ids = (s.conversation.account_id, s.conversation.id);
        let timeout_at = now + flow.flow.timeout();
        match outcome.next {
            Next::Stay { step, misses } => fdb::move_session(tx, session_id, (&step, misses), None, timeout_at).await,
            Next::Lookup { step, input } => {
                fdb::move_session(tx, session_id, (&step, 0), Some(&input), timeout_at).await
            }
            Next::Handoff { reason, team_id } => {
                fdb::end_session(tx, ids, SessionEnd::Handoff { reason, team_id }, now).await.map(|_| ())
            }
            Next::End => fdb::end_session(tx, ids, SessionEnd::Ended(FlowEndReason::Finished), now).await.map(|_| ()),
            Next::Callback => self.flow_offers_callback(tx, s, (&inbox, flow), now).await,
        }
    }

    /// A menu's call back choice: the flow ends and the customer gets the
    /// times, as after texting CALL (their answer is read the same way). With
    /// no time to offer, a person takes it instead.
    async fn flow_offers_callback(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        (inbox, flow): (&Inbox, &StoredFlow),
        now: Timestamp,
    ) -> textdesk_store::Result<()> {
        let ids = (s.conversation.account_id, s.conversation.id);
        let hours = InboxHours::of(inbox, &self.policy(inbox.account_id).fallback_zone).hours;
        let last_inbound = s.last_inbound;
        let offered = self.offer_callback(tx, s, (inbox, &hours), last_inbound, now).await?;
        if let Err(why) = offered {
            tracing::info!(conversation = ids.1, why = %why, "a flow's call back choice went to a person");
            self.bot_says(tx, s, inbox, &flow.flow.spec().handoff_message, now).await?;
            let handoff = SessionEnd::Handoff { reason: HandoffReason::Chosen, team_id: None };
            return fdb::end_session(tx, ids, handoff, now).await.map(|_| ());
        }
        fdb::end_session(tx, ids, SessionEnd::Ended(FlowEndReason::CallbackOffered), now).await.map(|_| ())
    }

    /// One bot message through the gate and the outbox, written by no person
    /// (so the thread marks it automatic, like every automatic reply). A
    /// conversation with the bot is a live exchange: quiet hours do not hold
    /// its answers. A block (an opt-out) sends nothing.
    async fn bot_says(
        &self,
        tx: &mut AnyConnection,
        s: &mut Situation,
        inbox: &Inbox,
        template: &str,
        now: Timestamp,
    ) -> textdesk_store::Result<()> {
        let services = &self.services;
        let policy = self.policy(inbox.account_id);
        let hours = InboxHours::of(inbox, &policy.fallback_zone).hours;
        let zone = policy.zone_for(s.contact_time_zone.as_deref(), &s.address);
        let next_open = if hours.is_open(now) {
            Some("now: we are open".to_owned())
        } else {
            hours.next_opening(now).map(|o| describe_opening(o, &zone, now))
        };
        // Checked when the flow was saved; a lookup's value can still make an
        // answer too long, and one bad answer must not stop the engine.
        let Some(body) = services
            .fill(template, self.business_name(inbox.account_id), &s.contact_name, next_open)
            .ok()
            .and_then(|t| Body::parse(t.trim()).ok())
        else {
            tracing::warn!(conversation = s.conversation.id, "a flow's message was not sent: empty or too long");
            return Ok(());
        };
        // A conversation with the bot is a live exchange; a block (an opt-out) sends nothing.
        let last_inbound = s.last_inbound;
        let _ = self.automatic_reply(tx, s, inbox, body, (last_inbound, true), now).await?;
        Ok(())
    }
}
