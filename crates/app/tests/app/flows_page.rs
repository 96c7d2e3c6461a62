//! The flows settings screen over real HTTP: an admin makes a flow from its
//! name, adds a choice and a step with the forms (no JSON), cannot take the
//! way to a person out of a menu, imports a pasted file and downloads one;
//! agents and supervisors get the settings' 403 page.

use crate::common;

use common::{Db, TestApp, app, csrf_of, json};
use serde_json::Value;
use textdesk_core::Role;

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

async fn flow(t: &TestApp, token: &str, id: &str) -> Value {
    json(t.get(token, &format!("/api/v1/flows/{id}")).await).await
}

async fn an_admin_builds_a_menu_with_forms(db: Db) {
    let t = app(db).start().await;
    let token = t.token_for("ada@example.com", Role::Admin).await;
    let admin = t.browser("ada@example.com").await;
    let (status, html) = page(&admin, &t, "/settings/flows").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);

    let (status, location, _) = post(&admin, &t, "/settings/flows", &[("csrf", &csrf), ("name", "Front desk")]).await;
    assert_eq!(status, 303, "created, then its page");
    let id = location.trim_start_matches("/settings/flows/").split('?').next().unwrap().to_owned();
    let path = format!("/settings/flows/{id}");
    let (_, html) = page(&admin, &t, &location).await;
    assert!(html.contains("Created, with a first menu offering a person and a call back"), "{html}");
    let made = flow(&t, &token, &id).await;
    let call_back = serde_json::json!({ "key": "1", "label": "A call back", "callback": true });
    assert_eq!(made["steps"][0]["options"][1], call_back, "the starter menu offers a call back: {made}");
    assert!(html.contains("<option value=\"callback\" selected>"), "the editor shows the choice");

    let step = |rows: &[[&'static str; 4]]| {
        let mut f: Vec<(&str, &str)> = vec![("text", "Hi! Reply with a number.")];
        for r in rows {
            f.extend([("key", r[0]), ("label", r[1]), ("reply", r[2]), ("then", r[3])]);
        }
        f
    };
    let add = [("name", "billing"), ("kind", "menu"), ("text", "Billing:")];
    let (status, _, _) =
        post(&admin, &t, &format!("{path}/steps"), &[&[("csrf", csrf.as_str())][..], &add[..]].concat()).await;
    assert_eq!(status, 303);
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(step(&[
        ["0", "A person", "", "person"],
        ["1", "Billing", "", "step:billing"],
        ["2", "Opening hours", "We are open 9 to 5.", "end"],
        ["", "", "", "end"],
    ]));
    let (status, location, _) = post(&admin, &t, &format!("{path}/steps/0"), &fields).await;
    assert_eq!((status, location.as_str()), (303, format!("{path}?saved=1#step-0").as_str()));
    let saved = flow(&t, &token, &id).await;
    assert_eq!(saved["steps"][0]["options"][1]["goto"], "billing");
    assert_eq!(saved["steps"][0]["options"][2]["reply"], "We are open 9 to 5.");
    assert_eq!(saved["steps"][1]["options"][0]["handoff"], serde_json::json!({}), "a new menu has its way to a person");
    let (_, html) = page(&admin, &t, &path).await;
    assert!(html.contains("Hi! Reply with a number.\n0: A person\n1: Billing\n2: Opening hours"), "the preview");

    // The way to a person cannot be taken out of a menu.
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend(step(&[["1", "Billing", "", "step:billing"]]));
    let (status, _, html) = post(&admin, &t, &format!("{path}/steps/0"), &fields).await;
    assert_eq!(status, 422);
    assert!(html.contains("Not saved: steps[0].options: every menu offers a way to a person"), "{html}");
    assert_eq!(flow(&t, &token, &id).await["steps"][0]["options"].as_array().unwrap().len(), 3, "unchanged");

    // Answers and settings.
    let fields = [
        ("csrf", csrf.as_str()),
        ("keywords", "hours, open"),
        ("answer", "We open {next_open}."),
        ("keywords", ""),
        ("answer", ""),
    ];
    assert_eq!(post(&admin, &t, &format!("{path}/answers"), &fields).await.0, 303);
    let fields = [
        ("csrf", csrf.as_str()),
        ("name", "Front desk"),
        ("handoff_words", "agent, human, 0"),
        ("timeout_minutes", "10"),
        ("closing_message", "Bye for now."),
        ("handoff_message", "A person will answer."),
    ];
    assert_eq!(post(&admin, &t, &path, &fields).await.0, 303);
    let saved = flow(&t, &token, &id).await;
    assert_eq!(saved["answers"][0]["keywords"], serde_json::json!(["hours", "open"]));
    assert_eq!(saved["handoff_words"], serde_json::json!(["AGENT", "HUMAN", "0"]));
    assert_eq!(saved["timeout_minutes"], 10);

    // The file: downloaded, and pasted back as a new flow under another name.
    let r = admin.get(t.url(&format!("{path}/export"))).send().await.unwrap();
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("front-desk.flow.json"));
    let file = r.text().await.unwrap().replace("Front desk", "Front desk copy");
    let (status, location, _) = post(&admin, &t, "/settings/flows/import", &[("csrf", &csrf), ("file", &file)]).await;
    assert_eq!(status, 303, "{location}");
    let (status, _, html) =
        post(&admin, &t, "/settings/flows/import", &[("csrf", &csrf), ("file", "{\"version\": 1,\n\"nme\": 1}")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("The file was not imported: line 2"), "{html}");

    // Others get the settings' refusal page.
    t.user("dana@example.com", Role::Agent).await;
    t.user("lee@example.com", Role::Supervisor).await;
    for who in ["dana@example.com", "lee@example.com"] {
        let c = t.browser(who).await;
        let (status, html) = page(&c, &t, "/settings/flows").await;
        assert_eq!(status, 403, "{who}");
        assert!(html.contains("The settings are for admins"), "{html}");
    }
}
both_backends!(an_admin_builds_a_menu_with_forms);
