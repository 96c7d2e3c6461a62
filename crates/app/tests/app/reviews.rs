//! Quality review (F12) over real HTTP on both backends: low scores and
//! escalations queued once each by the event-log consumer, the entry point a
//! missed target calls, the weekly sample per agent (deterministic, drawn
//! once), scoring against the rubric with its overall, and who sees what.

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;
use textdesk_core::event::DomainEvent;
use textdesk_core::review::{self, ReviewReason};
use textdesk_core::survey::SurveyKind;

use crate::common::{self, Db, TestApp, csrf_of, json};

async fn conversation(t: &TestApp, inbox: i64, from: &str) -> i64 {
    json(t.text_in(inbox, from, "Hello, my crown came loose", None).await).await["conversation_id"].as_i64().unwrap()
}

async fn assign(t: &TestApp, token: &str, conv: i64, agent: i64) {
    let r = t.post(token, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": agent })).await;
    assert_eq!(r.status(), 200);
}

async fn resolve(t: &TestApp, token: &str, conv: i64) {
    let r = t.post(token, &format!("/api/v1/conversations/{conv}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
}

/// A poll answer appended as the polls will write it (they are built apart).
async fn answered(t: &TestApp, conv: i64, kind: SurveyKind, score: u8, agent: Option<i64>) {
    let ev = DomainEvent::SurveyAnswered { survey_id: 1, kind, score, message_id: 1, agent_id: agent, team_id: None };
    t.services.store.record_event(t.account_id, conv, &ev, None).await.unwrap();
}

async fn queue(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let r = t.get(token, &format!("/api/v1/reviews{query}")).await;
    assert_eq!(r.status(), 200, "{query}");
    json(r).await.as_array().unwrap().clone()
}

/// The conversation's logged events of `kind` (reviews are in the log, not on its timeline).
async fn logged(t: &TestApp, conv: i64, kind: &str) -> Vec<DomainEvent> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&t.database_url).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar("SELECT data FROM event_log WHERE conversation_id = $1 ORDER BY id")
        .bind(conv)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let events = rows.iter().map(|r| DomainEvent::from_json(r).unwrap());
    events.filter(|e| e.kind() == kind).collect()
}

/// Why the conversation was queued, in the order logged.
async fn queued_events(t: &TestApp, conv: i64) -> Vec<String> {
    let whys = logged(t, conv, "review_queued").await.into_iter();
    whys.filter_map(|e| match e {
        DomainEvent::ReviewQueued { why, .. } => Some(why),
        _ => None,
    })
    .collect()
}

async fn low_scores_and_escalations_are_queued_once(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let agent = t.user("agent@example.com", Role::Agent).await;
    let agent_token = textdesk::services::auth::create_token(&t.services.store, agent.id, "t").await.unwrap().1;
    let inbox = t.simulator_inbox().await;
    let (a, b) = (conversation(&t, inbox, "+14155550101").await, conversation(&t, inbox, "+14155550102").await);
    assign(&t, &admin, a, agent.id).await;

    // A low CSAT for A queues it for its agent; a 5 for B does not; an NPS detractor on A adds nothing new.
    answered(&t, a, SurveyKind::Csat, 2, Some(agent.id)).await;
    answered(&t, b, SurveyKind::Csat, 5, Some(agent.id)).await;
    answered(&t, a, SurveyKind::Nps, 3, Some(agent.id)).await;
    assert!(t.services.run_reviews().await.unwrap() >= 3);
    let q = queue(&t, &sup, "").await;
    assert_eq!(q.len(), 1, "{q:?}");
    assert_eq!((q[0]["conversation_id"].as_i64(), q[0]["agent_id"].as_i64()), (Some(a), Some(agent.id)));
    assert_eq!(q[0]["reasons"], json!(["low_score"]));
    assert_eq!(q[0]["state"], "waiting");

    // The agent escalates A to the supervisor: the same review, one more reason; B's escalation queues B.
    let sup_id = t.services.store.users_by_email(&textdesk_core::Email::parse("sup@example.com").unwrap()).await;
    let sup_id = sup_id.unwrap()[0].id;
    for conv in [a, b] {
        let body = json!({ "to": "supervisor", "supervisor_id": sup_id, "reason": "wants a refund" });
        let r = t.post(&agent_token, &format!("/api/v1/conversations/{conv}/escalations"), body).await;
        assert_eq!(r.status(), 201);
    }
    t.services.run_reviews().await.unwrap();
    assert_eq!(t.services.run_reviews().await.unwrap(), 0, "every event was handled once");
    let q = queue(&t, &sup, "").await;
    assert_eq!(q.len(), 2, "{q:?}");
    let qa = q.iter().find(|r| r["conversation_id"] == a).unwrap();
    assert_eq!(qa["reasons"], json!(["low_score", "escalated"]));
    let qb = q.iter().find(|r| r["conversation_id"] == b).unwrap();
    assert_eq!(qb["reasons"], json!(["escalated"]));
    assert_eq!(qb["agent_id"].as_i64(), Some(agent.id), "the agent who escalated, not the supervisor it went to");
    assert_eq!(queued_events(&t, a).await, vec!["low_score", "escalated"], "logged once per reason");

    // A missed target's entry point: once per waiting review.
    assert!(t.services.queue_for_review(t.account_id, b, ReviewReason::SlaBreach).await.unwrap().is_some());
    assert!(t.services.queue_for_review(t.account_id, b, ReviewReason::SlaBreach).await.unwrap().is_none());
    assert!(t.services.queue_for_review(t.account_id, 999_999, ReviewReason::SlaBreach).await.unwrap().is_none());
    assert_eq!(queued_events(&t, b).await, vec!["escalated", "sla_breach"]);

    // Filters.
    let only = queue(&t, &sup, "?reason=low_score").await;
    assert_eq!(only.iter().map(|r| r["conversation_id"].as_i64().unwrap()).collect::<Vec<_>>(), vec![a]);
    assert!(queue(&t, &sup, &format!("?agent_id={sup_id}")).await.is_empty());
    assert_eq!(queue(&t, &sup, &format!("?agent_id={}", agent.id)).await.len(), 2);
    assert!(queue(&t, &sup, "?state=scored").await.is_empty());
    assert_eq!(t.get(&sup, "/api/v1/reviews?reason=angry").await.status(), 422);
    assert_eq!(t.get(&sup, "/api/v1/reviews?state=later").await.status(), 422);

    // Agents may not see the queue, nor a waiting review of their own.
    assert_eq!(t.get(&agent_token, "/api/v1/reviews").await.status(), 403);
    let id = qa["id"].as_i64().unwrap();
    assert_eq!(t.get(&agent_token, &format!("/api/v1/reviews/{id}")).await.status(), 404);
    let browser = t.browser("agent@example.com").await;
    assert_eq!(browser.get(t.url("/reviews")).send().await.unwrap().status(), 403);
    let sup_browser = t.browser("sup@example.com").await;
    let page = sup_browser.get(t.url("/reviews")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Low satisfaction score") && page.contains("Escalated"), "{page}");
    assert!(page.contains(&format!("/reviews/{id}")), "{page}");
}

both_backends!(low_scores_and_escalations_are_queued_once);

async fn scoring_with_the_rubric(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let agent = t.user("agent@example.com", Role::Agent).await;
    let agent_token = textdesk::services::auth::create_token(&t.services.store, agent.id, "t").await.unwrap().1;
    let other = t.token_for("other@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = conversation(&t, inbox, "+14155550103").await;
    assign(&t, &admin, conv, agent.id).await;

    // The business's rubric: weights 3, 1, 1. Bad ones are refused with words; agents may read, not write.
    let rubric = json!({ "sample_size": 1, "criteria": [
        { "label": "Answered the question", "help": "Correct and complete", "weight": 3 },
        { "label": "Tone", "weight": 1 },
        { "label": "Escalated when right", "weight": 1 } ] });
    let put = |token: &str, body: Value| {
        t.client.put(t.url("/api/v1/reviews/settings")).bearer_auth(token.to_owned()).json(&body).send()
    };
    assert_eq!(put(&agent_token, rubric.clone()).await.unwrap().status(), 403);
    let bad = json!({ "sample_size": 1, "criteria": [{ "label": "Tone", "weight": 11 }] });
    let r = put(&admin, bad).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("weight"));
    assert_eq!(put(&admin, json!({ "sample_size": 51, "criteria": rubric["criteria"] })).await.unwrap().status(), 422);
    assert_eq!(put(&admin, rubric.clone()).await.unwrap().status(), 200);
    let read = json(t.get(&agent_token, "/api/v1/reviews/settings").await).await;
    assert_eq!(read["criteria"][0]["label"], "Answered the question");
    assert_eq!(read["sample_size"], 1);

    let id = t.services.queue_for_review(t.account_id, conv, ReviewReason::Escalated).await.unwrap().unwrap();
    let score = |token: &str, id: i64, body: Value| {
        t.client.put(t.url(&format!("/api/v1/reviews/{id}/scorecard"))).bearer_auth(token.to_owned()).json(&body).send()
    };
    // Refused: too few scores, out of the scale, nothing scored, an agent, an unknown review. Nothing stored.
    for bad in [json!({ "scores": [5, 5] }), json!({ "scores": [6, 5, 5] }), json!({ "scores": [null, null, null] })] {
        assert_eq!(score(&sup, id, bad.clone()).await.unwrap().status(), 422, "{bad}");
    }
    assert_eq!(score(&agent_token, id, json!({ "scores": [5, 5, 5] })).await.unwrap().status(), 403);
    assert_eq!(score(&sup, 999_999, json!({ "scores": [5, 5, 5] })).await.unwrap().status(), 404);
    let long = "x".repeat(2001);
    assert_eq!(score(&sup, id, json!({ "scores": [5, 5, 5], "comment": long })).await.unwrap().status(), 422);
    assert_eq!(json(t.get(&sup, &format!("/api/v1/reviews/{id}")).await).await["state"], "waiting");

    // Answered fully (5), tone poor (1), no escalation needed: (3×4 + 1×0) / (4×4) = 75%.
    let body = json!({ "scores": [5, 1, null], "comment": "Good answer; watch the tone." });
    let r = score(&sup, id, body).await.unwrap();
    assert_eq!(r.status(), 200);
    let card = json(r).await;
    assert_eq!((card["overall"].as_u64(), card["state"].as_str()), (Some(75), Some("scored")));
    assert_eq!(card["criteria"].as_array().unwrap().len(), 3);
    assert_eq!(card["scores"], json!([5, 1, null]));
    let scored = logged(&t, conv, "review_scored").await;
    assert!(
        matches!(scored.as_slice(), [DomainEvent::ReviewScored { overall: Some(75), agent_id: Some(x), .. }] if *x == agent.id),
        "{scored:?}"
    );
    let tl = json(t.get(&admin, &format!("/api/v1/conversations/{conv}/timeline")).await).await;
    assert!(!tl.to_string().contains("review_"), "reviews are not on the conversation's timeline: {tl}");

    // The agent sees their scorecard and its comment; another agent sees nothing of it.
    let mine = json(t.get(&agent_token, "/api/v1/reviews/mine").await).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["comment"], "Good answer; watch the tone.");
    assert_eq!(t.get(&agent_token, &format!("/api/v1/reviews/{id}")).await.status(), 200);
    assert!(json(t.get(&other, "/api/v1/reviews/mine").await).await.as_array().unwrap().is_empty());
    assert_eq!(t.get(&other, &format!("/api/v1/reviews/{id}")).await.status(), 404);

    // The pages: the transcript beside the scorecard; "My reviews"; another agent gets 404.
    let sup_b = t.browser("sup@example.com").await;
    let page = sup_b.get(t.url(&format!("/reviews/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("my crown came loose") && page.contains("Answered the question"), "{page}");
    assert!(page.contains("75%"), "{page}");
    let agent_b = t.browser("agent@example.com").await;
    let mine = agent_b.get(t.url("/reviews/mine")).send().await.unwrap().text().await.unwrap();
    assert!(mine.contains("Good answer; watch the tone.") && mine.contains("75%"), "{mine}");
    let other_b = t.browser("other@example.com").await;
    assert_eq!(other_b.get(t.url(&format!("/reviews/{id}"))).send().await.unwrap().status(), 404);

    // Scored again from the page's form: the card changes, a second event is logged.
    let csrf = csrf_of(&page);
    let form = [("csrf", csrf.as_str()), ("score_0", "4"), ("score_1", "4"), ("score_2", ""), ("comment", "Better")];
    let r = sup_b.post(t.url(&format!("/reviews/{id}"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let card = json(t.get(&sup, &format!("/api/v1/reviews/{id}")).await).await;
    assert_eq!((card["overall"].as_u64(), card["comment"].as_str()), (Some(75), Some("Better")));
    assert_eq!(logged(&t, conv, "review_scored").await.len(), 2);
    let form = [("csrf", csrf.as_str()), ("score_0", ""), ("score_1", "9"), ("score_2", "")];
    let r = sup_b.post(t.url(&format!("/reviews/{id}"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("1 to 5"));
    // An agent cannot post a scorecard.
    let agent_page = agent_b.get(t.url("/reviews/mine")).send().await.unwrap().text().await.unwrap();
    let form = [("csrf".to_owned(), csrf_of(&agent_page)), ("score_0".to_owned(), "5".to_owned())];
    let r = agent_b.post(t.url(&format!("/reviews/{id}"))).form(&form).send().await.unwrap();
    assert_eq!(r.status(), 403);
}

both_backends!(scoring_with_the_rubric);

/// The conversations of `agent`'s queued by the sample, by id.
async fn sampled(t: &TestApp, sup: &str, agent: i64) -> Vec<i64> {
    let list = queue(t, sup, &format!("?agent_id={agent}&reason=sample")).await;
    let mut ids: Vec<i64> = list.iter().map(|r| r["conversation_id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids
}

async fn weekly_sample_per_agent(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("admin@example.com", Role::Admin).await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let (a, b, c) = (
        t.user("a@example.com", Role::Agent).await.id,
        t.user("b@example.com", Role::Agent).await.id,
        t.user("c@example.com", Role::Agent).await.id,
    );
    let settings = json!({ "sample_size": 2, "criteria": review::Rubric::default_rubric().criteria });
    let r = t.client.put(t.url("/api/v1/reviews/settings")).bearer_auth(&admin).json(&settings).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let inbox = t.simulator_inbox().await;
    // A resolves five, B one; C's one is still open; one resolved conversation has nobody.
    let mut resolved: Vec<(i64, i64)> = Vec::new();
    for (n, agent) in [a, a, a, a, a, b, c].into_iter().enumerate() {
        let conv = conversation(&t, inbox, &format!("+1415555{:04}", 300 + n)).await;
        assign(&t, &admin, conv, agent).await;
        if agent != c {
            resolve(&t, &admin, conv).await;
            resolved.push((agent, conv));
        }
    }
    let nobody = conversation(&t, inbox, "+14155550399").await;
    resolve(&t, &admin, nobody).await;

    // A week later, last week's sample: two of A's, B's one, none of C's.
    let later = Timestamp::now() + SignedDuration::from_hours(7 * 24);
    let drawn = t.services.sample_reviews(later).await.unwrap();
    assert_eq!(drawn.len(), 1, "{drawn:?}");
    let (account, week, queued) = drawn[0].clone();
    assert_eq!((account, queued), (t.account_id, 3));
    let of = |agent: i64| resolved.iter().filter(|(x, _)| *x == agent).map(|(_, c)| *c).collect::<Vec<_>>();
    let seed = review::sample_seed(t.account_id, &week);
    let mut expected = review::sample(&of(a), 2, &seed);
    expected.sort_unstable();
    assert_eq!(sampled(&t, &sup, a).await, expected, "the sample is the seeded one, the same on every node");
    assert_eq!(sampled(&t, &sup, b).await, of(b));
    assert!(sampled(&t, &sup, c).await.is_empty());

    // Drawn once: again (here, or another node) queues nothing.
    assert!(t.services.sample_reviews(later).await.unwrap().is_empty());
    assert_eq!(queue(&t, &sup, "?reason=sample").await.len(), 3);

    // A sample size of 0 draws nothing the next week.
    let off = json!({ "sample_size": 0, "criteria": review::Rubric::default_rubric().criteria });
    t.client.put(t.url("/api/v1/reviews/settings")).bearer_auth(&admin).json(&off).send().await.unwrap();
    let drawn = t.services.sample_reviews(later + SignedDuration::from_hours(7 * 24)).await.unwrap();
    assert_eq!(drawn.len(), 1);
    assert_eq!(drawn[0].2, 0);
}

both_backends!(weekly_sample_per_agent);

/// A conversation entering the queue alerts supervisors live (`review.queued`,
/// worded by the notice the inbox's alert box shows); an agent's stream hears
/// only that the conversation changed, and the notice is not theirs to read.
async fn joining_the_queue_alerts_supervisors_live(db: Db) {
    let t = common::app(db).start().await;
    let sup = t.token_for("sup@example.com", Role::Supervisor).await;
    let agent = t.token_for("agent@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let conv = conversation(&t, inbox, "+14155550231").await;
    let mut sup_stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&sup).send().await.unwrap();
    common::wait_for_frame(&mut sup_stream, "ready").await;
    let mut agent_stream = t.client.get(t.url("/api/v1/events")).bearer_auth(&agent).send().await.unwrap();
    common::wait_for_frame(&mut agent_stream, "ready").await;

    let id = t.services.queue_for_review(t.account_id, conv, ReviewReason::Escalated).await.unwrap().unwrap();
    let frame = common::wait_for_frame(&mut sup_stream, "review.queued").await;
    assert_eq!((frame["conversation_id"].as_i64(), frame["kind"].as_str()), (Some(conv), Some("review.queued")));
    // The agent's stream carries the same event as an update (other updates may come first).
    let mut heard = common::wait_for_frame(&mut agent_stream, "conversation.updated").await;
    while heard["id"] != frame["id"] {
        heard = common::wait_for_frame(&mut agent_stream, "conversation.updated").await;
    }
    assert_eq!((heard["conversation_id"].as_i64(), heard["kind"].as_str()), (Some(conv), Some("conversation.updated")));

    let notice = |who: &'static str| {
        let t = &t;
        async move {
            let b = t.browser(who).await;
            b.get(t.url(&format!("/conversations/{conv}/notice?about=review"))).send().await.unwrap()
        }
    };
    let n = json(notice("sup@example.com").await).await;
    assert_eq!(n["title"], "To review: +14155550231");
    assert_eq!(n["body"], "In the review queue: Escalated");
    assert_eq!(n["url"], format!("/reviews/{id}"));
    assert_eq!(notice("agent@example.com").await.status(), 403);
    let page = t.browser("sup@example.com").await.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"escalation-alert\"") && page.contains("data-supervisor"), "the alert box listens");
}
both_backends!(joining_the_queue_alerts_supervisors_live);
