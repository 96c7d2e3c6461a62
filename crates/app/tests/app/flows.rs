//! Self-service flows over real HTTP, through the simulator inbox, on both
//! backends: a rule starts the bot, the customer walks a menu into a sub-menu,
//! gets an FAQ answer with the next opening from the inbox's hours, a lookup
//! answered by a local HTTP server (and one that fails), asks for a person or
//! is not understood twice and is handed over (to a team by the flow's
//! choice, routed), the agent sees the bot's exchange marked automatic, a
//! timeout ends the flow politely, a STOP ends it, and a conversation with the
//! bot is in nobody's queue. Flows travel as files, and a bad file is refused
//! with its line and field.

use std::sync::{Arc, Mutex};

use axum::extract::Query;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, TestApp, json, zone_at_hour};

/// Closed now: open 09:00-17:00 every day in a zone where it is 02:xx.
fn closed_hours() -> Value {
    let (zone, _) = zone_at_hour(2);
    let days: serde_json::Map<String, Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|d| (d.to_string(), json!(["09:00-17:00"])))
        .collect();
    json!({ "zone": zone, "weekly": days })
}

fn menu(lookup_base: &str, team: Option<i64>) -> Value {
    let billing_team = match team {
        Some(t) => json!({ "key": "2", "label": "The billing team", "handoff": { "team_id": t } }),
        None => json!({ "key": "2", "label": "The billing team", "handoff": {} }),
    };
    json!({
        "name": "Main menu",
        "timeout_minutes": 5,
        "answers": [{ "keywords": ["hours", "open"], "reply": "We open {next_open}." }],
        "steps": [
            { "name": "start", "text": "Hi! Reply with a number.", "options": [
                { "key": "1", "label": "Billing", "goto": "billing" },
                { "key": "2", "label": "An appointment", "goto": "appointment" },
                { "key": "0", "label": "A person", "handoff": {} }
            ]},
            { "name": "billing", "text": "Billing:", "options": [
                { "key": "1", "label": "Pay by card", "reply": "Pay at example.com/pay. Thanks!" },
                billing_team,
                { "key": "0", "label": "A person", "handoff": {} }
            ]},
            { "name": "appointment", "text": "What is your booking number?",
              "lookup": { "url": format!("{lookup_base}/bookings?phone={{phone}}&ref={{input}}"), "field": "appointment.time",
                          "reply": "Your appointment is at {value}." } }
        ]
    })
}

struct Desk {
    admin: String,
    inbox: i64,
    flow: i64,
}

/// An admin, a closed simulator inbox, the menu, and a rule that starts it
/// on every customer message to the inbox.
async fn desk(t: &TestApp, lookup_base: &str, team: Option<i64>, admin: Option<String>) -> Desk {
    let admin = match admin {
        Some(a) => a,
        None => t.token_for("ada@example.com", Role::Admin).await,
    };
    let inbox = t.simulator_inbox().await;
    let r = t
        .client
        .patch(t.url(&format!("/api/v1/inboxes/{inbox}")))
        .bearer_auth(&admin)
        .json(&json!({ "settings": { "hours": closed_hours() } }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = t.post(&admin, "/api/v1/flows", menu(lookup_base, team)).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let flow = json(r).await["id"].as_i64().unwrap();
    let rule = json!({
        "name": "The bot answers first",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "inbox", "any_of": [inbox] }],
        "actions": [{ "do": "start_flow", "flow_id": flow }]
    });
    let r = t.post(&admin, "/api/v1/automations", rule).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    Desk { admin, inbox, flow }
}

/// The customer texts; the engine (and any lookup) runs; returns the conversation.
async fn say(t: &TestApp, d: &Desk, from: &str, body: &str) -> i64 {
    let r = t.text_in(d.inbox, from, body, None).await;
    assert!(r.status().is_success(), "{}", r.status());
    let conv = json(r).await["conversation_id"].as_i64().unwrap();
    t.services.run_automations().await.unwrap();
    t.services.run_flow_lookups().await.unwrap();
    conv
}

