use std::collections::BTreeSet;

use jiff::civil::date;

use super::*;
use crate::escalation::EscalationKind;
use crate::hours::HoursSettings;
use crate::kpi::{Targets, Totals, kpis};

fn ny() -> TimeZone {
    TimeZone::get("America/New_York").unwrap()
}

fn at(s: &str) -> Timestamp {
    s.parse::<jiff::civil::DateTime>().unwrap().to_zoned(ny()).unwrap().timestamp()
}

/// Weekdays 9:00–17:00 in New York.
fn office() -> BusinessHours {
    let weekly = ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| (d.to_string(), vec!["09:00-17:00".into()]));
    HoursSettings { weekly: weekly.collect(), ..HoursSettings::default() }.resolve(&ny()).unwrap()
}

fn received() -> DomainEvent {
    DomainEvent::MessageReceived { message_id: 1, keyword: false }
}

fn replied() -> DomainEvent {
    DomainEvent::MessageQueued { message_id: 2, automatic: false }
}

fn status(from: ConversationStatus, to: ConversationStatus) -> DomainEvent {
    DomainEvent::StatusChanged { from, to, until: None, zone: None, reason: None }
}

fn created() -> DomainEvent {
    DomainEvent::ConversationCreated { reason: None }
}

/// Folds each conversation's script; returns the summed cells.
fn fold(scripts: Vec<(ConvState, Vec<(DomainEvent, &str)>)>) -> Sums {
    let hours = office();
    let zone = ny();
    let ctx = Context { hours: &hours, zone: &zone, targets: Targets::default().sla() };
    let (mut sums, mut seen) = (Sums::new(), BTreeSet::new());
    for (mut st, steps) in scripts {
        for (ev, t) in steps {
            add_tallies(&mut sums, &mut seen, st.on_event(&ev, at(t), &ctx));
        }
    }
    sums
}

fn totals(sums: &Sums, label: &str, keep: impl Fn(&Cell) -> bool) -> Totals {
    let mut t = Totals::default();
    for ((cell, l), (count, total)) in sums {
        if l == label && keep(cell) {
            t.add(cell.metric, cell.bucket, *count, *total);
        }
    }
    t
}

const MIN: i64 = 60_000;

/// Two conversations in New York: one from Friday afternoon to Monday
/// across the end of summer time (1 Nov 2026), one on an ordinary Tuesday.
fn scenario() -> Sums {
    use ConversationStatus::*;
    let weekend = vec![
        (created(), "2026-10-30T16:00"),
        (received(), "2026-10-30T16:00"),
        (DomainEvent::Assigned { assignee_id: 7, why: None }, "2026-10-30T16:01"),
        (DomainEvent::LabelsChanged { labels: vec!["billing".into()] }, "2026-10-30T16:02"),
        (replied(), "2026-11-02T10:00"),
        (status(Open, Resolved), "2026-11-02T10:30"),
    ];
    let tuesday = vec![
        (created(), "2026-11-03T10:00"),
        (received(), "2026-11-03T10:00"),
        (DomainEvent::Assigned { assignee_id: 8, why: None }, "2026-11-03T10:01"),
        (replied(), "2026-11-03T10:05"),
        (received(), "2026-11-03T10:20"),
        (received(), "2026-11-03T10:25"),
        (replied(), "2026-11-03T10:50"),
        (status(Open, Resolved), "2026-11-03T11:00"),
        (
            DomainEvent::SurveyAnswered {
                survey_id: 1,
                kind: SurveyKind::Csat,
                score: 5,
                message_id: 9,
                agent_id: Some(8),
                team_id: None,
            },
            "2026-11-03T11:10",
        ),
        (status(Resolved, Open), "2026-11-03T12:00"),
        (
            DomainEvent::Escalated {
                escalation_id: 1,
                to: EscalationKind::Video,
                reason: None,
                supervisor_id: None,
                kept_agent: false,
                link: None,
                message_id: None,
            },
            "2026-11-03T12:01",
        ),
    ];
    fold(vec![(ConvState::new(1, 100, "sms"), weekend), (ConvState::new(1, 101, "whatsapp"), tuesday)])
}

