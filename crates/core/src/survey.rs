//! Satisfaction polls by text (F10): the kinds of question, and reading a
//! customer's answer the way people actually text one ("5", "5!", "five",
//! "4/5", "⭐⭐⭐⭐", "10 - great", "very good"). A reply that is not clearly an
//! answer is `None`: it stays an ordinary message (it is never swallowed), so
//! the reader prefers missing an answer to inventing one ("2 questions about
//! my bill" is not a score of 2).

use serde::{Deserialize, Serialize};

/// The question a poll asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurveyKind {
    /// "How did we do? Reply 1–5": 4 and 5 count as satisfied.
    Csat,
    /// "How likely are you to recommend us? Reply 0–10".
    Nps,
    /// "Did we solve your problem? Reply YES or NO": 1 for yes, 0 for no.
    YesNo,
}

impl SurveyKind {
    pub const ALL: [SurveyKind; 3] = [SurveyKind::Csat, SurveyKind::Nps, SurveyKind::YesNo];

    pub fn as_str(self) -> &'static str {
        match self {
            SurveyKind::Csat => "csat",
            SurveyKind::Nps => "nps",
            SurveyKind::YesNo => "yes_no",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The lowest and highest score.
    pub fn range(self) -> (u8, u8) {
        match self {
            SurveyKind::Csat => (1, 5),
            SurveyKind::Nps => (0, 10),
            SurveyKind::YesNo => (0, 1),
        }
    }

    /// A score low enough to ask what went wrong and to put the conversation
    /// in the review queue: CSAT 1–2, NPS 0–6 (a detractor), a "no".
    pub fn is_low(self, score: u8) -> bool {
        match self {
            SurveyKind::Csat => score <= 2,
            SurveyKind::Nps => score <= 6,
            SurveyKind::YesNo => score == 0,
        }
    }

    /// The question's default wording (each inbox may change it).
    pub fn default_question(self) -> &'static str {
        match self {
            SurveyKind::Csat => "How did we do? Reply with a number from 1 (poor) to 5 (great).",
            SurveyKind::Nps => "How likely are you to recommend us to a friend? Reply 0 (not at all) to 10 (very).",
            SurveyKind::YesNo => "Did we solve your problem? Reply YES or NO.",
        }
    }
}

/// What a customer's reply said, when it answered the poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub score: u8,
    /// Words that came with the score ("10 - great" → "great"), trimmed.
    pub comment: Option<String>,
}

/// Longer texts are letters, not answers (and the reader stays cheap).
const MAX_ANSWER_CHARS: usize = 160;

/// Reads a reply to a poll of `kind`. `None`: not an answer.
pub fn read_answer(kind: SurveyKind, text: &str) -> Option<Answer> {
    if text.chars().count() > MAX_ANSWER_CHARS {
        return None;
    }
    let t = text.trim();
    // A question is never an answer ("is 5 ok?", "10th of June?").
    if t.is_empty() || t.contains('?') {
        return None;
    }
    let (score, rest) = match kind {
        SurveyKind::YesNo => yes_no(t)?,
        SurveyKind::Csat | SurveyKind::Nps => {
            stars(kind, t).or_else(|| number(kind, t)).or_else(|| number_word(kind, t)).or_else(|| phrase(kind, t))?
        }
    };
    let (low, high) = kind.range();
    if !(low..=high).contains(&score) {
        return None;
    }
    let comment = rest.trim_matches(|c: char| c.is_whitespace() || SEPARATORS.contains(&c)).trim();
    Some(Answer { score, comment: (!comment.is_empty()).then(|| comment.to_owned()) })
}

/// What may stand between a score and its comment.
const SEPARATORS: &[char] = &['-', '–', '—', ':', ',', '.', '!', ';', '/', '(', ')', '"', '\''];

/// Words that follow a score naturally ("5 stars", "10 great"); any other word
/// right after a number means the number was part of a sentence.
const FOLLOWERS: &[&str] = &[
    "star",
    "stars",
    "great",
    "good",
    "excellent",
    "amazing",
    "awesome",
    "perfect",
    "fine",
    "ok",
    "okay",
    "thanks",
    "thank",
    "thx",
    "ty",
    "bad",
    "poor",
    "terrible",
    "awful",
    "not",
    "very",
    "really",
    "so",
    "out",
    "of",
    "points",
    "average",
    "meh",
    "horrible",
    "love",
    "loved",
    "lovely",
    "nice",
    "super",
    "fantastic",
    "brilliant",
    "slow",
    "quick",
    "fast",
    "helpful",
    "unhelpful",
    "but",
    "and",
    "because",
    "as",
];

