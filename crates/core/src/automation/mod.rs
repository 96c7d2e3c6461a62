//! Automation rules: what an account asks to happen on its own (an off-hours
//! reply, a holding message, a label on every text that says "invoice"), as
//! values that are checked when saved and decided purely.
//!
//! A rule is a trigger, conditions that must all hold, and actions. The engine
//! (a consumer of the event log, in the app) builds the [`Facts`] of a moment
//! and asks [`Rule::decide`]; sending actions are also asked of the
//! [`guard`], which is what keeps two machines from talking to each other and
//! keeps automation quiet once a person is in the conversation.

mod action;
mod condition;
pub mod guard;
mod words;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use action::{Action, AutoEscalation};
pub use condition::{AssigneeIs, AttributeTest, Condition, HoursAre, Pattern, TextMatch};
pub use words::{Names, RuleWords, minutes_words};

use crate::{ConsentState, ConversationStatus, Invalid, Medium, Priority};

/// What makes a rule look at a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A customer's message was stored (never a consent keyword: those are
    /// answered inside ingest, as the law wants).
    MessageReceived,
    ConversationCreated,
    ConversationResolved,
    ConversationReopened,
    /// An open conversation has waited this many minutes of business time for
    /// a person's reply.
    Waited {
        business_minutes: u32,
    },
    /// Every week on these days (`mon`…`sun`) at this time (`HH:MM`), in the
    /// business's zone, for every conversation the conditions pick.
    Scheduled {
        days: Vec<String>,
        at: String,
    },
}

impl Trigger {
    /// The longest wait a rule may name: a week.
    pub const MAX_WAIT_MINUTES: u32 = 7 * 24 * 60;

    fn check(&self) -> Result<(), Invalid> {
        match self {
            Trigger::Waited { business_minutes: m } if *m == 0 || *m > Self::MAX_WAIT_MINUTES => {
                Err(Invalid::new("a wait is between 1 minute and 10080 minutes (a week)"))
            }
            Trigger::Scheduled { days, at } => {
                if days.is_empty() {
                    return Err(Invalid::new("a scheduled rule runs on at least one day of the week"));
                }
                if let Some(d) = days.iter().find(|d| !DAYS.contains(&d.as_str())) {
                    return Err(Invalid::new(format!("{d:?} is not a day: use mon, tue, wed, thu, fri, sat or sun")));
                }
                parse_clock(at).map(|_| ())
            }
            _ => Ok(()),
        }
    }

    /// Whether `moment` is this trigger's (for `Waited` and `Scheduled`, the
    /// engine has already checked the time; this matches the kind).
    pub fn fires_on(&self, moment: Moment) -> bool {
        matches!(
            (self, moment),
            (Trigger::MessageReceived, Moment::MessageReceived)
                | (Trigger::ConversationCreated, Moment::ConversationCreated)
                | (Trigger::ConversationResolved, Moment::ConversationResolved)
                | (Trigger::ConversationReopened, Moment::ConversationReopened)
                | (Trigger::Waited { .. }, Moment::Waited)
                | (Trigger::Scheduled { .. }, Moment::Scheduled)
        )
    }
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// "HH:MM" on a 24-hour clock.
fn parse_clock(s: &str) -> Result<jiff::civil::Time, Invalid> {
    let bad = || Invalid::new(format!("write the time like 09:30 (got {s:?})"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    jiff::civil::Time::new(h, m, 0, 0).map_err(|_| bad())
}

/// The kind of moment the engine is deciding about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    MessageReceived,
    ConversationCreated,
    ConversationResolved,
    ConversationReopened,
    Waited,
    Scheduled,
}

/// How often a rule may fire in one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Once {
    /// Every time it matches (the guard still limits what it sends).
    #[default]
    EveryTime,
    /// Once while the inbox is closed (keyed by the next opening): the
    /// off-hours reply.
    PerClosedPeriod,
    /// Once per wait for a person (keyed by when the wait began): the holding
    /// message.
    PerWait,
    /// Once in the conversation's life.
    PerConversation,
}

/// The rules that come with every inbox. An admin sees, edits and can switch
/// them off like any other; they are marked so that the settings screen can
/// say where they came from and offer to restore the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    OffHoursReply,
    HoldingMessage,
}

/// A saved rule, valid by construction: parse it with [`Rule::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RuleSpec", into = "RuleSpec")]
pub struct Rule {
    name: String,
    enabled: bool,
    trigger: Trigger,
    conditions: Vec<Condition>,
    actions: Vec<Action>,
    once: Once,
    builtin: Option<Builtin>,
}

/// A rule as stored and as the API and settings form give it, before checking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub actions: Vec<Action>,
    #[serde(default)]
    pub once: Once,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<Builtin>,
}

fn yes() -> bool {
    true
}

impl Rule {
    pub const MAX_NAME_CHARS: usize = 80;
    pub const MAX_CONDITIONS: usize = 20;
    pub const MAX_ACTIONS: usize = 10;