async fn thread(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/messages")).await).await.as_array().unwrap().clone()
}

/// What the bot said, oldest first.
async fn bot_said(t: &TestApp, token: &str, conv: i64) -> Vec<String> {
    thread(t, token, conv)
        .await
        .iter()
        .filter(|m| m["direction"] == "outbound" && m["author_id"].is_null())
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn conversation(t: &TestApp, token: &str, conv: i64) -> Value {
    json(t.get(token, &format!("/api/v1/conversations/{conv}")).await).await
}

async fn listed(t: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let page = json(t.get(token, &format!("/api/v1/conversations?{query}")).await).await;
    page["items"].as_array().unwrap_or_else(|| panic!("{page}")).iter().map(|c| c["id"].as_i64().unwrap()).collect()
}

async fn timeline(t: &TestApp, token: &str, conv: i64) -> Vec<Value> {
    json(t.get(token, &format!("/api/v1/conversations/{conv}/timeline")).await).await.as_array().unwrap().clone()
}

async fn a_menu_a_sub_menu_an_faq_and_a_person_on_request(db: Db) {
    let t = common::app(db).start().await;
    let d = desk(&t, "https://lookup.example.com", None, None).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;

    let conv = say(&t, &d, "+12125550101", "Hello?").await;
    assert_eq!(
        bot_said(&t, &d.admin, conv).await,
        vec!["Hi! Reply with a number.\n1: Billing\n2: An appointment\n0: A person"],
        "the menu, and not also the inbox's after-hours reply: one answer"
    );
    let c = conversation(&t, &agent, conv).await;
    assert_eq!((c["status"].as_str(), c["bot"].as_bool()), (Some("open"), Some(true)));
    assert!(c["waiting_since"].is_null(), "talking to the bot is not waiting for a person: {c}");
    assert!(!listed(&t, &agent, "status=open").await.contains(&conv), "not in the open list");
    assert!(!listed(&t, &agent, "view=unassigned&status=any").await.contains(&conv), "not in the unassigned queue");
    assert_eq!(listed(&t, &agent, "status=bot").await, vec![conv], "the bot's own list");
    // The same on the pages: "With the bot" lists it with a "bot" badge, "Open" does not, and the thread says "bot".
    let dana = t.browser("dana@example.com").await;
    let page = |path: String| {
        let dana = dana.clone();
        let url = t.url(&path);
        async move { dana.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let row = format!("<a href=\"/conversations/{conv}?");
    let with_bot = page("/inbox?status=bot".into()).await;
    let at = with_bot.find(&row).expect("listed under With the bot");
    assert!(with_bot[at..].contains("<span class=\"badge status-bot\">bot</span>"), "its badge says bot");
    assert!(!page("/inbox?status=open".into()).await.contains(&row), "not in the open list");
    let thread_page = page(format!("/conversations/{conv}")).await;
    assert!(thread_page.contains("<span class=\"badge status-bot\">bot</span>"), "the thread says bot");

    say(&t, &d, "+12125550101", " 1.").await;
    assert_eq!(bot_said(&t, &d.admin, conv).await[1], "Billing:\n1: Pay by card\n2: The billing team\n0: A person");
    say(&t, &d, "+12125550101", "When are you open?").await;
    let faq = bot_said(&t, &d.admin, conv).await[2].clone();
    // 09:00 where the inbox is, said on the customer's clock (a New York number: EST).
    assert!(faq.starts_with("We open ") && faq.contains(":00 ") && faq.contains(" EST "), "the next opening: {faq}");
    say(&t, &d, "+12125550101", "one").await;
    assert_eq!(bot_said(&t, &d.admin, conv).await[3], "Pay at example.com/pay. Thanks!");
    let c = conversation(&t, &agent, conv).await;
    assert_eq!((c["bot"].as_bool(), c["status"].as_str()), (Some(false), Some("resolved")), "answered: {c}");
    let kinds: Vec<Value> = timeline(&t, &agent, conv).await.iter().map(|e| e["kind"].clone()).collect();
    assert!(kinds.contains(&json!("flow_started")) && kinds.contains(&json!("flow_ended")), "{kinds:?}");

    // Another customer asks for a person at once.
    let other = say(&t, &d, "+12125550102", "hi").await;
    say(&t, &d, "+12125550102", "AGENT").await;
    let said = bot_said(&t, &d.admin, other).await;
    let handoff = said.last().unwrap();
    assert!(
        handoff.starts_with("Thanks, a person will answer you here as soon as they can. We are back ")
            && handoff.contains(" EST "),
        "closed now: the customer hears when someone is back: {handoff}"
    );
    let c = conversation(&t, &agent, other).await;
    assert_eq!(c["bot"], false);
    assert!(c["waiting_since"].is_string(), "now waiting for a person: {c}");
    assert!(listed(&t, &agent, "view=unassigned").await.contains(&other), "in the unassigned queue");
    let handed = timeline(&t, &agent, other).await.into_iter().find(|e| e["kind"] == "handed_off").unwrap();
    assert_eq!(handed["data"]["reason"], "asked");

    // The customer writes again while waiting: the bot does not start over (and the after-hours
    // reply, once per closed period, has been said by the handoff).
    say(&t, &d, "+12125550102", "hello??").await;
    assert_eq!(bot_said(&t, &d.admin, other).await, said, "no menu again for a customer waiting for a person");
    let tl = timeline(&t, &agent, other).await;
    let fired = |rule: &str| tl.iter().filter(|e| e["kind"] == "automation_fired" && e["data"]["rule"] == rule).count();
    assert_eq!(fired("The bot answers first"), 1, "the rule's firing is said once, when it started the flow");
    let after_hours = tl.iter().find(|e| e["data"]["rule"] == "After hours").unwrap();
    assert_eq!(after_hours["data"]["silenced"], "a self-service flow answers the customer", "{after_hours}");

    // The agent sees the bot's exchange above their reply, marked automatic, in the API and on the page.
    let r =
        t.post(&agent, &format!("/api/v1/conversations/{other}/messages"), json!({ "body": "Hi, Dana here." })).await;
    assert_eq!(r.status(), 201);
    let msgs = thread(&t, &agent, other).await;
    let first_person = msgs.iter().position(|m| m["author_id"].is_i64()).unwrap();
    assert!(msgs[..first_person].iter().any(|m| m["body"] == "AGENT"), "the customer's side is above");
    assert!(msgs[..first_person].iter().filter(|m| m["direction"] == "outbound").all(|m| m["author_id"].is_null()));
    t.user("lee@example.com", Role::Agent).await;
    let browser = t.browser("lee@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{other}"))).send().await.unwrap().text().await.unwrap();
    let thread_html = &page[page.find("<li class=\"msg ").expect("the thread")..];
    let menu_at = thread_html.find("Hi! Reply with a number.").expect("the menu is in the thread");
    let dana_at = thread_html.find("Hi, Dana here.").unwrap();
    assert!(menu_at < dana_at, "the bot's exchange is above the first human message");
    let menu_item = &thread_html[thread_html[..menu_at].rfind("<li").unwrap()..menu_at];
    assert!(menu_item.contains("<span class=\"author\">Automatic</span>"), "marked automatic: {menu_item}");
}
both_backends!(a_menu_a_sub_menu_an_faq_and_a_person_on_request);

#[derive(serde::Deserialize)]
struct Booking {
    phone: String,
    r#ref: String,
}

/// A booking system: "AB-123" has an appointment; anything else is a 500.
async fn booking_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let log = asked.clone();
    let app = axum::Router::new().route(
        "/bookings",
        axum::routing::get(move |Query(b): Query<Booking>| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push(format!("{} {}", b.phone, b.r#ref));
                if b.r#ref == "SLOW-1" {
                    // Longer than the lookup may take.
                    tokio::time::sleep(std::time::Duration::from_secs(8)).await;
                }
                if b.r#ref == "AB-123" {
                    axum::response::Response::builder()
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(r#"{"appointment":{"time":"Tue 3:30 PM"}}"#))
                        .unwrap()
                } else {
                    axum::response::Response::builder().status(500).body(axum::body::Body::from("down")).unwrap()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), asked)
}

async fn a_lookup_answers_with_the_booking_or_says_it_could_not(db: Db) {
    let (base, asked) = booking_server().await;
    let t = common::app(db).config(|c| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()]).start().await;
    let d = desk(&t, &base, None, None).await;
    let conv = say(&t, &d, "+12125550111", "hi").await;
    say(&t, &d, "+12125550111", "2").await;
    assert_eq!(bot_said(&t, &d.admin, conv).await[1], "What is your booking number?");
    say(&t, &d, "+12125550111", "AB-123").await;
    assert_eq!(asked.lock().unwrap().as_slice(), ["+12125550111 AB-123"], "the contact's number and what they typed");
    assert_eq!(bot_said(&t, &d.admin, conv).await[2], "Your appointment is at Tue 3:30 PM.");
    assert_eq!(conversation(&t, &d.admin, conv).await["bot"], false, "answered: the flow is done");

    let other = say(&t, &d, "+12125550112", "hi").await;
    say(&t, &d, "+12125550112", "2").await;
    say(&t, &d, "+12125550112", "ZZ-9").await;
    assert_eq!(
        bot_said(&t, &d.admin, other).await[2],
        "Sorry, we could not look that up right now. Reply AGENT to talk to a person, or try again."
    );
    assert_eq!(conversation(&t, &d.admin, other).await["bot"], true, "still with the bot, at the question");
    // A slow one is given up on, with the same words, in about the lookup's time limit.
    let started = std::time::Instant::now();
    say(&t, &d, "+12125550112", "SLOW-1").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(7), "{:?}", started.elapsed());
    assert!(bot_said(&t, &d.admin, other).await[3].starts_with("Sorry, we could not look that up right now."));
    say(&t, &d, "+12125550112", "agent").await;
    assert!(conversation(&t, &d.admin, other).await["waiting_since"].is_string());

    // A lookup to a private address the operator did not allow is refused when saved.
    let t2 = common::app(db).start().await;
    let admin = t2.token_for("ada@example.com", Role::Admin).await;
    let r = t2.post(&admin, "/api/v1/flows", menu(&base, None)).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("steps[2].lookup.url:"), "{detail}");
}
both_backends!(a_lookup_answers_with_the_booking_or_says_it_could_not);

