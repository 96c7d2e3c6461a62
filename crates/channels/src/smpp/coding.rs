//! Text in and out of short_message: GSM 03.38 (packed septets or one septet
//! per octet), IA5, Latin-1 and UCS-2; long texts split with a concatenation
//! UDH and put back together from UDH or SAR TLVs.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use textdesk_core::segments::{gsm7_char_septets, gsm7_decode};

use super::pdu::{Sm, esm, tlv};

pub const DC_GSM: u8 = 0x00;
pub const DC_IA5: u8 = 0x01;
pub const DC_LATIN1: u8 = 0x03;
pub const DC_UCS2: u8 = 0x08;

/// A concatenated message has at most 255 parts (the part counter is one octet).
pub const MAX_PARTS: usize = 255;

/// Packs septets LSB-first after `fill_bits` zero bits (the padding that makes
/// the first septet follow a UDH on a septet boundary).
pub fn pack_septets(septets: &[u8], fill_bits: usize) -> Vec<u8> {
    let total_bits = fill_bits + 7 * septets.len();
    let mut out = vec![0u8; total_bits.div_ceil(8)];
    for (i, s) in septets.iter().enumerate() {
        for b in 0..7 {
            if (s >> b) & 1 == 1 {
                let bit = fill_bits + 7 * i + b;
                out[bit / 8] |= 1 << (bit % 8);
            }
        }
    }
    out
}

/// Unpacks every whole septet that starts at or after `start_bit`. When the
/// last septet is zero and exactly fills the octets, it is the 7 spare bits of
/// padding (03.38 leaves that case ambiguous; senders who mean '@' add a CR).
pub fn unpack_septets(bytes: &[u8], start_bit: usize) -> Vec<u8> {
    let total_bits = bytes.len() * 8;
    if total_bits <= start_bit {
        return Vec::new();
    }
    let count = (total_bits - start_bit) / 7;
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let mut s = 0u8;
        for b in 0..7 {
            let bit = start_bit + 7 * i + b;
            if (bytes[bit / 8] >> (bit % 8)) & 1 == 1 {
                s |= 1 << b;
            }
        }
        out.push(s);
    }
    if (total_bits - start_bit).is_multiple_of(7) && out.last() == Some(&0) {
        out.pop();
    }
    out
}

pub fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// ASCII, except that ESC before a GSM extension code is that character:
/// some senders (node-smpp among them) put GSM 03.38 text under data_coding 1,
/// and ESC never belongs in a text message otherwise.
pub fn decode_ia5(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == 0x1B
            && let Some(&next) = bytes.get(i + 1)
        {
            let extended = gsm7_decode(&[0x1B, next]);
            if extended != gsm7_decode(&[next]) {
                out.push_str(&extended);
                i += 2;
                continue;
            }
        }
        out.push(char::from(b));
        i += 1;
    }
    out
}

pub fn encode_ucs2(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// UTF-16BE; a broken surrogate or an odd byte becomes U+FFFD instead of an error.
pub fn decode_ucs2(bytes: &[u8]) -> String {
    let units = bytes.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]]));
    let mut out: String = char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)).collect();
    if !bytes.len().is_multiple_of(2) {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out
}

/// A text ready to go as one or more submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub data_coding: u8,
    /// `esm::UDHI` when the text is split, else 0.
    pub esm_class: u8,
    /// Each part's short_message, UDH included.
    pub parts: Vec<Vec<u8>>,
}

