//! Self-service flows: a numbered menu, answers to keywords, nested steps, a
//! lookup in the business's own system, and a way to a person from every
//! step. A flow is a value checked when saved ([`Flow::parse`]); what the bot
//! says to a customer's reply is decided purely ([`Flow::respond`]), so the
//! app only stores, sends and calls out.
//!
//! A menu's text is written by the bot from its options ("1: Billing"), so a
//! customer always reads every choice, including the way to a person that
//! every menu must offer.

mod file;
mod reply;
mod yaml;

use serde::{Deserialize, Serialize};

pub use file::{FILE_VERSION, FlowFile, ImportError, export, export_yaml, import};
pub use reply::{Choice, Next, Outcome, Session, normalize, number_word};

use crate::Invalid;
use crate::template::Template;

/// Words that ask for a person when a flow names none of its own.
pub const DEFAULT_HANDOFF_WORDS: [&str; 5] = ["AGENT", "HUMAN", "PERSON", "REPRESENTATIVE", "0"];

/// A flow as stored, given by the API and the settings form, before checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowSpec {
    pub name: String,
    /// Whole-message words that hand the customer to a person (any case).
    #[serde(default = "default_handoff_words")]
    pub handoff_words: Vec<String>,
    /// Minutes without a customer's answer after which the flow ends.
    #[serde(default = "default_timeout")]
    pub timeout_minutes: u32,
    /// Sent when the flow ends for lack of an answer.
    #[serde(default = "default_closing")]
    pub closing_message: String,
    /// Sent when the customer is handed to a person.
    #[serde(default = "default_handoff_message")]
    pub handoff_message: String,
    /// Keyword answers, heard at every step (opening hours, the address…).
    #[serde(default)]
    pub answers: Vec<Answer>,
    /// The first step is where the flow starts.
    pub steps: Vec<Step>,
}

fn default_handoff_words() -> Vec<String> {
    DEFAULT_HANDOFF_WORDS.iter().map(|w| (*w).to_owned()).collect()
}
fn default_timeout() -> u32 {
    15
}
fn default_closing() -> String {
    "We have not heard back, so we are closing this for now. Text us any time.".into()
}
fn default_handoff_message() -> String {
    "Thanks, a person will answer you here as soon as they can.".into()
}

/// "hours, open" → "We open {next_open}."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answer {
    pub keywords: Vec<String>,
    pub reply: String,
}

/// One step: a menu (options), a question whose answer is looked up
/// (lookup), or a message that ends the flow (neither).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// How other steps name it ("billing").
    pub name: String,
    /// The menu's first line, the question, or the final message.
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<MenuOption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<Lookup>,
}

/// One numbered choice of a menu: reply, then go to a step, hand over, offer
/// a call back, or (with none of them) end the flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MenuOption {
    /// What the customer types: "1", "2", "0".
    pub key: String,
    /// What the menu calls it: "Billing".
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handoff: Option<Handoff>,
    /// The flow ends and the customer is offered the next times the business
    /// can call (as after texting CALL); their choice joins the call back queue.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub callback: bool,
}

/// Hand the customer to a person, optionally to one team ("the flow's choice").
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handoff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<i64>,
}

/// An outgoing call to the business's system with the customer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    /// `https://…/appointments?phone={phone}&ref={input}`: the contact's
    /// number and what they typed, each URL-encoded.
    pub url: String,
    /// Where the value is in the JSON answer: `appointment.time`, `items.0.name`.
    pub field: String,
    /// The reply with the value: "Your next appointment is {value}."
    pub reply: String,
    /// Where the flow goes after the answer; none ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goto: Option<String>,
}

/// Variables a lookup's URL may use.
pub const LOOKUP_VARS: [&str; 2] = ["{phone}", "{input}"];

/// A flow, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FlowSpec", into = "FlowSpec")]
pub struct Flow(FlowSpec);

