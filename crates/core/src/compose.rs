//! Advice for a text before it is sent: how long it is for a phone, and
//! whether it reads like a business. Advice only; the agent decides.

use serde::Serialize;

use crate::segments::{self, SegmentCount, gsm_replacement, ucs2_forcing_chars};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// `long`, `slang`, `emoji`, `caps`, `exclamation`, `ucs2`.
    pub code: &'static str,
    pub message: String,
}

/// What an account asks the composer to watch for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToneRules {
    pub tone_check: bool,
    /// Warn above this many segments.
    pub max_segments: usize,
}

impl Default for ToneRules {
    fn default() -> Self {
        ToneRules { tone_check: true, max_segments: 3 }
    }
}

/// A character that forced UCS-2, and what would keep the text in GSM-7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forcing {
    pub character: String,
    pub replacement: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Preview {
    #[serde(flatten)]
    pub count: SegmentCount,
    pub ucs2_characters: Vec<Forcing>,
    pub warnings: Vec<Advice>,
}

/// Text-speak a customer should not get from a business, with the word to use.
const SLANG: &[(&str, &str)] = &[
    ("u", "you"),
    ("ur", "your"),
    ("r", "are"),
    ("pls", "please"),
    ("plz", "please"),
    ("thx", "thanks"),
    ("thanx", "thanks"),
    ("ty", "thank you"),
    ("lol", ""),
    ("omg", ""),
    ("idk", "I don't know"),
    ("btw", "by the way"),
    ("brb", ""),
    ("gonna", "going to"),
    ("wanna", "want to"),
    ("ya", "you"),
    ("k", "OK"),
    ("kk", "OK"),
    ("np", "no problem"),
    ("b4", "before"),
    ("2day", "today"),
    ("2morrow", "tomorrow"),
    ("cya", "see you"),
];

fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F)
}

pub fn preview(text: &str, rules: ToneRules) -> Preview {
    let count = segments::count(text);
    let forcing: Vec<Forcing> = ucs2_forcing_chars(text)
        .into_iter()
        .map(|c| Forcing { character: c.to_string(), replacement: gsm_replacement(c) })
        .collect();
    let mut warnings = Vec::new();
    if count.segments > rules.max_segments {
        warnings.push(Advice {
            code: "long",
            message: format!(
                "This is {} texts long. For a long answer, consider a call, a link, or an e-mail.",
                count.segments
            ),
        });
    }
    let fixable: Vec<&Forcing> = forcing.iter().filter(|f| f.replacement.is_some()).collect();
    if !fixable.is_empty() && !text.chars().any(is_emoji) {
        warnings.push(Advice {
            code: "ucs2",
            message: format!(
                "{} switch this text to UCS-2 (70 characters a text instead of 160). Plain versions fix that.",
                fixable.iter().map(|f| format!("“{}”", f.character)).collect::<Vec<_>>().join(" ")
            ),
        });
    }
    if rules.tone_check {
        tone(text, &mut warnings);
    }
    Preview { count, ucs2_characters: forcing, warnings }
}

fn tone(text: &str, warnings: &mut Vec<Advice>) {
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || ",.;:?!()\"".contains(c)).filter(|w| !w.is_empty()).collect();
    let slang: Vec<String> = words
        .iter()
        .filter_map(|w| SLANG.iter().find(|(s, _)| w.eq_ignore_ascii_case(s)))
        .map(|(s, better)| if better.is_empty() { format!("“{s}”") } else { format!("“{s}” (write “{better}”)") })
        .collect();
    if !slang.is_empty() {
        let mut unique = slang;
        unique.dedup();
        warnings.push(Advice { code: "slang", message: format!("Text-speak reads as casual: {}.", unique.join(", ")) });
    }
    if text.chars().any(is_emoji) {
        warnings.push(Advice {
            code: "emoji",
            message: "Emoji read as casual for a business, and switch the text to UCS-2, so it costs more.".into(),
        });
    }
    let shouted = words
        .iter()
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3 && w.chars().all(|c| !c.is_lowercase()))
        .count();
    let long_words = words.iter().filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 3).count();
    if shouted >= 2 && shouted * 2 > long_words {
        warnings.push(Advice { code: "caps", message: "ALL CAPS reads as shouting.".into() });
    }
    if text.contains("!!") {
        warnings
            .push(Advice { code: "exclamation", message: "Repeated exclamation marks read as unprofessional.".into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<&'static str> {
        preview(text, ToneRules::default()).warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_plain_business_reply_gets_no_advice() {
        assert!(codes("Hi Karen, your cleaning is confirmed for Tuesday at 9:00 AM. See you then!").is_empty());
        assert!(codes("Your PIN is 4471. Call us at 555-0100 if you need help.").is_empty());
    }

    #[test]
    fn casual_writing_is_named() {
        assert_eq!(codes("thx, see u tmrw"), ["slang"]);
        assert!(preview("pls call", ToneRules::default()).warnings[0].message.contains("please"));
        assert_eq!(codes("Great news 🎉"), ["emoji"]);
        assert_eq!(codes("YOUR ACCOUNT IS OVERDUE"), ["caps"]);
        assert!(codes("Call the IRS or USPS").is_empty(), "acronyms are not shouting");
        assert_eq!(codes("See you soon!!!"), ["exclamation"]);
        let off = preview("thx!! 🎉", ToneRules { tone_check: false, max_segments: 3 });
        assert!(off.warnings.is_empty());
    }

    #[test]
    fn long_answers_and_look_alikes_are_flagged() {
        let long = "word ".repeat(100);
        assert_eq!(codes(&long), ["long"]);
        let p = preview("It\u{2019}s booked", ToneRules::default());
        assert_eq!(p.count.encoding, crate::Encoding::Ucs2);
        assert_eq!(p.ucs2_characters, [Forcing { character: "\u{2019}".into(), replacement: Some("'") }]);
        assert_eq!(p.warnings[0].code, "ucs2");
    }
}
