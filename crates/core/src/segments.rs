//! How carriers count a text: GSM-7 when every character is in the GSM 03.38
//! alphabet (extension characters cost an escape plus the character), UCS-2
//! otherwise. One part holds 160 septets or 70 UCS-2 units; a concatenated
//! part loses room to its header and holds 153 or 67. A character, an escape
//! pair or a surrogate pair is never split across parts.

/// GSM 03.38 basic alphabet, in code order (0x1B, the escape, is left out).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters reached through the escape: each costs two septets.
const GSM_EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// GSM 03.38 codes of `GSM_EXTENSION`, in the same order.
const GSM_EXTENSION_CODES: [u8; 10] = [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65];
/// The septet that announces an extension character.
pub const GSM_ESCAPE: u8 = 0x1B;

/// The septets of one character: one for the basic alphabet, escape plus code
/// for the extension table, `None` outside GSM 03.38.
pub fn gsm7_char_septets(c: char) -> Option<(u8, Option<u8>)> {
    if let Some(pos) = GSM_BASIC.chars().position(|b| b == c) {
        // The basic string skips the escape code, so codes past it sit one further on.
        let code = if pos < GSM_ESCAPE as usize { pos } else { pos + 1 };
        return u8::try_from(code).ok().map(|code| (code, None));
    }
    let pos = GSM_EXTENSION.chars().position(|e| e == c)?;
    GSM_EXTENSION_CODES.get(pos).map(|&code| (GSM_ESCAPE, Some(code)))
}

/// The text as unpacked GSM 03.38 septets, or `None` if a character is not GSM.
pub fn gsm7_encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let (first, second) = gsm7_char_septets(c)?;
        out.push(first);
        out.extend(second);
    }
    Some(out)
}

fn gsm7_basic_char(code: u8) -> char {
    let code = usize::from(code & 0x7F);
    let pos = if code < GSM_ESCAPE as usize { code } else { code.saturating_sub(1) };
    GSM_BASIC.chars().nth(pos).unwrap_or(' ')
}

