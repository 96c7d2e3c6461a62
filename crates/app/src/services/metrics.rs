//! Prometheus counters, rendered in the text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub inbound_messages: AtomicU64,
    pub inbound_duplicates: AtomicU64,
    pub outbound_sent: AtomicU64,
    pub outbound_failed: AtomicU64,
    pub outbound_retried: AtomicU64,
    pub outbound_blocked: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// `links` are the SMPP inboxes' link states (inbox id, state).
    pub fn render(&self, outbox: &[(String, i64)], links: &[(i64, String, bool)]) -> String {
        let mut out = String::new();
        let counters = [
            ("textdesk_inbound_messages_total", "Inbound messages stored.", &self.inbound_messages),
            (
                "textdesk_inbound_duplicates_total",
                "Inbound deliveries recognised as duplicates.",
                &self.inbound_duplicates,
            ),
            ("textdesk_outbound_sent_total", "Outbound messages accepted by a provider.", &self.outbound_sent),
            ("textdesk_outbound_failed_total", "Outbound messages failed for good.", &self.outbound_failed),
            ("textdesk_outbound_retried_total", "Outbound send attempts deferred for a retry.", &self.outbound_retried),
            ("textdesk_outbound_blocked_total", "Outbound messages the gate blocked.", &self.outbound_blocked),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Ordering::Relaxed));
        }
        let _ = writeln!(out, "# HELP textdesk_outbox_rows Outbox rows by state.\n# TYPE textdesk_outbox_rows gauge");
        for state in ["queued", "sending", "sent", "failed", "unknown"] {
            let n = outbox.iter().find(|(s, _)| s == state).map(|(_, n)| *n).unwrap_or(0);
            let _ = writeln!(out, "textdesk_outbox_rows{{state=\"{state}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP textdesk_smpp_link_up Whether an SMPP inbox is bound to its SMSC (1) or not (0).\n# TYPE textdesk_smpp_link_up gauge"
        );
        for (inbox, state, up) in links {
            let _ = writeln!(out, "textdesk_smpp_link_up{{inbox=\"{inbox}\",state=\"{state}\"}} {}", u8::from(*up));
        }
        out
    }
}

impl crate::services::Services {
    /// Whether the database answers (the health check).
    pub async fn database_answers(&self) -> crate::services::error::ServiceResult<()> {
        Ok(self.store.ping().await?)
    }

    /// Messages in the outbox by state, for the metrics.
    pub async fn outbox_counts(&self) -> crate::services::error::ServiceResult<Vec<(String, i64)>> {
        Ok(self.store.outbox_counts().await?)
    }
}
