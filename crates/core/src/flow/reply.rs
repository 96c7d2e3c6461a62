//! What the bot says to a customer's reply, and where the flow goes next.
//!
//! A reply chooses a menu option when, tidied up, it is the option's key
//! ("1", " 1.", "#1", "1)"), the key spelled as a word ("one") or the
//! option's label ("billing"). Anything longer is not guessed at: a sentence
//! that merely contains a digit is not a choice.

use serde::{Deserialize, Serialize};

use super::{Flow, Step};
use crate::event::HandoffReason;

/// Where a customer is in a flow, as kept between their messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub step: String,
    /// Replies in a row the flow did not understand.
    pub misses: u8,
}

/// What to do with a reply: the texts to send (templates, filled by the
/// app), and where the flow goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub replies: Vec<String>,
    pub next: Next,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Next {
    /// Wait for the customer's next reply at this step.
    Stay { step: String, misses: u8 },
    /// Call the step's lookup with what the customer typed (outside any
    /// transaction), then [`Flow::looked_up`].
    Lookup { step: String, input: String },
    /// The flow is over; a person takes it from here.
    Handoff { reason: HandoffReason, team_id: Option<i64> },
    /// The flow is over; the customer is offered call back times (as after
    /// texting CALL), and their choice joins the call back queue.
    Callback,
    /// The flow is over; nobody needs to answer.
    End,
}

/// How a reply was read (for tests and the timeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Option(usize),
    Handoff,
    Answer(usize),
    Input,
    NotUnderstood,
}

/// Two replies in a row the flow does not understand hand the customer over.
pub const MAX_MISSES: u8 = 2;

/// Lowercase, trimmed, without a leading `#` or trailing punctuation, spaces
/// collapsed: " 1. " → "1", "AGENT!" → "agent".
pub fn normalize(s: &str) -> String {
    let lower = s.trim().to_lowercase();
    let t = lower.trim_start_matches('#').trim_end_matches(|c: char| ".!?)],;:".contains(c) || c.is_whitespace());
    t.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "one" → "1" … "ten" → "10", "zero" → "0".
pub fn number_word(s: &str) -> Option<&'static str> {
    const WORDS: [(&str, &str); 11] = [
        ("zero", "0"),
        ("one", "1"),
        ("two", "2"),
        ("three", "3"),
        ("four", "4"),
        ("five", "5"),
        ("six", "6"),
        ("seven", "7"),
        ("eight", "8"),
        ("nine", "9"),
        ("ten", "10"),
    ];
    WORDS.iter().find(|(w, _)| *w == s).map(|(_, d)| *d)
}

fn words(s: &str) -> Vec<&str> {
    s.split(|c: char| !c.is_alphanumeric() && c != '\'').filter(|w| !w.is_empty()).collect()
}

impl Flow {
    /// The start: the first step's message.
    pub fn start(&self) -> Outcome {
        let first = self.first_step();
        Outcome { replies: vec![first.message()], next: settle(first) }
    }

    /// Reads a reply at `session`'s step.
    pub fn read(&self, session: &Session, text: &str) -> Choice {
        let n = normalize(text);
        let step = self.step(&session.step);
        if let Some(step) = step {
            let as_digit = number_word(&n);
            if let Some(i) = step.options.iter().position(|o| {
                let key = normalize(&o.key);
                key == n || as_digit == Some(key.as_str()) || normalize(&o.label) == n
            }) {
                return Choice::Option(i);
            }
        }
        if self.0.handoff_words.iter().any(|w| !w.trim().is_empty() && normalize(w) == n) {
            return Choice::Handoff;
        }
        if step.is_some_and(|s| s.lookup.is_some()) && !n.is_empty() {
            return Choice::Input;
        }
        let said = words(&n);
        if let Some(i) = self.0.answers.iter().position(|a| {
            a.keywords
                .iter()
                .map(|k| normalize(k))
                .filter(|k| !k.is_empty())
                .any(|k| if k.contains(' ') { n.contains(&k) } else { said.contains(&k.as_str()) })
        }) {
            return Choice::Answer(i);
        }
        Choice::NotUnderstood
    }

