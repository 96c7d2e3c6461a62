//! Routing and assignment over HTTP: a rule sends texts to a team, the team
//! hands them out in turn or to the least busy among members online with
//! room, a full team makes customers wait until someone has room, a returning
//! customer goes to the agent who helped last time (or the timeline says why
//! not), an absent agent's waiting customers go back to the team, and a reply
//! to an unassigned conversation makes it the replier's. Every automatic
//! assignment says why in the timeline.

use crate::common;

use common::{Db, TestApp, app, json};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

struct Floor {
    admin: String,
    team: i64,
    inbox: i64,
    /// (user id, token) of each agent.
    agents: Vec<(i64, String)>,
}

async fn put(t: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    t.client.put(t.url(path)).bearer_auth(token).json(&body).send().await.unwrap()
}

/// A team "Billing" of `n` agents, all online; texts that say "bill" go to it.
async fn floor(t: &TestApp, n: usize, assignment: &str, capacity: u32) -> Floor {
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await["id"].as_i64().unwrap();
    let mut agents = Vec::new();
    for i in 0..n {
        let email = format!("agent{i}@example.com");
        let token = t.token_for(&email, Role::Agent).await;
        let id = json(t.get(&token, "/api/v1/me").await).await["id"].as_i64().unwrap();
        let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": id })).await;
        assert!(r.status().is_success(), "{}", r.status());
        let r = put(t, &token, "/api/v1/me/presence", json!({ "presence": "online" })).await;
        assert_eq!(json(r).await, json!({ "chosen": "online", "now": "online" }));
        agents.push((id, token));
    }
    let r = put(
        t,
        &admin,
        &format!("/api/v1/teams/{team}/routing"),
        json!({ "assignment": assignment, "capacity": capacity }),
    )
    .await;
    assert_eq!(r.status(), 200);
    let rule = json!({
        "name": "Billing questions",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "text", "matches": { "contains": "bill" } }],
        "actions": [{ "do": "assign_team", "team_id": team }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    Floor { admin, team, inbox, agents }
}

async fn text(t: &TestApp, inbox: i64, from: &str, body: &str) -> i64 {
    json(t.text_in(inbox, from, body, None).await).await["conversation_id"].as_i64().unwrap()
}

async fn route(t: &TestApp) {
    t.services.run_automations().await.unwrap();
    t.services.route_waiting(Timestamp::now()).await.unwrap();
}

async fn assignee(t: &TestApp, token: &str, conv: i64) -> Option<i64> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await["assignee_id"].as_i64()
}

async fn timeline_says(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await.as_array().unwrap().clone()
}

async fn round_robin_fills_each_agent_then_waits_for_room(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 2, "round_robin", 1).await;
    let (a, b) = (f.agents[0].0, f.agents[1].0);
    let c1 = text(&t, f.inbox, "+12125550161", "A question about my bill").await;
    route(&t).await;
    let c2 = text(&t, f.inbox, "+12125550162", "My bill is wrong").await;
    route(&t).await;
    let c3 = text(&t, f.inbox, "+12125550163", "Billing help please").await;
    route(&t).await;
    let first = assignee(&t, &f.admin, c1).await.unwrap();
    let second = assignee(&t, &f.admin, c2).await.unwrap();
    assert_eq!([first, second].iter().filter(|x| **x == a || **x == b).count(), 2);
    assert_ne!(first, second, "in turn: the second text goes to the other agent");
    assert_eq!(assignee(&t, &f.admin, c3).await, None, "both are full (capacity 1): the third waits");
    let tl = timeline_says(&t, &f.admin, c1).await;
    assert!(
        tl.iter().any(|e| e["kind"] == "assigned" && e["data"]["why"] == "in turn in the team Billing"),
        "the assignment says why: {tl:?}"
    );

    // A text that is not about billing is not the team's.
    let other = text(&t, f.inbox, "+12125550164", "What time do you open?").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, other).await, None);

    // The first agent resolves theirs: the waiting customer goes to them.
    let first_token = &f.agents.iter().find(|(id, _)| *id == first).unwrap().1;
    let r = t.post(first_token, &format!("/api/v1/conversations/{c1}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, c3).await, Some(first));
    let _ = f.team;
}
both_backends!(round_robin_fills_each_agent_then_waits_for_room);

async fn least_busy_skips_the_busy_and_the_absent(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 3, "least_busy", 5).await;
    let (a, b, c) = (f.agents[0].0, f.agents[1].0, f.agents[2].0);
    // b already holds two open conversations; c steps away.
    for (i, n) in ["+12125550171", "+12125550172"].iter().enumerate() {
        let conv = text(&t, f.inbox, n, &format!("hello {i}")).await;
        let r = t.post(&f.admin, &format!("/api/v1/conversations/{conv}/assign"), json!({ "assignee_id": b })).await;
        assert_eq!(r.status(), 200);
    }
    let r = put(&t, &f.agents[2].1, "/api/v1/me/presence", json!({ "presence": "away" })).await;
    assert_eq!(json(r).await["now"], "away");
    let c1 = text(&t, f.inbox, "+12125550173", "bill question").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, c1).await, Some(a), "the least busy one online");
    let c2 = text(&t, f.inbox, "+12125550174", "another bill question").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, c2).await, Some(a), "a has 1, b has 2, c is away");
    assert_ne!(assignee(&t, &f.admin, c2).await, Some(c));
}
both_backends!(least_busy_skips_the_busy_and_the_absent);