async fn the_flows_choice_of_team_and_two_misunderstandings_reach_a_person(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Billing" })).await).await["id"].as_i64().unwrap();
    let agent = t.token_for("bill@example.com", Role::Agent).await;
    let agent_id = json(t.get(&agent, "/api/v1/me").await).await["id"].as_i64().unwrap();
    assert!(
        t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": agent_id }))
            .await
            .status()
            .is_success()
    );
    let r = t
        .client
        .put(t.url(&format!("/api/v1/teams/{team}/routing")))
        .bearer_auth(&admin)
        .json(&json!({ "assignment": "round_robin", "capacity": 5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r =
        t.client.put(t.url("/api/v1/me/presence")).bearer_auth(&agent).json(&json!({ "presence": "online" })).send();
    assert_eq!(r.await.unwrap().status(), 200);
    let d = desk(&t, "https://lookup.example.com", Some(team), Some(admin)).await;

    let conv = say(&t, &d, "+12125550121", "hi").await;
    t.services.route_waiting(Timestamp::now()).await.unwrap();
    assert!(conversation(&t, &d.admin, conv).await["assignee_id"].is_null(), "the router leaves the bot's alone");
    say(&t, &d, "+12125550121", "1").await;
    say(&t, &d, "+12125550121", "2").await;
    let c = conversation(&t, &d.admin, conv).await;
    assert_eq!((c["team_id"].as_i64(), c["bot"].as_bool()), (Some(team), Some(false)), "{c}");
    t.services.route_waiting(Timestamp::now()).await.unwrap();
    assert_eq!(conversation(&t, &d.admin, conv).await["assignee_id"], agent_id, "routed to the team's agent");
    let handed = timeline(&t, &d.admin, conv).await.into_iter().find(|e| e["kind"] == "handed_off").unwrap();
    assert_eq!(handed["data"], json!({ "reason": "chosen", "team_id": team }));

    let lost = say(&t, &d, "+12125550122", "hi").await;
    say(&t, &d, "+12125550122", "what is this").await;
    let said = bot_said(&t, &d.admin, lost).await;
    assert!(said[1].starts_with("Sorry, I did not understand that.\nHi! Reply with a number."), "{said:?}");
    assert_eq!(conversation(&t, &d.admin, lost).await["bot"], true, "once is not enough");
    say(&t, &d, "+12125550122", "???").await;
    let c = conversation(&t, &d.admin, lost).await;
    assert_eq!(c["bot"], false);
    let handed = timeline(&t, &d.admin, lost).await.into_iter().find(|e| e["kind"] == "handed_off").unwrap();
    assert_eq!(handed["data"]["reason"], "not_understood");
}
both_backends!(the_flows_choice_of_team_and_two_misunderstandings_reach_a_person);

async fn a_rule_takes_the_customer_from_the_bot_to_a_team(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Complaints" })).await).await["id"].as_i64();
    let team = team.unwrap();
    let agent = t.token_for("cora@example.com", Role::Agent).await;
    let agent_id = json(t.get(&agent, "/api/v1/me").await).await["id"].as_i64().unwrap();
    let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": agent_id })).await;
    assert!(r.status().is_success());
    let routing = json!({ "assignment": "least_busy", "capacity": 5 });
    let r = t.client.put(t.url(&format!("/api/v1/teams/{team}/routing"))).bearer_auth(&admin).json(&routing);
    assert_eq!(r.send().await.unwrap().status(), 200);
    let r = t.client.put(t.url("/api/v1/me/presence")).bearer_auth(&agent).json(&json!({ "presence": "online" }));
    assert_eq!(r.send().await.unwrap().status(), 200);
    let d = desk(&t, "https://lookup.example.com", None, Some(admin)).await;
    let rule = json!({
        "name": "Complaints go to a person",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "text", "matches": { "contains": "complaint" } }],
        "actions": [{ "do": "assign_team", "team_id": team }, { "do": "hand_off" }]
    });
    let r = t.post(&d.admin, "/api/v1/automations", rule).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    let conv = say(&t, &d, "+12125550131", "hi").await;
    assert_eq!(conversation(&t, &d.admin, conv).await["bot"], true);
    say(&t, &d, "+12125550131", "I want to make a complaint").await;
    let said = bot_said(&t, &d.admin, conv).await;
    assert_eq!(said.len(), 2, "the menu, then the handoff, and no \"did not understand\": {said:?}");
    assert!(said[1].starts_with("Thanks, a person will answer you here as soon as they can."), "{said:?}");
    let c = conversation(&t, &d.admin, conv).await;
    assert_eq!((c["bot"].as_bool(), c["team_id"].as_i64()), (Some(false), Some(team)), "{c}");
    assert!(c["waiting_since"].is_string(), "waiting for a person: {c}");
    t.services.route_waiting(Timestamp::now()).await.unwrap();
    assert_eq!(conversation(&t, &d.admin, conv).await["assignee_id"], agent_id, "routed to the team's agent");
    let tl = timeline(&t, &d.admin, conv).await;
    let handed = tl.iter().find(|e| e["kind"] == "handed_off").unwrap();
    assert_eq!(handed["data"]["reason"], "rule");
    let fired = tl.iter().find(|e| e["kind"] == "automation_fired" && e["data"]["rule"] == "Complaints go to a person");
    let did = &fired.unwrap_or_else(|| panic!("{tl:?}"))["data"]["did"];
    assert!(did.to_string().contains("took the customer from the bot to a person"), "{did}");

    // The bot stays away afterwards, and the rule does nothing where no bot is answering.
    say(&t, &d, "+12125550131", "another complaint").await;
    assert_eq!(bot_said(&t, &d.admin, conv).await.len(), 2);
    let handoffs = timeline(&t, &d.admin, conv).await.iter().filter(|e| e["kind"] == "handed_off").count();
    assert_eq!(handoffs, 1);
}
both_backends!(a_rule_takes_the_customer_from_the_bot_to_a_team);

async fn a_timeout_ends_politely_and_stop_ends_the_flow(db: Db) {
    let t = common::app(db).start().await;
    let d = desk(&t, "https://lookup.example.com", None, None).await;
    let conv = say(&t, &d, "+12125550131", "hi").await;
    assert_eq!(t.services.run_flow_timeouts(Timestamp::now() + SignedDuration::from_mins(4)).await.unwrap(), 0);
    assert_eq!(t.services.run_flow_timeouts(Timestamp::now() + SignedDuration::from_mins(6)).await.unwrap(), 1);
    assert_eq!(
        bot_said(&t, &d.admin, conv).await.last().unwrap(),
        "We have not heard back, so we are closing this for now. Text us any time."
    );
    let c = conversation(&t, &d.admin, conv).await;
    assert_eq!((c["status"].as_str(), c["bot"].as_bool()), (Some("resolved"), Some(false)), "{c}");

    let stopped = say(&t, &d, "+12125550132", "hi").await;
    t.dispatch_all().await;
    let before = bot_said(&t, &d.admin, stopped).await.len();
    say(&t, &d, "+12125550132", "STOP").await;
    let c = conversation(&t, &d.admin, stopped).await;
    assert_eq!(c["bot"], false, "a STOP ends the flow: {c}");
    let said = bot_said(&t, &d.admin, stopped).await;
    assert_eq!(said.len(), before + 1, "only the opt-out confirmation: {said:?}");
    assert!(!said.last().unwrap().starts_with("Hi! Reply"));
    let ended = timeline(&t, &d.admin, stopped).await.into_iter().find(|e| e["kind"] == "flow_ended").unwrap();
    assert_eq!(ended["data"]["reason"], "opted_out");
}
both_backends!(a_timeout_ends_politely_and_stop_ends_the_flow);

async fn flows_travel_as_files_and_a_bad_file_says_line_and_field(db: Db) {
    let t = common::app(db).start().await;
    let lead = t.token_for("lee@example.com", Role::Supervisor).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let d = desk(&t, "https://lookup.example.com", None, None).await;
    assert_eq!(t.get(&agent, "/api/v1/flows").await.status(), 403);
    assert_eq!(t.get(&lead, "/api/v1/flows").await.status(), 200, "supervisors read");
    assert_eq!(t.post(&lead, "/api/v1/flows", menu("https://x.example.com", None)).await.status(), 403);

    let r = t.get(&lead, &format!("/api/v1/flows/{}/export", d.flow)).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("main-menu.flow.json"));
    let file = r.text().await.unwrap();
    assert!(file.starts_with("{\n  \"version\": 1,"), "{file}");

    let import = |body: String, q: &str| {
        t.client.post(t.url(&format!("/api/v1/flows/import{q}"))).bearer_auth(&d.admin).body(body).send()
    };
    let r = import(file.clone(), "").await.unwrap();
    assert_eq!(r.status(), 409, "the name is taken");
    let r = import(file.replace("Main menu", "Copy of main menu"), "").await.unwrap();
    assert_eq!(r.status(), 201);
    let copy = json(r).await;
    let original = json(t.get(&d.admin, &format!("/api/v1/flows/{}", d.flow)).await).await;
    assert_eq!(copy["steps"], original["steps"], "the round trip keeps every step");
    assert_eq!(copy["answers"], original["answers"]);
    let r = import(file.clone(), &format!("?replace={}", d.flow)).await.unwrap();
    assert_eq!(r.status(), 200);

    // The same in YAML, and a YAML file's mistake is named by line and field too.
    let r = t.get(&lead, &format!("/api/v1/flows/{}/export?format=yaml", d.flow)).await;
    assert_eq!(r.headers()["content-type"], "application/yaml");
    let yaml = r.text().await.unwrap();
    assert!(yaml.starts_with("version: 1\nname: Main menu\n"), "{yaml}");
    let r = import(yaml.replace("name: Main menu", "name: Main menu in YAML"), "").await.unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["steps"], original["steps"]);
    let bad = yaml.replacen("goto: billing", "goto: bills", 1);
    let line = bad.lines().position(|l| l.contains("goto: bills")).unwrap() + 1;
    let r = import(bad.replace("name: Main menu", "name: Other"), "").await.unwrap();
    assert_eq!(json(r).await["detail"], format!("line {line}, steps[0].options[0].goto: no step named 'bills'"));
    assert_eq!(t.get(&lead, &format!("/api/v1/flows/{}/export?format=xml", d.flow)).await.status(), 422);

    let bad = file.replacen("\"goto\": \"billing\"", "\"goto\": \"bills\"", 1);
    let line = bad.lines().position(|l| l.contains("\"bills\"")).unwrap() + 1;
    let r = import(bad, "").await.unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(json(r).await["detail"], format!("line {line}, steps[0].options[0].goto: no step named 'bills'"));
    let r = import(
        "{\n  \"version\": 1,\n  \"name\": \"X\",\n  \"timeout_minutes\": \"soon\",\n  \"steps\": []\n}".into(),
        "",
    )
    .await
    .unwrap();
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with("line 4, timeout_minutes: invalid type"), "{detail}");

    // A rule may only start a flow of the account; a flow a rule starts is not deleted under it.
    let rule = json!({ "name": "R", "trigger": { "on": "conversation_created" },
                       "actions": [{ "do": "start_flow", "flow_id": 9999 }] });
    let r = t.post(&d.admin, "/api/v1/automations", rule).await;
    assert_eq!(r.status(), 422);
    let r = t.client.delete(t.url(&format!("/api/v1/flows/{}", d.flow))).bearer_auth(&d.admin).send().await.unwrap();
    assert_eq!(r.status(), 409);
    let words = json(t.get(&d.admin, "/api/v1/automations").await).await;
    assert!(words.as_array().unwrap().iter().any(|r| r["actions"][0]["do"] == "start_flow"));
    let browser = t.browser("ada@example.com").await;
    let page = browser.get(t.url("/settings/automations")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("start the self-service flow \u{201c}Main menu\u{201d}"), "the rule in words");
}
both_backends!(flows_travel_as_files_and_a_bad_file_says_line_and_field);

