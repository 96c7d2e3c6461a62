//! The rollups equal a recomputation from the raw events: random event
//! sequences (seeded, so a failure repeats) over a few conversations across
//! weekends and the end of summer time, counted incrementally by the
//! `reports` consumer at random moments, against one pass over the whole
//! log in memory; and against counts read straight off the events.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;

use jiff::civil::date;
use jiff::{SignedDuration, Timestamp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::AnyConnection;
use textdesk::services::hours::InboxHours;
use textdesk_core::escalation::EscalationKind;
use textdesk_core::event::{DomainEvent, HandoffReason};
use textdesk_core::gate::ConsentState;
use textdesk_core::kpi::Targets;
use textdesk_core::report::{Context, ConvState, Sums, add_tallies, metric};
use textdesk_core::survey::SurveyKind;
use textdesk_core::{ConversationStatus, Medium, Role};
use textdesk_store::{Consumer, LoggedEvent};

use crate::common::{Db, app};
use crate::reports::{at, inbox, ny, text_at};

/// Folds the whole log in one pass, in memory, and counts a few things straight off the events.
struct Recompute {
    ctx: (textdesk_core::hours::BusinessHours, jiff::tz::TimeZone),
    folded: Mutex<(HashMap<i64, ConvState>, Sums, BTreeSet<String>)>,
    raw: Mutex<BTreeMap<&'static str, i64>>,
}

impl Recompute {
    async fn fold(&self, tx: &mut AnyConnection, e: &LoggedEvent) -> textdesk_store::Result<()> {
        if e.conversation_id <= 0 {
            return Ok(());
        }
        {
            let mut raw = self.raw.lock().unwrap();
            match &e.event {
                DomainEvent::MessageReceived { .. } => *raw.entry(metric::MESSAGES_IN).or_default() += 1,
                DomainEvent::ConversationCreated { .. } => *raw.entry(metric::CONVERSATIONS).or_default() += 1,
                DomainEvent::StatusChanged { to: ConversationStatus::Resolved, .. } => {
                    *raw.entry(metric::RESOLVED).or_default() += 1
                }
                DomainEvent::Escalated { .. } => *raw.entry(metric::ESCALATED).or_default() += 1,
                _ => {}
            }
        }
        let basics = textdesk_store::reports::conversation_basics_in(tx, e.conversation_id).await?;
        let (_, inbox_id, contact_id, medium) = basics.unwrap();
        let ctx = Context { hours: &self.ctx.0, zone: &self.ctx.1, targets: Targets::default().sla() };
        let mut guard = self.folded.lock().unwrap();
        let (states, sums, seen) = &mut *guard;
        let st = states.entry(e.conversation_id).or_insert_with(|| ConvState::new(inbox_id, contact_id, &medium));
        let tallies = st.on_event(&e.event, e.created_at, &ctx);
        add_tallies(sums, seen, tallies);
        Ok(())
    }
}

impl Consumer for Recompute {
    fn name(&self) -> &str {
        "test_recompute"
    }

    fn handle<'a>(
        &'a self,
        tx: &'a mut AnyConnection,
        event: &'a LoggedEvent,
    ) -> impl Future<Output = textdesk_store::Result<()>> + Send + 'a {
        self.fold(tx, event)
    }
}

type Key = (String, String, i64, i64, i64, String, String, i64);

fn random_event(rng: &mut StdRng, resolved: &mut bool, agents: &[i64]) -> DomainEvent {
    use ConversationStatus::*;
    let status = |from, to| DomainEvent::StatusChanged { from, to, until: None, zone: None, reason: None };
    match rng.random_range(0..15) {
        0..=3 => DomainEvent::MessageReceived { message_id: 0, keyword: rng.random_bool(0.1) },
        4..=6 => DomainEvent::MessageQueued { message_id: 0, automatic: rng.random_bool(0.2) },
        7 if *resolved => {
            *resolved = false;
            status(Resolved, Open)
        }
        7 => {
            *resolved = true;
            status(Open, Resolved)
        }
        8 => DomainEvent::Assigned { assignee_id: agents[rng.random_range(0..agents.len())], why: None },
        9 => {
            let all = ["billing", "vip"];
            DomainEvent::LabelsChanged {
                labels: all.iter().filter(|_| rng.random_bool(0.5)).map(|l| l.to_string()).collect(),
            }
        }
        10 => DomainEvent::FlowStarted { flow_id: 1, flow: "Menu".into() },
        11 => DomainEvent::HandedOff { reason: HandoffReason::Asked, team_id: None },
        12 => DomainEvent::Escalated {
            escalation_id: 1,
            to: EscalationKind::ALL[rng.random_range(0..EscalationKind::ALL.len())],
            reason: None,
            supervisor_id: None,
            kept_agent: false,
            link: None,
            message_id: None,
        },
        13 => DomainEvent::SurveyAnswered {
            survey_id: 1,
            kind: SurveyKind::Csat,
            score: rng.random_range(1..=5),
            message_id: 0,
            agent_id: None,
            team_id: None,
        },
        _ => DomainEvent::ConsentChanged {
            to: if rng.random_bool(0.7) { ConsentState::OptedIn } else { ConsentState::OptedOut },
            source: "keyword".into(),
            scope: None,
            message_id: None,
        },
    }
}

