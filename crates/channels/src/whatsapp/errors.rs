//! What the Cloud API's error codes mean, in words an agent can act on, and
//! whether trying again could help. Meta's own text is not shown by itself:
//! its titles are terse ("Re-engagement message") and its details may quote
//! the recipient's number. Codes: Meta's "Cloud API error codes" page.

use crate::ProviderError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth another try later (rate limits, Meta's own hiccups).
    Retry,
    /// Will not go as it is.
    Permanent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    pub explanation: &'static str,
    pub class: ErrorClass,
}

const fn permanent(explanation: &'static str) -> ErrorInfo {
    ErrorInfo { explanation, class: ErrorClass::Permanent }
}
const fn retry(explanation: &'static str) -> ErrorInfo {
    ErrorInfo { explanation, class: ErrorClass::Retry }
}

/// The code's meaning; an unknown code is permanent (Meta would say if waiting helped).
pub fn explain(code: u64) -> ErrorInfo {
    match code {
        131047 => permanent(
            "More than 24 hours have passed since the customer last wrote, so WhatsApp only accepts an approved template now.",
        ),
        131026 => permanent(
            "WhatsApp could not deliver it: the number may not have WhatsApp, or its app is too old, or it has not accepted WhatsApp's new terms.",
        ),
        131049 => permanent(
            "WhatsApp chose not to deliver this marketing message, to keep the customer from getting too many. Try again later or another way.",
        ),
        131050 => permanent("The customer has asked WhatsApp to stop marketing messages from this business."),
        131051 => permanent("WhatsApp does not carry this kind of message."),
        131052 => permanent("WhatsApp could not download the customer's file."),
        131053 => permanent("WhatsApp could not use the attached file: check its type and size."),
        131021 => permanent("The message was addressed to the business's own number."),
        131030 => permanent(
            "This number is not on the WhatsApp test account's list of allowed recipients; add it in Meta's developer console.",
        ),
        131031 => permanent("Meta has locked this WhatsApp Business account; see WhatsApp Manager."),
        131042 => permanent(
            "The WhatsApp Business account has a payment problem; see its payment settings in Meta Business Suite.",
        ),
        131045 => permanent("The business phone number is not registered with WhatsApp's Cloud API."),
        131009 | 100 => permanent("WhatsApp refused the request as malformed (a parameter is not valid)."),
        131008 => permanent("WhatsApp refused the request: a required parameter is missing."),
        132000 => permanent("The template's values do not match its variables: fill in every one."),
        132001 => permanent("WhatsApp has no such template in this language; sync the templates and pick again."),
        132005 => permanent("The template with its values filled in is too long."),
        132007 => permanent("The template's text breaks WhatsApp's policies."),
        132012 => permanent("A value given for the template is not in the format it expects."),
        132015 => permanent("WhatsApp has paused this template for low quality."),
        132016 => permanent("WhatsApp has disabled this template."),
        133010 => permanent("The business phone number is not registered with WhatsApp."),
        368 => permanent("Meta has temporarily blocked this account from sending for breaking its policies."),
        190 => permanent(
            "WhatsApp did not accept the access token: it may have expired; make a new one and update the inbox.",
        ),
        10 | 200 => {
            permanent("The access token may not send for this phone number; check its permissions in Meta's console.")
        }
        4 | 80007 | 130429 => retry("WhatsApp is limiting how fast this number sends; it will be tried again."),
        131048 => retry("WhatsApp is limiting this number for spam reports; it will be tried again later."),
        131056 => retry("Too many messages to this customer in a short time; it will be tried again."),
        1 | 2 | 131000 | 131016 | 133004 => retry("WhatsApp had a problem of its own; it will be tried again."),
        _ => permanent("WhatsApp refused the message."),
    }
}

/// The longest piece of Meta's own details kept with our words.
const MAX_DETAILS: usize = 300;

/// A failure Meta reported (in a status or a send's answer), for the agent:
/// our words, then Meta's title and details as given, cut short.
pub fn provider_error(code: Option<u64>, title: Option<&str>, details: Option<&str>) -> ProviderError {
    let base = code.map(explain).map(|i| i.explanation).unwrap_or("WhatsApp could not deliver the message.");
    let theirs: Vec<&str> = [title, details].into_iter().flatten().map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut explanation = base.to_owned();
    if !theirs.is_empty() {
        let mut said: String = theirs.join(": ").chars().filter(|c| !c.is_control()).collect();
        if said.chars().count() > MAX_DETAILS {
            said = said.chars().take(MAX_DETAILS).collect::<String>() + "…";
        }
        explanation.push_str(&format!(" (WhatsApp says: {said})"));
    }
    ProviderError { code: code.map(|c| c.to_string()), explanation, recipient_opted_out: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_words_and_say_whether_to_retry() {
        assert!(explain(131047).explanation.contains("24 hours"));
        assert_eq!(explain(130429).class, ErrorClass::Retry);
        assert_eq!(explain(131026).class, ErrorClass::Permanent);
        assert_eq!(explain(999_999).class, ErrorClass::Permanent);
        let e = provider_error(
            Some(131047),
            Some("Re-engagement message"),
            Some("Message failed to send because more than 24 hours have passed"),
        );
        assert_eq!(e.code.as_deref(), Some("131047"));
        assert!(e.explanation.starts_with("More than 24 hours"), "{}", e.explanation);
        assert!(e.explanation.contains("(WhatsApp says: Re-engagement message: Message failed"));
        let long = "x".repeat(1000);
        assert!(provider_error(None, None, Some(&long)).explanation.chars().count() < 400);
    }
}
