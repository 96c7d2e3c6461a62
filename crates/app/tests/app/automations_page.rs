//! The automations settings screen over real HTTP: an admin reads every rule
//! in words (the built-in ones too, and the consent keywords as fixed rules),
//! builds a rule with the form (no JSON), and that rule then acts on a
//! customer's text; mistakes come back on the form as typed; supervisors read,
//! agents are refused with a page.

use crate::common;

use common::{Db, TestApp, app, csrf_of, json};
use serde_json::{Value, json};
use textdesk_core::Role;

/// What a browser asks for: errors come back as pages.
const BROWSER_ACCEPT: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

async fn page(c: &reqwest::Client, t: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(t.url(path)).header("accept", BROWSER_ACCEPT).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(c: &reqwest::Client, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let r = c.post(t.url(path)).header("accept", BROWSER_ACCEPT).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

async fn rules(t: &TestApp, token: &str) -> Vec<Value> {
    json(t.get(token, "/api/v1/automations").await).await.as_array().unwrap().clone()
}

/// The page's text without tags, spaces folded: what a person reads.
fn words(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

async fn an_admin_builds_a_rule_with_the_form_and_it_acts(db: Db) {
    let t = app(db).start().await;
    t.user("ada@example.com", Role::Admin).await;
    let token = t.token_for("api@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let team = json(t.post(&token, "/api/v1/teams", json!({ "name": "Billing" })).await).await["id"].as_i64().unwrap();
    assert_eq!(t.post(&token, "/api/v1/labels", json!({ "name": "billing" })).await.status(), 201);
    let admin = t.browser("ada@example.com").await;

    // The list: the built-in rules in words, and the fixed consent rules.
    let (status, html) = page(&admin, &t, "/settings/automations").await;
    assert_eq!(status, 200);
    let text = words(&html);
    assert!(text.contains("After hours On Came with"), "{text}");
    assert!(text.contains("When a customer's message arrives, if it came to"), "{text}");
    assert!(text.contains("the inbox is closed then: reply"), "{text}");
    assert!(text.contains("At most once each time the inbox closes."), "{text}");
    assert!(text.contains("Holding message Off"), "{text}");
    assert!(text.contains("When the whole message is STOP, STOPALL, UNSUBSCRIBE"), "{text}");
    assert!(text.contains("opted out of every message from the business"), "{text}");

    // A mistake comes back on the form, as typed, with the reason.
    let (_, form_html) = page(&admin, &t, "/settings/automations/new").await;
    let csrf = csrf_of(&form_html);
    let team_id = team.to_string();
    let (status, _, html) = post(
        &admin,
        &t,
        "/settings/automations",
        &[
            ("csrf", &csrf),
            ("name", "Invoices to billing"),
            ("enabled", "on"),
            ("trigger", "message_received"),
            ("text_test", "regex"),
            ("text", "invoice (#"),
            ("assign_team", &team_id),
        ],
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("this is not a regular expression we can read"), "{html}");
    assert!(html.contains("value=\"Invoices to billing\""), "what was typed stays: {html}");

    // The rule as an admin means it, made from the form's fields.
    let (status, location, body) = post(
        &admin,
        &t,
        "/settings/automations",
        &[
            ("csrf", &csrf),
            ("name", "Invoices to billing"),
            ("enabled", "on"),
            ("trigger", "message_received"),
            ("channel", "simulator"),
            ("text_test", "contains"),
            ("text", "invoice"),
            ("hours", "any"),
            ("first", "any"),
            ("assignee", "any"),
            ("attr_test", "any"),
            ("add_labels", "billing"),
            ("set_priority", "high"),
            ("assign_team", &team_id),
            ("once", "per_conversation"),
        ],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/settings/automations"), "{body}");
    let made = rules(&t, &token).await.into_iter().find(|r| r["name"] == "Invoices to billing").unwrap();
    assert_eq!(
        made["conditions"],
        json!([
            { "if": "channel", "any_of": ["simulator"] },
            { "if": "text", "matches": { "contains": "invoice" } }
        ])
    );
    assert_eq!(
        made["actions"],
        json!([
            { "do": "add_label", "label": "billing" },
            { "do": "set_priority", "priority": "high" },
            { "do": "assign_team", "team_id": team }
        ])
    );
    let (_, html) = page(&admin, &t, "/settings/automations").await;
    let text = words(&html);
    assert!(
        text.contains(
            "Invoices to billing On When a customer's message arrives, if it came through Simulator \
             the message contains \u{201c}invoice\u{201d} then: add the label billing set the priority to high \
             give it to the team Billing At most once per conversation."
        ),
        "{text}"
    );

    // The form shows the saved rule back, and saving it unchanged keeps it.
    let id = made["id"].as_i64().unwrap();
    let (status, edit) = page(&admin, &t, &format!("/settings/automations/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        edit.contains("value=\"invoice\"") && edit.contains("name=\"channel\" value=\"simulator\" checked"),
        "{edit}"
    );

    // It acts on a customer's text.
    let conv = json(t.text_in(inbox, "+12125550150", "Where is my invoice?", None).await).await["conversation_id"]
        .as_i64()
        .unwrap();
    t.services.run_automations().await.unwrap();
    let c = json(t.get(&token, &format!("/api/v1/conversations/{conv}")).await).await;
    assert_eq!(c["team_id"], team, "{c}");
    assert_eq!(c["priority"], "high");
    assert!(c["labels"].as_array().unwrap().iter().any(|l| l == "billing"), "{c}");

    // Switched off, it stays listed as off and no longer acts.
    let (status, _, _) =
        post(&admin, &t, &format!("/settings/automations/{id}/switch"), &[("csrf", &csrf), ("to", "off")]).await;
    assert_eq!(status, 303);
    let made = rules(&t, &token).await.into_iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(made["enabled"], false);

    // Moved to the top, then deleted.
    let (status, _, _) =
        post(&admin, &t, &format!("/settings/automations/{id}/move"), &[("csrf", &csrf), ("position", "1")]).await;
    assert_eq!(status, 303);
    assert_eq!(rules(&t, &token).await[0]["id"], id);
    let (status, _, _) = post(&admin, &t, &format!("/settings/automations/{id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(rules(&t, &token).await.iter().all(|r| r["id"] != id));

    // A built-in rule is edited in the form and stays tied to its inbox; it cannot be deleted.
    let off = rules(&t, &token).await.into_iter().find(|r| r["builtin"] == "off_hours_reply").unwrap();
    let off_id = off["id"].as_i64().unwrap();
    let (_, edit) = page(&admin, &t, &format!("/settings/automations/{off_id}")).await;
    assert!(edit.contains("id=\"pinned-inbox\""), "{edit}");
    let (status, _, body) = post(
        &admin,
        &t,
        &format!("/settings/automations/{off_id}"),
        &[
            ("csrf", &csrf),
            ("name", "After hours"),
            ("enabled", "on"),
            ("trigger", "message_received"),
            ("hours", "closed"),
            ("reply", "We open {next_open}."),
            ("once", "per_closed_period"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let off = rules(&t, &token).await.into_iter().find(|r| r["id"] == off_id).unwrap();
    assert_eq!(off["conditions"][0], json!({ "if": "inbox", "any_of": [inbox] }), "{off}");
    assert_eq!(off["actions"], json!([{ "do": "reply", "text": "We open {next_open}." }]));
    let (status, _, _) = post(&admin, &t, &format!("/settings/automations/{off_id}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 422, "built-in rules are switched off, not deleted");
}
both_backends!(an_admin_builds_a_rule_with_the_form_and_it_acts);

async fn a_rule_the_form_cannot_hold_is_shown_not_edited(db: Db) {
    let t = app(db).start().await;
    t.user("ada@example.com", Role::Admin).await;
    let token = t.token_for("api@example.com", Role::Admin).await;
    let r = t
        .post(
            &token,
            "/api/v1/automations",
            json!({
                "name": "Two details",
                "trigger": { "on": "message_received" },
                "conditions": [
                    { "if": "attribute", "key": "plan", "is": "present" },
                    { "if": "attribute", "key": "city", "is": "absent" }
                ],
                "actions": [{ "do": "resolve" }]
            }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = json(r).await["id"].as_i64().unwrap();
    let fax = json!({
        "name": "Faxes",
        "trigger": { "on": "message_received" },
        "conditions": [{ "if": "channel", "any_of": ["fax"] }],
        "actions": [{ "do": "resolve" }]
    });
    let r = t.post(&token, "/api/v1/automations", fax).await;
    assert_eq!(r.status(), 422);
    let detail = json(r).await["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("\"fax\" is not a channel of this version: one of simulator, twilio, smpp"), "{detail}");

    let admin = t.browser("ada@example.com").await;
    let (status, html) = page(&admin, &t, &format!("/settings/automations/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"api-only\"") && !html.contains("id=\"rule-form\""), "{html}");
    let (_, list) = page(&admin, &t, "/settings/automations").await;
    assert!(words(&list).contains("if the contact has a plan the contact has no city then: resolve it"), "{list}");
}
both_backends!(a_rule_the_form_cannot_hold_is_shown_not_edited);

async fn supervisors_read_the_rules_and_agents_are_refused(db: Db) {
    let t = app(db).start().await;
    t.user("lee@example.com", Role::Supervisor).await;
    t.user("dana@example.com", Role::Agent).await;
    t.simulator_inbox().await;
    let lead = t.browser("lee@example.com").await;
    let (status, html) = page(&lead, &t, "/settings/automations").await;
    assert_eq!(status, 200);
    assert!(html.contains("After hours") && !html.contains("Add a rule") && !html.contains("Switch off"), "{html}");
    let csrf = csrf_of(&html);
    let (status, _, html) = post(&lead, &t, "/settings/automations", &[("csrf", &csrf), ("name", "x")]).await;
    assert_eq!(status, 403);
    assert!(html.contains("<html") && html.contains("Ask an admin"), "a page, not JSON: {html}");
    assert_eq!(page(&lead, &t, "/settings/automations/new").await.0, 403);

    let agent = t.browser("dana@example.com").await;
    let (status, html) = page(&agent, &t, "/settings/automations").await;
    assert_eq!(status, 403);
    assert!(html.contains("<html"), "{html}");
}
both_backends!(supervisors_read_the_rules_and_agents_are_refused);
