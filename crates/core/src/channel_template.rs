//! Message templates a provider approved in advance (WhatsApp's): the only
//! thing a business may send once a channel's reply window has closed. The
//! text has numbered variables, `{{1}}`, `{{2}}`…, filled in order; this is
//! their one reading, for the composer's fields and preview and for sending.

use crate::Invalid;

/// The most variables one template body may have (Meta's own limit is well below).
pub const MAX_VARIABLES: usize = 20;
/// The longest value a variable may take.
pub const MAX_VALUE_CHARS: usize = 1024;

/// A template's body text as the provider holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateText(String);

impl TemplateText {
    pub fn new(text: impl Into<String>) -> Self {
        TemplateText(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many values it takes: the highest `{{n}}` in it (Meta numbers them from 1, without gaps).
    pub fn variables(&self) -> usize {
        self.placeholders().into_iter().map(|(_, _, n)| n).max().unwrap_or(0).min(MAX_VARIABLES)
    }

    /// Each `{{n}}`: where it starts, where it ends, and n.
    fn placeholders(&self) -> Vec<(usize, usize, usize)> {
        let s = self.0.as_str();
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(open) = s[from..].find("{{").map(|i| from + i) {
            let Some(close) = s[open + 2..].find("}}").map(|i| open + 2 + i) else { break };
            let inner = s[open + 2..close].trim();
            match inner.parse::<usize>() {
                Ok(n) if (1..=MAX_VARIABLES).contains(&n) && !inner.starts_with('+') => {
                    out.push((open, close + 2, n));
                    from = close + 2;
                }
                _ => from = open + 2,
            }
        }
        out
    }

    /// The text with `values` in place of `{{1}}`, `{{2}}`…; a value not
    /// given leaves its placeholder showing (the preview of a half-filled form).
    pub fn render(&self, values: &[String]) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut last = 0;
        for (start, end, n) in self.placeholders() {
            out.push_str(&self.0[last..start]);
            match values.get(n - 1) {
                Some(v) if !v.trim().is_empty() => out.push_str(v.trim()),
                _ => out.push_str(&self.0[start..end]),
            }
            last = end;
        }
        out.push_str(&self.0[last..]);
        out
    }

    /// The values an agent typed, checked for sending: one per variable, none
    /// empty (WhatsApp refuses an empty parameter), none too long, and no line
    /// breaks or tabs (WhatsApp refuses those in a parameter too).
    pub fn check_values(&self, values: &[String]) -> Result<Vec<String>, Invalid> {
        let wanted = self.variables();
        if values.len() != wanted {
            return Err(Invalid::new(format!(
                "this template takes {wanted} value{}, and {} {} given",
                if wanted == 1 { "" } else { "s" },
                values.len(),
                if values.len() == 1 { "was" } else { "were" }
            )));
        }
        values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let v = v.trim();
                if v.is_empty() {
                    return Err(Invalid::new(format!("fill in {{{{{}}}}}", i + 1)));
                }
                if v.chars().count() > MAX_VALUE_CHARS || v.chars().any(char::is_control) {
                    return Err(Invalid::new(format!(
                        "{{{{{}}}}} is one line of at most {MAX_VALUE_CHARS} characters",
                        i + 1
                    )));
                }
                Ok(v.to_owned())
            })
            .collect()
    }
}

/// What a template has besides its body, as the provider holds it: a header
/// (text with at most one variable, or a picture, video or document given
/// when sending) and buttons, of which quick replies may carry a payload and
/// a URL button whose address ends in `{{1}}` needs that ending.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateParts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<HeaderFormat>,
    /// In the provider's order: a button's index is its place here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<TemplateButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum HeaderFormat {
    Text {
        text: String,
    },
    Image,
    Video,
    Document,
    /// A map pin given when sending; textdesk does not send these.
    Location,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TemplateButton {
    pub kind: ButtonKind,
    /// What the button says.
    pub text: String,
    /// A URL button's address, perhaps ending in `{{1}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ButtonKind {
    QuickReply,
    Url,
    /// A phone number, a copy-code or another kind sent without a value from here.
    Other,
}