/// Chooses GSM 03.38 when every character has a code, UCS-2 otherwise, and
/// splits past 160 septets / 70 units into 153 / 67 per part, never cutting
/// an escape pair or a surrogate pair. `reference` ties the parts together.
pub fn encode_text(text: &str, gsm7_packed: bool, reference: u8) -> Result<Encoded, String> {
    let gsm: Option<Vec<Vec<u8>>> =
        text.chars().map(|c| gsm7_char_septets(c).map(|(a, b)| std::iter::once(a).chain(b).collect())).collect();
    let (data_coding, groups, single, multi) = match gsm {
        Some(groups) => (DC_GSM, groups, 160, 153),
        None => {
            let groups = text.chars().map(|c| encode_ucs2(c.encode_utf8(&mut [0; 4]))).collect();
            // UCS-2 limits count 16-bit units: two bytes each.
            (DC_UCS2, groups, 140, 134)
        }
    };
    let total: usize = groups.iter().map(Vec::len).sum();
    let body = |units: &[u8], fill: usize| -> Vec<u8> {
        if data_coding == DC_GSM && gsm7_packed { pack_septets(units, fill) } else { units.to_vec() }
    };
    if total <= single {
        let units: Vec<u8> = groups.concat();
        return Ok(Encoded { data_coding, esm_class: 0, parts: vec![body(&units, 0)] });
    }
    let mut chunks: Vec<Vec<u8>> = vec![Vec::new()];
    for g in groups {
        let fits = chunks.last().is_some_and(|c| c.len() + g.len() <= multi);
        if !fits {
            chunks.push(Vec::new());
        }
        if let Some(last) = chunks.last_mut() {
            last.extend(g);
        }
    }
    if chunks.len() > MAX_PARTS {
        return Err(format!("the text needs {} parts; SMPP allows at most {MAX_PARTS}", chunks.len()));
    }
    let count = chunks.len() as u8;
    let parts = chunks
        .iter()
        .enumerate()
        .map(|(i, units)| {
            let mut part = vec![0x05, 0x00, 0x03, reference, count, (i + 1) as u8];
            // Six UDH octets are 48 bits; one fill bit puts the text on a septet boundary.
            part.extend(body(units, 1));
            part
        })
        .collect();
    Ok(Encoded { data_coding, esm_class: esm::UDHI, parts })
}

/// Where a part sits in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Concat {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// How a part's units turn into text once all parts are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// Units are unpacked septets.
    Gsm,
    /// IA5 (ASCII) for data_coding 1.
    Ia5,
    Latin1,
    Ucs2,
}

impl TextKind {
    pub fn decode(self, units: &[u8]) -> String {
        match self {
            TextKind::Gsm => gsm7_decode(units),
            TextKind::Ia5 => decode_ia5(units),
            TextKind::Latin1 => decode_latin1(units),
            TextKind::Ucs2 => decode_ucs2(units),
        }
    }
}

/// One short_message taken apart: its place in a concatenation (if any) and
/// its units, kept undecoded so a pair split across parts still joins up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedPart {
    pub concat: Option<Concat>,
    pub kind: TextKind,
    pub units: Vec<u8>,
}

fn text_kind(data_coding: u8) -> Result<TextKind, String> {
    match data_coding {
        DC_GSM => Ok(TextKind::Gsm),
        DC_IA5 => Ok(TextKind::Ia5),
        DC_LATIN1 => Ok(TextKind::Latin1),
        DC_UCS2 => Ok(TextKind::Ucs2),
        // The "message class" group: bit 2 clear is the GSM alphabet, set is 8-bit data.
        dc if dc & 0xF0 == 0xF0 && dc & 0x04 == 0 => Ok(TextKind::Gsm),
        dc => Err(format!("data_coding 0x{dc:02X} is not text this client reads")),
    }
}

fn parse_udh(udh: &[u8]) -> Option<Concat> {
    let mut rest = udh;
    while let [iei, len, tail @ ..] = rest {
        let len = usize::from(*len);
        if tail.len() < len {
            return None;
        }
        let (value, next) = tail.split_at(len);
        match (iei, value) {
            (0x00, &[r, total, seq]) => return Some(Concat { reference: u16::from(r), total, seq }),
            (0x08, &[r1, r2, total, seq]) => {
                return Some(Concat { reference: u16::from_be_bytes([r1, r2]), total, seq });
            }
            _ => rest = next,
        }
    }
    None
}

