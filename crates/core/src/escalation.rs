//! Escalation: the kinds a conversation can be raised to, the reason given,
//! and the video meeting link made from an account's template.

use serde::{Deserialize, Serialize};

use crate::Invalid;

/// Where a conversation is escalated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationKind {
    /// A supervisor takes over (or watches): priority urgent, alerted live.
    Supervisor,
    /// The agent's phone rings, then the customer's.
    Call,
    /// A call back at a time the customer chooses.
    Callback,
    /// A meeting link texted to the customer.
    Video,
    /// The transcript or a request for details, by email.
    Email,
}

impl EscalationKind {
    pub const ALL: [EscalationKind; 5] = [Self::Supervisor, Self::Call, Self::Callback, Self::Video, Self::Email];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Supervisor => "supervisor",
            Self::Call => "call",
            Self::Callback => "callback",
            Self::Video => "video",
            Self::Email => "email",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            Invalid::new(format!("to must be one of supervisor, call, callback, video, email (got {s:?})"))
        })
    }

    /// How the thread says it, after "escalated to".
    pub fn words(self) -> &'static str {
        match self {
            Self::Supervisor => "a supervisor",
            Self::Call => "a phone call",
            Self::Callback => "a call back",
            Self::Video => "a video call",
            Self::Email => "email",
        }
    }
}

/// The longest reason kept.
pub const MAX_REASON: usize = 500;

/// Why it was escalated: optional, trimmed, at most [`MAX_REASON`] characters.
pub fn parse_reason(r: Option<&str>) -> Result<Option<String>, Invalid> {
    let Some(r) = r.map(str::trim).filter(|r| !r.is_empty()) else { return Ok(None) };
    if r.chars().count() > MAX_REASON {
        return Err(Invalid::new(format!("the reason must be at most {MAX_REASON} characters")));
    }
    Ok(Some(r.to_owned()))
}

/// The default meeting link: a Jitsi room named after a random id.
pub const DEFAULT_VIDEO_TEMPLATE: &str = "https://meet.jit.si/textdesk-{room}";

/// The longest template accepted (a link in a text should stay short).
pub const MAX_TEMPLATE: usize = 300;

/// An account's meeting-link template: an `https://` URL holding `{room}` once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoTemplate(String);

impl VideoTemplate {
    pub fn parse(t: &str) -> Result<Self, Invalid> {
        let t = t.trim();
        let bad = |why: &str| Invalid::new(format!("the video link template {why}"));
        if t.chars().count() > MAX_TEMPLATE {
            return Err(bad(&format!("must be at most {MAX_TEMPLATE} characters")));
        }
        if !t.starts_with("https://") || t.len() <= "https://".len() {
            return Err(bad("must start with https:// (customers open it on their phone)"));
        }
        if t.matches("{room}").count() != 1 {
            return Err(bad("must hold {room} exactly once, where the meeting's id goes"));
        }
        if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("must not hold spaces"));
        }
        Ok(VideoTemplate(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The link for `room`, which must be letters and digits only (the caller
    /// makes it from random bytes), so it cannot change the link's shape.
    pub fn link(&self, room: &str) -> Result<String, Invalid> {
        if room.is_empty() || !room.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Invalid::new("a meeting id is letters and digits"));
        }
        Ok(self.0.replace("{room}", room))
    }
}

