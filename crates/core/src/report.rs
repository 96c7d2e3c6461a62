//! Reporting's fold (F11): what one logged event adds to the rollups. Each
//! conversation keeps a [`ConvState`] (its [`ConversationClock`] and the
//! dimensions its counts are filed under); [`ConvState::on_event`] moves it
//! by one event and returns the [`Tally`]s to add. The same fold serves the
//! event-log consumer (state kept in the database between batches) and a
//! recomputation from raw events, so the two can be compared.
//! Definitions: docs/metrics.md.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::ConversationStatus;
use crate::event::DomainEvent;
use crate::gate::ConsentState;
use crate::hours::BusinessHours;
use crate::metrics::{ConversationClock, Happening, Measure, Span};
use crate::survey::SurveyKind;

/// Metric names as stored in the rollups.
pub mod metric {
    pub const CONVERSATIONS: &str = "conversations";
    pub const REOPENED: &str = "reopened";
    pub const RESOLVED: &str = "resolved";
    pub const MESSAGES_IN: &str = "messages_in";
    pub const MESSAGES_OUT: &str = "messages_out";
    pub const FIRST_RESPONSE: &str = "first_response";
    pub const FIRST_RESPONSE_BUSINESS: &str = "first_response_business";
    pub const REPLY: &str = "reply";
    pub const REPLY_BUSINESS: &str = "reply_business";
    pub const RESOLUTION: &str = "resolution";
    pub const RESOLUTION_BUSINESS: &str = "resolution_business";
    pub const HANDOFFS: &str = "handoffs";
    /// Bucket: the escalation kind's position in `EscalationKind::ALL`.
    pub const ESCALATED: &str = "escalated";
    /// Bucket: the score; one metric per survey kind.
    pub const SURVEY_SENT: &str = "survey_sent";
    pub const CSAT: &str = "csat";
    pub const NPS: &str = "nps";
    pub const YES_NO: &str = "yes_no";
    /// Contacts counted once: the first time they texted, the first time they opted in.
    pub const CONTACTS_TEXTED: &str = "contacts_texted";
    pub const CONTACTS_OPTED_IN: &str = "contacts_opted_in";
    pub const OPT_OUTS: &str = "opt_outs";
    /// First responses slower than the target (business time).
    pub const SLA_FIRST_RESPONSE: &str = "sla_first_response";
    /// Resolutions slower than the target (business time).
    pub const SLA_RESOLUTION: &str = "sla_resolution";
    /// Later waits (not the first) answered slower than the reply target, or
    /// still waiting past it (business time).
    pub const SLA_REPLY: &str = "sla_reply";
}

/// Which target a customer still waiting has passed (`DomainEvent::SlaMissed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissedTarget {
    /// No person has answered yet: the first-response target.
    FirstResponse,
    /// A later wait: the reply target.
    Reply,
}

impl MissedTarget {
    /// The rollup metric a miss is counted under.
    pub fn metric(self) -> &'static str {
        match self {
            MissedTarget::FirstResponse => metric::SLA_FIRST_RESPONSE,
            MissedTarget::Reply => metric::SLA_REPLY,
        }
    }
}

/// The business's targets the fold marks breaches against (business time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlaTargets {
    pub first_response: Option<SignedDuration>,
    pub reply: Option<SignedDuration>,
    pub resolution: Option<SignedDuration>,
}

impl SlaTargets {
    /// The target a wait is held to: the first response's until a person
    /// has answered in the conversation, then the reply target.
    pub fn for_wait(&self, answered: bool) -> (MissedTarget, Option<SignedDuration>) {
        if answered { (MissedTarget::Reply, self.reply) } else { (MissedTarget::FirstResponse, self.first_response) }
    }
}

/// What the fold needs beside the event: the inbox's hours and the business's clock.
pub struct Context<'a> {
    pub hours: &'a BusinessHours,
    /// Days and hours of the day are the business's (its `time_zone`).
    pub zone: &'a TimeZone,
    pub targets: SlaTargets,
}