/// "⭐⭐⭐⭐" (or ★): the number of stars, on a five-point question.
fn stars(kind: SurveyKind, t: &str) -> Option<(u8, &str)> {
    let is_star = |c: char| matches!(c, '⭐' | '★' | '🌟');
    let end = t.char_indices().find(|&(_, c)| !is_star(c) && c != '\u{fe0f}' && !c.is_whitespace()).map(|(i, _)| i);
    let (stars, rest) = t.split_at(end.unwrap_or(t.len()));
    let n = stars.chars().filter(|&c| is_star(c)).count();
    (kind == SurveyKind::Csat && n > 0).then_some((u8::try_from(n).ok()?, rest))
}

/// A number at the start: "5", "5!", "4/5", "4 out of 5", "10 - great", "5 stars".
fn number(kind: SurveyKind, t: &str) -> Option<(u8, &str)> {
    let digits = t.char_indices().take_while(|(_, c)| c.is_ascii_digit()).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    let n: u8 = t[..digits].parse().ok()?;
    let rest = &t[digits..];
    // "4/5", "8/10", "4 out of 5": the scale must be the question's (or ten for a five-point question, halved).
    if let Some((of, after)) = out_of(rest) {
        let (_, high) = kind.range();
        return match (kind, of) {
            (_, h) if h == high => Some((n, after)),
            (SurveyKind::Csat, 10) if n <= 10 => Some((n.div_ceil(2).max(1), after)),
            _ => None,
        };
    }
    follows_a_score(rest).then_some((n, rest))
}

/// "/5", " / 10", " out of 5" after a number: the scale, and what follows it.
fn out_of(rest: &str) -> Option<(u8, &str)> {
    let r = rest.trim_start();
    let r = r.strip_prefix('/').or_else(|| strip_word(r, "out of")).or_else(|| strip_word(r, "of"))?.trim_start();
    let digits = r.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 || digits > 2 {
        return None;
    }
    Some((r[..digits].parse().ok()?, &r[digits..]))
}

/// Whether what comes after a number leaves it standing as a score: nothing,
/// a separator, or a word people put after a score.
fn follows_a_score(rest: &str) -> bool {
    let Some(first) = rest.chars().next() else { return true };
    if first.is_ascii_digit() || first.is_alphabetic() {
        // "5am", "10th", "2nd": part of a word.
        return false;
    }
    let r = rest.trim_start();
    match r.chars().next() {
        None => true,
        Some(c) if SEPARATORS.contains(&c) => !starts_a_number(&r[c.len_utf8()..]),
        Some(c) if c.is_alphabetic() => FOLLOWERS.contains(&first_word(r).as_str()),
        // An emoji or other sign after the score ("5 👍", "5 ❤️").
        Some(c) => !c.is_ascii_digit(),
    }
}

/// "5-6", "10.5", "3,000": a range, a decimal or a larger number, not a score.
fn starts_a_number(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn first_word(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphabetic() || *c == '\'').collect::<String>().to_lowercase()
}

/// `s` without a leading `word` (any case) that ends at a word boundary.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    let rest = &s[word.len()..];
    (head.eq_ignore_ascii_case(word) && !rest.chars().next().is_some_and(char::is_alphabetic)).then_some(rest)
}

const NUMBER_WORDS: [&str; 11] =
    ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"];

/// "five", "Ten!", "four out of five".
fn number_word(kind: SurveyKind, t: &str) -> Option<(u8, &str)> {
    let (n, rest) =
        NUMBER_WORDS.iter().enumerate().find_map(|(n, w)| strip_word(t, w).map(|rest| (u8::try_from(n).ok(), rest)))?;
    let n = n?;
    let r = rest.trim_start();
    if let Some(after) = strip_word(r, "out of").or_else(|| strip_word(r, "of")) {
        let after = after.trim_start();
        let (of, tail) =
            NUMBER_WORDS.iter().enumerate().find_map(|(k, w)| strip_word(after, w).map(|tail| (k, tail)))?;
        let (_, high) = kind.range();
        return (of == usize::from(high)).then_some((n, tail));
    }
    follows_a_score(rest).then_some((n, rest))
}

