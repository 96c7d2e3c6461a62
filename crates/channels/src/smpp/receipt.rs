//! Delivery receipts: a deliver_sm with esm_class type 0x04, carrying the
//! receipted_message_id and message_state TLVs (SMPP 3.4 §5.3.2.35) and/or the
//! conventional text "id:… sub:… dlvrd:… submit date:… done date:… stat:… err:… text:…".

use textdesk_core::DeliveryStatus;

use super::pdu::{Sm, tlv, tlv_cstr};
use crate::{InboundEvent, ProviderError};

/// A receipt's final (or interim) state, as the SMSC named it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptState {
    Enroute,
    Delivered,
    Expired,
    Deleted,
    Undeliverable,
    Accepted,
    Unknown,
    Rejected,
}

impl ReceiptState {
    fn from_tlv(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Enroute,
            2 => Self::Delivered,
            3 => Self::Expired,
            4 => Self::Deleted,
            5 => Self::Undeliverable,
            6 => Self::Accepted,
            7 => Self::Unknown,
            8 => Self::Rejected,
            _ => return None,
        })
    }

    fn from_stat(s: &str) -> Option<Self> {
        Some(match s.to_ascii_uppercase().as_str() {
            "ENROUTE" => Self::Enroute,
            "DELIVRD" | "DELIVERED" => Self::Delivered,
            "EXPIRED" => Self::Expired,
            "DELETED" => Self::Deleted,
            "UNDELIV" | "UNDELIVERABLE" => Self::Undeliverable,
            "ACCEPTD" | "ACCEPTED" => Self::Accepted,
            "UNKNOWN" => Self::Unknown,
            "REJECTD" | "REJECTED" => Self::Rejected,
            _ => return None,
        })
    }

    pub fn as_stat(self) -> &'static str {
        match self {
            Self::Enroute => "ENROUTE",
            Self::Delivered => "DELIVRD",
            Self::Expired => "EXPIRED",
            Self::Deleted => "DELETED",
            Self::Undeliverable => "UNDELIV",
            Self::Accepted => "ACCEPTD",
            Self::Unknown => "UNKNOWN",
            Self::Rejected => "REJECTD",
        }
    }

    /// UNKNOWN maps to Sent: the SMSC took the message and cannot say more,
    /// which is not evidence of failure; a later receipt may still settle it.
    pub fn status(self) -> DeliveryStatus {
        match self {
            Self::Delivered => DeliveryStatus::Delivered,
            Self::Enroute | Self::Accepted | Self::Unknown => DeliveryStatus::Sent,
            Self::Expired | Self::Deleted | Self::Undeliverable => DeliveryStatus::Undelivered,
            Self::Rejected => DeliveryStatus::Failed,
        }
    }

    fn explanation(self) -> &'static str {
        match self {
            Self::Expired => "the message expired before the phone could be reached",
            Self::Deleted => "the message was deleted at the SMSC",
            Self::Undeliverable => "the carrier could not deliver the message",
            Self::Rejected => "the carrier rejected the message",
            Self::Delivered => "delivered",
            Self::Enroute | Self::Accepted | Self::Unknown => "on its way",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub message_id: String,
    pub state: ReceiptState,
    /// The err: field or network_error_code, when the SMSC gave one.
    pub error_code: Option<String>,
}

impl Receipt {
    pub fn into_event(self) -> InboundEvent {
        let status = self.state.status();
        let failed = matches!(status, DeliveryStatus::Undelivered | DeliveryStatus::Failed);
        let error = failed.then(|| ProviderError {
            code: self.error_code.clone(),
            explanation: match &self.error_code {
                Some(code) => format!("{} ({}, error {code})", self.state.explanation(), self.state.as_stat()),
                None => format!("{} ({})", self.state.explanation(), self.state.as_stat()),
            },
            recipient_opted_out: false,
        });
        InboundEvent::Status { provider_id: self.message_id, status, error }
    }
}

/// The value after `key:` in a receipt text, up to the next space.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let lower = text.to_ascii_lowercase();
    let needle = format!("{key}:");
    let mut from = 0;
    while let Some(pos) = lower[from..].find(&needle) {
        let start = from + pos;
        // "id:" must not match the tail of another word such as "msgid:".
        let at_word = start == 0 || lower.as_bytes().get(start - 1).is_some_and(|b| b.is_ascii_whitespace());
        if at_word {
            let value = &text[start + needle.len()..];
            return Some(value.split(char::is_whitespace).next().unwrap_or(""));
        }
        from = start + needle.len();
    }
    None
}

fn network_error(v: &[u8]) -> Option<String> {
    match v {
        [kind, hi, lo] => Some(format!("{kind}:{}", u16::from_be_bytes([*hi, *lo]))),
        _ => None,
    }
}

