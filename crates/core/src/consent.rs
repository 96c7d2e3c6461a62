//! Consent keywords. A text is a keyword when, after trimming white space and
//! trailing punctuation and folding case and inner spaces, it is exactly one of
//! the words. Whole-message matching is what carriers do, and it is what keeps
//! "stop by tomorrow?" or "I want to cancel my appointment" from unsubscribing
//! anyone; texts that plainly ask to stop in other words are flagged for a
//! person instead (see [`asks_to_stop`]).

use serde::{Deserialize, Serialize};

/// What a keyword asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordAction {
    OptOut,
    /// Back in after an opt-out (START, UNSTOP; YES only then).
    OptIn,
    /// A new subscriber asking for messages (JOIN).
    Join,
    Help,
}

/// The keyword lists of one inbox. Defaults follow the carriers' (CTIA) and the
/// FCC's lists; an inbox may add words, for example in another language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Keywords {
    pub opt_out: Vec<String>,
    pub opt_in: Vec<String>,
    pub join: Vec<String>,
    pub help: Vec<String>,
}

impl Default for Keywords {
    fn default() -> Self {
        let words = |w: &[&str]| w.iter().map(|s| s.to_string()).collect();
        Keywords {
            opt_out: words(&["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"]),
            opt_in: words(&["START", "YES", "UNSTOP"]),
            join: words(&["JOIN"]),
            help: words(&["HELP", "INFO"]),
        }
    }
}

/// Upper-cased, trimmed of white space and trailing punctuation, inner white
/// space folded to one space: "  Stop!! " → "STOP", "opt   out." → "OPT OUT".
pub fn normalise(text: &str) -> String {
    let trimmed =
        text.trim().trim_end_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace() || "¡¿。！？".contains(c));
    let trimmed = trimmed.trim_start_matches(|c: char| "¡¿\"'".contains(c));
    trimmed.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase()
}

impl Keywords {
    /// The action a whole text asks for, if it is a keyword. Opt-out wins over
    /// everything: if an inbox lists a word twice, stopping is the safe reading.
    pub fn classify(&self, text: &str) -> Option<KeywordAction> {
        let t = normalise(text);
        if t.is_empty() || t.len() > 40 {
            return None;
        }
        let has = |list: &[String]| list.iter().any(|w| normalise(w) == t);
        if has(&self.opt_out) {
            Some(KeywordAction::OptOut)
        } else if has(&self.opt_in) {
            Some(KeywordAction::OptIn)
        } else if has(&self.join) {
            Some(KeywordAction::Join)
        } else if has(&self.help) {
            Some(KeywordAction::Help)
        } else {
            None
        }
    }

    /// Whether `text` is a word that only means "opt in" when the contact has
    /// opted out (YES answers too many ordinary questions to mean more).
    pub fn is_conditional_opt_in(text: &str) -> bool {
        normalise(text) == "YES"
    }
}

/// What an inbox does with consent keywords: its words and its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentPolicy {
    pub keywords: Keywords,
    pub opt_out_reply: crate::Body,
    pub opt_in_reply: crate::Body,
    pub join_reply: crate::Body,
    pub help_reply: crate::Body,
    /// JOIN first asks "reply YES to confirm"; only the YES opts in.
    pub double_opt_in: bool,
    /// The question a JOIN gets under double opt-in.
    pub confirm_request: crate::Body,
}

impl ConsentPolicy {
    pub fn reply(&self, action: KeywordAction) -> &crate::Body {
        match action {
            KeywordAction::OptOut => &self.opt_out_reply,
            KeywordAction::OptIn => &self.opt_in_reply,
            KeywordAction::Join => &self.join_reply,
            KeywordAction::Help => &self.help_reply,
        }
    }
}

/// What an inbound text does to the contact's consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeywordDecision {
    /// Not about consent.
    None,
    /// Asks to stop in other words: flag it for a person.
    Flag,
    /// Change consent to this state and confirm.
    Change(crate::ConsentState, KeywordAction),
    /// A keyword that changes nothing (STOP when already opted out): do nothing,
    /// so the customer gets exactly one confirmation.
    Unchanged(KeywordAction),
    /// Answer with the help text (every time).
    Help,
    /// Double opt-in: a JOIN that waits for a YES; ask for it, change nothing yet.
    AskToConfirm,
}

