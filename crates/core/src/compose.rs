//! Advice for a text before it is sent: how long it is for a phone, and
//! whether it reads like a business. Advice only; the agent decides.

use serde::{Deserialize, Serialize};

use crate::Invalid;

use crate::segments::{self, SegmentCount, gsm_replacement, ucs2_forcing_chars};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    /// `long`, `slang`, `emoji`, `caps`, `exclamation`, `ucs2`.
    pub code: &'static str,
    pub message: String,
}

/// What an account asks the composer to watch for. Stored in the account's
/// settings as `compose`; every field has a default, so `{}` means today's
/// behaviour and an account only writes what it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToneRules {
    /// The master switch for the tone checks (length and look-alike advice stay).
    pub tone_check: bool,
    pub checks: ToneChecks,
    /// Warn above this many segments.
    pub max_segments: usize,
    /// The account's own text-speak, as [word, what to write instead] (the
    /// second may be empty: just avoid the word).
    pub extra_slang: Vec<(String, String)>,
}

/// Each tone check on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToneChecks {
    pub slang: bool,
    pub emoji: bool,
    pub caps: bool,
    pub exclamation: bool,
}

impl Default for ToneChecks {
    fn default() -> Self {
        ToneChecks { slang: true, emoji: true, caps: true, exclamation: true }
    }
}

impl Default for ToneRules {
    fn default() -> Self {
        ToneRules { tone_check: true, checks: ToneChecks::default(), max_segments: 3, extra_slang: Vec::new() }
    }
}

impl ToneRules {
    pub const MAX_EXTRA_SLANG: usize = 200;