impl TemplateButton {
    /// Whether sending needs a value for it: a URL ending in a variable.
    pub fn needs_value(&self) -> bool {
        self.kind == ButtonKind::Url && self.url.as_deref().is_some_and(|u| TemplateText::new(u).variables() > 0)
    }

    /// Whether it takes a value at all (a quick reply's payload is optional).
    pub fn takes_value(&self) -> bool {
        self.kind == ButtonKind::QuickReply || self.needs_value()
    }
}

/// A header's value as sent: its variable's text, or a file by link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HeaderParam {
    Text { text: String },
    Image { link: String },
    Video { link: String },
    Document { link: String },
}

/// A button's value as sent, by its index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "sub_type", rename_all = "snake_case")]
pub enum ButtonParam {
    /// Comes back with the customer's tap.
    QuickReply { index: usize, payload: String },
    /// The end of the button's address, in place of its `{{1}}`.
    Url { index: usize, text: String },
}

/// The longest link a media header may take.
pub const MAX_LINK_CHARS: usize = 2000;
/// The longest quick-reply payload (Meta's limit).
pub const MAX_PAYLOAD_CHARS: usize = 128;

impl TemplateParts {
    /// The header's value and the buttons' values an agent or a script gave,
    /// checked against what the template has: a text header's variable
    /// filled, a media header's https link given, every URL button ending in
    /// a variable given its ending, nothing given for what does not take it.
    pub fn check(
        &self,
        header: Option<&str>,
        buttons: &[(usize, String)],
    ) -> Result<(Option<HeaderParam>, Vec<ButtonParam>), Invalid> {
        let header = header.map(str::trim).filter(|h| !h.is_empty());
        let header = match (&self.header, header) {
            (None, None) => None,
            (Some(HeaderFormat::Text { .. }), None) if !self.header_needs_value() => None,
            (Some(HeaderFormat::Text { text }), Some(v)) if TemplateText::new(text).variables() == 1 => {
                let v = TemplateText::new("{{1}}").check_values(&[v.to_owned()])?.remove(0);
                Some(HeaderParam::Text { text: v })
            }
            (Some(HeaderFormat::Text { .. }), None) => return Err(Invalid::new("fill in the header's {{1}}")),
            (Some(HeaderFormat::Image | HeaderFormat::Video | HeaderFormat::Document), None) => {
                return Err(Invalid::new(format!("the template's header is {}: give its link", self.header_words())));
            }
            (Some(f @ (HeaderFormat::Image | HeaderFormat::Video | HeaderFormat::Document)), Some(link)) => {
                let link = check_link(link)?;
                Some(match f {
                    HeaderFormat::Image => HeaderParam::Image { link },
                    HeaderFormat::Video => HeaderParam::Video { link },
                    _ => HeaderParam::Document { link },
                })
            }
            (Some(HeaderFormat::Location), _) => {
                return Err(Invalid::new("templates with a location header cannot be sent from textdesk"));
            }
            (_, Some(_)) => return Err(Invalid::new("this template's header takes no value")),
        };
        let mut out = Vec::new();
        for (index, value) in buttons {
            let value = value.trim();
            let button = self
                .buttons
                .get(*index)
                .filter(|b| b.takes_value())
                .ok_or_else(|| Invalid::new(format!("button {index} of this template takes no value")))?;
            if out.iter().any(|b: &ButtonParam| button_index(b) == *index) {
                return Err(Invalid::new(format!("button {index} is given twice")));
            }
            if value.is_empty() {
                if button.needs_value() {
                    return Err(Invalid::new(format!("fill in the ending of button {index} ({})", button.text)));
                }
                continue;
            }
            if value.chars().any(char::is_control) {
                return Err(Invalid::new(format!("button {index}'s value is one line")));
            }
            out.push(match button.kind {
                ButtonKind::QuickReply if value.chars().count() <= MAX_PAYLOAD_CHARS => {
                    ButtonParam::QuickReply { index: *index, payload: value.to_owned() }
                }
                ButtonKind::QuickReply => {
                    return Err(Invalid::new(format!(
                        "button {index}'s payload is at most {MAX_PAYLOAD_CHARS} characters"
                    )));
                }
                _ if value.chars().count() <= MAX_VALUE_CHARS && !value.contains(char::is_whitespace) => {
                    ButtonParam::Url { index: *index, text: value.to_owned() }
                }
                _ => return Err(Invalid::new(format!("button {index}'s address ending is one word"))),
            });
        }
        if let Some((i, b)) =
            self.buttons.iter().enumerate().find(|(i, b)| b.needs_value() && !out.iter().any(|p| button_index(p) == *i))
        {
            return Err(Invalid::new(format!("fill in the ending of button {i} ({})", b.text)));
        }
        out.sort_by_key(button_index);
        Ok((header, out))
    }

