//! Reports (F11) over the real server: a scripted month in New York (a
//! Friday-to-Monday wait across the end of summer time, an ordinary Tuesday),
//! read through the API with hand-checked values on both clocks, filters,
//! targets and the trend against the month before; CSV; the page (agents
//! refused); the CLI; the monthly summary as a webhook, once.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use textdesk::services::ingest::Ingested;
use textdesk_channels::InboundEvent;
use textdesk_core::escalation::EscalationKind;
use textdesk_core::event::DomainEvent;
use textdesk_core::survey::SurveyKind;
use textdesk_core::{Address, ConversationStatus, Medium, Role};
use textdesk_store::{IngestOutcome, NewInbox};

use crate::common::binary::Env;
use crate::common::{self, Db, TestApp, app, json};

pub const MIN: f64 = 60_000.0;

pub fn ny(s: &str) -> Timestamp {
    s.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(TimeZone::get("America/New_York").unwrap())
        .unwrap()
        .timestamp()
}

/// Weekdays 9:00–17:00 on the business's clock.
pub fn office_hours() -> Value {
    let days: serde_json::Map<String, Value> =
        ["mon", "tue", "wed", "thu", "fri"].iter().map(|d| (d.to_string(), json!(["09:00-17:00"]))).collect();
    json!({ "hours": { "weekly": days } })
}

pub async fn inbox(t: &TestApp, name: &str, medium: Medium, sender: &str) -> i64 {
    t.services
        .store
        .create_inbox(NewInbox {
            account_id: t.account_id,
            name: name.into(),
            provider: "simulator".into(),
            medium,
            sender: sender.into(),
            settings: office_hours(),
            secrets: json!({}),
        })
        .await
        .unwrap()
        .id
}

/// A customer's text at a given time, through ingest; its conversation.
pub async fn text_at(t: &TestApp, inbox: i64, medium: Medium, from: &str, at: Timestamp) -> i64 {
    let event = InboundEvent::Message {
        from: Address::parse(medium, from).unwrap(),
        provider_id: format!("in-{}", rand::random::<u64>()),
        body: "Is my crown ready?".into(),
        media: vec![],
        received_at: at,
        consent_signal: None,
    };
    match t.services.ingest(inbox, event).await.unwrap() {
        Ingested::Message(IngestOutcome::Stored { conversation_id, .. }) => conversation_id,
        other => panic!("not stored: {other:?}"),
    }
}

pub async fn at(t: &TestApp, conv: i64, ev: DomainEvent, when: Timestamp) {
    t.services.store.record_event_at(t.account_id, conv, &ev, None, when).await.unwrap();
}

pub fn reply() -> DomainEvent {
    DomainEvent::MessageQueued { message_id: 0, automatic: false }
}

pub fn resolve() -> DomainEvent {
    DomainEvent::StatusChanged {
        from: ConversationStatus::Open,
        to: ConversationStatus::Resolved,
        until: None,
        zone: None,
        reason: None,
    }
}