impl Flow {
    pub const MAX_NAME_CHARS: usize = 80;
    pub const MAX_STEPS: usize = 50;
    pub const MAX_OPTIONS: usize = 10;
    pub const MAX_ANSWERS: usize = 30;
    pub const MAX_TIMEOUT_MINUTES: u32 = 24 * 60;

    /// A flow from its stored or submitted form. The error names the field
    /// (`steps[1].options[0].goto`) and what is wrong with it.
    pub fn parse(spec: FlowSpec) -> Result<Flow, Invalid> {
        check(&spec)
            .map_err(|(path, why)| Invalid::new(if path.is_empty() { why } else { format!("{path}: {why}") }))?;
        let mut spec = spec;
        spec.name = spec.name.trim().to_owned();
        Ok(Flow(spec))
    }

    pub fn spec(&self) -> &FlowSpec {
        &self.0
    }
    pub fn name(&self) -> &str {
        &self.0.name
    }
    pub fn first_step(&self) -> &Step {
        // Checked on parse: a flow has at least one step.
        &self.0.steps[0]
    }
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.0.steps.iter().find(|s| s.name == name)
    }
    /// The teams its options hand over to (checked against the account on save).
    pub fn teams(&self) -> Vec<i64> {
        self.0.steps.iter().flat_map(|s| &s.options).filter_map(|o| o.handoff.as_ref()?.team_id).collect()
    }
    pub fn timeout(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_mins(self.0.timeout_minutes.into())
    }
}

impl TryFrom<FlowSpec> for Flow {
    type Error = Invalid;
    fn try_from(spec: FlowSpec) -> Result<Self, Invalid> {
        Flow::parse(spec)
    }
}

impl From<Flow> for FlowSpec {
    fn from(f: Flow) -> Self {
        f.0
    }
}

impl Step {
    /// What the customer reads at this step: the text, then for a menu each
    /// choice on its own line ("1: Billing").
    pub fn message(&self) -> String {
        let mut out = self.text.trim().to_owned();
        for o in &self.options {
            out.push_str(&format!("\n{}: {}", o.key, o.label));
        }
        out
    }
    pub fn is_menu(&self) -> bool {
        !self.options.is_empty()
    }
}

/// (field path, what is wrong)
type Bad = (String, String);

fn bad(path: impl Into<String>, why: impl Into<String>) -> Bad {
    (path.into(), why.into())
}

fn text_ok(path: &str, text: &str) -> Result<(), Bad> {
    let t = text.trim();
    if t.is_empty() {
        return Err(bad(path, "write something here"));
    }
    crate::Body::parse(t).map_err(|e| bad(path, e.0))?;
    Template::parse(t).map(|_| ()).map_err(|e| bad(path, e.0))
}

fn check(s: &FlowSpec) -> Result<(), Bad> {
    let name = s.name.trim();
    if name.is_empty() || name.chars().count() > Flow::MAX_NAME_CHARS {
        return Err(bad("name", "a flow's name is 1 to 80 characters"));
    }
    if s.timeout_minutes == 0 || s.timeout_minutes > Flow::MAX_TIMEOUT_MINUTES {
        return Err(bad("timeout_minutes", "the timeout is 1 to 1440 minutes (a day)"));
    }
    text_ok("closing_message", &s.closing_message)?;
    text_ok("handoff_message", &s.handoff_message)?;
    if s.handoff_words.iter().all(|w| normalize(w).is_empty()) {
        return Err(bad("handoff_words", "give at least one word that asks for a person (AGENT)"));
    }
    if s.answers.len() > Flow::MAX_ANSWERS {
        return Err(bad("answers", "a flow has at most 30 keyword answers"));
    }
    for (i, a) in s.answers.iter().enumerate() {
        if a.keywords.iter().all(|k| normalize(k).is_empty()) {
            return Err(bad(format!("answers[{i}].keywords"), "give at least one keyword"));
        }
        text_ok(&format!("answers[{i}].reply"), &a.reply)?;
    }
    if s.steps.is_empty() {
        return Err(bad("steps", "a flow has at least one step"));
    }
    if s.steps.len() > Flow::MAX_STEPS {
        return Err(bad("steps", "a flow has at most 50 steps"));
    }
    for (i, step) in s.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        let n = step.name.trim();
        if n.is_empty() || n.len() > 40 || n != step.name {
            return Err(bad(format!("{at}.name"), "a step's name is 1 to 40 characters, without spaces around it"));
        }
        if s.steps[..i].iter().any(|o| o.name == step.name) {
            return Err(bad(format!("{at}.name"), format!("two steps are named '{n}'")));
        }
    }
    for (i, step) in s.steps.iter().enumerate() {
        check_step(s, step, &format!("steps[{i}]"))?;
    }
    Ok(())
}