    fn header_needs_value(&self) -> bool {
        match &self.header {
            Some(HeaderFormat::Text { text }) => TemplateText::new(text).variables() > 0,
            Some(_) => true,
            None => false,
        }
    }

    /// The header as the customer sees it, filled: text only (a file header
    /// shows as itself, not in the words).
    pub fn header_text(&self, param: Option<&HeaderParam>) -> Option<String> {
        match (&self.header, param) {
            (Some(HeaderFormat::Text { text }), Some(HeaderParam::Text { text: v })) => {
                Some(TemplateText::new(text).render(std::slice::from_ref(v)))
            }
            (Some(HeaderFormat::Text { text }), _) => Some(text.clone()),
            _ => None,
        }
    }

    /// "a picture", "a video"… for the header, in words.
    pub fn header_words(&self) -> &'static str {
        match self.header {
            Some(HeaderFormat::Text { .. }) => "text",
            Some(HeaderFormat::Image) => "a picture",
            Some(HeaderFormat::Video) => "a video",
            Some(HeaderFormat::Document) => "a document",
            Some(HeaderFormat::Location) => "a location",
            None => "none",
        }
    }
}

fn button_index(b: &ButtonParam) -> usize {
    match b {
        ButtonParam::QuickReply { index, .. } | ButtonParam::Url { index, .. } => *index,
    }
}

/// A link the provider fetches a header's file from: https, a host, no
/// credentials in it, one line.
fn check_link(raw: &str) -> Result<String, Invalid> {
    let bad = || Invalid::new("the header's link is a public https:// address of the file");
    if raw.chars().count() > MAX_LINK_CHARS || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad());
    }
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    if url.scheme() != "https" || url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad());
    }
    Ok(raw.to_owned())
}

/// Where the provider is with a template: only an approved one may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    /// Paused, disabled, in appeal, or a state the provider adds later.
    Other,
}