/// Unpacked septets back to text. An escape before an unknown code falls back
/// to the basic character, as 03.38 asks; a lone trailing escape is a space.
pub fn gsm7_decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().map(|s| s & 0x7F);
    while let Some(s) = iter.next() {
        if s != GSM_ESCAPE {
            out.push(gsm7_basic_char(s));
            continue;
        }
        match iter.next() {
            Some(next) => match GSM_EXTENSION_CODES.iter().position(|&c| c == next) {
                Some(pos) => out.push(GSM_EXTENSION.chars().nth(pos).unwrap_or(' ')),
                None if next == GSM_ESCAPE => out.push(' '),
                None => out.push(gsm7_basic_char(next)),
            },
            None => out.push(' '),
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    #[serde(rename = "gsm7")]
    Gsm7,
    #[serde(rename = "ucs2")]
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "gsm7" => Some(Encoding::Gsm7),
            "ucs2" => Some(Encoding::Ucs2),
            _ => None,
        }
    }
    fn limits(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (160, 153),
            Encoding::Ucs2 => (70, 67),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SegmentCount {
    pub encoding: Encoding,
    /// Characters as a person counts them (Unicode scalar values).
    pub characters: usize,
    /// Septets (GSM-7) or 16-bit units (UCS-2) the text occupies.
    pub units: usize,
    pub segments: usize,
    /// Units still free in the last part before another part is needed.
    pub remaining_in_segment: usize,
}

fn gsm_cost(c: char) -> Option<usize> {
    if GSM_BASIC.contains(c) {
        Some(1)
    } else if GSM_EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// A GSM-7 stand-in for a look-alike character that would force UCS-2.
pub fn gsm_replacement(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' | '\u{00B4}' | '`' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' | '\u{00AB}' | '\u{00BB}' => "\"",
        '\u{2013}' | '\u{2014}' | '\u{2012}' | '\u{2212}' | '\u{2010}' | '\u{2011}' => "-",
        '\u{2026}' => "...",
        '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{200A}' | '\u{2002}' | '\u{2003}' => " ",
        '\u{2022}' | '\u{00B7}' => "-",
        '\t' => " ",
        '\u{00E1}' => "a",
        '\u{00ED}' => "i",
        '\u{00F3}' => "o",
        '\u{00FA}' => "u",
        '\u{00E7}' => "c",
        '\u{00EA}' | '\u{00EB}' => "e",
        _ => return None,
    })
}

/// The characters that forced UCS-2, each once, in order of appearance.
pub fn ucs2_forcing_chars(text: &str) -> Vec<char> {
    let mut out: Vec<char> = Vec::new();
    for c in text.chars() {
        if gsm_cost(c).is_none() && !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// Packs item costs into parts of at most `per_part` units without splitting an item.
fn parts(costs: impl Iterator<Item = usize>, per_part: usize) -> (usize, usize) {
    let (mut parts, mut used) = (1, 0);
    for c in costs {
        if used + c > per_part {
            parts += 1;
            used = 0;
        }
        used += c;
    }
    (parts, per_part - used)
}

pub fn count(text: &str) -> SegmentCount {
    let characters = text.chars().count();
    let gsm: Option<Vec<usize>> = text.chars().map(gsm_cost).collect();
    let (encoding, costs): (Encoding, Vec<usize>) = match gsm {
        Some(c) => (Encoding::Gsm7, c),
        None => (Encoding::Ucs2, text.chars().map(char::len_utf16).collect()),
    };
    let units: usize = costs.iter().sum();
    let (single, multi) = encoding.limits();
    let (segments, remaining_in_segment) =
        if units <= single { (1, single - units) } else { parts(costs.into_iter(), multi) };
    SegmentCount { encoding, characters, units, segments, remaining_in_segment }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alphabet_has_every_code_but_escape() {
        assert_eq!(GSM_BASIC.chars().count(), 127);
        assert_eq!(GSM_EXTENSION.chars().count(), 10);
    }

    #[test]
    fn gsm7_codes_round_trip() {
        assert_eq!(gsm7_encode("@a\n"), Some(vec![0x00, 0x61, 0x0A]));
        assert_eq!(gsm7_encode("Ä€"), Some(vec![0x5B, 0x1B, 0x65]));
        assert_eq!(gsm7_encode("É"), Some(vec![0x1F]));
        assert_eq!(gsm7_encode(" "), Some(vec![0x20]));
        assert_eq!(gsm7_encode("😀"), None);
        let all: String = GSM_BASIC.chars().chain(GSM_EXTENSION.chars()).collect();
        let septets = gsm7_encode(&all);
        assert_eq!(septets.as_deref().map(gsm7_decode), Some(all));
        assert_eq!(gsm7_decode(&[0x1B, 0x61]), "a");
    }

    #[test]
    fn gsm_boundaries() {
        assert_eq!(count("").segments, 1);
        let c = count(&"a".repeat(160));
        assert_eq!((c.encoding, c.segments, c.remaining_in_segment), (Encoding::Gsm7, 1, 0));
        assert_eq!(count(&"a".repeat(161)).segments, 2);
        assert_eq!(count(&"a".repeat(306)).segments, 2);
        assert_eq!(count(&"a".repeat(307)).segments, 3);
    }

    #[test]
    fn extension_characters_cost_two_and_never_split() {
        let c = count(&"€".repeat(80));
        assert_eq!((c.encoding, c.units, c.segments), (Encoding::Gsm7, 160, 1));
        assert_eq!(count(&"€".repeat(81)).segments, 2);
        // 152 plain septets then an escape pair: the pair moves whole to part two.
        let text = format!("{}{}{}", "a".repeat(152), "[", "a".repeat(10));
        let c = count(&text);
        assert_eq!((c.units, c.segments), (164, 2));
        assert_eq!(c.remaining_in_segment, 153 - 12);
    }

    #[test]
    fn ucs2_boundaries_and_astral_characters() {
        let c = count(&"я".repeat(70));
        assert_eq!((c.encoding, c.segments), (Encoding::Ucs2, 1));
        assert_eq!(count(&"я".repeat(71)).segments, 2);
        let emoji = count("Thanks 😀");
        assert_eq!((emoji.encoding, emoji.units, emoji.characters), (Encoding::Ucs2, 9, 8));
        // 66 units then an emoji (2 units): the pair does not fit in 67 and moves on.
        let c = count(&format!("{}😀{}", "я".repeat(66), "я".repeat(5)));
        assert_eq!((c.units, c.segments), (73, 2));
        assert_eq!(count(&"😀".repeat(35)).segments, 1);
        assert_eq!(count(&"😀".repeat(36)).segments, 2);
    }

    #[test]
    fn look_alikes_are_named_with_replacements() {
        let text = "It\u{2019}s \u{201C}fine\u{201D} \u{2014} see you\u{2026}";
        assert_eq!(count(text).encoding, Encoding::Ucs2);
        let forced = ucs2_forcing_chars(text);
        assert_eq!(forced, vec!['\u{2019}', '\u{201C}', '\u{201D}', '\u{2014}', '\u{2026}']);
        let fixed: String =
            text.chars().map(|c| gsm_replacement(c).map(str::to_owned).unwrap_or(c.to_string())).collect();
        assert_eq!(fixed, "It's \"fine\" - see you...");
        assert_eq!(count(&fixed).encoding, Encoding::Gsm7);
        assert_eq!(gsm_replacement('😀'), None);
    }
}
