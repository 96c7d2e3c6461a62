//! Continuing a web chat by text, once the visitor has proved the number is
//! theirs: they leave it and agree to the words, a six-digit code is texted
//! to it (through the one outbox, from the widget's SMS inbox), and only the
//! right code, typed back within ten minutes, moves the chat and records their
//! consent. Without it anyone could opt a stranger in and have the business
//! text them (docs/decisions.md, "A web chat visitor proves their number").
//!
//! The code is never stored: it is an HMAC of the check's random salt under
//! the server's key, computed when the text goes and when the visitor answers.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use subtle::ConstantTimeEq;
use textdesk_core::webchat::{CODE_LIFETIME, CODE_TRIES, PhoneCode, VisitorId};
use textdesk_core::{Address, Medium};
use textdesk_store::Claimed;
use textdesk_store::phone_checks::{CheckRefused, NewPhoneCheck, PhoneCheck};
use textdesk_store::webchat::{HandOff, VisitorConversation};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};
use crate::services::limits::{CodeLimit, Refusal};
use crate::services::webchat::{Widget, WidgetInbox, consent_words};

/// Codes asked for per network per minute (on this node): a page of visitors
/// behind one office address, not a script walking through numbers.
pub const CODES_PER_NETWORK: u32 = 5;

/// Where a visitor's code stands, for the widget.
pub struct CodeStep {
    /// The number it went to.
    pub to: String,
    /// `sending`, `sent` or `failed` (the text could not go to that number).
    pub delivery: &'static str,
    pub expires_at: Timestamp,
}

impl Widget {
    /// The code a check's salt stands for, under this server's key.
    pub(crate) fn code(&self, salt: &str) -> PhoneCode {
        let mac = self.mac(&format!("phone-code.{salt}"));
        let mut first = [0u8; 8];
        first.copy_from_slice(&mac[..8]);
        PhoneCode::from_number(u64::from_be_bytes(first))
    }
}

/// The text that carries the code; `{code}` is filled in as it leaves.
fn code_text(business: &str) -> String {
    format!(
        "Your {business} code is {{code}}. Type it in the chat to continue by text. It expires in {} minutes. \
         Reply STOP to opt out.",
        CODE_LIFETIME.as_mins()
    )
}

/// The text with the code in it (the last `{code}`: a business name may hold the same letters).
pub(crate) fn fill_code(body: &str, code: &PhoneCode) -> String {
    match body.rsplit_once("{code}") {
        Some((before, after)) => format!("{before}{}{after}", code.as_str()),
        None => body.to_owned(),
    }
}

fn wait_until(at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(Timestamp::now())).unwrap_or(Duration::from_secs(1))
}

impl Services {
    /// The visitor's chat, as long as it has not moved to text yet.
    async fn chat_to_move(&self, w: &WidgetInbox, visitor: &VisitorId) -> ServiceResult<VisitorConversation> {
        let conv = self
            .store
            .visitor_conversation(w.inbox.id, visitor.as_str())
            .await?
            .ok_or_else(|| ServiceError::Invalid("write a message first, then continue by text".into()))?;
        if conv.moved_to.is_some() {
            return Err(ServiceError::Conflict("this chat already continues by text".into()));
        }
        Ok(conv)
    }