fn sar(sm: &Sm) -> Option<Concat> {
    let reference = match sm.tlv(tlv::SAR_MSG_REF_NUM)? {
        [a, b] => u16::from_be_bytes([*a, *b]),
        [a] => u16::from(*a),
        _ => return None,
    };
    let total = *sm.tlv(tlv::SAR_TOTAL_SEGMENTS)?.first()?;
    let seq = *sm.tlv(tlv::SAR_SEGMENT_SEQNUM)?.first()?;
    Some(Concat { reference, total, seq })
}

/// Takes a deliver_sm's text apart. message_payload stands in for an empty
/// short_message, as the spec allows.
pub fn decode_part(sm: &Sm, gsm7_packed: bool) -> Result<DecodedPart, String> {
    let kind = text_kind(sm.data_coding)?;
    let payload = match sm.tlv(tlv::MESSAGE_PAYLOAD) {
        Some(p) if sm.short_message.is_empty() => p,
        _ => sm.short_message.as_slice(),
    };
    let (mut concat, udh_len) = if sm.esm_class & esm::UDHI != 0 {
        let Some(&udhl) = payload.first() else {
            return Err("the UDH indicator is set but the message is empty".into());
        };
        let udh_len = usize::from(udhl) + 1;
        let Some(udh) = payload.get(1..udh_len) else {
            return Err("the UDH is longer than the message".into());
        };
        (parse_udh(udh), udh_len)
    } else {
        (None, 0)
    };
    if concat.is_none() {
        concat = sar(sm);
    }
    let units = if kind == TextKind::Gsm && gsm7_packed {
        // The text starts on the first septet boundary after the UDH.
        unpack_septets(payload, (udh_len * 8).div_ceil(7) * 7)
    } else {
        payload[udh_len..].to_vec()
    };
    Ok(DecodedPart { concat, kind, units })
}

struct Pending {
    first_seen: Instant,
    kind: TextKind,
    parts: BTreeMap<u8, Vec<u8>>,
}

/// Collects the parts of concatenated messages per (sender, reference, total)
/// and hands out the text when the last one arrives. Parts of a message that
/// never completes are dropped after `timeout`; `max_pending` bounds memory
/// against a peer that only ever sends first parts.
pub struct Reassembler {
    pending: HashMap<(String, u16, u8), Pending>,
    timeout: Duration,
    max_pending: usize,
}

impl Reassembler {
    pub fn new(timeout: Duration, max_pending: usize) -> Self {
        Reassembler { pending: HashMap::new(), timeout, max_pending: max_pending.max(1) }
    }

    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Forgets incomplete messages older than the timeout; returns how many.
    pub fn expire(&mut self, now: Instant) -> usize {
        let before = self.pending.len();
        let timeout = self.timeout;
        self.pending.retain(|_, p| now.saturating_duration_since(p.first_seen) < timeout);
        before - self.pending.len()
    }

    /// The whole text once complete; `None` while parts are missing.
    pub fn push(&mut self, source: &str, part: DecodedPart, now: Instant) -> Option<String> {
        let Some(c) = part.concat.filter(|c| c.total > 1 && c.seq >= 1 && c.seq <= c.total) else {
            return Some(part.kind.decode(&part.units));
        };
        self.expire(now);
        let key = (source.to_owned(), c.reference, c.total);
        if !self.pending.contains_key(&key) && self.pending.len() >= self.max_pending {
            let oldest = self.pending.iter().min_by_key(|(_, p)| p.first_seen).map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.pending.remove(&k);
            }
        }
        let entry = self.pending.entry(key.clone()).or_insert_with(|| Pending {
            first_seen: now,
            kind: part.kind,
            parts: BTreeMap::new(),
        });
        entry.parts.insert(c.seq, part.units);
        if entry.parts.len() < usize::from(c.total) {
            return None;
        }
        let done = self.pending.remove(&key)?;
        let units: Vec<u8> = done.parts.into_values().flatten().collect();
        Some(done.kind.decode(&units))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::pdu::Tlv;
    use textdesk_core::segments::gsm7_encode;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn packing_matches_the_03_38_examples() {
        let septets = gsm7_encode("hellohello").unwrap();
        assert_eq!(hex(&pack_septets(&septets, 0)), "E8 32 9B FD 46 97 D9 EC 37");
        assert_eq!(unpack_septets(&pack_septets(&septets, 0), 0), septets);
        // Eight septets fill seven octets exactly.
        let eight = gsm7_encode("12345678").unwrap();
        assert_eq!(hex(&pack_septets(&eight, 0)), "31 D9 8C 56 B3 DD 70");
        assert_eq!(unpack_septets(&pack_septets(&eight, 0), 0), eight);
        // Seven septets leave seven spare bits: they are not an '@'.
        let seven = gsm7_encode("1234567").unwrap();
        assert_eq!(unpack_septets(&pack_septets(&seven, 0), 0), seven);
    }

