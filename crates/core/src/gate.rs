//! The one door every outbound message passes. Pure: it is handed everything it
//! needs and answers Allow, Defer or Block. Callers cannot send around it,
//! because the outbox only accepts a message together with an `Allow` verdict
//! (see `store::outbox`).

use jiff::Timestamp;

/// Why a message is going out. Replies answer a customer who wrote to us;
/// everything else is the business starting the exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundKind {
    /// An agent's reply inside a conversation the customer is part of.
    Reply,
    /// A confirmation the law requires after STOP/START/HELP; allowed once even
    /// to an opted-out number, so it is only ever created by the consent rules.
    ConsentConfirmation,
    /// A business-initiated message: reminder, alert, survey.
    Notification,
}

/// The contact's consent for the sending scope, from the consent ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    /// No recorded event. Replies are fine (the customer wrote first).
    Unknown,
    OptedIn,
    OptedOut,
}

impl ConsentState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Unknown => "unknown",
            ConsentState::OptedIn => "opted_in",
            ConsentState::OptedOut => "opted_out",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "unknown" => Some(ConsentState::Unknown),
            "opted_in" => Some(ConsentState::OptedIn),
            "opted_out" => Some(ConsentState::OptedOut),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboundRequest {
    pub kind: OutboundKind,
    pub consent: ConsentState,
    pub now: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    OptedOut,
    NoOptIn,
}

impl BlockReason {
    pub fn code(self) -> &'static str {
        match self {
            BlockReason::OptedOut => "opted_out",
            BlockReason::NoOptIn => "no_opt_in",
        }
    }

    /// The words an agent sees in the composer and on the blocked message.
    pub fn explain(self) -> &'static str {
        match self {
            BlockReason::OptedOut => {
                "This contact has opted out (replied STOP). Nothing can be sent until they text START."
            }
            BlockReason::NoOptIn => {
                "This contact has not opted in, so the business cannot start a conversation by text."
            }
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "opted_out" => Some(BlockReason::OptedOut),
            "no_opt_in" => Some(BlockReason::NoOptIn),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Defer(Timestamp),
    Block(BlockReason),
}

/// The gate's policy:
/// - an opted-out contact receives nothing but the one confirmation of their opt-out;
/// - business-initiated messages need a recorded opt-in;
/// - replies inside a conversation the customer started are allowed unless opted out.
pub fn decide(req: OutboundRequest) -> Verdict {
    match (req.kind, req.consent) {
        (OutboundKind::ConsentConfirmation, _) => Verdict::Allow,
        (_, ConsentState::OptedOut) => Verdict::Block(BlockReason::OptedOut),
        (OutboundKind::Notification, ConsentState::Unknown) => Verdict::Block(BlockReason::NoOptIn),
        (OutboundKind::Reply | OutboundKind::Notification, _) => Verdict::Allow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [OutboundKind; 3] =
        [OutboundKind::Reply, OutboundKind::ConsentConfirmation, OutboundKind::Notification];
    const STATES: [ConsentState; 3] = [ConsentState::Unknown, ConsentState::OptedIn, ConsentState::OptedOut];

    fn verdict(kind: OutboundKind, consent: ConsentState) -> Verdict {
        decide(OutboundRequest { kind, consent, now: Timestamp::UNIX_EPOCH })
    }

    #[test]
    fn opted_out_contacts_get_only_the_confirmation() {
        for kind in KINDS {
            let v = verdict(kind, ConsentState::OptedOut);
            if kind == OutboundKind::ConsentConfirmation {
                assert_eq!(v, Verdict::Allow);
            } else {
                assert_eq!(v, Verdict::Block(BlockReason::OptedOut), "{kind:?}");
            }
        }
    }

    #[test]
    fn the_business_needs_an_opt_in_to_start_but_not_to_answer() {
        assert_eq!(verdict(OutboundKind::Notification, ConsentState::Unknown), Verdict::Block(BlockReason::NoOptIn));
        assert_eq!(verdict(OutboundKind::Notification, ConsentState::OptedIn), Verdict::Allow);
        assert_eq!(verdict(OutboundKind::Reply, ConsentState::Unknown), Verdict::Allow);
        assert_eq!(verdict(OutboundKind::Reply, ConsentState::OptedIn), Verdict::Allow);
    }

    #[test]
    fn every_block_explains_itself_and_round_trips() {
        for kind in KINDS {
            for consent in STATES {
                if let Verdict::Block(r) = verdict(kind, consent) {
                    assert!(!r.explain().is_empty());
                    assert_eq!(BlockReason::parse(r.code()), Some(r));
                }
            }
        }
        for s in STATES {
            assert_eq!(ConsentState::parse(s.as_str()), Some(s));
        }
    }
}