    /// Texts a code to the number the visitor left, after the checks that
    /// moving would make (an SMS inbox to move to, an allowed page, a number,
    /// a chat not yet moved) and within the limits. Returns the number in E.164.
    pub async fn ask_for_code(
        &self,
        w: &WidgetInbox,
        visitor: &VisitorId,
        network: &str,
        phone: &str,
        page_url: &str,
    ) -> ServiceResult<String> {
        let Some(sms) = self.text_inbox(w).await? else {
            return Err(ServiceError::Invalid("this chat does not offer continuing by text".into()));
        };
        let page = url::Url::parse(page_url)
            .ok()
            .filter(|u| page_url.len() <= 2000 && w.settings.allowed_sites.allows(&u.origin().ascii_serialization()))
            .ok_or_else(|| ServiceError::Invalid("the page is not on a site this chat is allowed on".into()))?;
        // Typed as the visitor writes it, in the country of the number that will text them.
        let region = self.home_country(sms.account_id, Some(&sms)).await?;
        let phone = Address::parse_in(Medium::Sms, phone, region.as_deref()).map_err(|e| ServiceError::Invalid(e.0))?;
        self.chat_to_move(w, visitor).await?;
        self.widget.charge(format!("codes:{network}"), CODES_PER_NETWORK, Instant::now()).map_err(|r| {
            ServiceError::Refused(Refusal::Codes { retry_after: r.retry_after(), by: CodeLimit::Network })
        })?;
        let salt = hex::encode(rand::random::<[u8; 16]>());
        let body = code_text(&w.business);
        let check = NewPhoneCheck {
            account_id: w.inbox.account_id,
            from_inbox_id: w.inbox.id,
            visitor: visitor.as_str(),
            sms_inbox_id: sms.id,
            phone: &phone,
            page: page.as_str(),
            salt: &salt,
            body: &body,
            now: Timestamp::now(),
        };
        match self.store.start_phone_check(check).await? {
            Ok(_) => Ok(phone.value().to_owned()),
            Err(CheckRefused::NumberBusy { retry_at }) => {
                Err(ServiceError::Refused(Refusal::Codes { retry_after: wait_until(retry_at), by: CodeLimit::Number }))
            }
            Err(CheckRefused::VisitorBusy { retry_at }) => {
                Err(ServiceError::Refused(Refusal::Codes { retry_after: wait_until(retry_at), by: CodeLimit::Visitor }))
            }
            Err(CheckRefused::OptedOut) => Err(ServiceError::Invalid(format!(
                "That number has asked us not to text it (it replied STOP). To continue by text, first text START to {} from it.",
                sms.sender
            ))),
        }
    }

    /// The visitor's code step, while one is under way.
    pub async fn code_step(&self, w: &WidgetInbox, visitor: &VisitorId) -> ServiceResult<Option<CodeStep>> {
        let Some(check) = self.store.latest_phone_check(w.inbox.id, visitor.as_str()).await? else { return Ok(None) };
        if check.state != "pending" || check.expires_at <= Timestamp::now() {
            return Ok(None);
        }
        Ok(Some(CodeStep { to: check.phone.clone(), delivery: delivery(&check), expires_at: check.expires_at }))
    }

    /// The visitor typed `typed`: the right code for their latest check moves
    /// the chat to the number, with their consent and its evidence recorded.
    /// Returns the number the business texts from.
    pub async fn confirm_code(&self, w: &WidgetInbox, visitor: &VisitorId, typed: &str) -> ServiceResult<String> {
        let typed = PhoneCode::parse(typed)?;
        let check = self.store.latest_phone_check(w.inbox.id, visitor.as_str()).await?.ok_or_else(|| {
            ServiceError::Invalid("Ask for a code first: leave your number and we will text you one.".into())
        })?;
        let refused = |why: &str| Err(ServiceError::Invalid(why.into()));
        match check.state.as_str() {
            "confirmed" => return Err(ServiceError::Conflict("this chat already continues by text".into())),
            "burned" => {
                return refused(
                    "That code no longer works (it was typed wrong too often, or a newer one was sent). Ask for a new code.",
                );
            }
            _ => {}
        }
        if check.expires_at <= Timestamp::now() {
            return refused("That code has expired (a code works for 10 minutes). Ask for a new code.");
        }
        if delivery(&check) == "failed" {
            return refused("We could not text that number. Check it and ask for a new code.");
        }
        let expected = self.widget.code(&check.salt);
        if !bool::from(expected.as_str().as_bytes().ct_eq(typed.as_str().as_bytes())) {
            return match self.store.wrong_phone_code(check.id).await? {
                0 => refused(&format!(
                    "That code was wrong {CODE_TRIES} times, so it no longer works. Ask for a new code."
                )),
                1 => refused("That is not the code we sent. You have 1 more try."),
                left => refused(&format!("That is not the code we sent. You have {left} more tries.")),
            };
        }
        self.move_to_text(w, visitor, &check).await
    }

