//! Phone numbers as people type them ("(415) 555-0199", "415-555-0188"),
//! read in the inbox's or the account's country, through every door that
//! takes one: adding an inbox (before the account has any: its clock's
//! country), `POST /api/v1/contacts` and an added identity, and the contacts
//! page's CSV import.

use serde_json::{Value, json};
use textdesk_core::Role;

use crate::common::{self, Db, app, json};

async fn contact_numbers(t: &common::TestApp, token: &str) -> Vec<String> {
    let all = json(t.get(token, "/api/v1/contacts?limit=200").await).await;
    let mut numbers: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["identities"].as_array().unwrap().clone())
        .map(|i| i["address"].as_str().unwrap().to_owned())
        .collect();
    numbers.sort();
    numbers
}

async fn numbers_are_read_as_people_type_them(db: Db) {
    let t = app(db).config(|c| c.time_zone = "America/Los_Angeles".into()).start().await;
    let admin = t.token_for("ada@example.com", Role::Admin).await;

    // The first run: no inbox yet, so the account's clock says which country.
    let add = json!({ "name": "Front desk", "channel_kind": "simulator", "sender": "(415) 555-0199" });
    let r = t.post(&admin, "/api/v1/inboxes", add).await;
    assert_eq!(r.status(), 201);
    assert_eq!(json(r).await["sender"], "+14155550199");

    let r = t.post(&admin, "/api/v1/contacts", json!({ "name": "Kim Lee", "address": "415-555-0188" })).await;
    assert_eq!(r.status(), 201);
    let kim = json(r).await;
    assert_eq!(kim["identities"][0]["address"], "+14155550188");
    let path = format!("/api/v1/contacts/{}/identities", kim["id"]);
    let r = t.post(&admin, &path, json!({ "channel_kind": "whatsapp", "address": "(415) 555-0177" })).await;
    assert_eq!(r.status(), 201);
    let on_whatsapp: Vec<Value> = json(r).await["identities"].as_array().unwrap().clone();
    assert!(on_whatsapp.iter().any(|i| i["address"] == "+14155550177"), "{on_whatsapp:?}");
    // A number that is no number is still refused, in words.
    let r = t.post(&admin, "/api/v1/contacts", json!({ "name": "Nobody", "address": "555" })).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("phone number"));

    let browser = t.browser("ada@example.com").await;
    let html = browser.get(t.url("/contacts")).send().await.unwrap().text().await.unwrap();
    let csrf = common::csrf_of(&html);
    let file = "name,phone\nLin Park,(415) 555-0166\nRay Soto,415.555.0155\n";
    let (ct, body) = common::multipart(&[("csrf", &csrf)], &[("file", "c.csv", "text/csv", file.as_bytes())]);
    let r = browser.post(t.url("/contacts/import")).header("content-type", ct).body(body).send().await.unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("2 new contacts were created"), "{page}");
    assert_eq!(contact_numbers(&t, &admin).await, ["+14155550155", "+14155550166", "+14155550177", "+14155550188"]);
}
both_backends!(numbers_are_read_as_people_type_them);