    /// The bot lets go of the customer for `reason` (a rule said so): its
    /// handoff message, and a person next.
    pub fn hand_over(&self, reason: HandoffReason, team_id: Option<i64>) -> Outcome {
        Outcome { replies: vec![self.0.handoff_message.clone()], next: Next::Handoff { reason, team_id } }
    }

    /// What the bot answers to `text` at `session`'s step.
    pub fn respond(&self, session: &Session, text: &str) -> Outcome {
        let handoff = |reason, team_id| self.hand_over(reason, team_id);
        let Some(step) = self.step(&session.step) else {
            // The flow was edited under a running session: start it again.
            return self.start();
        };
        match self.read(session, text) {
            Choice::Option(i) => {
                let o = &step.options[i];
                let mut replies: Vec<String> = o.reply.iter().cloned().collect();
                if let Some(h) = &o.handoff {
                    replies.push(self.0.handoff_message.clone());
                    return Outcome {
                        replies,
                        next: Next::Handoff { reason: HandoffReason::Chosen, team_id: h.team_id },
                    };
                }
                if o.callback {
                    return Outcome { replies, next: Next::Callback };
                }
                match o.goto.as_deref().and_then(|g| self.step(g)) {
                    Some(target) => {
                        replies.push(target.message());
                        Outcome { replies, next: settle(target) }
                    }
                    None => Outcome { replies, next: Next::End },
                }
            }
            Choice::Handoff => handoff(HandoffReason::Asked, None),
            Choice::Input => Outcome {
                replies: Vec::new(),
                next: Next::Lookup { step: step.name.clone(), input: text.trim().to_owned() },
            },
            Choice::Answer(i) => Outcome {
                replies: vec![self.0.answers[i].reply.clone()],
                next: Next::Stay { step: step.name.clone(), misses: 0 },
            },
            Choice::NotUnderstood if session.misses + 1 >= MAX_MISSES => handoff(HandoffReason::NotUnderstood, None),
            Choice::NotUnderstood => Outcome {
                replies: vec![format!("Sorry, I did not understand that.\n{}", step.message())],
                next: Next::Stay { step: step.name.clone(), misses: session.misses + 1 },
            },
        }
    }

    /// After the lookup of `step`: the value found, or None when the call
    /// failed, was slow, or the answer had no such field.
    pub fn looked_up(&self, step: &str, value: Option<&str>) -> Outcome {
        let Some(s) = self.step(step) else { return Outcome { replies: Vec::new(), next: Next::End } };
        let Some(lookup) = &s.lookup else { return Outcome { replies: Vec::new(), next: Next::End } };
        let Some(value) = value else {
            let word = self.0.handoff_words.iter().find(|w| !w.trim().is_empty()).map(|w| w.trim().to_uppercase());
            let way = word.map(|w| format!(" Reply {w} to talk to a person, or try again.")).unwrap_or_default();
            return Outcome {
                replies: vec![format!("Sorry, we could not look that up right now.{way}")],
                next: Next::Stay { step: s.name.clone(), misses: 0 },
            };
        };
        // The value is the business system's, not a template: braces stay braces.
        let value = value.replace('{', "{{").replace('}', "}}");
        let mut replies = vec![lookup.reply.replace("{value}", &value)];
        match lookup.goto.as_deref().and_then(|g| self.step(g)) {
            Some(target) => {
                replies.push(target.message());
                Outcome { replies, next: settle(target) }
            }
            None => Outcome { replies, next: Next::End },
        }
    }
}

/// Where the flow waits after showing `step`: a step with neither options
/// nor a lookup is a last word.
fn settle(step: &Step) -> Next {
    if step.is_menu() || step.lookup.is_some() { Next::Stay { step: step.name.clone(), misses: 0 } } else { Next::End }
}