/// Two nodes over one PostgreSQL database: each customer message is answered
/// once, and each lookup is made once, however the nodes race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_answer_once_and_look_up_once() {
    if common::postgres_url().is_none() {
        return;
    }
    let (base, asked) = booking_server().await;
    let allow = |c: &mut textdesk::Config| c.webhook_allow_private_hosts = vec!["127.0.0.1".into()];
    let a = common::app(Db::Postgres).config(allow).start().await;
    let url = a.database_url.clone();
    let a2 = common::app(Db::Postgres).config(allow).config(move |c| c.database_url = url).start().await;
    let d = desk(&a2, &base, None, None).await;
    let both = || async {
        let (x, y) = tokio::join!(a.services.run_automations(), a2.services.run_automations());
        x.unwrap();
        y.unwrap();
    };
    let conv = json(a2.text_in(d.inbox, "+12125550141", "hi", None).await).await["conversation_id"].as_i64().unwrap();
    both().await;
    a2.text_in(d.inbox, "+12125550141", "2", None).await;
    both().await;
    a2.text_in(d.inbox, "+12125550141", "AB-123", None).await;
    both().await;
    let (x, y) = tokio::join!(a.services.run_flow_lookups(), a2.services.run_flow_lookups());
    assert_eq!(x.unwrap() + y.unwrap(), 1, "one node made the lookup");
    assert_eq!(asked.lock().unwrap().len(), 1);
    let said = bot_said(&a2, &d.admin, conv).await;
    assert_eq!(
        said,
        vec![
            "Hi! Reply with a number.\n1: Billing\n2: An appointment\n0: A person".to_owned(),
            "What is your booking number?".into(),
            "Your appointment is at Tue 3:30 PM.".into(),
        ],
        "one answer per message"
    );
}

