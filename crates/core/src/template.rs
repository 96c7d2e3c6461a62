//! Canned responses: a shortcut an agent types after `/`, and a body with
//! variables in braces (`{contact.first_name|there}`) filled in for one
//! conversation. Parsing says exactly what is wrong; rendering never fails.

use std::fmt;

use crate::Invalid;
use crate::message::Body;

/// What a canned response is called in the composer: `/hours`, `/thanks`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shortcut(String);

impl Shortcut {
    pub const MAX_CHARS: usize = 32;

    /// Lowercase letters, digits and `-`, 1 to 32 of them. A leading `/` is
    /// accepted because that is how agents think of it.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let s = s.strip_prefix('/').unwrap_or(s);
        if s.is_empty() || s.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("a shortcut is 1 to 32 characters"));
        }
        if !s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(Invalid::new("a shortcut has only lowercase letters, digits and - (like confirm-visit)"));
        }
        Ok(Shortcut(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Shortcut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A canned response's title as the list shows it: 1 to 100 characters.
pub fn parse_title(raw: &str) -> Result<String, Invalid> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > 100 {
        return Err(Invalid::new("a title is 1 to 100 characters"));
    }
    Ok(t.to_owned())
}

/// The values a template may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Var {
    ContactFirstName,
    ContactName,
    AgentName,
    AgentFirstName,
    BusinessName,
    NextOpen,
}

impl Var {
    pub const ALL: [Var; 6] = [
        Var::ContactFirstName,
        Var::ContactName,
        Var::AgentName,
        Var::AgentFirstName,
        Var::BusinessName,
        Var::NextOpen,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Var::ContactFirstName => "contact.first_name",
            Var::ContactName => "contact.name",
            Var::AgentName => "agent.name",
            Var::AgentFirstName => "agent.first_name",
            Var::BusinessName => "business.name",
            Var::NextOpen => "next_open",
        }
    }

    fn parse(name: &str) -> Option<Var> {
        Var::ALL.into_iter().find(|v| v.name() == name)
    }

    fn known() -> String {
        Var::ALL.iter().map(|v| format!("{{{}}}", v.name())).collect::<Vec<_>>().join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Var { var: Var, fallback: Option<String> },
}

/// A parsed canned-response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

const FALLBACK_MAX_CHARS: usize = 100;