/// What a conversation's counts are filed under, and where its clocks stand.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvState {
    pub clock: ConversationClock,
    pub inbox_id: i64,
    pub contact_id: i64,
    /// The inbox's medium (sms, whatsapp…).
    pub medium: String,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub labels: Vec<String>,
    /// A target was missed in this conversation.
    pub breached: bool,
    /// The start of the current wait when the sweep already counted it as
    /// missed: its answer is measured but not counted as missed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missed_wait: Option<Timestamp>,
}

/// Counted once per contact, whichever conversation said it first (a consent
/// change is logged in each of the contact's conversations).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Once {
    Texted(i64),
    OptedIn(i64),
    OptedOut(i64, i64),
}

impl Once {
    /// The key the store claims.
    pub fn key(&self) -> String {
        match self {
            Once::Texted(c) => format!("texted:{c}"),
            Once::OptedIn(c) => format!("opted_in:{c}"),
            Once::OptedOut(c, at) => format!("opted_out:{c}:{at}"),
        }
    }
}

/// Where a count is filed: one rollup cell (labels: the conversation's at the time).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cell {
    pub day: Date,
    pub inbox_id: i64,
    pub team_id: Option<i64>,
    pub agent_id: Option<i64>,
    pub medium: String,
    pub metric: &'static str,
    pub bucket: i64,
}

/// One addition to a cell (`total_ms` is the durations' sum; 0 for counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub cell: Cell,
    pub labels: Vec<String>,
    pub total_ms: i64,
    /// Counted only if the store has not counted it before.
    pub once: Option<Once>,
}

/// A duration's histogram bucket: exact to the second under a minute, to the
/// minute under an hour, to 15 minutes under two days, to the hour under 30
/// days, to the day beyond. Buckets are ordered like the durations.
pub fn bucket_of(d: SignedDuration) -> i64 {
    let s = d.as_secs().max(0);
    match s {
        0..60 => s,
        60..3600 => 60 + s / 60,
        3600..172_800 => 120 + s / 900,
        172_800..2_592_000 => 320 + s / 3600,
        _ => 1100 + (s / 86_400).min(3650),
    }
}

/// The smallest duration a bucket holds (the value a percentile reports).
pub fn bucket_floor(b: i64) -> SignedDuration {
    SignedDuration::from_secs(match b {
        ..60 => b.max(0),
        60..120 => (b - 60) * 60,
        120..320 => (b - 120) * 900,
        320..1100 => (b - 320) * 3600,
        _ => (b - 1100) * 86_400,
    })
}

/// The hour-of-week bucket of the heat map: weekday (Monday 0) × 24 + hour, on the business's clock.
pub fn hour_of_week(at: Timestamp, zone: &TimeZone) -> i64 {
    let z = at.to_zoned(zone.clone());
    i64::from(z.weekday().to_monday_zero_offset()) * 24 + i64::from(z.hour())
}

fn escalation_bucket(kind: crate::escalation::EscalationKind) -> i64 {
    crate::escalation::EscalationKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i64
}

/// The `survey_sent` bucket: the kind's position in [`SurveyKind::ALL`].
pub fn survey_bucket(kind: SurveyKind) -> i64 {
    SurveyKind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as i64
}

fn survey_metric(kind: SurveyKind) -> &'static str {
    match kind {
        SurveyKind::Csat => metric::CSAT,
        SurveyKind::Nps => metric::NPS,
        SurveyKind::YesNo => metric::YES_NO,
    }
}

impl ConvState {
    pub fn new(inbox_id: i64, contact_id: i64, medium: &str) -> Self {
        ConvState { inbox_id, contact_id, medium: medium.to_owned(), ..ConvState::default() }
    }