impl TemplateStatus {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "APPROVED" => TemplateStatus::Approved,
            "PENDING" | "IN_APPEAL" => TemplateStatus::Pending,
            "REJECTED" => TemplateStatus::Rejected,
            _ => TemplateStatus::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(values: &[&str]) -> Vec<String> {
        values.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn variables_are_counted_and_filled_in_order() {
        let t = TemplateText::new("Hi {{1}}, your visit is on {{2}} at {{ 3 }}. Reply {{1}}?");
        assert_eq!(t.variables(), 3);
        assert_eq!(t.render(&v(&["Ana", "Tuesday", "9:00"])), "Hi Ana, your visit is on Tuesday at 9:00. Reply Ana?");
        assert_eq!(t.render(&v(&["Ana"])), "Hi Ana, your visit is on {{2}} at {{ 3 }}. Reply Ana?");
        assert_eq!(TemplateText::new("No variables {{x}} {{0}} {{").variables(), 0);
        assert_eq!(TemplateText::new("{{x}} {{0}} {{").render(&v(&["a"])), "{{x}} {{0}} {{");
        assert_eq!(TemplateText::new("{{{1}}}").render(&v(&["a"])), "{{{1}}}", "no placeholder inside braces");
    }

    fn parts() -> TemplateParts {
        TemplateParts {
            header: Some(HeaderFormat::Text { text: "Order {{1}}".into() }),
            buttons: vec![
                TemplateButton { kind: ButtonKind::QuickReply, text: "Yes".into(), url: None },
                TemplateButton { kind: ButtonKind::Other, text: "Call us".into(), url: None },
                TemplateButton {
                    kind: ButtonKind::Url,
                    text: "Track".into(),
                    url: Some("https://shop.example/t/{{1}}".into()),
                },
            ],
        }
    }

    #[test]
    fn headers_and_buttons_are_checked_against_the_template() {
        let p = parts();
        let (h, b) = p.check(Some("A-17"), &[(2, "A-17".into()), (0, "CONFIRM".into())]).unwrap();
        assert_eq!(h, Some(HeaderParam::Text { text: "A-17".into() }));
        assert_eq!(
            b,
            vec![
                ButtonParam::QuickReply { index: 0, payload: "CONFIRM".into() },
                ButtonParam::Url { index: 2, text: "A-17".into() }
            ]
        );
        assert_eq!(p.header_text(h.as_ref()).as_deref(), Some("Order A-17"));
        // A quick reply's payload may be left out; the URL's ending may not.
        assert_eq!(p.check(Some("A-17"), &[(2, "x".into()), (0, " ".into())]).unwrap().1.len(), 1);
        assert!(p.check(Some("A-17"), &[]).unwrap_err().0.contains("button 2 (Track)"));
        assert!(p.check(None, &[(2, "x".into())]).unwrap_err().0.contains("header"));
        assert!(p.check(Some("A"), &[(1, "x".into()), (2, "x".into())]).unwrap_err().0.contains("button 1"));
        assert!(p.check(Some("A"), &[(9, "x".into())]).is_err());
        assert!(p.check(Some("A"), &[(2, "a b".into())]).is_err());
        assert!(p.check(Some("A"), &[(2, "x".into()), (2, "y".into())]).unwrap_err().0.contains("twice"));
        let image = TemplateParts { header: Some(HeaderFormat::Image), buttons: vec![] };
        assert_eq!(
            image.check(Some("https://cdn.example/a.png"), &[]).unwrap().0,
            Some(HeaderParam::Image { link: "https://cdn.example/a.png".into() })
        );
        for bad in ["http://cdn.example/a.png", "https://u:p@cdn.example/a.png", "file:///etc/passwd", "a b"] {
            assert!(image.check(Some(bad), &[]).is_err(), "{bad}");
        }
        assert!(image.check(None, &[]).unwrap_err().0.contains("a picture"));
        assert!(TemplateParts::default().check(Some("x"), &[]).is_err());
        assert_eq!(TemplateParts::default().check(None, &[]).unwrap(), (None, vec![]));
        let plain = TemplateParts { header: Some(HeaderFormat::Text { text: "Hello".into() }), buttons: vec![] };
        assert_eq!(plain.check(None, &[]).unwrap().0, None);
        assert!(plain.check(Some("x"), &[]).is_err());
    }

    #[test]
    fn values_are_checked_for_sending() {
        let t = TemplateText::new("Hi {{1}}, see you {{2}}");
        assert_eq!(t.check_values(&v(&[" Ana ", "Tue"])).unwrap(), v(&["Ana", "Tue"]));
        assert!(t.check_values(&v(&["Ana"])).unwrap_err().0.contains("takes 2 values"));
        assert!(t.check_values(&v(&["Ana", " "])).unwrap_err().0.contains("fill in {{2}}"));
        assert!(t.check_values(&v(&["Ana", "a\nb"])).is_err());
        assert!(TemplateText::new("Hello").check_values(&[]).is_ok());
        assert_eq!(TemplateStatus::parse("approved"), TemplateStatus::Approved);
        assert_eq!(TemplateStatus::parse("PAUSED"), TemplateStatus::Other);
    }
}
