//! What a rule does. A reply goes through the gate and the outbox like every
//! other message; the rest are the same conversation actions an agent takes,
//! recorded in the timeline as the rule's.

use serde::{Deserialize, Serialize};

use crate::escalation::EmailContent;
use crate::template::Template;
use crate::{Body, Invalid, LabelName, Priority};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Answer the customer. The text is a canned-response template
    /// (`{contact.first_name|there}`, `{next_open}`).
    Reply {
        text: String,
    },
    Assign {
        user_id: i64,
    },
    AssignTeam {
        team_id: i64,
    },
    AddLabel {
        label: String,
    },
    SetPriority {
        priority: Priority,
    },
    /// Snooze for this many minutes (a customer's reply wakes it, as always).
    Snooze {
        minutes: u32,
    },
    Resolve,
    /// Post the firing to one of the account's outgoing webhooks (as an
    /// `automation.fired` delivery, signed and retried like every other).
    CallWebhook {
        webhook_id: i64,
    },
    /// Hand the conversation to a self-service flow: the bot answers the
    /// customer (through the gate, like every reply) until it ends or hands
    /// over to a person.
    StartFlow {
        flow_id: i64,
    },
    /// Take the customer from the bot to a person: the running flow says its
    /// handoff message and ends, and the conversation waits for a person
    /// (routed like any other; a team set by the rule is kept). Nothing
    /// happens when no flow is running.
    HandOff,
    /// Escalate: to a supervisor (the one named, else the team's lead; priority
    /// urgent, alerted), offer the customer a call back (the next times the
    /// business can call, texted through the gate like a reply), or email the
    /// customer (`send`: a request for the details, the default, or the
    /// transcript) at the address on their contact, sent after the engine's
    /// transaction by the email worker.
    Escalate {
        to: AutoEscalation,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        supervisor_id: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        send: Option<EmailContent>,
    },
    /// Send the inbox's satisfaction poll (its question, kind and limits)
    /// this many minutes after the resolve, even where the inbox does not
    /// poll every conversation: a rule picks which ones are asked.
    SendSurvey {
        #[serde(default)]
        after_minutes: u32,
    },
}

/// Where a rule escalates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoEscalation {
    Supervisor,
    CallbackOffer,
    Email,
}

impl Action {
    /// The longest snooze a rule may set: 30 days.
    pub const MAX_SNOOZE_MINUTES: u32 = 30 * 24 * 60;
    /// The longest a rule's poll waits after the resolve: a week, as the inbox's own delay.
    pub const MAX_SURVEY_DELAY_MINUTES: u32 = 7 * 24 * 60;

    pub(super) fn check(&self) -> Result<(), Invalid> {
        match self {
            Action::Reply { text } => {
                Body::parse(text.trim())?;
                Template::parse(text.trim()).map(|_| ())
            }
            Action::AddLabel { label } => LabelName::parse(label).map(|_| ()),
            Action::Snooze { minutes } if *minutes == 0 || *minutes > Self::MAX_SNOOZE_MINUTES => {
                Err(Invalid::new("a snooze is between 1 minute and 30 days"))
            }
            Action::SendSurvey { after_minutes } if *after_minutes > Self::MAX_SURVEY_DELAY_MINUTES => {
                Err(Invalid::new("a poll goes at most 10080 minutes (a week) after the resolve"))
            }
            Action::Assign { .. }
            | Action::SendSurvey { .. }
            | Action::AssignTeam { .. }
            | Action::SetPriority { .. }
            | Action::Snooze { .. }
            | Action::Resolve
            | Action::CallWebhook { .. }
            | Action::StartFlow { .. }
            | Action::HandOff => Ok(()),
            Action::Escalate { to: AutoEscalation::CallbackOffer, supervisor_id: Some(_), .. } => {
                Err(Invalid::new("a call back offer names no supervisor"))
            }
            Action::Escalate { to: AutoEscalation::Email, supervisor_id: Some(_), .. } => {
                Err(Invalid::new("an email to the customer names no supervisor"))
            }
            Action::Escalate {
                to: AutoEscalation::Supervisor | AutoEscalation::CallbackOffer, send: Some(_), ..
            } => Err(Invalid::new("send (transcript or request) goes with an escalation to email")),
            Action::Escalate { .. } => Ok(()),
        }
    }

    /// Whether the action writes to the customer now (and so asks the guard).
    /// A poll does not: it goes later, by the surveys' own rules.
    pub fn sends(&self) -> bool {
        matches!(
            self,
            Action::Reply { .. }
                | Action::StartFlow { .. }
                | Action::Escalate { to: AutoEscalation::CallbackOffer | AutoEscalation::Email, .. }
        )
    }
}