/// Decides what `text` does under an inbox's `policy`, given the contact's
/// `current` consent and whether they were asked to confirm a JOIN and have
/// not answered yet (`awaiting_yes`).
pub fn decide_with(
    text: &str,
    policy: &ConsentPolicy,
    current: crate::ConsentState,
    awaiting_yes: bool,
) -> KeywordDecision {
    use crate::ConsentState::*;
    match policy.keywords.classify(text) {
        Some(KeywordAction::Join) if current == OptedIn => KeywordDecision::Unchanged(KeywordAction::Join),
        Some(KeywordAction::Join) if policy.double_opt_in => KeywordDecision::AskToConfirm,
        Some(a @ KeywordAction::Join) => KeywordDecision::Change(OptedIn, a),
        // The YES a double opt-in asked for.
        Some(KeywordAction::OptIn) if awaiting_yes && current != OptedIn && Keywords::is_conditional_opt_in(text) => {
            KeywordDecision::Change(OptedIn, KeywordAction::Join)
        }
        _ => decide(text, &policy.keywords, current),
    }
}

/// Decides what `text` does, given the contact's `current` consent.
pub fn decide(text: &str, keywords: &Keywords, current: crate::ConsentState) -> KeywordDecision {
    use crate::ConsentState::*;
    match keywords.classify(text) {
        None if asks_to_stop(text) && current != OptedOut => KeywordDecision::Flag,
        None => KeywordDecision::None,
        Some(KeywordAction::Help) => KeywordDecision::Help,
        // "Yes" answers ordinary questions; it resubscribes only someone who stopped.
        Some(KeywordAction::OptIn) if Keywords::is_conditional_opt_in(text) && current != OptedOut => {
            KeywordDecision::None
        }
        Some(a @ (KeywordAction::OptIn | KeywordAction::Join)) if current == OptedIn => KeywordDecision::Unchanged(a),
        Some(a @ KeywordAction::OptOut) if current == OptedOut => KeywordDecision::Unchanged(a),
        Some(a @ (KeywordAction::OptIn | KeywordAction::Join)) => KeywordDecision::Change(OptedIn, a),
        Some(a @ KeywordAction::OptOut) => KeywordDecision::Change(OptedOut, a),
    }
}

/// Phrases that plainly ask the business to stop texting without being a
/// keyword. A match is a flag for a person, never an opt-out by itself.
const STOP_PHRASES: &[&str] = &[
    "stop texting",
    "stop messaging",
    "stop sending",
    "stop contacting",
    "don't text",
    "dont text",
    "do not text",
    "don't message",
    "do not message",
    "do not contact",
    "don't contact",
    "no more texts",
    "no more messages",
    "unsubscribe me",
    "remove me from",
    "remove my number",
    "take me off",
    "leave me alone",
    "lose my number",
    "wrong number",
];

