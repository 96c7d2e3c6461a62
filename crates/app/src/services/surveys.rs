//! Satisfaction polls by text (F10). A consumer of the event log (cursor
//! `surveys`) arms a conversation's poll when it is resolved (and disarms it
//! when it reopens first) and asks the one follow-up after a low score; the
//! due poll is sent by [`Services::run_due_surveys`] (housekeeping, or a test
//! with its own clock) through the gate as a business-initiated message, each
//! in its own transaction that claims the row, so it goes once across a crash
//! or several nodes. Answers and comments are read by ingest, where the
//! customer's text is placed (a score must not reopen the conversation).

use std::collections::HashMap;
use std::future::Future;

use jiff::{SignedDuration, Timestamp};
use sqlx::AnyConnection;
use textdesk_core::event::DomainEvent;
use textdesk_core::gate::OutboundKind;
use textdesk_core::survey_settings::SurveySettings;
use textdesk_core::timing::TimingPolicy;
use textdesk_core::{Body, ConsentState, ConversationStatus};
use textdesk_store::automations::{queue_reply, situation};
use textdesk_store::surveys as db;
use textdesk_store::{Consumer, Inbox, LoggedEvent, NewOutbound, Situation, StoreError, Survey, inbox_in};

use crate::services::Services;
use crate::services::error::ServiceResult;

/// The cursor row's name.
pub const SURVEYS: &str = "surveys";

/// A follow-up the consumer reaches later than this after the score (the
/// server was down) is not sent: the customer has moved on.
const FOLLOWUP_FRESH: SignedDuration = SignedDuration::from_mins(10);

/// Polls one pass sends or expires.
const BATCH: i64 = 200;

/// An inbox's poll settings. They were checked when saved; a row edited by
/// hand reads as switched off, and says so in the log.
pub fn survey_settings(inbox: &Inbox) -> SurveySettings {
    match inbox.settings.get("survey") {
        None | Some(serde_json::Value::Null) => SurveySettings::default(),
        Some(v) => SurveySettings::parse(v).unwrap_or_else(|e| {
            tracing::warn!(inbox = inbox.id, error = %e, "an inbox's poll settings cannot be read; polls are off");
            SurveySettings::default()
        }),
    }
}

/// What one pass of the due polls did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SurveyPass {
    pub sent: usize,
    pub suppressed: usize,
    pub expired: usize,
}

/// The consumer: everything it reads goes through the batch's transaction,
/// and each account's timing policy is read before the batch.
pub struct Keeper {
    policies: HashMap<i64, TimingPolicy>,
    fallback: TimingPolicy,
    services: Services,
}

impl Consumer for Keeper {
    fn name(&self) -> &str {
        SURVEYS
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.on_event(tx, event)
    }
}

