//! Loop protection: when an automatic message must not go, whatever the rules
//! say. Two machines answering each other can send thousands of texts in an
//! hour, each one billed; and a customer who is talking to a person should not
//! hear from a robot in the middle of it.
//!
//! An automatic message never answers a consent keyword (those get their own
//! confirmation inside ingest), never answers what looks like another machine's
//! reply, is limited per conversation, and falls silent once a person has
//! written in the last half hour or claimed the conversation.

use jiff::{SignedDuration, Timestamp};

/// A person's reply silences automation for this long.
pub const PERSON_QUIET: SignedDuration = SignedDuration::from_mins(30);
/// At most [`MAX_PER_WINDOW`] automatic messages in one conversation per window.
pub const RATE_WINDOW: SignedDuration = SignedDuration::from_hours(1);
pub const MAX_PER_WINDOW: usize = 3;
/// A customer's text that arrives this soon after one of our automatic
/// messages is taken for a machine's answer: people do not read and type that fast.
pub const MACHINE_ECHO: SignedDuration = SignedDuration::from_secs(5);

/// What the guard needs to know about the conversation at this moment.
#[derive(Debug, Clone, Default)]
pub struct Exchange<'a> {
    /// The triggering text was a consent keyword (STOP, START, HELP, JOIN…)
    /// or asked to stop in other words.
    pub keyword: bool,
    /// The customer's text that triggered the rule, and when it arrived.
    pub inbound: Option<(&'a str, Timestamp)>,
    /// When a person last wrote to the customer here.
    pub last_person_reply_at: Option<Timestamp>,
    /// A person has claimed the conversation (it is assigned to someone).
    pub claimed: bool,
    /// When this conversation's automatic messages were sent, newest last
    /// (those of the last [`RATE_WINDOW`] are enough).
    pub automatic_sent: &'a [Timestamp],
}

/// Why an automatic message stays unsent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    Keyword,
    MachineReply,
    PersonReplied,
    Claimed,
    TooMany,
}

impl Silence {
    /// For the timeline: "Automation 'After hours' stayed silent: …".
    pub fn describe(self) -> &'static str {
        match self {
            Silence::Keyword => "the customer sent a consent keyword, which has its own answer",
            Silence::MachineReply => "the message looks like another machine's automatic reply",
            Silence::PersonReplied => "a person replied in the last 30 minutes",
            Silence::Claimed => "a person has claimed the conversation",
            Silence::TooMany => "three automatic messages were already sent here in the last hour",
        }
    }
}

/// Whether an automatic message may be sent now.
pub fn check(ex: &Exchange<'_>, now: Timestamp) -> Result<(), Silence> {
    if ex.keyword {
        return Err(Silence::Keyword);
    }
    // A person at work is the reason an admin most needs to read, so it is named first.
    if ex.claimed {
        return Err(Silence::Claimed);
    }
    if ex.last_person_reply_at.is_some_and(|t| now.duration_since(t) < PERSON_QUIET) {
        return Err(Silence::PersonReplied);
    }
    if let Some((text, at)) = ex.inbound {
        let echo = ex.automatic_sent.last().is_some_and(|sent| at >= *sent && at.duration_since(*sent) <= MACHINE_ECHO);
        if echo || looks_automatic(text) {
            return Err(Silence::MachineReply);
        }
    }
    if ex.automatic_sent.iter().filter(|t| now.duration_since(**t) < RATE_WINDOW).count() >= MAX_PER_WINDOW {
        return Err(Silence::TooMany);
    }
    Ok(())
}

/// Phrases that phones, mail gateways and other businesses' systems put in
/// their automatic answers (driving modes, out-of-office, no-reply senders,
/// marketing footers). Matched case-insensitively anywhere in the text.
const MACHINE_PHRASES: &[&str] = &[
    "auto-reply",
    "autoreply",
    "auto reply",
    "automatic reply",
    "automated message",
    "automated response",
    "automatic response",
    "out of office",
    "out of the office",
    "do not reply",
    "don't reply to this",
    "not monitored",
    "no-reply",
    "i'm driving",
    "i am driving",
    "driving with do not disturb",
    "reply stop to",
    "msg&data rates",
    "msg & data rates",
];

/// Whether a customer's text reads like a machine's automatic answer.
pub fn looks_automatic(text: &str) -> bool {
    let t = text.to_lowercase().replace('\u{2019}', "'");
    MACHINE_PHRASES.iter().any(|p| t.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn a_plain_question_may_be_answered() {
        let ex = Exchange { inbound: Some(("Are you open Saturday?", at(0))), ..Default::default() };
        assert_eq!(check(&ex, at(1)), Ok(()));
    }

    #[test]
    fn keywords_and_machine_replies_are_never_answered() {
        let keyword = Exchange { keyword: true, inbound: Some(("STOP", at(0))), ..Default::default() };
        assert_eq!(check(&keyword, at(1)), Err(Silence::Keyword));
        for text in [
            "I'm driving with Do Not Disturb While Driving turned on. I'll see your message when I get where I'm going.",
            "Automatic reply: I am out of the office until Monday",
            "This number is not monitored. Reply STOP to opt out.",
            "I\u{2019}m driving right now",
        ] {
            let ex = Exchange { inbound: Some((text, at(0))), ..Default::default() };
            assert_eq!(check(&ex, at(1)), Err(Silence::MachineReply), "{text}");
        }
    }

    #[test]
    fn an_answer_within_seconds_of_our_automatic_message_is_a_machine() {
        let sent = [at(0)];
        let fast = Exchange { inbound: Some(("Thanks!", at(3))), automatic_sent: &sent, ..Default::default() };
        assert_eq!(check(&fast, at(3)), Err(Silence::MachineReply));
        let human = Exchange { inbound: Some(("Thanks!", at(40))), automatic_sent: &sent, ..Default::default() };
        assert_eq!(check(&human, at(40)), Ok(()));
    }

    #[test]
    fn a_person_in_the_conversation_silences_automation() {
        let recent = Exchange { last_person_reply_at: Some(at(0)), ..Default::default() };
        assert_eq!(check(&recent, at(29 * 60)), Err(Silence::PersonReplied));
        assert_eq!(check(&recent, at(30 * 60)), Ok(()), "quiet for exactly 30 minutes: automation may speak");
        let claimed = Exchange { claimed: true, ..Default::default() };
        assert_eq!(check(&claimed, at(0)), Err(Silence::Claimed));
    }

    #[test]
    fn at_most_three_automatic_messages_an_hour() {
        let sent = [at(0), at(600), at(1200)];
        let ex = Exchange { automatic_sent: &sent, ..Default::default() };
        assert_eq!(check(&ex, at(1800)), Err(Silence::TooMany));
        // The first has left the window.
        assert_eq!(check(&ex, at(3600)), Ok(()));
    }

    #[test]
    fn ordinary_words_are_not_taken_for_machines() {
        for text in ["Can you reply to my last text?", "I'll drive over at 5", "Out of stock again?", "office hours?"] {
            assert!(!looks_automatic(text), "{text}");
        }
    }
}
