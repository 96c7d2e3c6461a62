//! The conversation list's vocabulary: views, sorts, what a search looks for,
//! and who a private note mentions.

use crate::Invalid;

/// Which conversations a list shows, relative to the agent looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxView {
    Mine,
    Unassigned,
    /// Conversations owned by a team the agent belongs to.
    Team,
    /// Conversations where a private note @-mentions the agent.
    Mentions,
    /// Conversations escalated to the agent as a supervisor.
    Escalated,
    All,
}

impl InboxView {
    pub const ALL: [InboxView; 6] =
        [Self::Mine, Self::Unassigned, Self::Team, Self::Mentions, Self::Escalated, Self::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mine => "mine",
            Self::Unassigned => "unassigned",
            Self::Team => "team",
            Self::Mentions => "mentions",
            Self::Escalated => "escalated",
            Self::All => "all",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Self::ALL.into_iter().find(|v| v.as_str() == s).ok_or_else(|| {
            Invalid::new(format!("view must be one of mine, unassigned, team, mentions, escalated, all (got {s:?})"))
        })
    }
}

/// The order of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListSort {
    /// Most recently active first.
    #[default]
    Activity,
    /// The customer who has waited longest first; nobody waiting comes last.
    Waiting,
    /// The newest mention of the agent first (the mentions view's own order).
    Mentioned,
}

impl ListSort {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Activity => "activity",
            Self::Waiting => "waiting",
            Self::Mentioned => "mentioned",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        [Self::Activity, Self::Waiting, Self::Mentioned]
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| Invalid::new(format!("sort must be activity, waiting or mentioned (got {s:?})")))
    }
}

/// What an agent typed in the search box, reduced to what can be matched
/// safely: words (letters and digits only, so no search syntax survives) and,
/// when it looks like a phone number, its digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    words: Vec<String>,
    digits: Option<String>,
}

/// More words than this only slow the query down without narrowing it usefully.
const MAX_WORDS: usize = 8;
const MAX_WORD_CHARS: usize = 64;

impl SearchQuery {
    /// None when nothing searchable was typed (empty, or only punctuation).
    pub fn parse(raw: &str) -> Option<Self> {
        let words: Vec<String> = raw
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_WORDS)
            .map(|w| w.chars().take(MAX_WORD_CHARS).collect::<String>().to_lowercase())
            .collect();
        let phone_like = raw.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c));
        let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
        let digits = (phone_like && digits.len() >= 3).then_some(digits);
        if words.is_empty() && digits.is_none() {
            return None;
        }
        Some(SearchQuery { words, digits })
    }

    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The digits of a phone number to find inside addresses.
    pub fn digits(&self) -> Option<&str> {
        self.digits.as_deref()
    }

    /// SQLite FTS5: every word as a quoted prefix, all required.
    pub fn fts5(&self) -> String {
        self.words.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ")
    }

    /// PostgreSQL tsquery: every word as a quoted prefix, all required.
    pub fn tsquery(&self) -> String {
        self.words.iter().map(|w| format!("'{w}':*")).collect::<Vec<_>>().join(" & ")
    }

    /// The words of `text` around the first one a search word begins (accents
    /// and case aside, as both backends match), each piece saying whether it is
    /// a match: about `SNIPPET_WORDS` words, with "…" where the text was cut.
    /// None when no word matches (the conversation was found by another way).
    pub fn highlight(&self, text: &str) -> Option<Vec<(String, bool)>> {
        let wanted: Vec<String> = self.words.iter().map(|w| fold(w)).collect();
        let mut tokens: Vec<(usize, usize)> = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_alphanumeric(), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    tokens.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            tokens.push((s, text.len()));
        }
        let hit = |&(a, b): &(usize, usize)| {
            let token = fold(&text[a..b]);
            wanted.iter().any(|w| token.starts_with(w.as_str()))
        };
        let first = tokens.iter().position(hit)?;
        let shown = SNIPPET_WORDS.min(tokens.len());
        let from = first.saturating_sub(SNIPPET_WORDS_BEFORE).min(tokens.len() - shown);
        let to = from + shown;
        let mut parts: Vec<(String, bool)> = Vec::new();
        let mut push = |piece: &str, is_hit: bool| match parts.last_mut() {
            Some((last, h)) if *h == is_hit && !is_hit => last.push_str(piece),
            _ if piece.is_empty() => {}
            _ => parts.push((piece.to_owned(), is_hit)),
        };
        let mut at = if from == 0 { 0 } else { tokens[from].0 };
        if from > 0 {
            push("…", false);
        }
        for token in &tokens[from..to] {
            push(&text[at..token.0], false);
            push(&text[token.0..token.1], hit(token));
            at = token.1;
        }
        if to == tokens.len() {
            push(&text[at..], false);
        } else {
            push("…", false);
        }
        Some(parts)
    }
}