/// A flow started when a conversation begins (on an inbox, whatever the
/// text): the first text is what started it, not an answer to its menu.
async fn a_new_conversation_on_the_inbox_starts_the_flow(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let r = t.post(&admin, "/api/v1/flows", menu("https://lookup.example.com", None)).await;
    let flow = json(r).await["id"].as_i64().unwrap();
    let rule = json!({
        "name": "Every new conversation",
        "trigger": { "on": "conversation_created" },
        "conditions": [{ "if": "inbox", "any_of": [inbox] }],
        "actions": [{ "do": "start_flow", "flow_id": flow }]
    });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let d = Desk { admin, inbox, flow };
    let conv = say(&t, &d, "+12125550151", "What is this?").await;
    let said = bot_said(&t, &d.admin, conv).await;
    assert_eq!(said.len(), 1, "the menu, and no 'did not understand' for the text that started it: {said:?}");
    assert_eq!(conversation(&t, &d.admin, conv).await["bot"], true);
    say(&t, &d, "+12125550151", "1").await;
    assert!(bot_said(&t, &d.admin, conv).await[1].starts_with("Billing:"));
}
both_backends!(a_new_conversation_on_the_inbox_starts_the_flow);

/// A menu's call back choice: the flow ends (the conversation stays open), the customer is offered the times
/// as after texting CALL, and their "2" queues the call back with the conversation attached.
async fn a_menu_choice_offers_a_call_back(db: Db) {
    let t = common::app(db).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let spec = json!({ "name": "Front desk", "steps": [{ "name": "start", "text": "Hi! Reply with a number.",
        "options": [{ "key": "1", "label": "A call back", "callback": true },
                    { "key": "0", "label": "A person", "handoff": {} }] }] });
    let r = t.post(&admin, "/api/v1/flows", spec).await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let flow = json(r).await["id"].as_i64().unwrap();
    let rule = json!({ "name": "Bot", "trigger": { "on": "message_received" },
        "conditions": [{ "if": "inbox", "any_of": [inbox] }], "actions": [{ "do": "start_flow", "flow_id": flow }] });
    assert_eq!(t.post(&admin, "/api/v1/automations", rule).await.status(), 201);
    let d = Desk { admin, inbox, flow };
    let from = "+14155550177";

    let conv = say(&t, &d, from, "Hello").await;
    assert!(bot_said(&t, &d.admin, conv).await[0].ends_with("1: A call back\n0: A person"));
    say(&t, &d, from, "1").await;
    let said = bot_said(&t, &d.admin, conv).await;
    let offer = said.last().unwrap().clone();
    assert!(offer.starts_with("When should we call you? Reply with a number:") && offer.contains("\n2: "), "{offer}");
    let ended = timeline(&t, &d.admin, conv).await.into_iter().rfind(|e| e["kind"] == "flow_ended").unwrap();
    assert_eq!(ended["data"]["reason"], "callback_offered");
    let c = conversation(&t, &d.admin, conv).await;
    assert_eq!((c["status"].as_str(), c["bot"].as_bool()), (Some("open"), Some(false)), "{c}");

    // Their choice is read as after CALL: queued, not a new flow.
    say(&t, &d, from, "2").await;
    let said = bot_said(&t, &d.admin, conv).await;
    let second = offer.lines().find_map(|l| l.strip_prefix("2: ")).unwrap();
    assert!(said.last().unwrap().contains(second) && said.last().unwrap().starts_with("Thank you"), "{said:?}");
    let queue = json(t.get(&d.admin, "/api/v1/callbacks").await).await;
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    assert_eq!((queue[0]["conversation_id"].as_i64(), queue[0]["state"].as_str()), (Some(conv), Some("waiting")));
    let kinds: Vec<Value> = timeline(&t, &d.admin, conv).await.into_iter().map(|e| e["kind"].clone()).collect();
    assert_eq!(kinds.iter().filter(|k| *k == "flow_started").count(), 1, "{kinds:?}");
}
both_backends!(a_menu_choice_offers_a_call_back);