async fn a_returning_customer_goes_to_the_agent_who_helped_last_time(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 2, "manual", 10).await;
    let (dana_id, dana) = f.agents[0].clone();
    let second_inbox = t.inbox_with("Second line", "+12125550100", json!({})).await;
    let first = text(&t, f.inbox, "+12125550181", "Hi, can I move my appointment?").await;
    let r =
        t.post(&dana, &format!("/api/v1/conversations/{first}/messages"), json!({ "body": "Sure, to when?" })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(assignee(&t, &f.admin, first).await, Some(dana_id), "a reply to an unassigned conversation takes it");
    let tl = timeline_says(&t, &f.admin, first).await;
    assert!(tl.iter().any(|e| e["data"]["why"].as_str().is_some_and(|w| w.ends_with("replied"))), "{tl:?}");

    // The same customer writes to another line: Dana, online with room, gets it.
    let again = text(&t, second_inbox, "+12125550181", "Me again").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, again).await, Some(dana_id));
    let tl = timeline_says(&t, &f.admin, again).await;
    assert!(
        tl.iter().any(|e| e["data"]["why"].as_str().is_some_and(|w| w.contains("helped this customer last time"))),
        "{tl:?}"
    );

    // Dana goes offline; the customer's next new conversation is not hers, and the timeline says why.
    let r = put(&t, &dana, "/api/v1/me/presence", json!({ "presence": "offline" })).await;
    assert_eq!(r.status(), 200);
    let r = t.post(&dana, &format!("/api/v1/conversations/{again}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    let third_inbox = t.inbox_with("Third line", "+12125550102", json!({})).await;
    let third = text(&t, third_inbox, "+12125550181", "Anyone there?").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, third).await, None);
    let tl = timeline_says(&t, &f.admin, third).await;
    assert!(
        tl.iter().any(|e| e["kind"] == "routing_note"
            && e["data"]["note"].as_str().is_some_and(|n| n.contains("who helped last time, is offline"))),
        "{tl:?}"
    );
    route(&t).await;
    let notes = timeline_says(&t, &f.admin, third).await.into_iter().filter(|e| e["kind"] == "routing_note").count();
    assert_eq!(notes, 1, "said once");
}
both_backends!(a_returning_customer_goes_to_the_agent_who_helped_last_time);