    #[test]
    fn short_texts_go_in_one_part() {
        let e = encode_text("Hello [world]", false, 1).unwrap();
        assert_eq!((e.data_coding, e.esm_class, e.parts.len()), (DC_GSM, 0, 1));
        assert_eq!(gsm7_decode(&e.parts[0]), "Hello [world]");
        let e = encode_text(&"a".repeat(160), true, 1).unwrap();
        assert_eq!(e.parts, vec![pack_septets(&[0x61; 160], 0)]);
        assert_eq!(e.parts[0].len(), 140);
        let e = encode_text("Привет 😀", true, 1).unwrap();
        assert_eq!((e.data_coding, e.parts.len()), (DC_UCS2, 1));
        assert_eq!(decode_ucs2(&e.parts[0]), "Привет 😀");
    }

    fn sm_of(part: &[u8], data_coding: u8, esm_class: u8) -> Sm {
        Sm { data_coding, esm_class, short_message: part.to_vec(), ..Sm::default() }
    }

    fn round_trip(text: &str, packed: bool) -> (Encoded, String) {
        let e = encode_text(text, packed, 42).unwrap();
        let mut r = Reassembler::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let mut out = None;
        // Parts may arrive out of order.
        for part in e.parts.iter().rev() {
            let d = decode_part(&sm_of(part, e.data_coding, e.esm_class), packed).unwrap();
            out = r.push("+1555", d, now);
        }
        (e.clone(), out.unwrap())
    }

    #[test]
    fn long_gsm_splits_at_153_and_comes_back() {
        for packed in [false, true] {
            let text = "b".repeat(306) + "c";
            let (e, back) = round_trip(&text, packed);
            assert_eq!(e.parts.len(), 3);
            assert_eq!(back, text);
            for (i, p) in e.parts.iter().enumerate() {
                assert_eq!(&p[..6], &[5, 0, 3, 42, 3, i as u8 + 1]);
            }
            let expect_len = if packed { 6 + (153 * 7 + 1usize).div_ceil(8) } else { 6 + 153 };
            assert_eq!(e.parts[0].len(), expect_len);
            assert!(e.parts.iter().all(|p| p.len() <= 140 || !packed));
        }
    }

