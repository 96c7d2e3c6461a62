//! A rule in words, as the settings screen shows it to an admin: "When a
//! customer's message arrives, if the inbox is closed: reply “…”. At most once
//! each time the inbox closes." Ids become the names the account uses.

use super::{Action, AssigneeIs, AttributeTest, AutoEscalation, Condition, HoursAre, Once, Rule, TextMatch, Trigger};
use crate::ConsentState;

/// The account's names for the ids a rule holds.
pub trait Names {
    fn inbox(&self, id: i64) -> Option<String>;
    fn user(&self, id: i64) -> Option<String>;
    fn team(&self, id: i64) -> Option<String>;
    /// A channel kind's name for people ("Twilio SMS").
    fn channel(&self, kind: &str) -> Option<String>;
    /// An outgoing webhook's description (or its address).
    fn webhook(&self, _id: i64) -> Option<String> {
        None
    }
    /// A self-service flow's name.
    fn flow(&self, _id: i64) -> Option<String> {
        None
    }
}

/// A rule, sentence by sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleWords {
    /// "When a customer's message arrives"
    pub when: String,
    /// "the inbox is closed", each one a condition that must hold.
    pub conditions: Vec<String>,
    /// "reply “We are closed…”", in the order they run.
    pub actions: Vec<String>,
    /// "At most once each time the inbox closes", when the rule is limited.
    pub once: Option<String>,
}

impl RuleWords {
    /// The whole rule as one sentence (for a screen reader's summary and tests).
    pub fn sentence(&self) -> String {
        let mut s = self.when.clone();
        if !self.conditions.is_empty() {
            s.push_str(", if ");
            s.push_str(&join(&self.conditions, "and"));
        }
        s.push_str(": ");
        s.push_str(&join(&self.actions, "then"));
        s.push('.');
        if let Some(once) = &self.once {
            s.push(' ');
            s.push_str(once);
            s.push('.');
        }
        s
    }
}

impl Rule {
    pub fn words(&self, names: &dyn Names) -> RuleWords {
        RuleWords {
            when: trigger_words(self.trigger()),
            conditions: self.conditions().iter().map(|c| condition_words(c, names)).collect(),
            actions: self.actions().iter().map(|a| action_words(a, names)).collect(),
            once: once_words(self.once()),
        }
    }
}

fn trigger_words(t: &Trigger) -> String {
    match t {
        Trigger::MessageReceived => "When a customer's message arrives".into(),
        Trigger::ConversationCreated => "When a new conversation starts".into(),
        Trigger::ConversationResolved => "When a conversation is resolved".into(),
        Trigger::ConversationReopened => "When a conversation is reopened".into(),
        Trigger::Waited { business_minutes } => {
            format!("When a conversation has waited {} of business hours for a reply", minutes_words(*business_minutes))
        }
        Trigger::Scheduled { days, at } => {
            let days: Vec<String> = days.iter().map(|d| day_name(d)).collect();
            format!("Every {} at {at} (the business's time)", join(&days, "and"))
        }
    }
}

fn condition_words(c: &Condition, names: &dyn Names) -> String {
    match c {
        Condition::Inbox { any_of } => {
            let list: Vec<String> =
                any_of.iter().map(|id| names.inbox(*id).unwrap_or_else(|| format!("inbox #{id} (deleted)"))).collect();
            format!("it came to {}", join(&list, "or"))
        }
        Condition::Channel { any_of } => {
            let list: Vec<String> = any_of.iter().map(|k| names.channel(k).unwrap_or_else(|| k.clone())).collect();
            format!("it came through {}", join(&list, "or"))
        }
        Condition::Medium { any_of } => {
            let list: Vec<String> = any_of.iter().map(|m| m.label().to_owned()).collect();
            format!("the customer writes by {}", join(&list, "or"))
        }
        Condition::Text { matches } => match matches {
            TextMatch::Keyword(words) => {
                let words: Vec<String> = words.iter().map(|w| w.to_uppercase()).collect();
                format!("the whole message is {}", join(&words, "or"))
            }
            TextMatch::Contains(text) => format!("the message contains \u{201c}{text}\u{201d}"),
            TextMatch::Regex(p) => format!("the message matches the pattern {}", p.as_str()),
        },
        Condition::Hours { are: HoursAre::Open } => "the inbox is open".into(),
        Condition::Hours { are: HoursAre::Closed } => "the inbox is closed".into(),
        Condition::Attribute { key, is } => match is {
            AttributeTest::Equals(v) => format!("the contact's {key} is {v}"),
            AttributeTest::NotEquals(v) => format!("the contact's {key} is not {v}"),
            AttributeTest::Present => format!("the contact has a {key}"),
            AttributeTest::Absent => format!("the contact has no {key}"),
        },
        Condition::Consent { any_of } => {
            let list: Vec<String> = any_of.iter().map(|s| consent_words(*s).to_owned()).collect();
            format!("the contact {}", join(&list, "or"))
        }
        Condition::Status { any_of } => {
            let list: Vec<String> = any_of.iter().map(|s| s.as_str().to_owned()).collect();
            format!("the conversation is {}", join(&list, "or"))
        }
        Condition::Priority { any_of } => {
            let list: Vec<String> = any_of.iter().map(|p| p.as_str().to_owned()).collect();
            format!("the priority is {}", join(&list, "or"))
        }
        Condition::HasLabel { label } => format!("it has the label {label}"),
        Condition::LacksLabel { label } => format!("it does not have the label {label}"),
        Condition::Assignee { is } => match is {
            AssigneeIs::Nobody => "nobody is assigned".into(),
            AssigneeIs::Anybody => "someone is assigned".into(),
            AssigneeIs::User { id } => format!("{} is assigned", user_name(names, *id)),
            AssigneeIs::Team { id } => format!("it is with the team {}", team_name(names, *id)),
        },
        Condition::FirstMessage { is: true } => "it is the customer's first message".into(),
        Condition::FirstMessage { is: false } => "it is not the customer's first message".into(),
    }
}