impl Keeper {
    async fn on_event(&self, tx: &mut AnyConnection, event: &LoggedEvent) -> textdesk_store::Result<()> {
        use ConversationStatus::Resolved;
        match &event.event {
            DomainEvent::StatusChanged { to: Resolved, .. } => {
                let s = match situation(tx, event.conversation_id, Timestamp::now()).await {
                    Err(StoreError::NotFound(_)) => return Ok(()),
                    other => other?,
                };
                // Reopened since (a later event disarms it), or polls are off here.
                if s.conversation.status != Resolved {
                    return Ok(());
                }
                let settings = survey_settings(&inbox_in(tx, s.conversation.inbox_id).await?);
                if settings.enabled {
                    db::arm(tx, &s.conversation, settings.kind, event.created_at + settings.delay()).await?;
                }
            }
            DomainEvent::StatusChanged { from: Resolved, .. } => db::disarm(tx, event.conversation_id).await?,
            DomainEvent::SurveyAnswered { survey_id, kind, score, .. } if kind.is_low(*score) => {
                self.follow_up(tx, *survey_id, event.created_at).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The one question after a low score, as an answer to the customer's
    /// text (quiet hours do not hold it: they just wrote).
    async fn follow_up(&self, tx: &mut AnyConnection, survey_id: i64, at: Timestamp) -> textdesk_store::Result<()> {
        let now = Timestamp::now();
        let Some(survey) = db::survey_in(tx, survey_id).await? else { return Ok(()) };
        if survey.followup_message_id.is_some() || now.duration_since(at) > FOLLOWUP_FRESH {
            return Ok(());
        }
        let s = situation(tx, survey.conversation_id, now).await?;
        let inbox = inbox_in(tx, survey.inbox_id).await?;
        let settings = survey_settings(&inbox);
        let text = settings.followup_for(s.attributes.get("language").map(String::as_str));
        let policy = self.policies.get(&inbox.account_id).unwrap_or(&self.fallback);
        let mut timing = policy.timing(s.contact_time_zone.as_deref(), &s.address, s.last_inbound, now);
        timing.live_exchange = true;
        let new = outbound(&s, &inbox, &self.services, Body::parse(&text)?, (OutboundKind::Reply, timing), now);
        match queue_reply(tx, &s, &new).await? {
            Ok(message_id) => db::set_followup(tx, survey.id, message_id, now + settings.expire_after()).await?,
            Err(block) => {
                tracing::info!(survey = survey.id, reason = block.code(), "the poll's follow-up was not sent")
            }
        }
        Ok(())
    }
}

fn outbound(
    s: &Situation,
    inbox: &Inbox,
    services: &Services,
    body: Body,
    (kind, timing): (OutboundKind, textdesk_core::gate::Timing),
    now: Timestamp,
) -> NewOutbound {
    NewOutbound {
        account_id: s.conversation.account_id,
        conversation_id: s.conversation.id,
        author_id: None,
        body,
        private: false,
        kind,
        now,
        timing: Some(timing),
        channel: services.capabilities(&inbox.provider, inbox.medium),
        send_at: None,
        media: Vec::new(),
        template: None,
    }
}

/// A rule's "send the satisfaction poll" (the automations engine, in its
/// transaction): arms the conversation's poll with the inbox's kind, due
/// `after_minutes` from `now`, marked as the rule's so it goes even where the
/// inbox does not poll every conversation. What it did, for the timeline.
pub(crate) async fn arm_for_rule(
    tx: &mut AnyConnection,
    s: &Situation,
    inbox: &Inbox,
    rule_id: i64,
    (after_minutes, now): (u32, Timestamp),
) -> textdesk_store::Result<String> {
    if s.conversation.status != ConversationStatus::Resolved {
        return Ok("did not send the poll: the conversation is not resolved".into());
    }
    let due = now + SignedDuration::from_mins(after_minutes.into());
    let kind = survey_settings(inbox).kind;
    Ok(if !db::arm_for_rule(tx, &s.conversation, kind, due, rule_id).await? {
        "did not send the poll: this conversation had its poll already".into()
    } else if after_minutes == 0 {
        "will send the satisfaction poll".into()
    } else {
        let later = textdesk_core::automation::minutes_words(after_minutes);
        format!("will send the satisfaction poll {later} after the resolve")
    })
}

/// Why a due poll is not sent, if it is not. A rule's poll goes where the
/// inbox does not poll every conversation: the rule chose this one.
fn suppressed_because(survey: &Survey, s: &Situation, settings: &SurveySettings) -> Option<&'static str> {
    if !settings.enabled && survey.rule_id.is_none() {
        Some("switched_off")
    } else if s.last_inbound.is_none() {
        Some("never_wrote")
    } else if s.consent == ConsentState::OptedOut {
        Some("opted_out")
    } else {
        None
    }
}

impl Services {
    /// Starts the consumer at the end of the log the first time it runs: an
    /// upgrade does not poll every conversation resolved before it.
    pub async fn start_surveys(&self) -> ServiceResult<()> {
        Ok(self.store.start_consumer_at_end(SURVEYS).await?)
    }

    /// Hands the consumer every event it has not handled; returns how many it
    /// passed. The automations loop runs it; tests call it.
    pub async fn run_surveys(&self) -> ServiceResult<usize> {
        if !self.store.consumer_behind(SURVEYS).await? {
            return Ok(0);
        }
        let mut policies = HashMap::new();
        for a in self.store.accounts().await? {
            policies.insert(a.id, self.timing_for(a.id).await?);
        }
        let keeper = Keeper { policies, fallback: (*self.timing).clone(), services: self.clone() };
        Ok(self.store.consume_all(&keeper, 100).await?)
    }

    /// Sends the polls due by `now` and expires those unanswered past their
    /// time. Housekeeping runs it; `now` is a parameter so tests move the clock.
    pub async fn run_due_surveys(&self, now: Timestamp) -> ServiceResult<SurveyPass> {
        let mut pass = SurveyPass::default();
        let mut policies: HashMap<i64, TimingPolicy> = HashMap::new();
        for (id, inbox_id) in self.store.due_surveys(now, BATCH).await? {
            // Read before the write transaction (SQLite: one connection holds the lock).
            let inbox = self.store.inbox_by_id(inbox_id).await?;
            let policy = match policies.entry(inbox.account_id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(self.timing_for(inbox.account_id).await?),
            };
            match self.send_due_survey(id, &inbox, policy, now).await? {
                Some(true) => pass.sent += 1,
                Some(false) => pass.suppressed += 1,
                None => {}
            }
        }
        pass.expired = self.store.expire_surveys(now, BATCH).await?;
        Ok(pass)
    }

    /// One due poll in its own transaction: Some(true) sent (or deferred by
    /// quiet hours), Some(false) suppressed, None not due any more.
    async fn send_due_survey(
        &self,
        id: i64,
        inbox: &Inbox,
        policy: &TimingPolicy,
        now: Timestamp,
    ) -> ServiceResult<Option<bool>> {
        let mut tx = self.store.automation_tx().await?;
        let Some(survey) = db::claim_due(&mut tx, id, now).await? else {
            tx.rollback().await.map_err(StoreError::from)?;
            return Ok(None);
        };
        let s = situation(&mut tx, survey.conversation_id, now).await?;
        let settings = survey_settings(inbox);
        let sent = if s.conversation.status != ConversationStatus::Resolved {
            // Reopened while we looked: the next resolve arms it again.
            db::disarm(&mut tx, survey.conversation_id).await?;
            None
        } else if let Some(why) = suppressed_because(&survey, &s, &settings) {
            db::suppress(&mut tx, survey.id, why, now).await?;
            Some(false)
        } else if settings.suppress_days > 0
            && db::sent_since(&mut tx, survey.contact_id, now - settings.suppress_for(), survey.id).await?
        {
            db::suppress(&mut tx, survey.id, "recent_poll", now).await?;
            Some(false)
        } else {
            Some(self.queue_poll(&mut tx, &survey, &s, (inbox, &settings, policy), now).await?)
        };
        self.store.commit_automation(tx).await?;
        Ok(sent)
    }

    /// The poll through the gate as a business-initiated message: no opt-in
    /// blocks it (suppressed with the gate's reason), quiet hours defer it.
    async fn queue_poll(
        &self,
        tx: &mut AnyConnection,
        survey: &Survey,
        s: &Situation,
        (inbox, settings, policy): (&Inbox, &SurveySettings, &TimingPolicy),
        now: Timestamp,
    ) -> ServiceResult<bool> {
        let text = settings.question_for(s.attributes.get("language").map(String::as_str));
        let timing = policy.timing(s.contact_time_zone.as_deref(), &s.address, s.last_inbound, now);
        let new = outbound(s, inbox, self, Body::parse(&text)?, (OutboundKind::Notification, timing), now);
        Ok(match queue_reply(tx, s, &new).await? {
            Ok(message_id) => {
                let goes_at = db::mark_sent(tx, survey, message_id, now).await?;
                db::set_expiry(tx, survey.id, goes_at + settings.expire_after()).await?;
                true
            }
            Err(block) => {
                db::suppress(tx, survey.id, block.code(), now).await?;
                false
            }
        })
    }

    /// A conversation's poll, if it has one (404 for another account's conversation).
    pub async fn surveys(&self, account_id: i64, conversation_id: i64) -> ServiceResult<Vec<Survey>> {
        self.store.conversation(account_id, conversation_id).await?;
        Ok(self.store.surveys_of(account_id, conversation_id).await?)
    }
}