impl Template {
    /// Parses a body: text with `{variable}` or `{variable|fallback}`; `{{` and
    /// `}}` stand for literal braces. Up to 1,600 characters, like a message.
    pub fn parse(source: &str) -> Result<Self, Invalid> {
        if source.trim().is_empty() {
            return Err(Invalid::new("the text is empty"));
        }
        let n = source.chars().count();
        if n > Body::MAX_CHARS {
            return Err(Invalid::new(format!("the text is {n} characters; the limit is {}", Body::MAX_CHARS)));
        }
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    text.push('}');
                }
                '}' => return Err(Invalid::new("a } without its {; write }} for a literal brace")),
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        match c {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '{' | '\n' => break,
                            _ => inner.push(c),
                        }
                    }
                    if !closed {
                        let shown: String = inner.chars().take(30).collect();
                        return Err(Invalid::new(format!(
                            "the brace before “{shown}” is not closed; write {{{{ for a literal brace"
                        )));
                    }
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Self::variable(&inner)?);
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { source: source.to_owned(), pieces })
    }

    fn variable(inner: &str) -> Result<Piece, Invalid> {
        let (name, fallback) = match inner.split_once('|') {
            Some((n, f)) => (n.trim(), Some(f.trim())),
            None => (inner.trim(), None),
        };
        if name.is_empty() {
            return Err(Invalid::new(format!("empty braces {{}}; the variables are {}", Var::known())));
        }
        let var = Var::parse(name)
            .ok_or_else(|| Invalid::new(format!("unknown variable {{{name}}}; the variables are {}", Var::known())))?;
        let fallback = match fallback {
            Some(f) if f.chars().count() > FALLBACK_MAX_CHARS => {
                return Err(Invalid::new(format!("the fallback for {{{name}}} is longer than 100 characters")));
            }
            Some(f) if f.contains('|') => {
                return Err(Invalid::new(format!("{{{name}}} has more than one | (one fallback only)")));
            }
            Some("") | None => None,
            Some(f) => Some(f.to_owned()),
        };
        Ok(Piece::Var { var, fallback })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The variables this template names, each once, in order of appearance.
    pub fn variables(&self) -> Vec<Var> {
        let mut out = Vec::new();
        for p in &self.pieces {
            if let Piece::Var { var, .. } = p
                && !out.contains(var)
            {
                out.push(*var);
            }
        }
        out
    }

    /// Fills in the variables. A missing value takes the fallback; without one
    /// it renders empty and the space it leaves is tidied, so "Hi {contact.first_name},"
    /// becomes "Hi," rather than "Hi ,".
    pub fn render(&self, vars: &Vars) -> Rendered {
        let mut out = String::with_capacity(self.source.len());
        let mut missing: Vec<Var> = Vec::new();
        // Set after a variable rendered empty: the next text closes the gap.
        let mut gap = false;
        for p in &self.pieces {
            let piece: &str = match p {
                Piece::Text(t) => t,
                Piece::Var { var, fallback } => match vars.get(*var).or(fallback.as_deref()) {
                    Some(v) => v,
                    None => {
                        if !missing.contains(var) {
                            missing.push(*var);
                        }
                        gap = true;
                        continue;
                    }
                },
            };
            if gap {
                push_closing_gap(&mut out, piece);
                gap = false;
            } else {
                out.push_str(piece);
            }
        }
        if gap {
            trim_end_blanks(&mut out);
        }
        Rendered { text: out, missing }
    }
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn trim_end_blanks(out: &mut String) {
    let kept = out.trim_end_matches(is_blank).len();
    out.truncate(kept);
}

/// Appends `piece` where an empty variable was: no doubled space, no space
/// before punctuation, no space at the start of a line.
fn push_closing_gap(out: &mut String, piece: &str) {
    let at_line_start = out.is_empty() || out.ends_with('\n');
    let piece = if at_line_start || out.ends_with(is_blank) { piece.trim_start_matches(is_blank) } else { piece };
    if piece.starts_with([',', '.', ';', ':', '!', '?', ')', '\n', '\r']) {
        trim_end_blanks(out);
    }
    out.push_str(piece);
}

/// The values for one conversation. Empty strings count as missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Vars {
    pub contact_name: Option<String>,
    pub contact_first_name: Option<String>,
    pub agent_name: Option<String>,
    pub agent_first_name: Option<String>,
    pub business_name: Option<String>,
    pub next_open: Option<String>,
}

impl Vars {
    /// First names are the first word of the full names.
    pub fn new(contact_name: &str, agent_name: &str, business_name: &str, next_open: Option<String>) -> Self {
        Vars {
            contact_name: present(contact_name),
            contact_first_name: first_name(contact_name),
            agent_name: present(agent_name),
            agent_first_name: first_name(agent_name),
            business_name: present(business_name),
            next_open: next_open.as_deref().and_then(present),
        }
    }

    fn get(&self, var: Var) -> Option<&str> {
        let v = match var {
            Var::ContactFirstName => &self.contact_first_name,
            Var::ContactName => &self.contact_name,
            Var::AgentName => &self.agent_name,
            Var::AgentFirstName => &self.agent_first_name,
            Var::BusinessName => &self.business_name,
            Var::NextOpen => &self.next_open,
        };
        v.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }
}

