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