pub fn asks_to_stop(text: &str) -> bool {
    let t = text.to_lowercase().replace('\u{2019}', "'");
    STOP_PHRASES.iter().any(|p| t.contains(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_message_keywords_in_any_case_with_trailing_punctuation() {
        let k = Keywords::default();
        for t in
            ["STOP", "stop", " Stop! ", "stop.", "Stop!!!", "opt out", "Opt   Out.", "UNSUBSCRIBE", "end", "¡STOP!"]
        {
            assert_eq!(k.classify(t), Some(KeywordAction::OptOut), "{t:?}");
        }
        for t in ["START", "unstop", "Yes"] {
            assert_eq!(k.classify(t), Some(KeywordAction::OptIn), "{t:?}");
        }
        for t in ["HELP", "help?", "Info"] {
            assert_eq!(k.classify(t), Some(KeywordAction::Help), "{t:?}");
        }
    }

    #[test]
    fn words_inside_sentences_are_not_keywords() {
        let k = Keywords::default();
        for t in [
            "stop by tomorrow?",
            "I want to cancel my appointment",
            "Yes please, Tuesday",
            "help me reschedule",
            "",
            "   ",
            "STOP STOP",
        ] {
            assert_eq!(k.classify(t), None, "{t:?}");
        }
    }

    #[test]
    fn inboxes_can_add_words_and_stopping_wins_conflicts() {
        let mut k = Keywords::default();
        k.opt_out.push("BAJA".into());
        k.opt_in.push("STOP".into());
        assert_eq!(k.classify("baja"), Some(KeywordAction::OptOut));
        assert_eq!(k.classify("stop"), Some(KeywordAction::OptOut));
    }

    #[test]
    fn decisions_confirm_once_and_yes_only_resubscribes() {
        use crate::ConsentState::*;
        let k = Keywords::default();
        assert_eq!(decide("STOP", &k, Unknown), KeywordDecision::Change(OptedOut, KeywordAction::OptOut));
        assert_eq!(decide("stop", &k, OptedOut), KeywordDecision::Unchanged(KeywordAction::OptOut));
        assert_eq!(decide("START", &k, OptedOut), KeywordDecision::Change(OptedIn, KeywordAction::OptIn));
        assert_eq!(decide("START", &k, Unknown), KeywordDecision::Change(OptedIn, KeywordAction::OptIn));
        assert_eq!(decide("START", &k, OptedIn), KeywordDecision::Unchanged(KeywordAction::OptIn));
        assert_eq!(decide("Yes", &k, Unknown), KeywordDecision::None);
        assert_eq!(decide("Yes", &k, OptedIn), KeywordDecision::None);
        assert_eq!(decide("Yes", &k, OptedOut), KeywordDecision::Change(OptedIn, KeywordAction::OptIn));
        assert_eq!(decide("HELP", &k, OptedOut), KeywordDecision::Help);
        assert_eq!(decide("please stop texting me", &k, Unknown), KeywordDecision::Flag);
        assert_eq!(decide("please stop texting me", &k, OptedOut), KeywordDecision::None);
        assert_eq!(decide("See you at 3", &k, Unknown), KeywordDecision::None);
    }

    fn policy(double_opt_in: bool) -> ConsentPolicy {
        let b = |t: &str| crate::Body::parse(t).unwrap();
        ConsentPolicy {
            keywords: Keywords::default(),
            opt_out_reply: b("out"),
            opt_in_reply: b("in"),
            join_reply: b("joined"),
            help_reply: b("help"),
            double_opt_in,
            confirm_request: b("reply YES"),
        }
    }

    #[test]
    fn join_opts_in_at_once_or_after_a_yes() {
        use crate::ConsentState::*;
        let single = policy(false);
        assert_eq!(
            decide_with("Join!", &single, Unknown, false),
            KeywordDecision::Change(OptedIn, KeywordAction::Join)
        );
        assert_eq!(decide_with("JOIN", &single, OptedIn, false), KeywordDecision::Unchanged(KeywordAction::Join));
        let double = policy(true);
        assert_eq!(decide_with("join", &double, Unknown, false), KeywordDecision::AskToConfirm);
        assert_eq!(decide_with("yes", &double, Unknown, true), KeywordDecision::Change(OptedIn, KeywordAction::Join));
        // Without a question pending, YES is just a word; STOP still wins over everything.
        assert_eq!(decide_with("yes", &double, Unknown, false), KeywordDecision::None);
        assert_eq!(
            decide_with("STOP", &double, Unknown, true),
            KeywordDecision::Change(OptedOut, KeywordAction::OptOut)
        );
        // A JOIN after a STOP opts back in (asking first under double opt-in).
        assert_eq!(decide_with("JOIN", &double, OptedOut, false), KeywordDecision::AskToConfirm);
        assert_eq!(
            decide_with("JOIN", &single, OptedOut, false),
            KeywordDecision::Change(OptedIn, KeywordAction::Join)
        );
    }

    #[test]
    fn plain_requests_to_stop_are_recognised() {
        assert!(asks_to_stop("Please stop texting me"));
        assert!(asks_to_stop("Don\u{2019}t text this number again"));
        assert!(asks_to_stop("Take me off your list"));
        assert!(!asks_to_stop("Can I stop by at 3?"));
        assert!(!asks_to_stop("Thanks, see you Tuesday"));
        assert!(Keywords::is_conditional_opt_in(" yes! "));
        assert!(!Keywords::is_conditional_opt_in("START"));
    }
}