fn present(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// "Karen" from "Karen Whitfield".
pub fn first_name(full: &str) -> Option<String> {
    full.split_whitespace().next().map(str::to_owned)
}

/// A rendered template, and the variables that had no value and no fallback
/// (the composer warns the agent about them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub text: String,
    pub missing: Vec<Var>,
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn karen() -> Vars {
        Vars::new("Karen Whitfield", "Dana Reyes", "Harbor Dental", Some("Monday at 8:00 AM".into()))
    }

    #[test]
    fn shortcuts_are_small_lowercase_words() {
        assert_eq!(Shortcut::parse("/confirm").unwrap().as_str(), "confirm");
        assert_eq!(Shortcut::parse(" late-2 ").unwrap().as_str(), "late-2");
        assert!(Shortcut::parse("").is_err());
        assert!(Shortcut::parse("/").is_err());
        assert!(Shortcut::parse("Hours").unwrap_err().0.contains("lowercase"));
        assert!(Shortcut::parse("two words").is_err());
        assert!(Shortcut::parse(&"a".repeat(32)).is_ok());
        assert!(Shortcut::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn variables_are_filled_in() {
        let t = Template::parse("Hi {contact.first_name}, this is {agent.first_name} at {business.name}.").unwrap();
        let r = t.render(&karen());
        assert_eq!(r.text, "Hi Karen, this is Dana at Harbor Dental.");
        assert!(r.missing.is_empty());
        let t = Template::parse("{contact.name} / {agent.name}: we open {next_open}").unwrap();
        assert_eq!(t.render(&karen()).text, "Karen Whitfield / Dana Reyes: we open Monday at 8:00 AM");
        assert_eq!(t.variables(), [Var::ContactName, Var::AgentName, Var::NextOpen]);
    }

    #[test]
    fn a_missing_value_takes_the_fallback_or_leaves_no_gap() {
        let nobody = Vars::new("", "Dana Reyes", "Harbor Dental", None);
        let t = Template::parse("Thanks {contact.first_name|there}!").unwrap();
        assert_eq!(t.render(&nobody).text, "Thanks there!");
        assert!(t.render(&nobody).missing.is_empty());
        let t = Template::parse("Hi {contact.first_name}, see you soon. We open {next_open}.").unwrap();
        let r = t.render(&nobody);
        assert_eq!(r.text, "Hi, see you soon. We open.");
        assert_eq!(r.missing, [Var::ContactFirstName, Var::NextOpen]);
        let t = Template::parse("{contact.first_name} your visit is at 9").unwrap();
        assert_eq!(t.render(&nobody).text, "your visit is at 9");
        let t = Template::parse("Thanks {contact.first_name} for waiting").unwrap();
        assert_eq!(t.render(&nobody).text, "Thanks for waiting");
        let t = Template::parse("See you, {contact.first_name}").unwrap();
        assert_eq!(t.render(&nobody).text, "See you,");
        let t = Template::parse("Hi {contact.first_name}\n{contact.first_name} bye").unwrap();
        assert_eq!(t.render(&nobody).text, "Hi\nbye");
    }

    #[test]
    fn braces_are_checked() {
        let e = Template::parse("Hi {contact.age}").unwrap_err().0;
        assert!(e.contains("{contact.age}") && e.contains("{contact.first_name}"), "{e}");
        assert!(Template::parse("Hi {contact.first_name").unwrap_err().0.contains("not closed"));
        assert!(Template::parse("Hi {").is_err());
        assert!(Template::parse("Hi }").is_err());
        assert!(Template::parse("Hi {}").unwrap_err().0.contains("empty"));
        assert!(Template::parse("   ").is_err());
        assert!(Template::parse(&"a".repeat(1601)).is_err());
        let t = Template::parse("Use {{braces}} and {contact.first_name | friend }").unwrap();
        assert_eq!(t.render(&Vars::default()).text, "Use {braces} and friend");
        assert_eq!(t.as_str(), "Use {{braces}} and {contact.first_name | friend }");
    }

    proptest! {
        #[test]
        fn rendering_never_panics(src in "[a-z {}|.,!\\n_]{0,60}", name in "[A-Za-z ]{0,12}") {
            if let Ok(t) = Template::parse(&src) {
                let r = t.render(&Vars::new(&name, "", "Biz", None));
                prop_assert!(r.text.chars().count() <= src.chars().count() + 300);
            }
        }

        #[test]
        fn text_without_braces_renders_to_itself(src in "[^{}]{1,200}") {
            prop_assume!(!src.trim().is_empty());
            let t = Template::parse(&src).unwrap();
            prop_assert_eq!(t.render(&Vars::default()).text, src);
        }
    }
}