async fn rollups_equal_a_recomputation_from_the_raw_events(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let r = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({ "settings": { "time_zone": "America/New_York" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let agents = [t.user("a@example.com", Role::Agent).await.id, t.user("b@example.com", Role::Agent).await.id];
    let sms = inbox(&t, "SMS", Medium::Sms, "+14155550100").await;
    let wa = inbox(&t, "WhatsApp", Medium::Whatsapp, "+14155550101").await;
    for seed in [7_u64, 1_234_567] {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut now = ny("2026-10-28T08:00") + SignedDuration::from_hours(24 * 14 * (seed % 3) as i64);
        let mut convs = Vec::new();
        for (i, (inbox_id, medium)) in
            [(sms, Medium::Sms), (wa, Medium::Whatsapp), (sms, Medium::Sms)].into_iter().enumerate()
        {
            let from = format!("+1415555{seed:03}{i}").chars().take(12).collect::<String>();
            convs.push((text_at(&t, inbox_id, medium, &from, now).await, false));
        }
        for _ in 0..150 {
            now += SignedDuration::from_mins(rng.random_range(1..900));
            let pick = rng.random_range(0..convs.len());
            let (conv, resolved) = &mut convs[pick];
            let ev = random_event(&mut rng, resolved, &agents);
            at(&t, *conv, ev, now).await;
            if rng.random_bool(0.15) {
                t.services.run_reports().await.unwrap();
            }
        }
    }
    t.services.run_reports().await.unwrap();

    let zone = t.services.business_zone(t.account_id).await.unwrap();
    let inbox_row = t.services.inboxes(t.account_id).await.unwrap().into_iter().next().unwrap();
    let recompute = Recompute {
        ctx: (InboxHours::of(&inbox_row, &zone).hours, zone),
        folded: Mutex::default(),
        raw: Mutex::default(),
    };
    t.services.store.consume_all(&recompute, 10_000).await.unwrap();
    let (_, sums, _) = recompute.folded.into_inner().unwrap();
    let expected: BTreeMap<Key, (i64, i64)> = sums
        .into_iter()
        .map(|((c, label), v)| {
            let key = (
                label,
                c.day.to_string(),
                c.inbox_id,
                c.team_id.unwrap_or(0),
                c.agent_id.unwrap_or(0),
                c.medium,
                c.metric.to_string(),
                c.bucket,
            );
            (key, v)
        })
        .collect();
    let stored = |rows: Vec<(String, textdesk_store::RollupRow)>| -> BTreeMap<Key, (i64, i64)> {
        rows.into_iter()
            .map(|(label, r)| {
                (
                    (label, r.day.to_string(), r.inbox_id, r.team_id, r.agent_id, r.medium, r.metric, r.bucket),
                    (r.count, r.total_ms),
                )
            })
            .collect()
    };
    let incremental = stored(t.services.store.rollup_rows(t.account_id).await.unwrap());
    assert!(expected.len() > 100, "a real workout: {} cells", expected.len());
    assert_eq!(incremental, expected, "incremental rollups equal one pass over the log");

    // Straight off the events, for every conversation ('' label).
    let sum = |m: &str| incremental.iter().filter(|(k, _)| k.0.is_empty() && k.6 == m).map(|(_, v)| v.0).sum::<i64>();
    for (m, n) in recompute.raw.into_inner().unwrap() {
        assert_eq!(sum(m), n, "{m}");
    }
    // Whole months are read from the monthly rows, the days around them from the daily ones: both add up the same.
    for (from, to) in [(date(2026, 11, 1), date(2026, 11, 30)), (date(2026, 10, 29), date(2026, 12, 3))] {
        let mut by_days: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
        for (k, v) in expected.iter().filter(|(k, _)| k.0.is_empty()) {
            let day: jiff::civil::Date = k.1.parse().unwrap();
            if (from..=to).contains(&day) {
                let e = by_days.entry((k.6.clone(), k.7)).or_default();
                e.0 += v.0;
                e.1 += v.1;
            }
        }
        let filter = textdesk_store::ReportFilter::default();
        let days = textdesk_store::DayRange { from, to };
        let read = t
            .services
            .store
            .report_rows(t.account_id, &filter, days, textdesk_store::GroupBy::Nothing, &[])
            .await
            .unwrap();
        let read: BTreeMap<(String, i64), (i64, i64)> =
            read.into_iter().map(|r| ((r.metric, r.bucket), (r.count, r.total_ms))).collect();
        assert!(!read.is_empty());
        assert_eq!(read, by_days, "{from}..{to}");
    }
    t.services.rebuild_reports(&mut |_| {}).await.unwrap();
    assert_eq!(stored(t.services.store.rollup_rows(t.account_id).await.unwrap()), expected, "rebuilt from the log");
    let _ = Timestamp::now();
}
both_backends!(rollups_equal_a_recomputation_from_the_raw_events);