async fn an_absent_agents_waiting_customers_go_back_to_the_team(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 2, "round_robin", 10).await;
    // A long "away after" so the other agent stays online across the jump in time below.
    let r = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(&f.admin)
        .json(&json!({ "settings": { "routing": { "away_after_minutes": 240, "release_after_minutes": 10 } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let c = text(&t, f.inbox, "+12125550191", "bill please").await;
    route(&t).await;
    let first = assignee(&t, &f.admin, c).await.unwrap();
    let (gone_token, other) =
        if first == f.agents[0].0 { (&f.agents[0].1, f.agents[1].0) } else { (&f.agents[1].1, f.agents[0].0) };
    put(&t, gone_token, "/api/v1/me/presence", json!({ "presence": "offline" })).await;

    // Not yet: the grace period has not passed.
    t.services.route_waiting(Timestamp::now() + SignedDuration::from_mins(5)).await.unwrap();
    assert_eq!(assignee(&t, &f.admin, c).await, Some(first));
    // After it, the customer goes back to the team, and from it to the agent who is here.
    t.services.route_waiting(Timestamp::now() + SignedDuration::from_mins(11)).await.unwrap();
    assert_eq!(assignee(&t, &f.admin, c).await, Some(other));
    let tl = timeline_says(&t, &f.admin, c).await;
    assert!(
        tl.iter().any(|e| e["kind"] == "routing_note"
            && e["data"]["note"].as_str().is_some_and(|n| n.starts_with("Handed back to the team"))),
        "{tl:?}"
    );
}
both_backends!(an_absent_agents_waiting_customers_go_back_to_the_team);

async fn only_admins_change_how_a_team_assigns(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 1, "manual", 10).await;
    let agent = &f.agents[0].1;
    let r = put(&t, agent, &format!("/api/v1/teams/{}/routing", f.team), json!({ "assignment": "least_busy" })).await;
    assert_eq!(r.status(), 403);
    let r = put(&t, &f.admin, &format!("/api/v1/teams/{}/routing", f.team), json!({ "assignment": "random" })).await;
    assert_eq!(r.status(), 422);
    let r = put(
        &t,
        &f.admin,
        &format!("/api/v1/teams/{}/routing", f.team),
        json!({ "assignment": "least_busy", "capacity": 0 }),
    )
    .await;
    assert_eq!(r.status(), 422);
    let list = json(t.get(agent, "/api/v1/teams/routing").await).await;
    assert_eq!(list[0]["assignment"], "manual");
    let r = put(&t, agent, "/api/v1/me/presence", json!({ "presence": "busy" })).await;
    assert_eq!(r.status(), 422);
}
both_backends!(only_admins_change_how_a_team_assigns);

async fn patch_routing(t: &TestApp, admin: &str, routing: Value) {
    let r = t
        .client
        .patch(t.url("/api/v1/account"))
        .bearer_auth(admin)
        .json(&json!({ "settings": { "routing": routing } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

fn notes(tl: &[Value]) -> Vec<String> {
    tl.iter().filter(|e| e["kind"] == "routing_note").map(|e| e["data"]["note"].as_str().unwrap().to_owned()).collect()
}

async fn a_reply_takes_nothing_when_the_account_says_so(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 1, "manual", 10).await;
    patch_routing(&t, &f.admin, json!({ "reply_assigns": false })).await;
    let (_, dana) = &f.agents[0];
    let c = text(&t, f.inbox, "+12125550201", "Is my order on its way?").await;
    let r = t.post(dana, &format!("/api/v1/conversations/{c}/messages"), json!({ "body": "Checking now." })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(assignee(&t, &f.admin, c).await, None, "replying does not take it when switched off");
    let tl = timeline_says(&t, &f.admin, c).await;
    assert!(!tl.iter().any(|e| e["kind"] == "assigned"), "{tl:?}");
}
both_backends!(a_reply_takes_nothing_when_the_account_says_so);

async fn the_last_agent_with_no_room_or_long_ago_does_not_get_the_customer(db: Db) {
    let t = app(db).start().await;
    // Capacity 1 in a team that assigns by itself: one open conversation fills Dana.
    let f = floor(&t, 2, "least_busy", 1).await;
    let (dana_id, dana) = f.agents[0].clone();
    let second = t.inbox_with("Second line", "+12125550100", json!({})).await;
    let first = text(&t, f.inbox, "+12125550211", "Can I move my appointment?").await;
    let r = t.post(&dana, &format!("/api/v1/conversations/{first}/messages"), json!({ "body": "Sure." })).await;
    assert_eq!(r.status(), 201);
    assert_eq!(assignee(&t, &f.admin, first).await, Some(dana_id));

    // Dana is online but full: the returning customer waits, and the timeline says why.
    let again = text(&t, second, "+12125550211", "Me again").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, again).await, None);
    let said = notes(&timeline_says(&t, &f.admin, again).await);
    let dana_name = name(&t, &dana).await;
    assert_eq!(said, [format!("{dana_name}, who helped last time, has no room for another")]);

    // Past the window (1 day), Dana is not "who helped last time" at all: no note, no assignment.
    patch_routing(&t, &f.admin, json!({ "sticky_days": 1 })).await;
    let r = t.post(&dana, &format!("/api/v1/conversations/{first}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    let third = t.inbox_with("Third line", "+12125550102", json!({})).await;
    let later = text(&t, third, "+12125550211", "Hello again").await;
    t.services.route_waiting(Timestamp::now() + SignedDuration::from_hours(49)).await.unwrap();
    assert_eq!(assignee(&t, &f.admin, later).await, None);
    assert_eq!(notes(&timeline_says(&t, &f.admin, later).await), Vec::<String>::new(), "outside the window");
}
both_backends!(the_last_agent_with_no_room_or_long_ago_does_not_get_the_customer);

async fn name(t: &TestApp, token: &str) -> String {
    json(t.get(token, "/api/v1/me").await).await["name"].as_str().unwrap().to_owned()
}

async fn a_reopened_conversation_is_routed_by_a_rule(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 1, "round_robin", 10).await;
    let rule = json!({
        "name": "Returning customers to Billing",
        "trigger": { "on": "conversation_reopened" },
        "actions": [{ "do": "assign_team", "team_id": f.team }]
    });
    assert_eq!(t.post(&f.admin, "/api/v1/automations", rule).await.status(), 201);
    let c = text(&t, f.inbox, "+12125550221", "Where is my parcel?").await;
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, c).await, None, "not about billing: nobody's yet");
    let r = t.post(&f.admin, &format!("/api/v1/conversations/{c}/status"), json!({ "status": "resolved" })).await;
    assert_eq!(r.status(), 200);
    route(&t).await;

    // The customer writes again: the conversation reopens, the rule gives it to the team, the team to its agent.
    assert_eq!(text(&t, f.inbox, "+12125550221", "It still has not come").await, c);
    route(&t).await;
    assert_eq!(assignee(&t, &f.admin, c).await, Some(f.agents[0].0));
    let tl = timeline_says(&t, &f.admin, c).await;
    assert!(tl.iter().any(|e| e["kind"] == "team_changed"), "{tl:?}");
    assert!(tl.iter().any(|e| e["kind"] == "assigned" && e["data"]["why"] == "in turn in the team Billing"), "{tl:?}");
}
both_backends!(a_reopened_conversation_is_routed_by_a_rule);

/// An admin sets the account's routing options on the account page, in minutes and days; a bad value comes back
/// with the reason; anyone else cannot.
async fn the_routing_options_on_the_account_page(db: Db) {
    let t = app(db).start().await;
    t.user("ada@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let admin = t.browser("ada@example.com").await;
    let html = admin.get(t.url("/settings/account")).send().await.unwrap().text().await.unwrap();
    let form = &html[html.find("id=\"routing\"").expect("the routing form")..];
    let form = &form[..form.find("</form>").unwrap()];
    assert!(form.contains("name=\"reply_assigns\" value=\"on\" checked"), "on by default: {form}");
    for (name, value) in [("sticky_days", "7"), ("away_after_minutes", "5"), ("release_after_minutes", "10")] {
        assert!(form.contains(&format!("name=\"{name}\" value=\"{value}\"")), "{name}: {form}");
    }
    assert!(form.contains("in minutes") && form.contains("(1 to 240 minutes)"), "units said: {form}");
    let csrf = common::csrf_of(&html);
    let save = |client: &reqwest::Client, fields: &[(&str, &str)]| {
        let mut body: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        body.extend_from_slice(fields);
        client.post(t.url("/settings/account/routing")).form(&body).send()
    };

    let r = save(&admin, &[("sticky_days", "3"), ("away_after_minutes", "15"), ("release_after_minutes", "30")]);
    let r = r.await.unwrap();
    assert_eq!(
        (r.status().as_u16(), r.headers()["location"].to_str().unwrap()),
        (303, "/settings/account?saved=routing#routing")
    );
    let routing = t.services.account_settings(t.account_id).await.unwrap().routing;
    assert_eq!(
        (routing.reply_assigns, routing.sticky_days, routing.away_after_minutes, routing.release_after_minutes),
        (false, 3, 15, 30),
        "the unticked box switches replies-take-it off"
    );
    let html = admin.get(t.url("/settings/account?saved=routing")).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Routing saved.") && html.contains("name=\"sticky_days\" value=\"3\""));

    // Out of range, or not a number: the page again with the reason and what was typed; nothing changes.
    let r = save(
        &admin,
        &[
            ("reply_assigns", "on"),
            ("sticky_days", "99"),
            ("away_after_minutes", "15"),
            ("release_after_minutes", "30"),
        ],
    );
    let r = r.await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("must be 0 to 90") && html.contains("name=\"sticky_days\" value=\"99\""), "{html}");
    let r = save(&admin, &[("sticky_days", "3"), ("away_after_minutes", "ten"), ("release_after_minutes", "30")]);
    let r = r.await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("is a whole number"));
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().routing.sticky_days, 3);

    // An agent cannot change them.
    let agent = t.browser("dana@example.com").await;
    let page = agent.get(t.url("/inbox")).send().await.unwrap().text().await.unwrap();
    let agent_csrf = common::csrf_of(&page);
    let r = agent
        .post(t.url("/settings/account/routing"))
        .form(&[
            ("csrf", agent_csrf.as_str()),
            ("sticky_days", "0"),
            ("away_after_minutes", "1"),
            ("release_after_minutes", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(t.services.account_settings(t.account_id).await.unwrap().routing.sticky_days, 3);
}
both_backends!(the_routing_options_on_the_account_page);

/// "Online" with no tab open for the account's minutes counts as away: the router passes over an agent whose
/// app is closed, and gives the customer to the one whose page (its live stream) is open.
async fn online_with_no_tab_open_counts_as_away(db: Db) {
    let t = app(db).start().await;
    let f = floor(&t, 2, "round_robin", 5).await;
    patch_routing(&t, &f.admin, json!({ "away_after_minutes": 1 })).await;
    let (closed, open) = (f.agents[0].0, f.agents[1].0);
    assert!(closed < open, "in turn, the first agent would be given it first");
    // The second agent has the inbox open in a browser: its live stream is their tab.
    let browser = t.browser("agent1@example.com").await;
    let mut tab = browser.get(t.url("/events")).send().await.unwrap();
    assert_eq!(tab.status(), 200);
    common::wait_for_frame(&mut tab, "ready").await;

    let c = text(&t, f.inbox, "+12125550231", "A question about my bill").await;
    t.services.run_automations().await.unwrap();
    // Two minutes on: the router's pass marks who has a tab open, then hands out.
    let later = Timestamp::now() + SignedDuration::from_mins(2);
    t.services.mark_tabs_seen(later).await.unwrap();
    t.services.route_waiting(later).await.unwrap();
    assert_eq!(assignee(&t, &f.admin, c).await, Some(open), "the agent with no tab open is away");
    assert_ne!(assignee(&t, &f.admin, c).await, Some(closed));

    // Past the minutes again without a pass that saw a tab: both away, and the next customer waits.
    let c2 = text(&t, f.inbox, "+12125550232", "Another bill question").await;
    t.services.run_automations().await.unwrap();
    t.services.route_waiting(later + SignedDuration::from_mins(2)).await.unwrap();
    assert_eq!(assignee(&t, &f.admin, c2).await, None, "nobody here: it waits for someone to come back");
    drop(tab);
}
both_backends!(online_with_no_tab_open_counts_as_away);