fn kpi(t: &Totals, key: &str) -> Option<f64> {
    kpis(t, &Totals::default(), Default::default(), &Targets::default())
        .into_iter()
        .find(|k| k.key == key)
        .unwrap()
        .value
}

#[test]
fn first_response_on_both_clocks_across_a_weekend_and_the_end_of_summer_time() {
    let all = totals(&scenario(), "", |_| true);
    // Fri 16:00 → Mon 10:00 EST: 67 wall hours (one extra), 2 business hours; Tue: 5 minutes.
    let wall = all.dist(metric::FIRST_RESPONSE);
    assert_eq!((wall.count, wall.median_ms, wall.p90_ms), (2, Some(5 * MIN), Some(67 * 60 * MIN)));
    assert_eq!(wall.mean_ms, Some((67 * 60 + 5) * MIN / 2));
    let business = all.dist(metric::FIRST_RESPONSE_BUSINESS);
    assert_eq!(
        (business.median_ms, business.p90_ms, business.mean_ms),
        (Some(5 * MIN), Some(120 * MIN), Some(125 * MIN / 2))
    );
    // Reply waits: 67 h / 2 h, 5 min, and 30 min (10:20 → 10:50, the 10:25 text is the same wait).
    let reply = all.dist(metric::REPLY_BUSINESS);
    assert_eq!((reply.count, reply.median_ms, reply.mean_ms), (3, Some(30 * MIN), Some(155 * MIN / 3)));
}