fn check_step(s: &FlowSpec, step: &Step, at: &str) -> Result<(), Bad> {
    text_ok(&format!("{at}.text"), &step.text)?;
    let goto_ok = |path: String, target: &str| {
        if s.steps.iter().any(|t| t.name == target) {
            Ok(())
        } else {
            Err(bad(path, format!("no step named '{target}'")))
        }
    };
    if let Some(l) = &step.lookup {
        if step.is_menu() {
            return Err(bad(format!("{at}.lookup"), "a step is a menu or a lookup, not both"));
        }
        let url = l.url.trim();
        let probe = LOOKUP_VARS.iter().fold(url.to_owned(), |u, v| u.replace(v, "x"));
        match url::Url::parse(&probe) {
            Ok(u) if matches!(u.scheme(), "https" | "http") => {}
            _ => return Err(bad(format!("{at}.lookup.url"), "the lookup's URL is a web address (https://…)")),
        }
        if l.field.trim().is_empty() {
            return Err(bad(format!("{at}.lookup.field"), "name the field of the answer to use (appointment.time)"));
        }
        if !l.reply.contains("{value}") {
            return Err(bad(format!("{at}.lookup.reply"), "the reply says where the value goes: {value}"));
        }
        text_ok(&format!("{at}.lookup.reply"), &l.reply.replace("{value}", "x"))?;
        if let Some(g) = &l.goto {
            goto_ok(format!("{at}.lookup.goto"), g)?;
        }
    }
    if step.options.len() > Flow::MAX_OPTIONS {
        return Err(bad(format!("{at}.options"), "a menu has at most 10 options"));
    }
    for (j, o) in step.options.iter().enumerate() {
        let op = format!("{at}.options[{j}]");
        let key = normalize(&o.key);
        if key.is_empty() || key.chars().count() > 10 {
            return Err(bad(format!("{op}.key"), "a key is what the customer types: 1 to 10 characters (1, 2, 0)"));
        }
        if step.options[..j].iter().any(|p| normalize(&p.key) == key) {
            return Err(bad(format!("{op}.key"), format!("two options use the key '{}'", o.key.trim())));
        }
        if o.label.trim().is_empty() || o.label.chars().count() > 60 {
            return Err(bad(format!("{op}.label"), "an option's label is 1 to 60 characters"));
        }
        if let Some(r) = &o.reply {
            text_ok(&format!("{op}.reply"), r)?;
        }
        match (&o.goto, &o.handoff) {
            (Some(_), Some(_)) => {
                return Err(bad(op, "an option goes to a step or hands over to a person, not both"));
            }
            _ if o.callback && (o.goto.is_some() || o.handoff.is_some()) => {
                return Err(bad(op, "an option offers a call back, goes to a step or hands over: only one of them"));
            }
            (Some(g), None) => goto_ok(format!("{op}.goto"), g)?,
            (None, None) if o.reply.is_none() && !o.callback => {
                return Err(bad(
                    op,
                    "an option replies, goes to a step, hands over or offers a call back: give it one of them",
                ));
            }
            _ => {}
        }
    }
    if step.is_menu() && !step.options.iter().any(|o| o.handoff.is_some()) {
        return Err(bad(
            format!("{at}.options"),
            "every menu offers a way to a person: add an option that hands over (e.g. 0: A person)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
