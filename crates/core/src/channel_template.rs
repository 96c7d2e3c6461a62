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
