//! The monthly summary to managers: once the business's month has turned,
//! last month's KPIs by email to the account's supervisors and admins when
//! the account's mail server is set up, else as a `report.monthly` webhook.
//! Claimed per account and month in the database while it is sent and
//! recorded once the mail server took it, so with several nodes (or a
//! restart) it goes once, and a mail server that is down delays it.

use jiff::Timestamp;
use serde_json::json;
use textdesk_core::Role;
use textdesk_core::kpi::{Unit, describe_ms};
use textdesk_core::period::Period;

use crate::services::Services;
use crate::services::error::ServiceResult;
use crate::services::reports::build::{Report, ReportAsk};

/// How long a node may take sending a summary before another may take the
/// claim (the first stopped while sending).
const SENDING_LEASE: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

/// What happened to an account's summary on a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summary {
    Emailed { month: String, to: usize },
    Webhook { month: String },
}

/// A KPI's value in words.
pub fn value_text(unit: Unit, v: Option<f64>) -> String {
    match (unit, v) {
        (_, None) => "—".to_owned(),
        (Unit::Duration, Some(v)) => describe_ms(v),
        (Unit::Percent, Some(v)) => format!("{v:.0}%"),
        (Unit::Count, Some(v)) => format!("{v:.0}"),
        (Unit::Number, Some(v)) => format!("{v:.1}"),
    }
}

/// The email's text: each KPI with its target and last month's value.
pub fn summary_text(business: &str, r: &Report) -> String {
    let mut lines = vec![format!("{business}: how {} went (days on {}).", r.period_label, r.time_zone), String::new()];
    for k in &r.kpis {
        let mut line = format!("- {}: {}", k.name, value_text(k.unit, k.value));
        if let Some(t) = k.target {
            let met = match k.met {
                Some(true) => "met",
                Some(false) => "missed",
                None => "not measured",
            };
            line.push_str(&format!(" (target {}, {met})", value_text(k.unit, Some(t))));
        }
        if k.previous.is_some() {
            line.push_str(&format!("; the month before: {}", value_text(k.unit, k.previous)));
        }
        lines.push(line);
    }
    lines.push(String::new());
    lines.push("Charts and CSV downloads are on the Reports page.".into());
    lines.join("\n")
}

impl Services {
    /// Sends each account's summary of the month before `now` (on the
    /// business's clock) unless it went already. Reports are brought up to
    /// date first, so the month is complete.
    pub async fn send_monthly_summaries(&self, now: Timestamp) -> ServiceResult<Vec<(i64, Summary)>> {
        self.run_reports().await?;
        let mut sent = Vec::new();
        for account in self.store.accounts().await? {
            let zone = self.business_zone(account.id).await?;
            let month = Period::month_of(now.to_zoned(zone).date()).previous();
            let label = month.label();
            let report =
                self.report_for(account.id, &ReportAsk { period: Some(label.clone()), ..ReportAsk::default() }).await?;
            // A month with nothing in it (a new installation) says nothing; asked again next hour, unclaimed.
            let quiet = report.trend.iter().all(|p| p.conversations == 0 && p.messages_in == 0);
            if quiet {
                continue;
            }
            let email = self.account_settings(account.id).await?.email;
            if email.configured() {
                let to: Vec<String> = self
                    .store
                    .users(account.id)
                    .await?
                    .into_iter()
                    .filter(|u| u.active && u.role.at_least(Role::Supervisor))
                    .map(|u| u.email)
                    .collect();
                let claim = (now, now - SENDING_LEASE);
                if to.is_empty() || !self.store.claim_monthly_summary(account.id, &label, "email", claim).await? {
                    continue;
                }
                // Claimed while it is sent (no other node sends it meanwhile), recorded as sent only once the
                // mail server took it: a server that is down gives the claim back and the next run tries again.
                let subject = format!("{}: your {} report", account.name, label);
                let text = summary_text(&account.name, &report);
                let result = self.send_plain_email(account.id, &to, &subject, text).await;
                self.store.settle_monthly_summary(account.id, &label, result.is_ok(), now).await?;
                if let Err(e) = result {
                    tracing::error!(account = account.id, month = %label, error = %e, "the monthly summary email was not sent; the next run tries again");
                    continue;
                }
                sent.push((account.id, Summary::Emailed { month: label, to: to.len() }));
            } else {
                let payload = json!({
                    "type": textdesk_core::webhook::REPORT_MONTHLY,
                    "timestamp": now.to_string(),
                    "data": { "month": label, "time_zone": report.time_zone, "kpis": report.kpis },
                })
                .to_string();
                if self.store.queue_monthly_summary(account.id, &label, &payload, now).await? {
                    sent.push((account.id, Summary::Webhook { month: label }));
                }
            }
        }
        Ok(sent)
    }
}