fn action_words(a: &Action, names: &dyn Names) -> String {
    match a {
        Action::Reply { text } => format!("reply \u{201c}{}\u{201d}", text.trim()),
        Action::Assign { user_id } => format!("assign it to {}", user_name(names, *user_id)),
        Action::AssignTeam { team_id } => format!("give it to the team {}", team_name(names, *team_id)),
        Action::AddLabel { label } => format!("add the label {label}"),
        Action::SetPriority { priority } => format!("set the priority to {}", priority.as_str()),
        Action::Snooze { minutes } => format!("snooze it for {}", minutes_words(*minutes)),
        Action::Resolve => "resolve it".into(),
        Action::CallWebhook { webhook_id } => format!(
            "call the webhook {}",
            names.webhook(*webhook_id).unwrap_or_else(|| format!("#{webhook_id} (deleted)"))
        ),
        Action::StartFlow { flow_id } => format!(
            "start the self-service flow \u{201c}{}\u{201d}",
            names.flow(*flow_id).unwrap_or_else(|| format!("#{flow_id} (deleted)"))
        ),
        Action::HandOff => "take the customer from the bot to a person".into(),
        Action::Escalate { to: AutoEscalation::Supervisor, supervisor_id: Some(id), .. } => {
            format!("escalate it to {} (priority urgent)", user_name(names, *id))
        }
        Action::Escalate { to: AutoEscalation::Supervisor, supervisor_id: None, .. } => {
            "escalate it to its team's lead (priority urgent)".into()
        }
        Action::Escalate {
            to: AutoEscalation::Email, send: Some(crate::escalation::EmailContent::Transcript), ..
        } => "email the customer the conversation's transcript (replies come back here)".into(),
        Action::Escalate { to: AutoEscalation::Email, .. } => {
            "ask the customer by email for the details (replies come back here)".into()
        }
        Action::Escalate { to: AutoEscalation::CallbackOffer, .. } => {
            "offer the customer a call back at the next times the business can call".into()
        }
        Action::SendSurvey { after_minutes: 0 } => "send the satisfaction poll".into(),
        Action::SendSurvey { after_minutes } => {
            format!("send the satisfaction poll {} later", minutes_words(*after_minutes))
        }
    }
}

fn once_words(once: Once) -> Option<String> {
    match once {
        Once::EveryTime => None,
        Once::PerClosedPeriod => Some("At most once each time the inbox closes".into()),
        Once::PerWait => Some("At most once while a customer waits".into()),
        Once::PerConversation => Some("At most once per conversation".into()),
    }
}

fn consent_words(s: ConsentState) -> &'static str {
    match s {
        ConsentState::Unknown => "has given no answer on consent",
        ConsentState::OptedIn => "has opted in",
        ConsentState::OptedOut => "has opted out",
    }
}

fn user_name(names: &dyn Names, id: i64) -> String {
    names.user(id).unwrap_or_else(|| format!("person #{id} (removed)"))
}

fn team_name(names: &dyn Names, id: i64) -> String {
    names.team(id).unwrap_or_else(|| format!("#{id} (removed)"))
}

fn day_name(d: &str) -> String {
    match d {
        "mon" => "Monday",
        "tue" => "Tuesday",
        "wed" => "Wednesday",
        "thu" => "Thursday",
        "fri" => "Friday",
        "sat" => "Saturday",
        "sun" => "Sunday",
        other => other,
    }
    .to_owned()
}

/// "45 minutes", "2 hours", "1 hour 30 minutes", "3 days".
pub fn minutes_words(m: u32) -> String {
    let unit = |n: u32, one: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") };
    let (days, hours, mins) = (m / 1440, (m % 1440) / 60, m % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(unit(days, "day"));
    }
    if hours > 0 {
        parts.push(unit(hours, "hour"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(unit(mins, "minute"));
    }
    parts.join(" ")
}

/// "a", "a or b", "a, b or c".
fn join(items: &[String], word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {word} {last}", rest.join(", ")),
    }
}
