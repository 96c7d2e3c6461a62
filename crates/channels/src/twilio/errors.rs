//! Twilio's numeric error codes, in words an agent understands, and whether
//! trying again can help. Meanings follow Twilio's error dictionary
//! (twilio.com/docs/api/errors/<code>).

use std::borrow::Cow;

use crate::ProviderError;

/// What to do about a failed send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Sending the same message again later can succeed.
    Retry,
    /// It will fail again as it is.
    Permanent,
    /// The recipient unsubscribed; record the opt-out.
    OptedOut,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Plain words for the agent. Borrowed for known codes; unknown ones get
    /// a sentence naming the code so it can be looked up.
    pub explanation: Cow<'static, str>,
    pub class: ErrorClass,
}

use ErrorClass::{OptedOut, Permanent, Retry};

/// Code, class, explanation. Codes Twilio returns when a send is refused
/// (21xxx, 20xxx) and those it reports later in status callbacks (30xxx).
const TABLE: &[(&str, ErrorClass, &str)] = &[
    ("20003", Permanent, "Twilio rejected the account credentials (authentication failed)."),
    ("20429", Retry, "Twilio is receiving too many requests from this account; the message will be tried again."),
    ("21211", Permanent, "The recipient's phone number is not a valid phone number."),
    (
        "21408",
        Permanent,
        "Sending texts to the recipient's country is not enabled on this Twilio account (geographic permissions).",
    ),
    ("21602", Permanent, "The message has neither text nor attachments, so Twilio refused it."),
    ("21603", Permanent, "No sending number (or messaging service) was given, so Twilio refused the message."),
    ("21604", Permanent, "No recipient number was given, so Twilio refused the message."),
    ("21606", Permanent, "The sending number cannot send texts to this destination (not a message-capable number)."),
    ("21608", Permanent, "A Twilio trial account can only text verified numbers; this recipient is not verified."),
    (
        "21610",
        OptedOut,
        "The recipient has unsubscribed from this number (replied STOP); they must text START before they can receive messages again.",
    ),
    ("21612", Permanent, "Twilio cannot route a text from this sending number to the recipient's number."),
    ("21614", Permanent, "The recipient's number is not a mobile number (it cannot receive texts)."),
    ("21617", Permanent, "The message is too long: Twilio accepts at most 1600 characters."),
    ("21620", Permanent, "An attachment's address is not one Twilio can fetch (invalid media URL)."),
    ("21660", Permanent, "The sending number does not belong to the configured Twilio account."),
    (
        "30001",
        Retry,
        "Too many messages were sent too quickly and Twilio's queue overflowed; the message will be tried again.",
    ),
    ("30002", Permanent, "The Twilio account is suspended, so the message was not sent."),
    (
        "30003",
        Permanent,
        "The recipient's phone is unreachable: switched off, out of coverage or disconnected. Sending later may work.",
    ),
    (
        "30004",
        Permanent,
        "The message was blocked: the recipient's carrier or the recipient blocks texts from this number.",
    ),
    ("30005", Permanent, "The recipient's number is unknown to their carrier or no longer exists."),
    ("30006", Permanent, "The recipient's number is a landline or its carrier cannot receive texts."),
    ("30007", Permanent, "The recipient's carrier filtered the message (often flagged as spam or unwanted content)."),
    ("30008", Permanent, "The recipient's carrier could not deliver the message and gave no reason (unknown error)."),
    ("30034", Permanent, "The sending number is not registered for US A2P 10DLC, so US carriers refuse its messages."),
    ("30032", Permanent, "The sending toll-free number is not verified, so carriers refuse its messages."),
];

/// What Twilio error `code` means and whether to try again.
pub fn explain(code: &str) -> ErrorInfo {
    let code = code.trim();
    match TABLE.iter().find(|(c, _, _)| *c == code) {
        Some((_, class, text)) => ErrorInfo { explanation: Cow::Borrowed(text), class: *class },
        None => ErrorInfo {
            explanation: Cow::Owned(format!(
                "Twilio reported error {}; see Twilio's error dictionary for what it means.",
                printable_code(code)
            )),
            class: Permanent,
        },
    }
}

/// The error as the shared channel interface carries it.
pub fn provider_error(code: &str) -> ProviderError {
    let info = explain(code);
    ProviderError {
        code: Some(printable_code(code)),
        explanation: info.explanation.into_owned(),
        recipient_opted_out: info.class == OptedOut,
    }
}

/// Codes are numbers; anything else is cut down so an odd value from the
/// network cannot smuggle text into what agents read.
fn printable_code(code: &str) -> String {
    let code = code.trim();
    if !code.is_empty() && code.len() <= 10 && code.bytes().all(|b| b.is_ascii_digit()) {
        code.to_owned()
    } else {
        "(unreadable code)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_codes_are_unique_numbers() {
        for (i, (code, _, text)) in TABLE.iter().enumerate() {
            assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
            assert!(!text.is_empty());
            assert!(TABLE[i + 1..].iter().all(|(c, _, _)| c != code), "duplicate {code}");
        }
    }

    #[test]
    fn the_codes_agents_meet_most_are_known() {
        let expect = [
            ("21610", OptedOut, "unsubscribed"),
            ("30007", Permanent, "filtered"),
            ("21211", Permanent, "not a valid phone number"),
            ("30003", Permanent, "unreachable"),
            ("30005", Permanent, "no longer exists"),
            ("30006", Permanent, "landline"),
            ("20429", Retry, "too many requests"),
            ("30001", Retry, "queue overflowed"),
            ("30002", Permanent, "suspended"),
            ("30004", Permanent, "blocked"),
            ("30008", Permanent, "unknown error"),
            ("21408", Permanent, "country"),
            ("21614", Permanent, "not a mobile number"),
            ("21612", Permanent, "cannot route"),
            ("21617", Permanent, "1600"),
            ("30034", Permanent, "10DLC"),
            ("21602", Permanent, "The message has neither text nor attachments, so Twilio refused it."),
            ("21603", Permanent, "No sending number (or messaging service) was given, so Twilio refused the message."),
            ("21604", Permanent, "No recipient number was given, so Twilio refused the message."),
            ("21606", Permanent, "cannot send"),
            ("21620", Permanent, "An attachment's address is not one Twilio can fetch (invalid media URL)."),
            ("21660", Permanent, "does not belong"),
        ];
        for (code, class, words) in expect {
            let info = explain(code);
            assert_eq!(info.class, class, "{code}");
            assert!(info.explanation.contains(words), "{code}: {}", info.explanation);
        }
        assert_eq!(explain(" 21610 ").class, OptedOut);
    }

    #[test]
    fn unknown_codes_are_named_and_garbage_is_not_echoed() {
        let info = explain("99999");
        assert_eq!(info.class, ErrorClass::Permanent);
        assert!(info.explanation.contains("99999"));
        assert!(!explain("<script>").explanation.contains("<script>"));
        assert_eq!(provider_error("abc").code.as_deref(), Some("(unreadable code)"));
        assert!(provider_error("21610").recipient_opted_out);
        assert!(!provider_error("30007").recipient_opted_out);
    }
}