    fn tally(&self, at: Timestamp, ctx: &Context, m: &'static str, bucket: i64, total_ms: i64) -> Tally {
        Tally {
            cell: Cell {
                day: at.to_zoned(ctx.zone.clone()).date(),
                inbox_id: self.inbox_id,
                team_id: self.team_id,
                agent_id: self.agent_id,
                medium: self.medium.clone(),
                metric: m,
                bucket,
            },
            labels: self.labels.clone(),
            total_ms,
            once: None,
        }
    }

    fn span(&self, at: Timestamp, ctx: &Context, wall: &'static str, business: &'static str, s: Span) -> [Tally; 2] {
        [
            self.tally(at, ctx, wall, bucket_of(s.wall), s.wall.as_millis() as i64),
            self.tally(at, ctx, business, bucket_of(s.business), s.business.as_millis() as i64),
        ]
    }

    fn clock(&mut self, h: Happening, at: Timestamp, ctx: &Context, out: &mut Vec<Tally>) {
        let wait = self.clock.waiting_since;
        // Counted already while the customer still waited (the sweep's `sla_missed`).
        let swept = wait.is_some() && self.missed_wait == wait;
        let measures = self.clock.apply(h, at, ctx.hours);
        let first = measures.iter().any(|m| matches!(m, Measure::FirstResponse(_)));
        for m in measures {
            match m {
                Measure::FirstResponse(s) => {
                    out.extend(self.span(at, ctx, metric::FIRST_RESPONSE, metric::FIRST_RESPONSE_BUSINESS, s));
                    if !swept && ctx.targets.first_response.is_some_and(|t| s.business > t) {
                        self.breached = true;
                        out.push(self.tally(at, ctx, metric::SLA_FIRST_RESPONSE, 0, 0));
                    }
                }
                Measure::ReplyWait(s) => {
                    out.extend(self.span(at, ctx, metric::REPLY, metric::REPLY_BUSINESS, s));
                    // The first wait is held to the first-response target only.
                    if !first && !swept && ctx.targets.reply.is_some_and(|t| s.business > t) {
                        self.breached = true;
                        out.push(self.tally(at, ctx, metric::SLA_REPLY, 0, 0));
                    }
                }
                Measure::Resolution(s) => {
                    out.extend(self.span(at, ctx, metric::RESOLUTION, metric::RESOLUTION_BUSINESS, s));
                    out.push(self.tally(at, ctx, metric::RESOLVED, 0, 0));
                    if ctx.targets.resolution.is_some_and(|t| s.business > t) {
                        self.breached = true;
                        out.push(self.tally(at, ctx, metric::SLA_RESOLUTION, 0, 0));
                    }
                }
                Measure::Handoff => out.push(self.tally(at, ctx, metric::HANDOFFS, 0, 0)),
            }
        }
        if self.clock.waiting_since != wait {
            self.missed_wait = None;
        }
    }

