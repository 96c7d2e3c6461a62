//! What an agent may write about a contact: their name, attributes (a small
//! key/value list of facts such as `plan` or `order-id`) and notes.

use std::collections::BTreeMap;

use crate::Invalid;

/// A contact's name; empty means "show them by their number".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactName(String);

impl ContactName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!("a name has at most {} characters", Self::MAX_CHARS)));
        }
        if t.chars().any(char::is_control) {
            return Err(Invalid::new("a name cannot contain line breaks or control characters"));
        }
        Ok(ContactName(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An attribute's name: 1 to 40 letters, digits, `_` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AttributeKey(String);

impl AttributeKey {
    pub const MAX_CHARS: usize = 40;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("an attribute needs a name"));
        }
        if t.chars().count() > Self::MAX_CHARS || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(Invalid::new(format!(
                "attribute name {t:?}: use 1 to {} letters, digits, _ or -",
                Self::MAX_CHARS
            )));
        }
        Ok(AttributeKey(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An attribute's value: text of up to 500 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeValue(String);

impl AttributeValue {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new(format!("an attribute's value has at most {} characters", Self::MAX_CHARS)));
        }
        Ok(AttributeValue(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Changes to a contact's attributes: a value sets the key, None removes it;
/// keys not named are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributeChanges(pub BTreeMap<AttributeKey, Option<AttributeValue>>);

/// More than this many attributes is not a contact card any more.
pub const MAX_ATTRIBUTES: usize = 50;

impl AttributeChanges {
    pub fn one(key: AttributeKey, value: Option<AttributeValue>) -> Self {
        AttributeChanges(BTreeMap::from([(key, value)]))
    }

    /// The attributes after these changes, or why they cannot be made.
    pub fn apply(&self, current: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, Invalid> {
        let mut out = current.clone();
        for (k, v) in &self.0 {
            match v {
                Some(v) => out.insert(k.as_str().to_owned(), v.as_str().to_owned()),
                None => out.remove(k.as_str()),
            };
        }
        if out.len() > MAX_ATTRIBUTES {
            return Err(Invalid::new(format!("a contact has at most {MAX_ATTRIBUTES} attributes")));
        }
        Ok(out)
    }
}

/// A note about the person (not about one conversation): 1 to 2000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteBody(String);

impl NoteBody {
    pub const MAX_CHARS: usize = 2000;

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        if t.is_empty() {
            return Err(Invalid::new("the note is empty"));
        }
        let n = t.chars().count();
        if n > Self::MAX_CHARS {
            return Err(Invalid::new(format!("the note has {n} characters; at most {} fit", Self::MAX_CHARS)));
        }
        Ok(NoteBody(t.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an identity's namespace is named beside its address: "SMS", "WhatsApp", …
pub fn channel_label(namespace: &str) -> &'static str {
    match namespace {
        "phone" => "SMS",
        "whatsapp" => "WhatsApp",
        "messenger" => "Messenger",
        "telegram" => "Telegram",
        "line" => "LINE",
        "wechat" => "WeChat",
        "webchat" => "Web chat",
        _ => "Other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_keys_are_short_and_plain() {
        assert_eq!(AttributeKey::parse(" plan ").unwrap().as_str(), "plan");
        assert!(AttributeKey::parse("order-id_2").is_ok());
        assert!(AttributeKey::parse(&"k".repeat(40)).is_ok());
        assert!(AttributeKey::parse(&"k".repeat(41)).is_err());
        for bad in ["", "  ", "has space", "naïve", "a.b", "a/b"] {
            assert!(AttributeKey::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_names_and_notes_are_bounded() {
        assert!(AttributeValue::parse(&"v".repeat(500)).is_ok());
        assert!(AttributeValue::parse(&"v".repeat(501)).is_err());
        assert_eq!(ContactName::parse("  Ana  ").unwrap().as_str(), "Ana");
        assert_eq!(ContactName::parse("").unwrap().as_str(), "");
        assert!(ContactName::parse("a\nb").is_err());
        assert!(ContactName::parse(&"n".repeat(101)).is_err());
        assert!(NoteBody::parse(" \n ").is_err());
        assert!(NoteBody::parse(&"n".repeat(2001)).is_err());
    }

    #[test]
    fn changes_set_and_remove_and_keep_the_rest() {
        let current = BTreeMap::from([("plan".to_owned(), "basic".to_owned()), ("city".to_owned(), "Oslo".to_owned())]);
        let mut changes = AttributeChanges::default();
        changes.0.insert(AttributeKey::parse("plan").unwrap(), Some(AttributeValue::parse("pro").unwrap()));
        changes.0.insert(AttributeKey::parse("city").unwrap(), None);
        changes.0.insert(AttributeKey::parse("vip").unwrap(), Some(AttributeValue::parse("yes").unwrap()));
        let after = changes.apply(&current).unwrap();
        assert_eq!(after, BTreeMap::from([("plan".into(), "pro".into()), ("vip".into(), "yes".into())]));
        let many: BTreeMap<String, String> = (0..50).map(|i| (format!("k{i}"), String::new())).collect();
        assert!(AttributeChanges::one(AttributeKey::parse("one-more").unwrap(), None).apply(&many).is_ok());
        let add =
            AttributeChanges::one(AttributeKey::parse("one-more").unwrap(), Some(AttributeValue::parse("x").unwrap()));
        assert!(add.apply(&many).is_err());
    }
}
