//! The composer's preview: counts, advice, cost and the gate's verdict for a
//! draft, computed once here for the API and the web composer alike.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use textdesk_core::compose::{self, Preview};
use textdesk_core::gate::{self, OutboundKind, OutboundRequest, Verdict, WindowUse};

/// What the composer says of a reply that goes with Messenger's human agent tag.
pub const HUMAN_AGENT_NOTICE: &str = "More than 24 hours since the customer wrote: this reply goes as a human agent's reply, which Messenger allows from a person (not an automation) up to 7 days after the customer's last message.";

use crate::services::Services;
use crate::services::error::ServiceResult;

#[derive(Debug, Clone, Serialize)]
pub struct Cost {
    pub per_segment: f64,
    pub total: f64,
    pub currency: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictView {
    /// `allow`, `defer` or `block`.
    pub decision: &'static str,
    pub until: Option<String>,
    /// "8:00 AM their time (in 9 h)".
    pub until_local: Option<String>,
    pub reason: Option<&'static str>,
    pub explanation: Option<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComposePreview {
    #[serde(flatten)]
    pub preview: Preview,
    pub cost: Option<Cost>,
    /// For a reply in a conversation: what would happen if it were sent now.
    pub verdict: Option<VerdictView>,
}

/// "8:00 AM their time (in 9 h)": when a deferred message goes, as the agent reads it.
pub fn their_time(at: Timestamp, contact_tz: &TimeZone, now: Timestamp) -> String {
    let local = at.to_zoned(contact_tz.clone()).strftime("%-I:%M %p").to_string();
    let mins = (at.duration_since(now).as_secs() + 59) / 60;
    let wait = match mins {
        ..=0 => "now".to_owned(),
        1..=59 => format!("in {mins} min"),
        _ => format!("in {} h", (mins + 30) / 60),
    };
    format!("{local} their time ({wait})")
}

fn cost_of(settings: &serde_json::Value, segments: usize) -> Option<Cost> {
    let per_segment = settings.get("price_per_segment")?.as_f64().filter(|p| p.is_finite() && *p >= 0.0)?;
    let currency = settings.get("currency").and_then(|c| c.as_str()).unwrap_or("USD").to_owned();
    Some(Cost { per_segment, total: per_segment * segments as f64, currency })
}

impl Services {
    pub async fn compose_preview(
        &self,
        account_id: i64,
        text: &str,
        conversation_id: Option<i64>,
        inbox_id: Option<i64>,
    ) -> ServiceResult<ComposePreview> {
        self.preview_with(account_id, text, conversation_id.map(|c| (c, None)), inbox_id).await
    }

    /// The composer's preview of a reply in conversation `id` through `via`
    /// (another of the customer's channels, as the picker chose): the gate's
    /// verdict is that channel's, before anything is sent.
    pub async fn compose_preview_via(
        &self,
        account_id: i64,
        text: &str,
        id: i64,
        via: Option<i64>,
    ) -> ServiceResult<ComposePreview> {
        self.preview_with(account_id, text, Some((id, via)), None).await
    }

    async fn preview_with(
        &self,
        account_id: i64,
        text: &str,
        conversation: Option<(i64, Option<i64>)>,
        inbox_id: Option<i64>,
    ) -> ServiceResult<ComposePreview> {
        let preview = compose::preview(text, &self.tone_rules(account_id).await?);
        let segments = preview.count.segments;
        let now = Timestamp::now();
        let mut verdict = None;
        let mut inbox_id = inbox_id;
        if let Some((id, via)) = conversation {
            let summary = self.store.conversation_summary(account_id, id).await?;
            let (route, kind) = self.route_via(&summary.conversation, via, OutboundKind::Reply).await?;
            let mut clock = self.store.contact_clock(id).await?;
            let (channel, consent, last_inbound) = match &route {
                None => (self.capabilities(&summary.provider, summary.medium), summary.consent, clock.last_inbound),
                Some(r) => {
                    let inbox = self.store.inbox_by_id(r.inbox_id).await?;
                    clock.address = self.store.identity_address(r.identity_id).await?;
                    let last = self.store.last_inbound_by_inbox(summary.conversation.contact_id).await?;
                    (
                        self.capabilities(&inbox.provider, inbox.medium),
                        self.store.consent_on_inbox(summary.conversation.contact_id, r.inbox_id).await?,
                        last.into_iter().find(|(i, _)| *i == r.inbox_id).map(|(_, t)| t),
                    )
                }
            };
            inbox_id = Some(route.as_ref().map_or(summary.conversation.inbox_id, |r| r.inbox_id));
            let policy = self.timing_for(account_id).await?;
            let timing = policy.timing(clock.time_zone.as_deref(), &clock.address, clock.last_inbound, now);
            let zone = timing.zone.clone();
            let req = OutboundRequest {
                kind,
                consent,
                now,
                timing: Some(timing),
                channel,
                last_inbound,
                template: false,
                // The composer is a person's.
                by_person: true,
            };
            verdict = Some(match gate::decide(&req) {
                Verdict::Allow if req.window_at(now) == WindowUse::HumanAgent => VerdictView {
                    decision: "allow",
                    until: None,
                    until_local: None,
                    reason: Some("human_agent"),
                    explanation: Some(HUMAN_AGENT_NOTICE),
                },
                Verdict::Allow => {
                    VerdictView { decision: "allow", until: None, until_local: None, reason: None, explanation: None }
                }
                Verdict::Defer(at) => VerdictView {
                    decision: "defer",
                    until: Some(at.to_string()),
                    until_local: Some(their_time(at, &zone, now)),
                    reason: Some("quiet_hours"),
                    explanation: Some("It is outside the hours this customer may be texted."),
                },
                Verdict::Block(r) => VerdictView {
                    decision: "block",
                    until: None,
                    until_local: None,
                    reason: Some(r.code()),
                    explanation: Some(r.explain()),
                },
            });
        }
        let cost = match inbox_id {
            Some(i) => cost_of(&self.store.inbox(account_id, i).await?.settings, segments),
            None => None,
        };
        Ok(ComposePreview { preview, cost, verdict })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_comes_from_the_inbox_price() {
        let c = cost_of(&serde_json::json!({ "price_per_segment": 0.0079 }), 2).unwrap();
        assert!((c.total - 0.0158).abs() < 1e-9);
        assert_eq!(c.currency, "USD");
        assert!(cost_of(&serde_json::json!({}), 2).is_none());
        assert!(cost_of(&serde_json::json!({ "price_per_segment": -1 }), 2).is_none());
    }

    #[test]
    fn times_read_in_the_customers_zone() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let now: Timestamp = "2026-01-15T04:00:00Z".parse().unwrap();
        let at: Timestamp = "2026-01-15T13:00:00Z".parse().unwrap();
        assert_eq!(their_time(at, &ny, now), "8:00 AM their time (in 9 h)");
        assert_eq!(their_time(now + jiff::SignedDuration::from_mins(5), &ny, now), "11:05 PM their time (in 5 min)");
    }
}