    /// Moves the state by one event at `at`; returns what to add.
    pub fn on_event(&mut self, ev: &DomainEvent, at: Timestamp, ctx: &Context) -> Vec<Tally> {
        use DomainEvent as E;
        let mut out = Vec::new();
        match ev {
            E::ConversationCreated { .. } => {
                out.push(self.tally(at, ctx, metric::CONVERSATIONS, 0, 0));
                self.clock(Happening::Created, at, ctx, &mut out);
            }
            E::MessageReceived { keyword, .. } => {
                out.push(self.tally(at, ctx, metric::MESSAGES_IN, hour_of_week(at, ctx.zone), 0));
                let mut first = self.tally(at, ctx, metric::CONTACTS_TEXTED, 0, 0);
                first.once = Some(Once::Texted(self.contact_id));
                out.push(first);
                // STOP is not a question: it starts no wait.
                if !keyword {
                    self.clock(Happening::CustomerWrote, at, ctx, &mut out);
                }
            }
            E::MessageQueued { automatic, .. } => {
                out.push(self.tally(at, ctx, metric::MESSAGES_OUT, hour_of_week(at, ctx.zone), 0));
                if !automatic {
                    self.clock(Happening::PersonReplied, at, ctx, &mut out);
                }
            }
            E::StatusChanged { from, to, .. } => {
                if *to == ConversationStatus::Resolved && *from != ConversationStatus::Resolved {
                    self.clock(Happening::Resolved, at, ctx, &mut out);
                } else if *from == ConversationStatus::Resolved && *to != ConversationStatus::Resolved {
                    out.push(self.tally(at, ctx, metric::REOPENED, 0, 0));
                    self.clock(Happening::Reopened, at, ctx, &mut out);
                }
            }
            E::Assigned { assignee_id, .. } => self.agent_id = Some(*assignee_id),
            E::Unassigned {} => self.agent_id = None,
            E::TeamChanged { team_id, .. } => self.team_id = *team_id,
            E::LabelsChanged { labels } => {
                let mut l = labels.clone();
                l.sort();
                l.dedup();
                self.labels = l;
            }
            E::LabelCatalogueChanged { label, renamed_to } => {
                self.labels.retain(|l| l != label);
                if let Some(new) = renamed_to {
                    self.labels.push(new.clone());
                    self.labels.sort();
                    self.labels.dedup();
                }
            }
            E::FlowStarted { .. } => self.clock(Happening::BotStarted, at, ctx, &mut out),
            E::HandedOff { team_id, .. } => {
                if team_id.is_some() {
                    self.team_id = *team_id;
                }
                self.clock(Happening::HandedOff, at, ctx, &mut out);
            }
            E::Escalated { to, .. } => out.push(self.tally(at, ctx, metric::ESCALATED, escalation_bucket(*to), 0)),
            // Only while that wait is still open, and once: two sweeps, or a late one, count nothing more.
            E::SlaMissed { target, waiting_since }
                if self.clock.waiting_since == Some(*waiting_since) && self.missed_wait != Some(*waiting_since) =>
            {
                self.missed_wait = Some(*waiting_since);
                self.breached = true;
                out.push(self.tally(at, ctx, target.metric(), 0, 0));
            }
            E::SurveySent { kind, .. } => out.push(self.tally(at, ctx, metric::SURVEY_SENT, survey_bucket(*kind), 0)),
            E::SurveyAnswered { kind, score, agent_id, team_id, .. } => {
                // Filed under the agent and team the conversation had when it was resolved.
                let mut t = self.tally(at, ctx, survey_metric(*kind), i64::from(*score), 0);
                t.cell.agent_id = agent_id.or(self.agent_id);
                t.cell.team_id = team_id.or(self.team_id);
                out.push(t);
            }
            E::ConsentChanged { to: ConsentState::OptedIn, .. } => {
                let mut t = self.tally(at, ctx, metric::CONTACTS_OPTED_IN, 0, 0);
                t.once = Some(Once::OptedIn(self.contact_id));
                out.push(t);
            }
            E::ConsentChanged { to: ConsentState::OptedOut, .. } => {
                let mut t = self.tally(at, ctx, metric::OPT_OUTS, 0, 0);
                t.once = Some(Once::OptedOut(self.contact_id, at.as_millisecond()));
                out.push(t);
            }
            _ => {}
        }
        out
    }
}

/// Rollup cells summed: (cell, label or "" for all) → (count, total ms).
pub type Sums = BTreeMap<(Cell, String), (i64, i64)>;

/// Adds tallies to `sums` as the store does: one row for "all labels" and one
/// per label of the conversation. `seen` keeps the once-per-contact keys.
pub fn add_tallies(sums: &mut Sums, seen: &mut std::collections::BTreeSet<String>, tallies: Vec<Tally>) {
    for t in tallies {
        if let Some(once) = &t.once
            && !seen.insert(once.key())
        {
            continue;
        }
        for label in std::iter::once(String::new()).chain(t.labels.iter().cloned()) {
            let e = sums.entry((t.cell.clone(), label)).or_default();
            e.0 += 1;
            e.1 += t.total_ms;
        }
    }
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
