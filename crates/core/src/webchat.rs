//! The web chat widget's validated settings: the sites allowed to embed it,
//! its look, and the visitor's id. Checked once when an admin saves them.

use std::fmt;

use crate::Invalid;

/// A site the widget may be embedded in: `https://shop.example` (scheme, host
/// and port as a browser sends them in `Origin`; no path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOrigin(String);

impl SiteOrigin {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new(format!("{raw:?} is not a site address such as https://shop.example"));
        let u = url::Url::parse(raw.trim()).map_err(|_| bad())?;
        if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
            return Err(bad());
        }
        let extra = !u.username().is_empty()
            || u.password().is_some()
            || u.query().is_some()
            || u.fragment().is_some()
            || u.path() != "/";
        if extra {
            return Err(Invalid::new(format!("{raw:?}: give the site only (https://shop.example), without a path")));
        }
        Ok(SiteOrigin(u.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SiteOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The sites allowed to embed the widget, as typed (separated by spaces,
/// commas or lines). None listed means none allowed: a widget nobody named a
/// site for shows nowhere but on textdesk's own preview.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedSites(Vec<SiteOrigin>);

impl AllowedSites {
    pub const MAX: usize = 20;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let mut sites: Vec<SiteOrigin> = Vec::new();
        for part in raw.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
            let o = SiteOrigin::parse(part)?;
            if !sites.contains(&o) {
                sites.push(o);
            }
        }
        if sites.len() > Self::MAX {
            return Err(Invalid::new(format!("at most {} sites", Self::MAX)));
        }
        Ok(AllowedSites(sites))
    }

    /// Whether `origin` (an `Origin` header's value) is one of them.
    pub fn allows(&self, origin: &str) -> bool {
        SiteOrigin::parse(origin).is_ok_and(|o| self.0.contains(&o))
    }

    pub fn iter(&self) -> impl Iterator<Item = &SiteOrigin> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The widget's colour: `#rrggbb`, as a colour picker gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WidgetColour(String);

impl WidgetColour {
    pub const DEFAULT: &'static str = "#1f5fbf";

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let v = raw.trim().to_ascii_lowercase();
        let ok = v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit());
        if !ok {
            return Err(Invalid::new(format!("{raw:?} is not a colour such as #1f5fbf")));
        }
        Ok(WidgetColour(v))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for WidgetColour {
    fn default() -> Self {
        WidgetColour(Self::DEFAULT.to_owned())
    }
}

/// Which bottom corner of the page the bubble sits in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WidgetPosition {
    #[default]
    Right,
    Left,
}

impl WidgetPosition {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "right" | "bottom-right" => Ok(WidgetPosition::Right),
            "left" | "bottom-left" => Ok(WidgetPosition::Left),
            _ => Err(Invalid::new(format!("{raw:?}: the position is left or right"))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WidgetPosition::Right => "right",
            WidgetPosition::Left => "left",
        }
    }
}

/// A web visitor's id: what the widget's token names, and their address in
/// the `webchat` identity namespace. Random, 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorId(String);

impl VisitorId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if raw.len() == 32 && raw.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
            Ok(VisitorId(raw.to_owned()))
        } else {
            Err(Invalid::new("not a visitor id"))
        }
    }

    /// A fresh id from 16 random bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        VisitorId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The one-time code a web chat visitor is texted to prove the number they
/// left is theirs: six digits, typed with or without spaces and dashes.
#[derive(Clone, PartialEq, Eq)]
pub struct PhoneCode(String);

/// How long a code may be used.
pub const CODE_LIFETIME: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);
/// Wrong codes that burn the one sent: a new one must be asked for.
pub const CODE_TRIES: i64 = 5;
/// Codes sent in an hour to one number, and to one visitor, at most.
pub const CODES_PER_HOUR: i64 = 3;

impl PhoneCode {
    pub const DIGITS: usize = 6;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != Self::DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::new("the code is the 6 digits in the text we sent"));
        }
        Ok(PhoneCode(digits))
    }

    /// The code a number in 0..1,000,000 (wider numbers wrap) stands for, leading zeros kept.
    pub fn from_number(n: u64) -> Self {
        PhoneCode(format!("{:06}", n % 1_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed: a code in a log would let anyone reading it prove a number.
impl fmt::Debug for PhoneCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PhoneCode(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_origins_only() {
        let s = AllowedSites::parse("https://Shop.Example, http://localhost:8080\nhttps://shop.example").unwrap();
        let listed: Vec<&str> = s.iter().map(SiteOrigin::as_str).collect();
        assert_eq!(listed, ["https://shop.example", "http://localhost:8080"]);
        assert!(s.allows("https://shop.example"));
        assert!(s.allows("http://localhost:8080"));
        assert!(!s.allows("https://shop.example:444"));
        assert!(!s.allows("https://evil.example"));
        assert!(!s.allows("null"));
        for bad in
            ["ftp://x.example", "https://x.example/page", "shop.example", "https://u:p@x.example", "javascript:x"]
        {
            assert!(AllowedSites::parse(bad).is_err(), "{bad}");
        }
        assert!(AllowedSites::parse("").unwrap().is_empty());
    }

    #[test]
    fn colour_position_and_visitor() {
        assert_eq!(WidgetColour::parse(" #AABBCC ").unwrap().as_str(), "#aabbcc");
        for bad in ["red", "#abc", "#gggggg", "#aabbcc;x"] {
            assert!(WidgetColour::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(WidgetPosition::parse("Left").unwrap(), WidgetPosition::Left);
        assert!(WidgetPosition::parse("top").is_err());
        let v = VisitorId::from_bytes([0xab; 16]);
        assert_eq!(VisitorId::parse(v.as_str()).unwrap(), v);
        assert!(VisitorId::parse("ABABABABABABABABABABABABABABABAB").is_err());
        assert!(VisitorId::parse("abab").is_err());
    }

    #[test]
    fn codes_are_six_digits_as_typed() {
        assert_eq!(PhoneCode::parse(" 123-456 ").unwrap().as_str(), "123456");
        assert_eq!(PhoneCode::parse("012 345").unwrap(), PhoneCode::from_number(12_345));
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert!(PhoneCode::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(PhoneCode::from_number(7).as_str(), "000007");
        assert_eq!(PhoneCode::from_number(1_000_042).as_str(), "000042");
        assert_eq!(format!("{:?}", PhoneCode::from_number(5)), "PhoneCode(…)");
    }
}