async fn patch_settings(t: &TestApp, admin: &str, settings: Value) {
    let r = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(admin)
        .json(&json!({ "settings": settings }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

struct Scenario {
    t: TestApp,
    admin: String,
    supervisor: String,
    weekend: i64,
    tuesday: i64,
    dana: i64,
}

/// October 30 to November 3, 2026 in New York.
async fn scenario(db: Db) -> Scenario {
    let t = app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let supervisor = t.token_for("sue@example.com", Role::Supervisor).await;
    let dana = t.user("dana@example.com", Role::Agent).await.id;
    patch_settings(&t, &admin, json!({ "time_zone": "America/New_York" })).await;
    let sms = inbox(&t, "Front desk", Medium::Sms, "+14155550100").await;
    let wa = inbox(&t, "WhatsApp", Medium::Whatsapp, "+14155550101").await;

    // Friday 16:00, answered Monday 10:00 (EST since Sunday), resolved 10:30; labelled billing, Dana's.
    let weekend = text_at(&t, sms, Medium::Sms, "+14155550111", ny("2026-10-30T16:00")).await;
    at(&t, weekend, DomainEvent::Assigned { assignee_id: dana, why: None }, ny("2026-10-30T16:01")).await;
    at(&t, weekend, DomainEvent::LabelsChanged { labels: vec!["billing".into()] }, ny("2026-10-30T16:02")).await;
    at(&t, weekend, reply(), ny("2026-11-02T10:00")).await;
    at(&t, weekend, resolve(), ny("2026-11-02T10:30")).await;

    // Tuesday on WhatsApp: 5 minutes, then a 30-minute wait (two texts, one wait), resolved, a 5 for CSAT.
    let tuesday = text_at(&t, wa, Medium::Whatsapp, "+14155550122", ny("2026-11-03T10:00")).await;
    at(&t, tuesday, reply(), ny("2026-11-03T10:05")).await;
    text_at(&t, wa, Medium::Whatsapp, "+14155550122", ny("2026-11-03T10:20")).await;
    text_at(&t, wa, Medium::Whatsapp, "+14155550122", ny("2026-11-03T10:25")).await;
    at(&t, tuesday, reply(), ny("2026-11-03T10:50")).await;
    at(&t, tuesday, resolve(), ny("2026-11-03T11:00")).await;
    let survey = DomainEvent::SurveySent { survey_id: 1, kind: SurveyKind::Csat, message_id: 0 };
    at(&t, tuesday, survey, ny("2026-11-03T11:05")).await;
    let answer = DomainEvent::SurveyAnswered {
        survey_id: 1,
        kind: SurveyKind::Csat,
        score: 5,
        message_id: 0,
        agent_id: None,
        team_id: None,
    };
    at(&t, tuesday, answer, ny("2026-11-03T11:10")).await;
    let video = DomainEvent::Escalated {
        escalation_id: 1,
        to: EscalationKind::Video,
        reason: None,
        supervisor_id: None,
        kept_agent: false,
        link: None,
        message_id: None,
    };
    at(&t, tuesday, video, ny("2026-11-03T11:20")).await;
    t.services.run_reports().await.unwrap();
    Scenario { t, admin, supervisor, weekend, tuesday, dana }
}

fn kpi<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["kpis"].as_array().unwrap().iter().find(|k| k["key"] == key).unwrap_or_else(|| panic!("no {key}"))
}

async fn report(s: &Scenario, query: &str) -> Value {
    let r = s.t.get(&s.supervisor, &format!("/api/v1/reports?{query}")).await;
    let status = r.status();
    let body = json(r).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn the_kpis_of_a_scripted_month_on_both_clocks(db: Db) {
    let s = scenario(db).await;
    let r = report(&s, "period=2026-11").await;
    assert_eq!(
        (r["from"].as_str(), r["to"].as_str(), r["time_zone"].as_str()),
        (Some("2026-11-01"), Some("2026-11-30"), Some("America/New_York"))
    );
    // First responses: 67 wall hours (Fri 16:00 EDT → Mon 10:00 EST) or 2 business hours; and 5 minutes.
    let fr = kpi(&r, "first_response_business");
    assert_eq!(
        (fr["measured"].as_i64(), fr["median_ms"].as_f64(), fr["p90_ms"].as_f64()),
        (Some(2), Some(5.0 * MIN), Some(120.0 * MIN))
    );
    assert_eq!(fr["mean_ms"].as_f64(), Some(62.5 * MIN));
    let wall = kpi(&r, "first_response");
    assert_eq!(
        (wall["p90_ms"].as_f64(), wall["mean_ms"].as_f64()),
        (Some(67.0 * 60.0 * MIN), Some((67.0 * 60.0 + 5.0) / 2.0 * MIN))
    );
    // Reply waits: 2 h, 5 min, 30 min in business time.
    let reply = kpi(&r, "reply_business");
    assert_eq!((reply["measured"].as_i64(), reply["median_ms"].as_f64()), (Some(3), Some(30.0 * MIN)));
    // Resolutions: 2 h 30 and 1 h of business time; 67 h 30 and 1 h on the wall.
    assert_eq!(kpi(&r, "resolution_business")["mean_ms"].as_f64(), Some(105.0 * MIN));
    assert_eq!(kpi(&r, "resolution")["mean_ms"].as_f64(), Some((67.0 * 60.0 + 30.0 + 60.0) / 2.0 * MIN));
    // Two resolved; one conversation began in November (the weekend's began in October).
    assert_eq!(kpi(&r, "resolution_rate")["value"].as_f64(), Some(200.0));
    assert_eq!(kpi(&r, "conversations")["value"].as_f64(), Some(1.0));
    assert_eq!(
        (kpi(&r, "csat")["value"].as_f64(), kpi(&r, "csat_response_rate")["value"].as_f64()),
        (Some(100.0), Some(100.0))
    );
    assert_eq!(kpi(&r, "escalated")["value"].as_f64(), Some(1.0));
    // The default 15-minute target: the weekend's 2 business hours missed it; the median met it.
    assert_eq!(kpi(&r, "sla_breaches")["value"].as_f64(), Some(1.0));
    assert_eq!((fr["target"].as_f64(), fr["met"].as_bool()), (Some(15.0 * MIN), Some(true)));
    assert!(s.t.services.breached(s.weekend).await.unwrap() && !s.t.services.breached(s.tuesday).await.unwrap());
    // Dana resolved one; the per-agent KPI counts agents who resolved.
    assert_eq!(r["agents"][0]["agent_id"].as_i64(), Some(s.dana));
    assert_eq!(kpi(&r, "conversations_per_agent")["value"].as_f64(), Some(1.0));
    // Heat map on the business's clock: Tuesday 10:00 held three texts.
    assert_eq!(r["hours"][1][10].as_i64(), Some(3));
    assert_eq!(r["channels"][0]["channel"], "whatsapp");
    assert_eq!(r["escalations"][3], json!({ "kind": "video", "count": 1 }));
}
both_backends!(the_kpis_of_a_scripted_month_on_both_clocks);

async fn filters_targets_and_the_trend_against_the_period_before(db: Db) {
    let s = scenario(db).await;
    let fr = |r: &Value| kpi(r, "first_response")["measured"].as_i64();
    assert_eq!(fr(&report(&s, "period=2026-11&channel=whatsapp").await), Some(1));
    assert_eq!(fr(&report(&s, "period=2026-11&label=billing").await), Some(1));
    assert_eq!(fr(&report(&s, &format!("period=2026-11&agent_id={}", s.dana)).await), Some(1));
    assert_eq!(fr(&report(&s, "period=2026-11-03").await), Some(1), "a day: Tuesday only");
    assert_eq!(fr(&report(&s, "period=2026-11-01..2026-11-02").await), Some(1), "custom: the Monday");
    // The week of Monday 2 November against the week before, when the weekend conversation began.
    let week = report(&s, "period=2026-W45").await;
    assert_eq!(
        (week["previous_from"].as_str(), kpi(&week, "conversations")["previous"].as_f64()),
        (Some("2026-10-26"), Some(1.0))
    );
    assert_eq!(kpi(&week, "conversations")["trend"], "same");

    // Targets the business sets: CSAT 90% met; first response within 1 minute missed (5 min median).
    patch_settings(&s.t, &s.admin, json!({ "targets": { "first_response_minutes": 1, "csat_percent": 90 } })).await;
    let r = report(&s, "period=2026-11").await;
    assert_eq!((kpi(&r, "csat")["target"].as_f64(), kpi(&r, "csat")["met"].as_bool()), (Some(90.0), Some(true)));
    assert_eq!(kpi(&r, "first_response_business")["met"].as_bool(), Some(false));
    let bad =
        s.t.client
            .patch(s.t.url("/api/v1/account"))
            .bearer_auth(&s.admin)
            .json(&json!({ "settings": { "targets": { "csat_percent": 101 } } }))
            .send()
            .await
            .unwrap();
    assert_eq!(bad.status(), 422);
    assert!(json(bad).await["detail"].as_str().unwrap().contains("csat_percent"));

    // Bad asks: a period that does not read, another account's inbox, an agent's token.
    assert_eq!(s.t.get(&s.supervisor, "/api/v1/reports?period=2026-13").await.status(), 422);
    assert_eq!(s.t.get(&s.supervisor, "/api/v1/reports?inbox_id=99999").await.status(), 404);
    assert_eq!(s.t.get(&s.supervisor, "/api/v1/reports?agent_id=abc").await.status(), 422);
    let agent = s.t.token_for("al@example.com", Role::Agent).await;
    assert_eq!(s.t.get(&agent, "/api/v1/reports").await.status(), 403);
}
both_backends!(filters_targets_and_the_trend_against_the_period_before);

async fn csv_tables_and_the_page_for_supervisors_only(db: Db) {
    let s = scenario(db).await;
    let r = s.t.get(&s.supervisor, "/api/v1/reports/csv?period=2026-11&table=kpis").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    assert!(csv.starts_with("kpi,name,unit,value,target,met,previous,trend,mean_ms,median_ms,p90_ms\r\n"), "{csv}");
    assert!(csv.contains("first_response_business,First response (business hours),duration,300000,900000,yes,,,3750000,300000,7200000"), "{csv}");
    let hours = s.t.get(&s.supervisor, "/api/v1/reports/csv?period=2026-11&table=hours").await.text().await.unwrap();
    assert!(hours.lines().nth(2).unwrap().starts_with("tue,0,0,0,0,0,0,0,0,0,0,3,"), "{hours}");
    assert_eq!(s.t.get(&s.supervisor, "/api/v1/reports/csv?table=everything").await.status(), 422);

    s.t.user("sam@example.com", Role::Supervisor).await;
    let browser = s.t.browser("sam@example.com").await;
    let page = browser.get(s.t.url("/reports?period=2026-11&channel=whatsapp")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Reports · 2026-11") && html.contains("America/New_York"), "{html}");
    assert!(html.contains("<svg class=\"chart\"") && html.contains("First response (business hours)"));
    let agents_csv = html.split("href=\"/reports.csv?").find(|l| l.contains("table=agents")).unwrap();
    assert!(
        agents_csv.starts_with("period=2026-11&") && agents_csv.contains("channel=whatsapp"),
        "the filters kept: {agents_csv}"
    );
    let csv = browser.get(s.t.url("/reports.csv?period=2026-11&table=channels")).send().await.unwrap();
    assert_eq!(csv.text().await.unwrap(), "channel,conversations,percent\r\nwhatsapp,1,100\r\n");
    let bad = browser.get(s.t.url("/reports?period=last+year")).send().await.unwrap();
    assert_eq!(bad.status(), 422);
    assert!(bad.text().await.unwrap().contains("a period is a day"), "errors as pages, in words");

    s.t.user("al@example.com", Role::Agent).await;
    let agent = s.t.browser("al@example.com").await;
    let refused = agent.get(s.t.url("/reports")).send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("reports are for supervisors and admins"));
    assert!(!agent.get(s.t.url("/inbox")).send().await.unwrap().text().await.unwrap().contains("href=\"/reports\""));
}
both_backends!(csv_tables_and_the_page_for_supervisors_only);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_prints_a_month_and_rebuilds_from_the_log() {
    let s = scenario(Db::Sqlite).await;
    let data_dir = s.t.services.media.dir.parent().unwrap().to_owned();
    let env = Env::new(&s.t.database_url, &data_dir).set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY);
    let out = env.run(&["report", "--period", "2026-11", "--format", "json"], None);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(kpi(&r, "first_response_business")["dist"]["median_ms"].as_f64(), Some(5.0 * MIN));
    let csv = env.run(&["report", "--period", "2026-11", "--format", "csv", "--table", "agents"], None);
    assert!(csv.starts_with("agent_id,name,resolved"), "{csv}");
    let before = s.t.services.store.rollup_rows(s.t.account_id).await.unwrap();
    let out = env.command(&["report", "rebuild"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("reports rebuilt"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("counting the event log"), "progress on stderr");
    assert_eq!(s.t.services.store.rollup_rows(s.t.account_id).await.unwrap(), before, "rebuilt equal");
}

async fn the_monthly_summary_goes_once_as_a_webhook_without_email(db: Db) {
    let s = scenario(db).await;
    let hook =
        s.t.post(
            &s.admin,
            "/api/v1/webhooks",
            json!({ "url": "https://hooks.example.com/reports", "events": ["report.monthly"] }),
        )
        .await;
    let status = hook.status();
    let hook = json(hook).await;
    assert_eq!(status, 201, "{hook}");
    let id = hook["id"].as_i64().unwrap();
    let december = ny("2026-12-01T08:00");
    let sent = s.t.services.send_monthly_summaries(december).await.unwrap();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(s.t.services.send_monthly_summaries(december).await.unwrap().is_empty(), "once per month");
    let deliveries = json(s.t.get(&s.admin, &format!("/api/v1/webhooks/{id}/deliveries")).await).await;
    let list = deliveries.as_array().or(deliveries["deliveries"].as_array()).unwrap().clone();
    assert_eq!(list.len(), 1, "{deliveries}");
    assert_eq!(list[0]["event_type"], "report.monthly");
}
both_backends!(the_monthly_summary_goes_once_as_a_webhook_without_email);

/// A target missed lately puts the conversation in the supervisors' review
/// queue, once; the scenario's, missed weeks ago, does not (an upgrade counts
/// the whole log and must not fill the queue with history).
async fn a_recently_missed_target_is_queued_for_review(db: Db) {
    let s = scenario(db).await;
    let t = &s.t;
    let missed = |q: &Value| -> Vec<i64> {
        let items = q.as_array().or(q["items"].as_array()).cloned().unwrap_or_default();
        items
            .iter()
            .filter(|r| r["reasons"].as_array().is_some_and(|rs| rs.iter().any(|x| x == "sla_breach")))
            .filter_map(|r| r["conversation_id"].as_i64())
            .collect()
    };
    assert!(t.services.breached(s.weekend).await.unwrap());
    let queue = json(t.get(&s.supervisor, "/api/v1/reviews").await).await;
    assert_eq!(missed(&queue), Vec::<i64>::new(), "November's miss is history: {queue}");

    // Always open: answered after 40 minutes against the 15-minute target.
    let inbox = t.simulator_inbox().await;
    let now = Timestamp::now();
    let late = text_at(t, inbox, Medium::Sms, "+14155550177", now - jiff::SignedDuration::from_mins(50)).await;
    at(t, late, reply(), now - jiff::SignedDuration::from_mins(10)).await;
    let quick = text_at(t, inbox, Medium::Sms, "+14155550188", now - jiff::SignedDuration::from_mins(20)).await;
    at(t, quick, reply(), now - jiff::SignedDuration::from_mins(15)).await;
    t.services.run_reports().await.unwrap();
    t.services.run_reports().await.unwrap();
    let queue = json(t.get(&s.supervisor, "/api/v1/reviews").await).await;
    assert_eq!(missed(&queue), vec![late], "queued once, the quick answer not at all: {queue}");
}
both_backends!(a_recently_missed_target_is_queued_for_review);

/// Per-agent review scores: the mean overall score of the reviews scored in
/// the period beside the period before's and the trend, on the API, the CSV,
/// the page and the CLI, narrowed by the report's filters.
async fn review_scores_per_agent_with_the_trend(db: Db) {
    let s = scenario(db).await;
    let t = &s.t;
    let zone = TimeZone::get("America/New_York").unwrap();
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    let month = format!("{:04}-{:02}", today.year(), today.month());
    let last_month = today.first_of_month().yesterday().unwrap().at(12, 0, 0, 0).to_zoned(zone).unwrap().timestamp();
    let score = |id: i64, n: u8| {
        let card = json!({ "scores": [n, n, n, n, n], "comment": "" });
        t.client.put(t.url(&format!("/api/v1/reviews/{id}/scorecard"))).bearer_auth(&s.supervisor).json(&card).send()
    };
    let why = textdesk_core::review::ReviewReason::Sample;
    // Last month Dana's weekend conversation scored 4s (75%); this month the WhatsApp one 5s (100%).
    let before = t.services.store.queue_review((t.account_id, s.weekend), why, Some(s.dana), last_month).await;
    let before = before.unwrap().unwrap();
    assert_eq!(score(before, 4).await.unwrap().status(), 200);
    // Scorecards are dated when scored: this one is moved back to last month.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let q = sqlx::query("UPDATE reviews SET scored_at = $1 WHERE id = $2");
    q.bind(last_month.as_millisecond()).bind(before).execute(&pool).await.unwrap();
    pool.close().await;
    let now = t.services.store.queue_review((t.account_id, s.tuesday), why, Some(s.dana), Timestamp::now()).await;
    assert_eq!(score(now.unwrap().unwrap(), 5).await.unwrap().status(), 200);

    let r = report(&s, &format!("period={month}")).await;
    let dana = r["agents"].as_array().unwrap().iter().find(|a| a["agent_id"] == s.dana).cloned().unwrap_or_default();
    assert_eq!(
        (&dana["reviews"], &dana["review_score_percent"], &dana["review_score_previous"], &dana["review_trend"]),
        (&json!(1), &json!(100.0), &json!(75.0), &json!("better")),
        "{r}"
    );
    // Narrowed like the rest: on WhatsApp last month had none; on SMS this month has none.
    let wa = report(&s, &format!("period={month}&channel=whatsapp")).await;
    assert_eq!(
        (&wa["agents"][0]["review_score_percent"], &wa["agents"][0]["review_trend"]),
        (&json!(100.0), &Value::Null)
    );
    assert_eq!(report(&s, &format!("period={month}&channel=sms")).await["agents"], json!([]));

    let csv = t.get(&s.supervisor, &format!("/api/v1/reports/csv?period={month}&table=agents")).await;
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("agent_id,name,resolved,first_response_business_median_ms,csat_percent,reviews,review_score_percent,review_score_previous,review_trend\r\n"), "{csv}");
    assert!(csv.contains(&format!("{},", s.dana)) && csv.contains(",1,100,75,better\r\n"), "{csv}");

    t.user("sam@example.com", Role::Supervisor).await;
    let page = t.browser("sam@example.com").await.get(t.url(&format!("/reports?period={month}"))).send().await;
    let html = page.unwrap().text().await.unwrap();
    assert!(html.contains("Review score") && html.contains("100% (1 review)"), "{html}");
    assert!(html.contains("kpi-trend better") && html.contains(": 75% · better"), "{html}");

    let data_dir = t.services.media.dir.parent().unwrap().to_owned();
    let env = Env::new(&t.database_url, &data_dir).set("TEXTDESK_SECRET_KEY", common::TEST_SECRET_KEY);
    let out: Value = serde_json::from_str(&env.run(&["report", "--period", &month, "--format", "json"], None)).unwrap();
    assert_eq!(
        (&out["agents"][0]["review_score_percent"], &out["agents"][0]["review_trend"]),
        (&json!(100.0), &json!("better"))
    );
}
both_backends!(review_scores_per_agent_with_the_trend);

/// The monthly summary by email, through a real SMTP server: to the active
/// supervisors and admins, with the month's figures; with the server down
/// nothing is recorded and the next run sends it; then never again.
async fn the_monthly_summary_email_is_retried_until_the_server_takes_it(db: Db) {
    if !common::smtp::available() {
        return;
    }
    let s = scenario(db).await;
    let t = &s.t;
    let dir = tempfile::tempdir().unwrap();
    let port = common::binary::free_port();
    let email = json!({ "email": { "host": "127.0.0.1", "port": port, "tls": "none", "from": "reports@clinic.example",
        "reply_domain": "reply.clinic.example" } });
    patch_settings(t, &s.admin, email).await;
    let december = ny("2026-12-01T08:00");

    // Nobody listens on the port: not sent, not recorded.
    assert!(t.services.send_monthly_summaries(december).await.unwrap().is_empty());
    assert!(!t.services.store.monthly_summary_sent(t.account_id, "2026-11").await.unwrap());
    assert!(common::smtp::mails(dir.path()).is_empty());

    // The server is back: the next run (an hour later) sends it, once.
    let _smtp = common::smtp::smtp_server_on(dir.path(), port).unwrap();
    let later = december + jiff::SignedDuration::from_hours(1);
    let sent = t.services.send_monthly_summaries(later).await.unwrap();
    assert_eq!(
        sent,
        vec![(t.account_id, textdesk::services::reports::summary::Summary::Emailed { month: "2026-11".into(), to: 2 })]
    );
    assert!(t.services.store.monthly_summary_sent(t.account_id, "2026-11").await.unwrap());
    assert!(t.services.send_monthly_summaries(later + jiff::SignedDuration::from_hours(1)).await.unwrap().is_empty());
    let got = common::smtp::mails(dir.path());
    assert_eq!(got.len(), 1, "never twice: {got:?}");
    let (headers, mail) = common::smtp::parsed(&got[0]);
    let header = |name: &str| headers.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).unwrap_or_default();
    let to = header("To").to_lowercase();
    assert!(to.contains("admin@example.com") && to.contains("sue@example.com") && !to.contains("dana"), "{headers}");
    assert!(header("Subject").ends_with(": your 2026-11 report"), "{headers}");
    assert_eq!(header("From"), "reports@clinic.example");
    for line in [
        "- First response (business hours): 5 min (target 15 min, met)",
        "- Resolution rate: 200%",
        "- New conversations: 1",
        "- CSAT (4s and 5s): 100%",
        "- Targets missed: 1",
    ] {
        assert!(mail.contains(line), "{line:?} in {mail}");
    }
    assert!(mail.contains("days on America/New_York"), "{mail}");
}
both_backends!(the_monthly_summary_email_is_retried_until_the_server_takes_it);