/// Whole answers in words, on a five-point question; mapped onto ten points
/// for NPS only when there is no doubt ("excellent" → 10, "terrible" → 0).
fn phrase(kind: SurveyKind, t: &str) -> Option<(u8, &str)> {
    let lower = t.to_lowercase();
    let words: String = lower.chars().map(|c| if c.is_alphabetic() || c == '\'' { c } else { ' ' }).collect();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    // Longest phrases first: "not good" before "good".
    const PHRASES: &[(&str, u8, u8)] = &[
        ("very good", 5, 9),
        ("really good", 5, 9),
        ("very bad", 1, 1),
        ("really bad", 1, 1),
        ("not good", 2, 3),
        ("not great", 2, 4),
        ("not bad", 4, 7),
        ("excellent", 5, 10),
        ("amazing", 5, 10),
        ("awesome", 5, 10),
        ("perfect", 5, 10),
        ("fantastic", 5, 10),
        ("great", 5, 9),
        ("good", 4, 8),
        ("fine", 3, 6),
        ("ok", 3, 6),
        ("okay", 3, 6),
        ("average", 3, 5),
        ("meh", 3, 5),
        ("poor", 2, 3),
        ("bad", 2, 2),
        ("terrible", 1, 0),
        ("awful", 1, 0),
        ("horrible", 1, 0),
    ];
    let (_, csat, nps) = PHRASES.iter().find(|(p, _, _)| words == *p || words.starts_with(&format!("{p} ")))?;
    // Only short answers: "good" is an answer, "good morning, my order is late" is not.
    let extra = words.split_whitespace().count().saturating_sub(1);
    if extra > 3 || lower.contains('?') || words.starts_with("good morning") || words.starts_with("good afternoon") {
        return None;
    }
    let score = match kind {
        SurveyKind::Csat => *csat,
        _ => *nps,
    };
    Some((score, ""))
}

