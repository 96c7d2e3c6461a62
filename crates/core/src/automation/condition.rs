//! What must hold for a rule to act. Each condition is checked when the rule is
//! saved (a regular expression compiles, a keyword is a keyword) and decided
//! purely against the moment's [`Facts`].

use serde::{Deserialize, Serialize};

use super::{Facts, Trigger};
use crate::consent::normalise;
use crate::{ConsentState, ConversationStatus, Invalid, LabelName, Medium, Priority};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "if", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The conversation is in one of these inboxes.
    Inbox {
        any_of: Vec<i64>,
    },
    /// The conversation came in through one of these kinds of channel
    /// (`twilio`, `smpp`, `simulator`, and the messaging apps as they come).
    Channel {
        any_of: Vec<String>,
    },
    /// The customer writes on one of these media (SMS, WhatsApp…), whichever
    /// provider carries it: "WhatsApp customers" on any provider.
    Medium {
        any_of: Vec<Medium>,
    },
    /// The customer's message matches (only with a message-received trigger).
    Text {
        matches: TextMatch,
    },
    Hours {
        are: HoursAre,
    },
    /// A contact attribute is (or is not) set to a value.
    Attribute {
        key: String,
        is: AttributeTest,
    },
    Consent {
        any_of: Vec<ConsentState>,
    },
    Status {
        any_of: Vec<ConversationStatus>,
    },
    Priority {
        any_of: Vec<Priority>,
    },
    HasLabel {
        label: String,
    },
    LacksLabel {
        label: String,
    },
    Assignee {
        is: AssigneeIs,
    },
    /// The message is (or is not) the customer's first in the conversation.
    FirstMessage {
        is: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoursAre {
    Open,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TextMatch {
    /// The whole message is one of these words, as consent keywords are
    /// matched: case, spacing and trailing punctuation do not count.
    Keyword(Vec<String>),
    /// The message contains this text, ignoring case.
    Contains(String),
    /// The message matches this regular expression (case-insensitive).
    Regex(Pattern),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributeTest {
    Equals(String),
    NotEquals(String),
    Present,
    Absent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "who", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssigneeIs {
    Nobody,
    Anybody,
    User { id: i64 },
    Team { id: i64 },
}

/// A regular expression an admin wrote: compiled once when read, limited in
/// size, and matched in linear time (the `regex` crate has no backtracking), so
/// a customer's text can never make it run away.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    compiled: regex::Regex,
}

impl Pattern {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(source: &str) -> Result<Pattern, Invalid> {
        if source.is_empty() || source.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("a pattern is 1 to 500 characters"));
        }
        let compiled = regex::RegexBuilder::new(source).case_insensitive(true).size_limit(256 * 1024).build().map_err(
            |e| match e {
                regex::Error::CompiledTooBig(_) => Invalid::new("this pattern is too complex; make it simpler"),
                _ => Invalid::new(format!("this is not a regular expression we can read ({source})")),
            },
        )?;
        Ok(Pattern { source: source.to_owned(), compiled })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.compiled.is_match(text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for Pattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let source = String::deserialize(d)?;
        Pattern::parse(&source).map_err(serde::de::Error::custom)
    }
}

impl TextMatch {
    fn check(&self) -> Result<(), Invalid> {
        match self {
            TextMatch::Keyword(words) => {
                if words.is_empty() || words.len() > 50 {
                    return Err(Invalid::new("list 1 to 50 keywords"));
                }
                for w in words {
                    let n = normalise(w);
                    if n.is_empty() || n.chars().count() > 40 {
                        return Err(Invalid::new(format!("{w:?} is not a keyword: use 1 to 40 letters or digits")));
                    }
                }
                Ok(())
            }
            TextMatch::Contains(text) if text.trim().is_empty() || text.chars().count() > 200 => {
                Err(Invalid::new("the text to look for is 1 to 200 characters"))
            }
            TextMatch::Contains(_) | TextMatch::Regex(_) => Ok(()),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match self {
            TextMatch::Keyword(words) => {
                let t = normalise(text);
                !t.is_empty() && words.iter().any(|w| normalise(w) == t)
            }
            TextMatch::Contains(needle) => text.to_lowercase().contains(&needle.trim().to_lowercase()),
            TextMatch::Regex(pattern) => pattern.is_match(text),
        }
    }
}

impl Condition {
    pub(super) fn check(&self, trigger: &Trigger) -> Result<(), Invalid> {
        let nonempty = |n: usize, what: &str| {
            if n == 0 { Err(Invalid::new(format!("choose at least one {what}"))) } else { Ok(()) }
        };
        match self {
            Condition::Inbox { any_of } => nonempty(any_of.len(), "inbox"),
            Condition::Channel { any_of } => {
                nonempty(any_of.len(), "channel")?;
                match any_of.iter().find(|k| !is_channel_kind(k)) {
                    Some(k) => Err(Invalid::new(format!("{k:?} is not a kind of channel"))),
                    None => Ok(()),
                }
            }
            Condition::Medium { any_of } => nonempty(any_of.len(), "medium"),
            Condition::Text { matches: test } => {
                if *trigger != Trigger::MessageReceived {
                    return Err(Invalid::new("a text condition needs the \"message received\" trigger"));
                }
                test.check()
            }
            Condition::FirstMessage { .. } if *trigger != Trigger::MessageReceived => {
                Err(Invalid::new("\"first message\" needs the \"message received\" trigger"))
            }
            Condition::Attribute { key, is: test } => {
                crate::AttributeKey::parse(key)?;
                match test {
                    AttributeTest::Equals(value) | AttributeTest::NotEquals(value) => {
                        crate::AttributeValue::parse(value).map(|_| ())
                    }
                    AttributeTest::Present | AttributeTest::Absent => Ok(()),
                }
            }
            Condition::Consent { any_of } => nonempty(any_of.len(), "consent state"),
            Condition::Status { any_of } => nonempty(any_of.len(), "status"),
            Condition::Priority { any_of } => nonempty(any_of.len(), "priority"),
            Condition::HasLabel { label } | Condition::LacksLabel { label } => LabelName::parse(label).map(|_| ()),
            Condition::Hours { .. } | Condition::Assignee { .. } | Condition::FirstMessage { .. } => Ok(()),
        }
    }

    pub fn holds(&self, f: &Facts<'_>) -> bool {
        let has_label = |label: &str| {
            let key = LabelName::parse(label).map(|l| l.key()).unwrap_or_default();
            f.labels.iter().any(|l| LabelName::parse(l).is_ok_and(|l| l.key() == key))
        };
        match self {
            Condition::Inbox { any_of } => any_of.contains(&f.inbox_id),
            Condition::Channel { any_of } => any_of.iter().any(|k| k == f.channel),
            Condition::Medium { any_of } => any_of.contains(&f.medium),
            Condition::Text { matches: test } => f.text.is_some_and(|t| test.matches(t)),
            Condition::Hours { are } => f.open_now == (*are == HoursAre::Open),
            Condition::Attribute { key, is: test } => {
                let v = f.attributes.get(key.trim());
                match test {
                    AttributeTest::Equals(value) => v.is_some_and(|v| v.eq_ignore_ascii_case(value.trim())),
                    AttributeTest::NotEquals(value) => !v.is_some_and(|v| v.eq_ignore_ascii_case(value.trim())),
                    AttributeTest::Present => v.is_some(),
                    AttributeTest::Absent => v.is_none(),
                }
            }
            Condition::Consent { any_of } => any_of.contains(&f.consent),
            Condition::Status { any_of } => any_of.contains(&f.status),
            Condition::Priority { any_of } => any_of.contains(&f.priority),
            Condition::HasLabel { label } => has_label(label),
            Condition::LacksLabel { label } => !has_label(label),
            Condition::Assignee { is } => match is {
                AssigneeIs::Nobody => f.assignee_id.is_none(),
                AssigneeIs::Anybody => f.assignee_id.is_some(),
                AssigneeIs::User { id } => f.assignee_id == Some(*id),
                AssigneeIs::Team { id } => f.team_id == Some(*id),
            },
            Condition::FirstMessage { is } => f.first_message == *is,
        }
    }
}

/// A channel kind as the registry names them: 1 to 20 lower-case letters,
/// digits or `_`. Whether the installation knows it is the app's check.
fn is_channel_kind(k: &str) -> bool {
    (1..=20).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