impl Default for VideoTemplate {
    fn default() -> Self {
        VideoTemplate(DEFAULT_VIDEO_TEMPLATE.to_owned())
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (a relay on the same machine or network).
    None,
    /// Plain, upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// What an email escalation sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailContent {
    /// The conversation so far.
    Transcript,
    /// A request to reply with the details.
    Request,
}

impl EmailContent {
    pub fn parse(s: Option<&str>) -> Result<Self, Invalid> {
        match s.map(str::trim).unwrap_or("transcript") {
            "" | "transcript" => Ok(Self::Transcript),
            "request" => Ok(Self::Request),
            other => Err(Invalid::new(format!("send must be transcript or request (got {other:?})"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transcript => "transcript",
            Self::Request => "request",
        }
    }
}

/// A reply domain for `Reply-To: reply+<token>@domain`: a host name.
pub fn parse_reply_domain(d: &str) -> Result<String, Invalid> {
    let d = d.trim().to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if !ok {
        return Err(Invalid::new(format!("{d:?} is not a domain name like help.example.com")));
    }
    Ok(d)
}

/// The `reply+<token>@domain` address an email reply was sent to, found in an
/// inbound `to` field ("Help <reply+ab12@reply.example.com>, other@x"),
/// lower-cased; None when there is none.
pub fn reply_address(to: &str) -> Option<String> {
    to.split([',', '<', '>', ' ', ';', '"']).map(str::trim).find_map(|part| {
        let lower = part.to_ascii_lowercase();
        let (local, domain) = lower.split_once('@')?;
        let token = local.strip_prefix("reply+")?;
        let ok = !token.is_empty() && token.chars().all(|c| c.is_ascii_hexdigit()) && !domain.is_empty();
        ok.then_some(lower)
    })
}

/// A reply's own words: the quoted history most mail programs add below it
/// ("On … wrote:", "> " lines, "-----Original Message-----", Outlook's rule
/// and "From:" block) is cut off.
pub fn strip_quoted(text: &str) -> String {
    let mut kept = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        let starts_history = (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with('>')
            || t.starts_with("-----Original Message-----")
            || t.starts_with("________________________________")
            || (t.starts_with("From:") && kept.iter().any(|l: &&str| l.trim().is_empty()));
        if starts_history {
            break;
        }
        kept.push(line);
    }
    kept.join("\n").trim().to_owned()
}

/// The text that carries a meeting link to the customer.
pub fn video_invitation(link: &str) -> String {
    format!("Let's talk face to face: join the video call at {link}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_and_say_themselves() {
        for k in EscalationKind::ALL {
            assert_eq!(EscalationKind::parse(k.as_str()).unwrap(), k);
        }
        let e = EscalationKind::parse("manager").unwrap_err();
        assert!(e.0.contains("supervisor, call"), "{e}");
    }

    #[test]
    fn reasons_are_optional_and_bounded() {
        assert_eq!(parse_reason(None).unwrap(), None);
        assert_eq!(parse_reason(Some("  ")).unwrap(), None);
        assert_eq!(parse_reason(Some(" Angry about a refund ")).unwrap().as_deref(), Some("Angry about a refund"));
        assert!(parse_reason(Some(&"x".repeat(MAX_REASON + 1))).is_err());
        assert!(parse_reason(Some(&"é".repeat(MAX_REASON))).is_ok());
    }

    #[test]
    fn templates_need_https_and_one_room() {
        let t = VideoTemplate::default();
        assert_eq!(t.link("ab12").unwrap(), "https://meet.jit.si/textdesk-ab12");
        assert!(t.link("a/b").is_err());
        assert!(t.link("").is_err());
        assert!(VideoTemplate::parse("https://video.example.com/r/{room}?x=1").is_ok());
        assert!(VideoTemplate::parse("http://meet.example.com/{room}").is_err());
        assert!(VideoTemplate::parse("https://meet.example.com/fixed").is_err());
        assert!(VideoTemplate::parse("https://meet.example.com/{room}/{room}").is_err());
        assert!(VideoTemplate::parse("https://meet.example.com/{room} now").is_err());
        assert!(VideoTemplate::parse("javascript:{room}").is_err());
        assert!(video_invitation("https://x.test/1").ends_with("https://x.test/1"));
    }

    #[test]
    fn replies_are_found_and_their_history_cut() {
        assert_eq!(
            reply_address("Help Desk <Reply+AB12@Reply.Example.com>, other@example.com").as_deref(),
            Some("reply+ab12@reply.example.com")
        );
        assert_eq!(reply_address("help@example.com"), None);
        assert_eq!(reply_address("reply+zz@example.com"), None, "tokens are hex");
        assert_eq!(reply_address("reply+@example.com"), None);
        let text = "The new address is 12 Oak St.\nThanks!\n\nOn Fri, Dec 4, 2026 at 9:00 PM Test Dental <reply+ab@x.com> wrote:\n> Our conversation";
        assert_eq!(strip_quoted(text), "The new address is 12 Oak St.\nThanks!");
        assert_eq!(strip_quoted("Yes\n> quoted"), "Yes");
        assert_eq!(strip_quoted("Fine\n-----Original Message-----\nFrom: us"), "Fine");
        assert_eq!(strip_quoted("Fine\n\nFrom: Test Dental\nSent: today"), "Fine");
        assert_eq!(strip_quoted("From: me, about my bill"), "From: me, about my bill", "a first line is words");
    }

    #[test]
    fn reply_domains_and_content() {
        assert_eq!(parse_reply_domain(" Help.Example.com ").unwrap(), "help.example.com");
        for bad in ["", "localhost", "a..b", "-a.b", "a b.c", "x@y.z"] {
            assert!(parse_reply_domain(bad).is_err(), "{bad}");
        }
        assert_eq!(EmailContent::parse(None).unwrap(), EmailContent::Transcript);
        assert_eq!(EmailContent::parse(Some("request")).unwrap(), EmailContent::Request);
        assert!(EmailContent::parse(Some("fax")).is_err());
    }
}