    #[test]
    fn escape_pairs_are_never_split() {
        // 152 septets, then '€' (two septets) must move whole to part two.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        let e = encode_text(&text, false, 7).unwrap();
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[0].len(), 6 + 152);
        assert_eq!(&e.parts[1][6..8], &[0x1B, 0x65]);
        assert_eq!(round_trip(&text, true).1, text);
    }

    #[test]
    fn surrogate_pairs_are_never_split() {
        let text = format!("{}😀{}", "я".repeat(66), "я".repeat(5));
        let e = encode_text(&text, false, 7).unwrap();
        assert_eq!(e.data_coding, DC_UCS2);
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[0].len(), 6 + 66 * 2);
        assert_eq!(round_trip(&text, false).1, text);
        let emoji = "😀".repeat(100);
        let (e, back) = round_trip(&emoji, false);
        // 33 emoji (66 units) per part: the 34th would need 68.
        assert_eq!(e.parts.len(), 4);
        assert!(e.parts.iter().all(|p| p.len() <= 140));
        assert_eq!(back, emoji);
    }

    #[test]
    fn too_long_is_refused() {
        assert!(encode_text(&"a".repeat(153 * 255 + 1), false, 1).is_err());
    }

    #[test]
    fn sixteen_bit_udh_and_sar_tlvs_reassemble() {
        let mut r = Reassembler::new(Duration::from_secs(60), 10);
        let now = Instant::now();
        let p1 = [6, 8, 4, 0x12, 0x34, 2, 1, b'H', b'e'];
        let d1 = decode_part(&sm_of(&p1, DC_LATIN1, esm::UDHI), false).unwrap();
        assert_eq!(d1.concat, Some(Concat { reference: 0x1234, total: 2, seq: 1 }));
        assert_eq!(r.push("a", d1, now), None);
        let sar_part = |seq: u8, text: &str| Sm {
            short_message: text.as_bytes().to_vec(),
            tlvs: vec![
                Tlv { tag: tlv::SAR_MSG_REF_NUM, value: vec![0x12, 0x34] },
                Tlv { tag: tlv::SAR_TOTAL_SEGMENTS, value: vec![2] },
                Tlv { tag: tlv::SAR_SEGMENT_SEQNUM, value: vec![seq] },
            ],
            ..Sm::default()
        };
        // Same reference from another sender is another message.
        assert_eq!(r.push("b", decode_part(&sar_part(2, "llo"), false).unwrap(), now), None);
        assert_eq!(r.push("a", decode_part(&sar_part(2, "llo"), false).unwrap(), now), Some("Hello".into()));
        assert_eq!(r.pending(), 1);
        assert_eq!(r.expire(now + Duration::from_secs(61)), 1);
    }

    #[test]
    fn other_codings_decode() {
        let d = decode_part(&sm_of(&[0x63, 0x61, 0x66, 0xE9], DC_LATIN1, 0), false).unwrap();
        assert_eq!(d.kind.decode(&d.units), "café");
        let d = decode_part(&sm_of(b"hi {\x1b(x\x1b)}", DC_IA5, 0), false).unwrap();
        assert_eq!(d.kind.decode(&d.units), "hi {{x}}");
        assert_eq!(decode_ia5(b"\x1b"), "\u{1b}");
        assert!(decode_part(&sm_of(b"hi", 0x04, 0), false).is_err());
        let payload = Sm {
            tlvs: vec![Tlv { tag: tlv::MESSAGE_PAYLOAD, value: gsm7_encode("from payload").unwrap() }],
            ..Sm::default()
        };
        let d = decode_part(&payload, false).unwrap();
        assert_eq!(d.kind.decode(&d.units), "from payload");
        assert_eq!(decode_ucs2(&[0xD8, 0x3D, 0x00]), "\u{FFFD}\u{FFFD}");
    }

    #[test]
    fn hostile_udh_is_an_error_not_a_panic() {
        assert!(decode_part(&sm_of(&[], DC_GSM, esm::UDHI), true).is_err());
        assert!(decode_part(&sm_of(&[200, 0, 3], DC_GSM, esm::UDHI), true).is_err());
        let d = decode_part(&sm_of(&[5, 0, 9, 1, 2, 3], DC_GSM, esm::UDHI), true).unwrap();
        assert_eq!(d.concat, None);
        let mut r = Reassembler::new(Duration::from_secs(60), 2);
        let now = Instant::now();
        for reference in 0..10u16 {
            let part = DecodedPart {
                concat: Some(Concat { reference, total: 3, seq: 1 }),
                kind: TextKind::Gsm,
                units: vec![0x41],
            };
            assert_eq!(r.push("x", part, now), None);
        }
        assert_eq!(r.pending(), 2);
        let bad_seq = DecodedPart {
            concat: Some(Concat { reference: 1, total: 2, seq: 0 }),
            kind: TextKind::Gsm,
            units: vec![0x41],
        };
        assert_eq!(r.push("x", bad_seq, now), Some("A".into()));
    }
}