/// "yes", "Y", "yep!", "👍", "no", "nope", "👎".
fn yes_no(t: &str) -> Option<(u8, &str)> {
    const YES: &[&str] = &["yes", "y", "yeah", "yep", "yup", "sure", "si", "sí", "oui", "ja", "👍"];
    const NO: &[&str] = &["no", "n", "nope", "nah", "non", "nein", "👎"];
    let head_len = t.find(|c: char| c.is_whitespace() || SEPARATORS.contains(&c)).unwrap_or(t.len());
    let (head, rest) = t.split_at(head_len);
    let head = head.to_lowercase();
    let head = head.trim_end_matches('\u{fe0f}');
    // "no problem", "no worries", "no idea": phrases, not a "no".
    if matches!(first_word(rest.trim_start()).as_str(), "problem" | "problems" | "worries" | "idea") {
        return None;
    }
    if YES.contains(&head) {
        Some((1, rest))
    } else if NO.contains(&head) {
        Some((0, rest))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(kind: SurveyKind, t: &str) -> Option<u8> {
        read_answer(kind, t).map(|a| a.score)
    }

    #[test]
    fn scores_as_people_text_them() {
        use SurveyKind::*;
        for (t, want) in [
            ("5", 5),
            ("5!", 5),
            (" 4 ", 4),
            ("five", 5),
            ("Five!", 5),
            ("4/5", 4),
            ("4 / 5", 4),
            ("4 out of 5", 4),
            ("four out of five", 4),
            ("8/10", 4),
            ("⭐⭐⭐⭐", 4),
            ("⭐️⭐️⭐️⭐️⭐️ thanks", 5),
            ("★★", 2),
            ("5 stars", 5),
            ("very good", 5),
            ("Good", 4),
            ("ok", 3),
            ("not good", 2),
            ("terrible!", 1),
            ("1 - never again", 1),
            ("5 👍", 5),
        ] {
            assert_eq!(score(Csat, t), Some(want), "{t:?}");
        }
        for (t, want) in [("10 - great", 10), ("10", 10), ("7/10", 7), ("ten", 10), ("0", 0), ("9, quick and kind", 9)]
        {
            assert_eq!(score(Nps, t), Some(want), "{t:?}");
        }
        for (t, want) in [("yes", 1), ("Y", 1), ("Yes!", 1), ("yep, all sorted", 1), ("👍", 1), ("no", 0), ("Nope.", 0)]
        {
            assert_eq!(score(YesNo, t), Some(want), "{t:?}");
        }
    }

    /// Replies as customers send them to a poll, and what each must read as:
    /// a score, or nothing (an ordinary message that reopens the conversation).
    #[test]
    fn a_table_of_real_replies() {
        use SurveyKind::*;
        let table: &[(SurveyKind, &str, Option<u8>)] = &[
            (Csat, "5", Some(5)),
            (Csat, "5!", Some(5)),
            (Csat, "5!!!", Some(5)),
            (Csat, "five", Some(5)),
            (Csat, "4/5", Some(4)),
            (Csat, "⭐⭐⭐⭐", Some(4)),
            (Csat, "⭐⭐⭐⭐⭐", Some(5)),
            (Csat, "3.", Some(3)),
            (Csat, "3 - took a while", Some(3)),
            (Csat, "2 slow to answer", Some(2)),
            (Csat, "1", Some(1)),
            (Csat, "1 terrible", Some(1)),
            (Csat, "Excellent", Some(5)),
            (Csat, "very good", Some(5)),
            (Csat, "Very good, thank you", Some(5)),
            (Csat, "awful", Some(1)),
            (Csat, "meh", Some(3)),
            (Csat, "5 thanks!", Some(5)),
            (Csat, "4 out of 5", Some(4)),
            (Csat, "10/10", Some(5)),
            (Csat, "Four", Some(4)),
            (Csat, "5 ❤️", Some(5)),
            (Csat, "Thanks", None),
            (Csat, "thank you!", None),
            (Csat, "ok thanks, but my bill is still wrong", None),
            (Csat, "Actually the problem is back", None),
            (Csat, "Can I book for 5pm", None),
            (Csat, "2 more questions", None),
            (Csat, "Who is this?", None),
            (Csat, "STOP", None),
            (Csat, "1 more thing", None),
            (Csat, "3 boxes arrived damaged", None),
            (Csat, "555-0100", None),
            (Nps, "10 - great", Some(10)),
            (Nps, "9", Some(9)),
            (Nps, "0", Some(0)),
            (Nps, "7/10", Some(7)),
            (Nps, "8 out of 10", Some(8)),
            (Nps, "ten!", Some(10)),
            (Nps, "6, too slow", Some(6)),
            (Nps, "11", None),
            (Nps, "100", None),
            (Nps, "10am tomorrow?", None),
            (YesNo, "yes", Some(1)),
            (YesNo, "Yes!", Some(1)),
            (YesNo, "yep all good", Some(1)),
            (YesNo, "👍", Some(1)),
            (YesNo, "no", Some(0)),
            (YesNo, "No, still broken", Some(0)),
            (YesNo, "nope", Some(0)),
            (YesNo, "no problem", None),
            (YesNo, "not sure what you mean", None),
        ];
        assert!(table.len() >= 40);
        for (kind, text, want) in table {
            assert_eq!(score(*kind, text), *want, "{kind:?} {text:?}");
        }
    }

    #[test]
    fn sentences_with_numbers_are_not_scores() {
        use SurveyKind::*;
        for t in [
            "2 questions about my bill",
            "I have 2 questions",
            "5am works for me",
            "10th of June?",
            "3,000 dollars",
            "4-5 days",
            "12",
            "6",
            "no problem",
            "no worries",
            "good morning, my order is late",
            "is 5 ok?",
            "",
            "   ",
            "no idea what you mean, can I call?",
            "yesterday",
        ] {
            let csat = score(Csat, t);
            let yes_no = score(YesNo, t);
            assert_eq!(csat, None, "{t:?}");
            assert_eq!(yes_no, None, "{t:?}");
        }
        assert_eq!(score(Nps, "11"), None);
        assert_eq!(score(Csat, "0"), None);
        assert_eq!(score(Nps, "5/5"), None, "a five-point answer to a ten-point question is ambiguous");
    }

    #[test]
    fn the_words_after_a_score_are_its_comment() {
        let a = read_answer(SurveyKind::Nps, "10 - great, Dana was quick").unwrap();
        assert_eq!((a.score, a.comment.as_deref()), (10, Some("great, Dana was quick")));
        assert_eq!(read_answer(SurveyKind::Csat, "5!").unwrap().comment, None);
    }

    #[test]
    fn long_texts_are_letters_not_answers() {
        assert_eq!(read_answer(SurveyKind::Csat, &format!("5 {}", "very ".repeat(40))), None);
    }

    #[test]
    fn low_scores() {
        assert!(SurveyKind::Csat.is_low(2) && !SurveyKind::Csat.is_low(3));
        assert!(SurveyKind::Nps.is_low(6) && !SurveyKind::Nps.is_low(7));
        assert!(SurveyKind::YesNo.is_low(0) && !SurveyKind::YesNo.is_low(1));
    }
}
