//! What the Send API's error codes mean, in words an agent can act on, and
//! whether trying again could help (Meta's "Send API error codes" page).

use crate::SendError;

/// A refused send, by Meta's code and subcode.
pub fn classify(code: Option<u64>, subcode: Option<u64>, http_status: u16) -> SendError {
    let permanent = |w: &str| SendError::Permanent(w.to_owned());
    let retry = |w: &str| SendError::Retryable(w.to_owned());
    match (code, subcode) {
        (Some(10), Some(2018278)) | (Some(10), Some(2018065)) => permanent(
            "Messenger refused it: more than 24 hours have passed since the customer's last message (and more than 7 days for a person's reply).",
        ),
        (Some(551), _) | (Some(200), Some(1545041)) => {
            permanent("This person is not available on Messenger right now (they may have blocked the Page).")
        }
        (Some(100), Some(2018001)) => permanent("Messenger has no such person for this Page."),
        (Some(100), Some(2018109)) => permanent("Messenger could not use the attached file: check its type and size."),
        (Some(190), _) => permanent(
            "Messenger did not accept the Page access token: it may have expired; make a new one and update the inbox.",
        ),
        (Some(10 | 200 | 230), _) => {
            permanent("The Page access token may not send messages; check its pages_messaging permission.")
        }
        (Some(4 | 17 | 32 | 613), _) => {
            retry("Messenger is limiting how fast this Page sends; it will be tried again.")
        }
        (Some(1 | 2 | 1200), _) => retry("Messenger had a problem of its own; it will be tried again."),
        (Some(100), _) => permanent("Messenger refused the request as malformed (a parameter is not valid)."),
        (Some(_), _) => permanent("Messenger refused the message."),
        (None, _) if http_status >= 500 || http_status == 429 => {
            SendError::Retryable(format!("Messenger could not take the message just now (HTTP {http_status})"))
        }
        (None, _) => SendError::Permanent(format!("Messenger refused the request (HTTP {http_status})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_words_and_say_whether_to_retry() {
        assert!(classify(Some(10), Some(2018278), 400).to_string().contains("24 hours"));
        assert!(matches!(classify(Some(613), None, 400), SendError::Retryable(_)));
        assert!(matches!(classify(Some(551), None, 400), SendError::Permanent(_)));
        assert!(matches!(classify(None, None, 503), SendError::Retryable(_)));
        assert!(matches!(classify(None, None, 400), SendError::Permanent(_)));
    }
}