/// Reads a receipt from the TLVs, falling back to the text form field by field.
/// `text` is the already decoded short_message.
pub fn parse(sm: &Sm, text: &str) -> Option<Receipt> {
    let tlv_id = sm.tlv(tlv::RECEIPTED_MESSAGE_ID).map(tlv_cstr).filter(|s| !s.is_empty());
    let message_id = tlv_id.or_else(|| field(text, "id").filter(|s| !s.is_empty()).map(str::to_owned))?;
    let tlv_state = sm.tlv(tlv::MESSAGE_STATE).and_then(|v| v.first().copied()).and_then(ReceiptState::from_tlv);
    let state = tlv_state.or_else(|| field(text, "stat").and_then(ReceiptState::from_stat))?;
    let err = field(text, "err").filter(|e| !e.is_empty() && e.chars().any(|c| c != '0')).map(str::to_owned);
    let error_code = err.or_else(|| sm.tlv(tlv::NETWORK_ERROR_CODE).and_then(network_error));
    if message_id.len() > 65 {
        return None;
    }
    Some(Receipt { message_id, state, error_code })
}

/// The text form, for the fake SMSC and tests.
pub fn format_text(message_id: &str, state: ReceiptState, err: &str) -> String {
    format!(
        "id:{message_id} sub:001 dlvrd:{} submit date:2501011200 done date:2501011201 stat:{} err:{err} text:",
        if state == ReceiptState::Delivered { "001" } else { "000" },
        state.as_stat()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smpp::pdu::Tlv;

    #[test]
    fn text_form() {
        let text =
            "id:0123abc sub:001 dlvrd:000 submit date:2501011200 done date:2501011201 stat:UNDELIV err:034 text:Hi";
        let r = parse(&Sm::default(), text).unwrap();
        assert_eq!(
            r,
            Receipt {
                message_id: "0123abc".into(),
                state: ReceiptState::Undeliverable,
                error_code: Some("034".into())
            }
        );
        let InboundEvent::Status { provider_id, status, error } = r.into_event() else { panic!() };
        assert_eq!((provider_id.as_str(), status), ("0123abc", DeliveryStatus::Undelivered));
        let error = error.unwrap();
        assert_eq!(error.code.as_deref(), Some("034"));
        assert!(error.explanation.contains("could not deliver"), "{}", error.explanation);
    }

    #[test]
    fn tlv_form_wins_and_delivered_has_no_error() {
        let sm = Sm {
            tlvs: vec![
                Tlv { tag: tlv::RECEIPTED_MESSAGE_ID, value: b"ABC\0".to_vec() },
                Tlv { tag: tlv::MESSAGE_STATE, value: vec![2] },
            ],
            ..Sm::default()
        };
        let r = parse(&sm, "id:zzz stat:REJECTD err:000").unwrap();
        assert_eq!((r.message_id.as_str(), r.state), ("ABC", ReceiptState::Delivered));
        assert_eq!(
            r.into_event(),
            InboundEvent::Status { provider_id: "ABC".into(), status: DeliveryStatus::Delivered, error: None }
        );
    }

    #[test]
    fn every_stat_maps() {
        for (stat, status) in [
            ("DELIVRD", DeliveryStatus::Delivered),
            ("ENROUTE", DeliveryStatus::Sent),
            ("ACCEPTD", DeliveryStatus::Sent),
            ("UNKNOWN", DeliveryStatus::Sent),
            ("EXPIRED", DeliveryStatus::Undelivered),
            ("DELETED", DeliveryStatus::Undelivered),
            ("UNDELIV", DeliveryStatus::Undelivered),
            ("REJECTD", DeliveryStatus::Failed),
        ] {
            let r = parse(&Sm::default(), &format!("id:1 stat:{stat} err:000")).unwrap();
            assert_eq!(r.state.status(), status, "{stat}");
            assert_eq!(r.state.as_stat(), stat);
        }
    }

    #[test]
    fn junk_is_not_a_receipt() {
        assert_eq!(parse(&Sm::default(), "hello"), None);
        assert_eq!(parse(&Sm::default(), "msgid:1 stat:DELIVRD"), None);
        assert_eq!(parse(&Sm::default(), "id:1 stat:WHATEVER"), None);
        assert_eq!(parse(&Sm::default(), "id: stat:DELIVRD"), None);
        let sm = Sm { tlvs: vec![Tlv { tag: tlv::MESSAGE_STATE, value: vec![] }], ..Sm::default() };
        assert_eq!(parse(&sm, "id:1"), None);
    }

    #[test]
    fn format_parses_back() {
        let text = format_text("77", ReceiptState::Rejected, "011");
        let r = parse(&Sm::default(), &text).unwrap();
        assert_eq!(
            (r.message_id.as_str(), r.state, r.error_code.as_deref()),
            ("77", ReceiptState::Rejected, Some("011"))
        );
    }
}