    /// Checks values an admin typed; words are kept lowercase.
    pub fn validated(mut self) -> Result<Self, Invalid> {
        if !(1..=10).contains(&self.max_segments) {
            return Err(Invalid::new("max_segments is 1 to 10"));
        }
        if self.extra_slang.len() > Self::MAX_EXTRA_SLANG {
            return Err(Invalid::new(format!("extra_slang has at most {} words", Self::MAX_EXTRA_SLANG)));
        }
        for (word, better) in &mut self.extra_slang {
            let w = word.trim().to_lowercase();
            if w.is_empty()
                || w.chars().count() > 30
                || w.chars().any(|c| c.is_whitespace() || ",.;:?!()\"".contains(c))
            {
                return Err(Invalid::new(format!(
                    "extra_slang: {word:?} is not one word (1 to 30 characters, no spaces or punctuation)"
                )));
            }
            if better.chars().count() > 50 {
                return Err(Invalid::new(format!("extra_slang: the replacement for {w:?} is over 50 characters")));
            }
            *word = w;
            *better = better.trim().to_owned();
        }
        Ok(self)
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

pub fn preview(text: &str, rules: &ToneRules) -> Preview {
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
        tone(text, rules, &mut warnings);
    }
    Preview { count, ucs2_characters: forcing, warnings }
}

fn tone(text: &str, rules: &ToneRules, warnings: &mut Vec<Advice>) {
    let checks = rules.checks;
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || ",.;:?!()\"".contains(c)).filter(|w| !w.is_empty()).collect();
    let extra = rules.extra_slang.iter().map(|(s, b)| (s.as_str(), b.as_str()));
    let known: Vec<(&str, &str)> = SLANG.iter().copied().chain(extra).collect();
    let slang: Vec<String> = words
        .iter()
        .filter_map(|w| known.iter().find(|(s, _)| w.to_lowercase() == s.to_lowercase()))
        .map(|(s, better)| if better.is_empty() { format!("“{s}”") } else { format!("“{s}” (write “{better}”)") })
        .collect();
    if checks.slang && !slang.is_empty() {
        let mut unique = slang;
        unique.dedup();
        warnings.push(Advice { code: "slang", message: format!("Text-speak reads as casual: {}.", unique.join(", ")) });
    }
    if checks.emoji && text.chars().any(is_emoji) {
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
    if checks.caps && shouted >= 2 && shouted * 2 > long_words {
        warnings.push(Advice { code: "caps", message: "ALL CAPS reads as shouting.".into() });
    }
    if checks.exclamation && text.contains("!!") {
        warnings
            .push(Advice { code: "exclamation", message: "Repeated exclamation marks read as unprofessional.".into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(text: &str) -> Vec<&'static str> {
        preview(text, &ToneRules::default()).warnings.iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_plain_business_reply_gets_no_advice() {
        assert!(codes("Hi Karen, your cleaning is confirmed for Tuesday at 9:00 AM. See you then!").is_empty());
        assert!(codes("Your PIN is 4471. Call us at 555-0100 if you need help.").is_empty());
    }

    #[test]
    fn casual_writing_is_named() {
        assert_eq!(codes("thx, see u tmrw"), ["slang"]);
        assert!(preview("pls call", &ToneRules::default()).warnings[0].message.contains("please"));
        assert_eq!(codes("Great news 🎉"), ["emoji"]);
        assert_eq!(codes("YOUR ACCOUNT IS OVERDUE"), ["caps"]);
        assert!(codes("Call the IRS or USPS").is_empty(), "acronyms are not shouting");
        assert_eq!(codes("See you soon!!!"), ["exclamation"]);
        let off = preview("thx!! 🎉", &ToneRules { tone_check: false, ..ToneRules::default() });
        assert!(off.warnings.is_empty());
    }

    #[test]
    fn an_account_tunes_the_checks() {
        let no_slang =
            ToneRules { checks: ToneChecks { slang: false, ..ToneChecks::default() }, ..ToneRules::default() };
        let codes_with = |t: &str, r: &ToneRules| preview(t, r).warnings.iter().map(|w| w.code).collect::<Vec<_>>();
        assert_eq!(codes_with("thx!!", &no_slang), ["exclamation"]);
        let extra = ToneRules { extra_slang: vec![("Yall".into(), "you all".into())], ..ToneRules::default() }
            .validated()
            .unwrap();
        assert_eq!(extra.extra_slang[0].0, "yall");
        let p = preview("Thanks yall", &extra);
        assert_eq!(p.warnings[0].code, "slang");
        assert!(p.warnings[0].message.contains("you all"), "{:?}", p.warnings);
        assert_eq!(codes_with("WAIT FOR IT", &ToneRules { max_segments: 3, ..no_slang.clone() }), ["caps"]);
        let long = ToneRules { max_segments: 1, ..ToneRules::default() };
        assert_eq!(codes_with(&"word ".repeat(40), &long), ["long"]);
    }

    #[test]
    fn settings_are_read_with_defaults_and_checked() {
        let r: ToneRules = serde_json::from_str(r#"{"checks":{"emoji":false}}"#).unwrap();
        assert_eq!(
            r,
            ToneRules { checks: ToneChecks { emoji: false, ..ToneChecks::default() }, ..ToneRules::default() }
        );
        assert!(serde_json::from_str::<ToneRules>(r#"{"tone":true}"#).is_err());
        assert!(ToneRules { max_segments: 0, ..ToneRules::default() }.validated().is_err());
        let two_words = ToneRules { extra_slang: vec![("no way".into(), String::new())], ..ToneRules::default() };
        assert!(two_words.validated().is_err());
    }

    #[test]
    fn long_answers_and_look_alikes_are_flagged() {
        let long = "word ".repeat(100);
        assert_eq!(codes(&long), ["long"]);
        let p = preview("It\u{2019}s booked", &ToneRules::default());
        assert_eq!(p.count.encoding, crate::Encoding::Ucs2);
        assert_eq!(p.ucs2_characters, [Forcing { character: "\u{2019}".into(), replacement: Some("'") }]);
        assert_eq!(p.warnings[0].code, "ucs2");
    }
}