    /// A rule from its stored or submitted form; the error says, in words fit
    /// for the admin who wrote it, what is wrong and where.
    pub fn parse(spec: RuleSpec) -> Result<Rule, Invalid> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > Self::MAX_NAME_CHARS {
            return Err(Invalid::new("a rule's name is 1 to 80 characters"));
        }
        spec.trigger.check()?;
        if spec.conditions.len() > Self::MAX_CONDITIONS {
            return Err(Invalid::new("a rule has at most 20 conditions"));
        }
        if spec.actions.is_empty() {
            return Err(Invalid::new("a rule does at least one thing: add an action"));
        }
        if spec.actions.len() > Self::MAX_ACTIONS {
            return Err(Invalid::new("a rule has at most 10 actions"));
        }
        for (n, c) in spec.conditions.iter().enumerate() {
            c.check(&spec.trigger).map_err(|e| Invalid::new(format!("condition {}: {e}", n + 1)))?;
        }
        for (n, a) in spec.actions.iter().enumerate() {
            a.check().map_err(|e| Invalid::new(format!("action {}: {e}", n + 1)))?;
            if matches!(a, Action::SendSurvey { .. }) && spec.trigger != Trigger::ConversationResolved {
                return Err(Invalid::new(format!(
                    "action {}: a poll asks about a finished conversation: use the \"conversation resolved\" trigger",
                    n + 1
                )));
            }
        }
        if spec.once == Once::PerWait && !matches!(spec.trigger, Trigger::Waited { .. }) {
            return Err(Invalid::new("\"once per wait\" is only for a rule that runs after a wait"));
        }
        Ok(Rule {
            name: name.to_owned(),
            enabled: spec.enabled,
            trigger: spec.trigger,
            conditions: spec.conditions,
            actions: spec.actions,
            once: spec.once,
            builtin: spec.builtin,
        })
    }

    /// The off-hours reply every inbox starts with: the customer's text while
    /// the inbox is closed gets one answer per closed period naming the next
    /// opening in their zone.
    pub fn off_hours_reply(text: &str, enabled: bool) -> Result<Rule, Invalid> {
        Rule::parse(RuleSpec {
            name: "After hours".into(),
            enabled,
            trigger: Trigger::MessageReceived,
            conditions: vec![Condition::Hours { are: HoursAre::Closed }],
            actions: vec![Action::Reply { text: text.to_owned() }],
            once: Once::PerClosedPeriod,
            builtin: Some(Builtin::OffHoursReply),
        })
    }

    /// The holding message: an open conversation that has waited
    /// `after_minutes` of business time for a person is told it has been seen.
    pub fn holding_message(after_minutes: u32, text: &str, enabled: bool) -> Result<Rule, Invalid> {
        Rule::parse(RuleSpec {
            name: "Holding message".into(),
            enabled,
            trigger: Trigger::Waited { business_minutes: after_minutes },
            conditions: vec![
                Condition::Hours { are: HoursAre::Open },
                Condition::Status { any_of: vec![ConversationStatus::Open] },
            ],
            actions: vec![Action::Reply { text: text.to_owned() }],
            once: Once::PerWait,
            builtin: Some(Builtin::HoldingMessage),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    pub fn trigger(&self) -> &Trigger {
        &self.trigger
    }
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
    pub fn actions(&self) -> &[Action] {
        &self.actions
    }
    pub fn once(&self) -> Once {
        self.once
    }
    pub fn builtin(&self) -> Option<Builtin> {
        self.builtin
    }
    /// Whether any action sends the customer a message (and so asks the guard).
    pub fn sends(&self) -> bool {
        self.actions.iter().any(Action::sends)
    }

    /// What this rule does at `moment` given `facts`: nothing unless it is on,
    /// its trigger is the moment's and every condition holds.
    pub fn decide(&self, moment: Moment, facts: &Facts<'_>) -> Decision<'_> {
        if !self.enabled {
            return Decision::Skip(Skip::Disabled);
        }
        if !self.trigger.fires_on(moment) {
            return Decision::Skip(Skip::OtherTrigger);
        }
        if let Some(n) = self.conditions.iter().position(|c| !c.holds(facts)) {
            return Decision::Skip(Skip::Condition(n));
        }
        Decision::Fire(&self.actions)
    }
}

impl TryFrom<RuleSpec> for Rule {
    type Error = Invalid;
    fn try_from(spec: RuleSpec) -> Result<Self, Invalid> {
        Rule::parse(spec)
    }
}

impl From<Rule> for RuleSpec {
    fn from(r: Rule) -> Self {
        RuleSpec {
            name: r.name,
            enabled: r.enabled,
            trigger: r.trigger,
            conditions: r.conditions,
            actions: r.actions,
            once: r.once,
            builtin: r.builtin,
        }
    }
}

/// What the engine knows about a conversation at the moment it decides.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub inbox_id: i64,
    /// The inbox's kind of channel (`twilio`, `smpp`…).
    pub channel: &'a str,
    /// What the inbox carries (SMS, WhatsApp…).
    pub medium: Medium,
    /// The customer's message that triggered the rule (MessageReceived).
    pub text: Option<&'a str>,
    /// Whether the inbox is inside its business hours now.
    pub open_now: bool,
    pub attributes: &'a BTreeMap<String, String>,
    pub consent: ConsentState,
    pub status: ConversationStatus,
    pub priority: Priority,
    pub labels: &'a [String],
    pub assignee_id: Option<i64>,
    pub team_id: Option<i64>,
    /// The message is the first the customer sent in this conversation.
    pub first_message: bool,
    pub now: Timestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'a> {
    Fire(&'a [Action]),
    Skip(Skip),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    OtherTrigger,
    /// The condition at this index (0-based) did not hold.
    Condition(usize),
}

#[cfg(test)]
mod tests;

/// A firing in the conversation's timeline: "Automation “After hours”
/// replied", "… added the label vip and assigned it to Dana", "… did not
/// reply: a person replied in the last 30 minutes".
pub fn describe_firing(rule: &str, did: &[String], silenced: Option<&str>) -> String {
    let mut parts: Vec<String> = did.to_vec();
    if let Some(why) = silenced {
        parts.push(format!("stayed silent: {why}"));
    }
    let what = match parts.len() {
        0 => "ran".to_owned(),
        1 => parts.remove(0),
        _ => {
            let last = parts.pop().unwrap_or_default();
            format!("{} and {last}", parts.join(", "))
        }
    };
    format!("Automation \u{201c}{rule}\u{201d} {what}")
}