#[test]
fn resolution_rate_csat_escalations_and_breaches_on_the_scenario() {
    let all = totals(&scenario(), "", |_| true);
    let res = all.dist(metric::RESOLUTION_BUSINESS);
    // Fri 16:00 → Mon 10:30: 2 h 30 business; Tue 10:00 → 11:00: 1 h.
    assert_eq!((res.count, res.mean_ms), (2, Some((150 + 60) * MIN / 2)));
    assert_eq!(all.dist(metric::RESOLUTION).mean_ms, Some(((67 * 60 + 30) + 60) * MIN / 2));
    // Two resolved of two created plus one reopened.
    assert!((kpi(&all, "resolution_rate").unwrap() - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(kpi(&all, "csat"), Some(100.0));
    assert_eq!(kpi(&all, metric::ESCALATED), Some(1.0));
    // The 15-minute target: only the weekend's 2 business hours missed it.
    assert_eq!(kpi(&all, "sla_breaches"), Some(1.0));
    assert_eq!(all.count(metric::CONTACTS_TEXTED), 2, "each contact counted once, however many texts");
}

#[test]
fn counts_are_filed_on_the_business_days_hours_agents_labels_and_channels_they_happened_in() {
    let sums = scenario();
    // The weekend's first response is filed on the Monday it ended, under agent 7 and its label.
    let monday = totals(&sums, "", |c| c.day == date(2026, 11, 2));
    assert_eq!(monday.count(metric::FIRST_RESPONSE), 1);
    assert_eq!(monday.count(metric::SLA_FIRST_RESPONSE), 1);
    let billing = totals(&sums, "billing", |_| true);
    assert_eq!((billing.count(metric::FIRST_RESPONSE), billing.count(metric::CONVERSATIONS)), (1, 0));
    let agent8 = totals(&sums, "", |c| c.agent_id == Some(8));
    assert_eq!((agent8.count(metric::REPLY), agent8.count(metric::CSAT)), (2, 1));
    let whatsapp = totals(&sums, "", |c| c.medium == "whatsapp");
    assert_eq!(whatsapp.count(metric::CONVERSATIONS), 1);
    // Heat map: Friday 16:00 and Tuesday 10:00 (×2 hours 10), weekday from Monday = 0.
    let all = totals(&sums, "", |_| true);
    let heat: Vec<(i64, i64)> = all.buckets(metric::MESSAGES_IN).map(|(b, c, _)| (b, c)).collect();
    assert_eq!(heat, vec![(24 + 10, 3), (4 * 24 + 16, 1)]);
}

#[test]
fn a_consent_change_logged_in_every_conversation_of_the_contact_counts_once() {
    let opt_in = DomainEvent::ConsentChanged {
        to: ConsentState::OptedIn,
        source: "keyword".into(),
        scope: None,
        message_id: None,
    };
    let sums = fold(vec![
        (ConvState::new(1, 5, "sms"), vec![(received(), "2026-11-03T10:00"), (opt_in.clone(), "2026-11-03T10:01")]),
        (ConvState::new(1, 5, "sms"), vec![(opt_in, "2026-11-03T10:01")]),
        (ConvState::new(1, 6, "sms"), vec![(received(), "2026-11-03T10:02")]),
    ]);
    let all = totals(&sums, "", |_| true);
    assert_eq!((all.count(metric::CONTACTS_OPTED_IN), all.count(metric::CONTACTS_TEXTED)), (1, 2));
    assert_eq!(kpi(&all, "opt_in_adoption"), Some(50.0));
}

#[test]
fn buckets_keep_order_and_floors_are_their_smallest_value() {
    let mut last = -1;
    for s in [0, 1, 59, 60, 61, 3599, 3600, 3601, 172_799, 172_800, 2_591_999, 2_592_000, 400_000_000] {
        let b = bucket_of(SignedDuration::from_secs(s));
        assert!(b >= last, "{s}");
        assert!(bucket_floor(b) <= SignedDuration::from_secs(s), "{s}");
        assert_eq!(bucket_of(bucket_floor(b)), b, "{s}");
        last = b;
    }
}

#[test]
fn a_wait_found_missed_by_the_sweep_counts_once_and_its_answer_is_only_measured() {
    let hours = office();
    let zone = ny();
    let targets = Targets { reply_minutes: Some(10), ..Targets::default() }.sla();
    let ctx = Context { hours: &hours, zone: &zone, targets };
    let (mut sums, mut seen) = (Sums::new(), BTreeSet::new());
    let mut st = ConvState::new(1, 5, "sms");
    let waited = at("2026-11-03T10:00");
    let missed = |target| DomainEvent::SlaMissed { target, waiting_since: waited };
    let steps = [
        (created(), "2026-11-03T10:00"),
        (received(), "2026-11-03T10:00"),
        // Found by two sweeps; one counts.
        (missed(MissedTarget::FirstResponse), "2026-11-03T10:20"),
        (missed(MissedTarget::FirstResponse), "2026-11-03T10:21"),
        // Answered 40 minutes in: measured, not missed again.
        (replied(), "2026-11-03T10:40"),
        // A later wait answered after 30 minutes against the 10-minute reply target.
        (received(), "2026-11-03T11:00"),
        (replied(), "2026-11-03T11:30"),
        // A sweep that comes too late for a wait already answered counts nothing.
        (missed(MissedTarget::Reply), "2026-11-03T11:31"),
    ];
    for (ev, t) in steps {
        add_tallies(&mut sums, &mut seen, st.on_event(&ev, at(t), &ctx));
    }
    let all = totals(&sums, "", |_| true);
    assert_eq!((all.count(metric::SLA_FIRST_RESPONSE), all.count(metric::SLA_REPLY)), (1, 1));
    assert_eq!(all.dist(metric::FIRST_RESPONSE_BUSINESS).mean_ms, Some(40 * MIN));
    assert_eq!(kpi(&all, "sla_breaches"), Some(2.0));
    assert!(st.breached && st.missed_wait.is_none());
}