/// How many words a search snippet shows, and how many of them come before the first match.
const SNIPPET_WORDS: usize = 14;
const SNIPPET_WORDS_BEFORE: usize = 4;

/// Lowercase without accents ("Zoë" → "zoe"): the letters decomposed and
/// their combining marks dropped, as SQLite's tokenizer and PostgreSQL's
/// `unaccent` compare words.
pub fn fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfd().filter(|c| !unicode_normalization::char::is_combining_mark(*c)).collect::<String>().to_lowercase()
}

/// The handles a note mentions: `@` at the start or after a space, followed by
/// letters, digits, `.`, `_` or `-` (an email's local part or a first name),
/// lowercased, each once. A trailing `.` is punctuation, not part of the handle.
pub fn mention_handles(body: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut prev = ' ';
    for (i, c) in body.char_indices() {
        if c == '@' && prev.is_whitespace() {
            let rest = &body[i + 1..];
            let handle: String =
                rest.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
            let handle = handle.trim_end_matches(['.', '-']).to_lowercase();
            if !handle.is_empty() && !out.contains(&handle) {
                out.push(handle);
            }
        }
        prev = c;
    }
    out
}

/// Whether `handle` names the user: their first name or their email's local part.
pub fn handle_matches(handle: &str, name: &str, email: &str) -> bool {
    let first = name.split_whitespace().next().unwrap_or("").to_lowercase();
    let local = email.split('@').next().unwrap_or("").to_lowercase();
    handle == first || handle == local
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_keeps_only_words_and_phone_digits() {
        let q = SearchQuery::parse("Refund AND (\"now\"").unwrap();
        assert_eq!(q.words(), ["refund", "and", "now"]);
        assert_eq!(q.fts5(), "\"refund\"* \"and\"* \"now\"*");
        assert_eq!(q.tsquery(), "'refund':* & 'and':* & 'now':*");
        assert_eq!(q.digits(), None);
        assert_eq!(SearchQuery::parse("\""), None);
        assert_eq!(SearchQuery::parse("  ( ) "), None);
        let p = SearchQuery::parse("+1 (415) 555-0403").unwrap();
        assert_eq!(p.digits(), Some("14155550403"));
        assert_eq!(SearchQuery::parse("55").unwrap().digits(), None);
        assert_eq!(SearchQuery::parse("Zoë's").unwrap().words(), ["zoë", "s"]);
    }

    #[test]
    fn snippets_mark_prefixes_without_accents_and_cut_long_text() {
        let q = SearchQuery::parse("cafe Zoë").unwrap();
        assert_eq!(
            q.highlight("Un Café crème, zoe!").unwrap(),
            vec![
                ("Un ".to_owned(), false),
                ("Café".to_owned(), true),
                (" crème, ".to_owned(), false),
                ("zoe".to_owned(), true),
                ("!".to_owned(), false)
            ]
        );
        assert_eq!(q.highlight("nothing here"), None);
        let long = "one two three four five six seven eight nine ten eleven twelve cafés fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        let parts = q.highlight(long).unwrap();
        let text: String = parts.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            text,
            "…seven eight nine ten eleven twelve cafés fourteen fifteen sixteen seventeen eighteen nineteen twenty"
        );
        assert!(parts.contains(&("cafés".to_owned(), true)));
        let start = "cafés one two three four five six seven eight nine ten eleven twelve thirteen fourteen";
        let text: String = q.highlight(start).unwrap().iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(text, "cafés one two three four five six seven eight nine ten eleven twelve thirteen…");
        assert_eq!(fold("ÉLAN Ñandú"), "elan nandu");
    }

    #[test]
    fn mentions_are_handles_after_a_space() {
        assert_eq!(mention_handles("@Dana can you look? cc @sam.lee."), ["dana", "sam.lee"]);
        assert_eq!(mention_handles("mail me at x@dana.com, @dana @DANA"), ["dana"]);
        assert!(mention_handles("@ nobody").is_empty());
        assert!(handle_matches("dana", "Dana Scully", "d.scully@example.com"));
        assert!(handle_matches("d.scully", "Dana Scully", "d.scully@example.com"));
        assert!(!handle_matches("scully", "Dana Scully", "d.scully@example.com"));
    }

    #[test]
    fn views_and_sorts_parse_or_explain() {
        assert_eq!(InboxView::parse("team").unwrap(), InboxView::Team);
        assert!(InboxView::parse("everything").unwrap_err().0.contains("mine, unassigned"));
        assert_eq!(ListSort::parse("waiting").unwrap(), ListSort::Waiting);
        assert!(ListSort::parse("oldest").is_err());
    }
}
