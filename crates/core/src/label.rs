//! Labels from the account's catalogue: a name agents recognise and a colour
//! from a small palette on which white text stays readable.

use crate::Invalid;

/// The colours a label may have, with the names the settings page shows. Each
/// carries white text at a contrast of at least 4.5:1 (WCAG AA), checked below.
pub const PALETTE: [(&str, &str); 10] = [
    ("#1d4ed8", "Blue"),
    ("#0f766e", "Teal"),
    ("#15803d", "Green"),
    ("#a16207", "Amber"),
    ("#c2410c", "Orange"),
    ("#b91c1c", "Red"),
    ("#be185d", "Pink"),
    ("#7e22ce", "Purple"),
    ("#4338ca", "Indigo"),
    ("#4b5563", "Grey"),
];

/// A label's name: 1 to 50 letters, digits, `-` or `_`, as typed (case kept);
/// two names that differ only in case are the same label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelName(String);

impl LabelName {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let n = s.chars().count();
        if n == 0 || n > 50 || !s.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            return Err(Invalid::new(format!("label name {s:?}: use 1 to 50 letters, digits, '-' or '_' (no spaces)")));
        }
        Ok(LabelName(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// What uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl std::fmt::Display for LabelName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One of the [`PALETTE`] colours, as `#rrggbb` in lowercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelColor(&'static str);

impl LabelColor {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let want = s.trim().to_ascii_lowercase();
        PALETTE.iter().find(|(hex, _)| *hex == want).map(|(hex, _)| LabelColor(hex)).ok_or_else(|| {
            let choices: Vec<String> = PALETTE.iter().map(|(hex, name)| format!("{hex} ({name})")).collect();
            Invalid::new(format!("colour {s:?} is not one of the palette: {}", choices.join(", ")))
        })
    }
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Default for LabelColor {
    fn default() -> Self {
        LabelColor(PALETTE[0].0)
    }
}

/// A label's description: optional, at most 200 characters.
pub fn parse_description(s: &str) -> Result<String, Invalid> {
    let s = s.trim();
    if s.chars().count() > 200 {
        return Err(Invalid::new("a label's description is at most 200 characters"));
    }
    Ok(s.to_owned())
}

/// WCAG contrast ratio between two `#rrggbb` colours (1 to 21), None for a malformed one.
pub fn contrast(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

fn luminance(hex: &str) -> Option<f64> {
    let hex = hex.strip_prefix('#')?;
    if hex.len() != 6 || !hex.is_ascii() {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()?) / 255.0;
        Some(if v <= 0.04045 { v / 12.92 } else { ((v + 0.055) / 1.055).powf(2.4) })
    };
    Some(0.2126 * channel(0)? + 0.7152 * channel(2)? + 0.0722 * channel(4)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_palette_colour_carries_white_text_readably() {
        for (hex, name) in PALETTE {
            let ratio = contrast(hex, "#ffffff").unwrap();
            assert!(ratio >= 4.5, "{name} {hex} has contrast {ratio:.2} with white");
        }
    }

    #[test]
    fn contrast_matches_known_values() {
        assert!((contrast("#000000", "#ffffff").unwrap() - 21.0).abs() < 1e-9);
        assert!((contrast("#777777", "#ffffff").unwrap() - 4.48).abs() < 0.01);
        assert_eq!(contrast("#12345", "#ffffff"), None);
        assert_eq!(contrast("#gggggg", "#ffffff"), None);
    }

    #[test]
    fn names_are_short_words_with_case_kept() {
        assert_eq!(LabelName::parse(" VIP ").unwrap().as_str(), "VIP");
        assert_eq!(LabelName::parse("VIP").unwrap().key(), "vip");
        assert!(LabelName::parse("follow-up_2").is_ok());
        assert!(LabelName::parse("facturación").is_ok());
        assert!(LabelName::parse("").is_err());
        assert!(LabelName::parse("two words").unwrap_err().0.contains("no spaces"));
        assert!(LabelName::parse(&"x".repeat(51)).is_err());
        assert!(LabelName::parse(&"é".repeat(50)).is_ok());
    }

    #[test]
    fn colours_come_from_the_palette() {
        assert_eq!(LabelColor::parse("#1D4ED8").unwrap().as_str(), "#1d4ed8");
        let e = LabelColor::parse("#ffff00").unwrap_err();
        assert!(e.0.contains("#1d4ed8 (Blue)"), "{e}");
        assert!(LabelColor::parse("red").is_err());
    }

    #[test]
    fn descriptions_are_bounded() {
        assert_eq!(parse_description("  Billing questions ").unwrap(), "Billing questions");
        assert!(parse_description(&"a".repeat(201)).is_err());
    }
}