    /// Moves the chat to the proven number: the hand-off takes the code as
    /// used in its own transaction.
    async fn move_to_text(&self, w: &WidgetInbox, visitor: &VisitorId, check: &PhoneCheck) -> ServiceResult<String> {
        let sms = self.store.inbox(w.inbox.account_id, check.sms_inbox_id).await?;
        let phone = Address::parse(Medium::Sms, &check.phone).map_err(|e| ServiceError::Invalid(e.0))?;
        let conv = self.chat_to_move(w, visitor).await?;
        let now = Timestamp::now();
        let words = consent_words(&w.business, &sms.sender);
        let at = |t: Timestamp| t.strftime("%Y-%m-%d %H:%M:%S").to_string();
        let evidence = format!(
            "Web chat visitor agreed on page {} at {} (UTC) to: \"{words}\"; the number was confirmed by the code \
             texted to it, typed back at {} (UTC)",
            check.page,
            at(check.created_at),
            at(now)
        );
        self.store
            .hand_off_to_sms(HandOff {
                account_id: w.inbox.account_id,
                conversation_id: conv.conversation_id,
                from_inbox_id: w.inbox.id,
                visitor: visitor.as_str(),
                to_inbox_id: sms.id,
                phone: &phone,
                evidence: &evidence,
                check_id: check.id,
                now,
            })
            .await?;
        Ok(sms.sender)
    }

    /// The code texts a simulated phone received from a simulator inbox, as
    /// they read on the phone: (check id, text, when). Only the simulator
    /// asks: its phones are nobody's, and showing them is its purpose.
    pub async fn simulated_code_texts(
        &self,
        inbox: &textdesk_store::Inbox,
        phone: &Address,
    ) -> ServiceResult<Vec<(i64, String, Timestamp)>> {
        let texts = self.store.code_texts_to(inbox.id, phone.value()).await?;
        Ok(texts.into_iter().map(|(id, body, salt, at)| (id, fill_code(&body, &self.widget.code(&salt)), at)).collect())
    }

    /// A claimed outbox row as it goes to the provider: a visitor's code
    /// is filled into its text here, the only place it exists in clear.
    pub(crate) fn with_code(&self, mut row: Claimed) -> Claimed {
        if let Some((_, salt)) = &row.phone_check {
            row.body = fill_code(&row.body, &self.widget.code(salt));
        }
        row
    }
}

/// What the visitor is told about their code's text.
fn delivery(check: &PhoneCheck) -> &'static str {
    match check.send_status.as_str() {
        "sent" | "delivered" | "read" => "sent",
        "failed" | "blocked" | "undelivered" => "failed",
        _ => "sending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_come_from_the_salt_and_the_key() {
        let w = Widget::new("k");
        assert_eq!(w.code("a"), w.code("a"));
        assert_ne!(w.code("a").as_str(), Widget::new("other").code("a").as_str(), "another server's key");
        let spread: std::collections::HashSet<String> =
            (0..50).map(|i| w.code(&i.to_string()).as_str().to_owned()).collect();
        assert!(spread.len() > 45, "codes differ from salt to salt");
    }

    #[test]
    fn the_code_goes_where_the_text_says() {
        let code = PhoneCode::from_number(42);
        let body = code_text("Shop {code} Ltd");
        let filled = fill_code(&body, &code);
        assert!(filled.starts_with("Your Shop {code} Ltd code is 000042."), "{filled}");
        assert!(filled.contains("Reply STOP"));
    }
}
