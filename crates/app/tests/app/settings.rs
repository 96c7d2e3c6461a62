//! The admin's settings screens over real HTTP: inboxes (adding one per
//! provider, webhook addresses, hours, replies, consent, sending, a test
//! message) and people and teams (invitations, roles, deactivation), in the
//! UI and the API.

use crate::common;

use common::{Db, TestApp, app, csrf_of, json, sign_in};
use serde_json::json;
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

async fn page(c: &reqwest::Client, t: &TestApp, path: &str) -> (u16, String) {
    let r = c.get(t.url(path)).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn form(c: &reqwest::Client, t: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String, String) {
    let r = c.post(t.url(path)).form(fields).send().await.unwrap();
    let status = r.status().as_u16();
    let location = r.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

async fn settings_are_for_admins(db: Db) {
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    t.user("lee@example.com", Role::Supervisor).await;
    let inbox = t.simulator_inbox().await;
    let admin = t.browser("alex@example.com").await;
    let (status, html) = page(&admin, &t, "/settings/inboxes").await;
    assert_eq!(status, 200);
    assert!(html.contains("href=\"/settings/inboxes\"") && html.contains("Add an inbox"), "{html}");
    for who in ["dana@example.com", "lee@example.com"] {
        let c = t.browser(who).await;
        let (_, inbox_html) = page(&c, &t, "/inbox").await;
        assert!(!inbox_html.contains("href=\"/settings/inboxes\""), "no settings link for {who}");
        let csrf = csrf_of(&inbox_html);
        for path in ["/settings/inboxes", &format!("/settings/inboxes/{inbox}"), "/settings/users"] {
            assert_eq!(page(&c, &t, path).await.0, 403, "{who} {path}");
        }
        let (status, _, _) =
            form(&c, &t, &format!("/settings/inboxes/{inbox}/name"), &[("csrf", &csrf), ("name", "X")]).await;
        assert_eq!(status, 403);
        let (status, _, _) =
            form(&c, &t, "/settings/users", &[("csrf", &csrf), ("email", "x@example.com"), ("role", "admin")]).await;
        assert_eq!(status, 403);
    }
    // Without a session: the login page.
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(page(&anon, &t, "/settings/inboxes").await.0, 303);
}
both_backends!(settings_are_for_admins);

async fn adding_inboxes(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let admin = t.browser("alex@example.com").await;
    let (_, html) = page(&admin, &t, "/settings/inboxes").await;
    assert!(html.contains("No inboxes yet"), "{html}");
    let csrf = csrf_of(&html);

    // A simulator inbox with a bad number: the reason, and the name as typed.
    let bad = [("csrf", csrf.as_str()), ("kind", "simulator"), ("name", "Front desk"), ("sender", "12")];
    let (status, _, html) = form(&admin, &t, "/settings/inboxes", &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"simulator-error\"") && html.contains("value=\"Front desk\""), "{html}");
    let good = [("csrf", csrf.as_str()), ("kind", "simulator"), ("name", "Front desk"), ("sender", "+14155550100")];
    let (status, location, _) = form(&admin, &t, "/settings/inboxes", &good).await;
    assert_eq!(status, 303);
    assert!(location.starts_with("/settings/inboxes/"), "{location}");

    // Twilio with a wrong token: the provider's refusal on the form, typed values kept, the token not echoed.
    let wrong = "0123456789abcdef0123456789abcdef";
    let twilio = |token: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("kind", "twilio".to_owned()),
            ("name", "Main line".to_owned()),
            ("sender", "+14155550199".to_owned()),
            ("account_sid", fake.account_sid().to_owned()),
            ("auth_token", token.to_owned()),
            ("api_base", fake.base_url().to_owned()),
            ("check", "on".to_owned()),
        ]
    };
    let fields = twilio(wrong);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = form(&admin, &t, "/settings/inboxes", &borrowed).await;
    assert_eq!(status, 422);
    // Plain words, not a chain of causes.
    assert!(html.contains("id=\"twilio-error\"") && html.contains("Twilio did not accept these credentials"), "{html}");
    assert!(html.contains(fake.account_sid()) && html.contains("value=\"Main line\""), "typed values kept");
    assert!(!html.contains(wrong), "the token is never echoed");
    assert_eq!(t.services.store.inboxes(t.account_id).await.unwrap().len(), 1, "nothing saved");

    let token: &'static str = Box::leak(fake.auth_token().to_owned().into_boxed_str());
    let fields = twilio(token);
    let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = form(&admin, &t, "/settings/inboxes", &borrowed).await;
    assert_eq!(status, 303, "right credentials");
    let id: i64 = location.trim_start_matches("/settings/inboxes/").parse().unwrap();
    let (status, html) = page(&admin, &t, &location).await;
    assert_eq!(status, 200);
    let stored = t.services.store.inbox_by_id(id).await.unwrap();
    let inbound = t.services.webhook_url(&stored, "inbound").unwrap();
    assert!(inbound.ends_with(&format!("/webhooks/twilio/{id}")), "Twilio's URLs are kept: {inbound}");
    let status = t.services.webhook_url(&stored, "status").unwrap();
    assert!(html.contains(&inbound) && html.contains(&status), "{html}");
    assert!(html.contains("data-copy=\"inbound-url\""), "a copy button");
    assert!(!html.contains(token), "the token is never shown");

    // The list: kind and number of each.
    let (_, html) = page(&admin, &t, "/settings/inboxes").await;
    assert!(html.contains("Front desk") && html.contains("Twilio") && html.contains("+14155550199"), "{html}");
    assert!(!html.contains(token));

    // SMPP: a bad port is named; the password is not echoed.
    let smpp = [
        ("csrf", csrf.as_str()),
        ("kind", "smpp"),
        ("name", "SMSC"),
        ("sender", "+14155550177"),
        ("host", "127.0.0.1"),
        ("port", "http"),
        ("system_id", "textdesk"),
        ("password", "s3cretpw"),
    ];
    let (status, _, html) = form(&admin, &t, "/settings/inboxes", &smpp).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"smpp-error\"") && html.contains("port"), "{html}");
    assert!(html.contains("value=\"textdesk\"") && !html.contains("s3cretpw"), "{html}");
}
both_backends!(adding_inboxes);

async fn editing_an_inbox(db: Db) {
    let t = app(db).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let token = t.token_for("ops@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let admin = t.browser("alex@example.com").await;
    let path = format!("/settings/inboxes/{inbox}");
    let (status, html) = page(&admin, &t, &path).await;
    assert_eq!(status, 200);
    assert!(html.contains("Business hours") && html.contains("Monday"), "{html}");
    assert!(!html.contains("Webhook addresses"), "simulator inboxes have no webhooks");
    let csrf = csrf_of(&html);
    let post = |section: &str| format!("{path}/{section}");

    // Hours: time pickers per day. A mistake is told in plain words, what was typed stays.
    let closed =
        |day: &'static str| [(format!("{day}_open"), String::new()), (format!("{day}_closed"), "on".to_owned())];
    let mut bad: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("zone".into(), "America/Chicago".into()),
        ("mon_open".into(), "17:00".into()),
        ("mon_close".into(), "09:00".into()),
    ];
    bad.extend(["tue", "wed", "thu", "fri", "sat", "sun"].into_iter().flat_map(closed));
    let r = admin.post(t.url(&post("hours"))).form(&bad).send().await.unwrap();
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"hours-error\""), "{html}");
    assert!(html.contains("Mondays: closing time 09:00 is not after opening time 17:00"), "plain words: {html}");
    assert!(html.contains("name=\"mon_open\" value=\"17:00\""), "typed values kept");
    assert!(html.contains("<option value=\"America/Chicago\" selected>"), "the zone picked stays picked");
    let (status, _, html) = form(&admin, &t, &post("hours"), &[("csrf", &csrf), ("zone", "Atlantis/Main")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("Atlantis/Main") && html.contains("zone"), "{html}");
    let mut good: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        ("zone".into(), "America/Chicago".into()),
        ("mon_open".into(), "09:00".into()),
        ("mon_close".into(), "12:00".into()),
        ("mon_open2".into(), "13:00".into()),
        ("mon_close2".into(), "17:00".into()),
        ("fri_open".into(), "09:00".into()),
        ("fri_close".into(), "17:00".into()),
        ("holidays".into(), "2026-12-25\n2027-01-01".into()),
    ];
    good.extend(["tue", "wed", "thu", "sat", "sun"].into_iter().flat_map(closed));
    let r = admin.post(t.url(&post("hours"))).form(&good).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("saved=hours"), "{location}");
    let (_, html) = page(&admin, &t, &location).await;
    assert!(html.contains("Business hours saved"), "{html}");
    assert!(
        html.contains("name=\"mon_open2\" value=\"13:00\"") && html.contains("name=\"sat_closed\" checked"),
        "{html}"
    );
    let out = json(t.get(&token, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(out["settings"]["hours"]["weekly"]["mon"], json!(["09:00-12:00", "13:00-17:00"]));
    assert_eq!(out["settings"]["hours"]["holidays"], json!(["2026-12-25", "2027-01-01"]));
    assert_eq!(out["settings"]["hours"]["zone"], "America/Chicago");
    assert!(out["settings"]["hours"]["weekly"].get("sat").is_none(), "closed");

    // Replies: off-hours on with a text, a holding message after 10 minutes.
    let bad = [("csrf", csrf.as_str()), ("off_enabled", "on"), ("ack_minutes", "0")];
    let (status, _, html) = form(&admin, &t, &post("replies"), &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"replies-error\"") && html.contains("after_minutes"), "{html}");
    let (status, _, html) = form(&admin, &t, &post("replies"), &[("csrf", &csrf), ("ack_minutes", "ten")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("holding message minutes") && html.contains("value=\"ten\""), "{html}");
    let good = [
        ("csrf", csrf.as_str()),
        ("off_text", "We're closed; back {next_open}."),
        ("ack_minutes", "10"),
        ("ack_text", "Still here, one moment."),
    ];
    assert_eq!(form(&admin, &t, &post("replies"), &good).await.0, 303);
    // The automatic replies are the inbox's built-in automation rules.
    let row = t.services.store.inbox_by_id(inbox).await.unwrap();
    let (off, ack, holding_on) = t.services.builtin_replies(&row).await.unwrap();
    assert!(!off.enabled);
    assert_eq!(off.text.as_deref(), Some("We're closed; back {next_open}."));
    assert!(holding_on);
    assert_eq!(ack.after_minutes, Some(10));
    assert_eq!(ack.text.as_deref(), Some("Still here, one moment."));
    let out = json(t.get(&token, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(out["settings"]["hours"]["zone"], "America/Chicago", "other settings kept");

    // Consent: keywords in another language, a reply, double opt-in, a shared scope.
    let bad = [("csrf", csrf.as_str()), ("scope", "Not A Scope")];
    let (status, _, html) = form(&admin, &t, &post("consent"), &bad).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"consent-error\"") && html.contains("consent_scope"), "{html}");
    let good = [
        ("csrf", csrf.as_str()),
        ("opt_out", "STOP, ALTO"),
        ("help", "HELP, AYUDA"),
        ("help_reply", "Harbor Dental: call 555-0100. Reply STOP to stop."),
        ("double_opt_in", "on"),
        ("scope", "pool:main"),
    ];
    assert_eq!(form(&admin, &t, &post("consent"), &good).await.0, 303);
    let out = json(t.get(&token, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(out["settings"]["consent"]["keywords"]["opt_out"], json!(["STOP", "ALTO"]));
    assert_eq!(out["settings"]["consent"]["double_opt_in"], true);
    assert_eq!(out["settings"]["consent"]["help_reply"], "Harbor Dental: call 555-0100. Reply STOP to stop.");
    let (_, html) = page(&admin, &t, &path).await;
    assert!(html.contains("value=\"pool:main\"") && html.contains("value=\"HELP, AYUDA\""), "{html}");
    // A customer's ALTO now opts them out.
    t.text_in(inbox, "+14155550123", "ALTO", None).await;
    let contact = t
        .services
        .store
        .contact_by_address(
            t.account_id,
            &textdesk_core::Address::parse(textdesk_core::Medium::Sms, "+14155550123").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
    let history = json(t.get(&token, &format!("/api/v1/contacts/{}/consent", contact.id)).await).await;
    assert!(history.to_string().contains("opt_out"), "{history}");

    // Sending: numbers checked, each named.
    let (status, _, html) = form(&admin, &t, &post("sending"), &[("csrf", &csrf), ("rate", "fast")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"sending-error\"") && html.contains("rate limit"), "{html}");
    let (status, _, html) = form(&admin, &t, &post("sending"), &[("csrf", &csrf), ("price", "-1")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("price_per_segment"), "{html}");
    let good = [("csrf", csrf.as_str()), ("rate", "3"), ("price", "0.0079"), ("currency", "usd")];
    assert_eq!(form(&admin, &t, &post("sending"), &good).await.0, 303);
    let out = json(t.get(&token, &format!("/api/v1/inboxes/{inbox}")).await).await;
    assert_eq!(out["settings"]["rate_limit"], json!({ "segments_per_second": 3.0 }));
    assert_eq!(out["settings"]["currency"], "USD");

    // The name; an empty one is refused.
    let (status, _, html) = form(&admin, &t, &post("name"), &[("csrf", &csrf), ("name", "  ")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("1 to 100"), "{html}");
    assert_eq!(form(&admin, &t, &post("name"), &[("csrf", &csrf), ("name", "Front desk")]).await.0, 303);
    assert_eq!(json(t.get(&token, &format!("/api/v1/inboxes/{inbox}")).await).await["name"], "Front desk");

    // A forged form changes nothing; another account's inbox does not exist.
    assert_eq!(form(&admin, &t, &post("name"), &[("csrf", "forged"), ("name", "X")]).await.0, 403);
    assert_eq!(page(&admin, &t, "/settings/inboxes/9999").await.0, 404);
    assert_eq!(form(&admin, &t, &post("nonsense"), &[("csrf", &csrf)]).await.0, 404);
}
both_backends!(editing_an_inbox);

async fn a_test_message_goes_through_the_gate(db: Db) {
    // Any hour: this is about consent, not quiet hours.
    let t = app(db).config(|c| c.quiet_hours = "00:00-23:59".into()).start().await;
    t.user("alex@example.com", Role::Admin).await;
    let inbox = t.simulator_inbox().await;
    let admin = t.browser("alex@example.com").await;
    let path = format!("/settings/inboxes/{inbox}");
    let csrf = csrf_of(&page(&admin, &t, &path).await.1);
    let test = format!("{path}/test");

    let (status, _, html) = form(&admin, &t, &test, &[("csrf", &csrf), ("to", "call me"), ("body", "Hi")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"test-error\"") && html.contains("value=\"call me\""), "{html}");

    let fields = [("csrf", csrf.as_str()), ("to", "+14155550123"), ("body", "Test from textdesk")];
    let (status, location, _) = form(&admin, &t, &test, &fields).await;
    assert_eq!(status, 303);
    assert!(location.contains("?test="), "{location}");
    assert_eq!(t.dispatch_all().await, 1, "sent through the outbox");
    let html = t
        .eventually(|| {
            let admin = admin.clone();
            let url = t.url(&location);
            async move {
                let html = admin.get(url).send().await.unwrap().text().await.unwrap();
                html.contains("<strong>delivered</strong>").then_some(html)
            }
        })
        .await;
    assert!(html.contains("id=\"test-result\"") && html.contains("+14155550123"), "{html}");
    // A second test goes in the same conversation.
    let (status, second, _) = form(&admin, &t, &test, &fields).await;
    assert_eq!(status, 303);
    let message = |loc: &str| loc.split("?test=").nth(1).unwrap().split('#').next().unwrap().parse::<i64>().unwrap();
    let first = t.services.store.message(message(&location)).await.unwrap();
    let second = t.services.store.message(message(&second)).await.unwrap();
    assert_eq!(first.conversation_id, second.conversation_id);
    assert_ne!(first.id, second.id);

    // An opted-out number is not texted, test or not.
    t.text_in(inbox, "+14155550124", "STOP", None).await;
    let fields = [("csrf", csrf.as_str()), ("to", "+14155550124"), ("body", "Test from textdesk")];
    let (status, _, html) = form(&admin, &t, &test, &fields).await;
    assert_eq!(status, 409);
    assert!(html.contains("Not sent") && html.contains("value=\"+14155550124\""), "{html}");
}
both_backends!(a_test_message_goes_through_the_gate);

/// The token at the end of a sign-in link shown on the people page.
fn link_in(html: &str) -> String {
    let start = html.find("/invite/").expect("a sign-in link") + "/invite/".len();
    html[start..].split('"').next().unwrap().to_owned()
}

async fn people_and_teams_in_the_ui(db: Db) {
    let t = app(db).start().await;
    let me = t.user("alex@example.com", Role::Admin).await;
    let admin = t.browser("alex@example.com").await;
    let (status, html) = page(&admin, &t, "/settings/users").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);

    // Invite: a bad e-mail is named; a good one gives a one-time link, shown once.
    let (status, _, html) = form(
        &admin,
        &t,
        "/settings/users",
        &[("csrf", &csrf), ("email", "not-mail"), ("name", "Sam"), ("role", "agent")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"invite-error\"") && html.contains("value=\"Sam\""), "{html}");
    let invite = [("csrf", csrf.as_str()), ("email", "sam@example.com"), ("name", "Sam Lee"), ("role", "supervisor")];
    let (status, _, html) = form(&admin, &t, "/settings/users", &invite).await;
    assert_eq!(status, 201);
    let token = link_in(&html);
    assert!(html.contains("Sam Lee") && html.contains("Invited"), "{html}");
    let (_, again) = page(&admin, &t, "/settings/users").await;
    assert!(!again.contains(&token), "the link is shown once");
    assert_eq!(form(&admin, &t, "/settings/users", &invite).await.0, 409, "one account per e-mail");
    let sam = t.services.store.users(t.account_id).await.unwrap().into_iter().find(|u| u.name == "Sam Lee").unwrap();
    assert_eq!(sam.role, Role::Supervisor);
    // No password yet: signing in does not work.
    let r = sign_in(&reqwest::Client::new(), &t.base, "sam@example.com", "!invited").await;
    assert_eq!(r.status(), 401);

    // The invitee sets a password and is signed in; the link then stops working.
    let invitee =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let (status, html) = page(&invitee, &t, &format!("/invite/{token}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Welcome, Sam Lee") && html.contains("sam@example.com"), "{html}");
    let link = format!("/invite/{token}");
    let signin = csrf_of(&html);
    let (status, _, html) =
        form(&invitee, &t, &link, &[("password", "a long secret"), ("confirm", "a long secret")]).await;
    assert_eq!(status, 403, "the form's CSRF token is needed");
    assert!(html.contains("did not come from this site"), "{html}");
    let (status, _, html) =
        form(&invitee, &t, &link, &[("password", "a long secret"), ("confirm", "another secret"), ("csrf", &signin)])
            .await;
    assert_eq!(status, 422);
    assert!(html.contains("not the same"), "{html}");
    let (status, _, html) =
        form(&invitee, &t, &link, &[("password", "short"), ("confirm", "short"), ("csrf", &signin)]).await;
    assert_eq!(status, 422);
    assert!(html.contains("at least 8"), "{html}");
    let (status, location, _) =
        form(&invitee, &t, &link, &[("password", "a long secret"), ("confirm", "a long secret"), ("csrf", &signin)])
            .await;
    assert_eq!(status, 303);
    assert_eq!(location, "/inbox");
    assert_eq!(page(&invitee, &t, "/inbox").await.0, 200, "signed in");
    assert_eq!(page(&invitee, &t, &link).await.0, 404, "single use");
    let (status, _, _) =
        form(&invitee, &t, &link, &[("password", "x long secret"), ("confirm", "x long secret")]).await;
    assert_eq!(status, 404);
    assert_eq!(page(&invitee, &t, "/invite/nonsense").await.0, 404);
    let r = sign_in(&reqwest::Client::new(), &t.base, "sam@example.com", "a long secret").await;
    assert!(r.url().path() == "/inbox" || r.status().is_success(), "the new password signs in");
    let (_, html) = page(&admin, &t, "/settings/users").await;
    assert!(!html.contains("Invited (link"), "accepted: {html}");

    // Role change, and no demoting oneself.
    let user_path = format!("/settings/users/{}", sam.id);
    assert_eq!(form(&admin, &t, &user_path, &[("csrf", &csrf), ("role", "agent")]).await.0, 303);
    assert_eq!(t.services.store.user(sam.id).await.unwrap().role, Role::Agent);
    let (status, _, html) =
        form(&admin, &t, &format!("/settings/users/{}", me.id), &[("csrf", &csrf), ("active", "false")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"user-error\"") && html.contains("yourself"), "{html}");

    // Deactivating ends their session and their tokens; history keeps them.
    let (sam_token, _) = {
        let (tok, secret) = textdesk::services::auth::create_token(&t.services.store, sam.id, "t").await.unwrap();
        (secret, tok)
    };
    assert_eq!(t.get(&sam_token, "/api/v1/me").await.status(), 200);
    assert_eq!(form(&admin, &t, &user_path, &[("csrf", &csrf), ("active", "false")]).await.0, 303);
    assert_eq!(page(&invitee, &t, "/inbox").await.0, 303, "session gone");
    assert_eq!(t.get(&sam_token, "/api/v1/me").await.status(), 401, "token stops working");
    let (_, html) = page(&admin, &t, "/settings/users").await;
    assert!(html.contains("Deactivated") && html.contains("Reactivate"), "{html}");
    let (status, _, _) = form(&admin, &t, &format!("{user_path}/invite"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 422, "no link for a deactivated user");
    assert_eq!(form(&admin, &t, &user_path, &[("csrf", &csrf), ("active", "true")]).await.0, 303);
    assert_eq!(t.get(&sam_token, "/api/v1/me").await.status(), 200, "reactivated");

    // A new link replaces the old; it resets the password.
    let (status, _, html) = form(&admin, &t, &format!("{user_path}/invite"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 201);
    let second = link_in(&html);
    let (status, _, html) = form(&admin, &t, &format!("{user_path}/invite"), &[("csrf", &csrf)]).await;
    assert_eq!(status, 201);
    let third = link_in(&html);
    assert_eq!(page(&invitee, &t, &format!("/invite/{second}")).await.0, 404, "replaced");
    assert_eq!(page(&invitee, &t, &format!("/invite/{third}")).await.0, 200);

    // Teams: create, add, remove.
    let (status, _, html) = form(&admin, &t, "/settings/teams", &[("csrf", &csrf), ("name", " ")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("id=\"team-error\""), "{html}");
    assert_eq!(form(&admin, &t, "/settings/teams", &[("csrf", &csrf), ("name", "Billing")]).await.0, 303);
    assert_eq!(form(&admin, &t, "/settings/teams", &[("csrf", &csrf), ("name", "Billing")]).await.0, 409);
    let team = t.services.store.teams(t.account_id).await.unwrap()[0].id;
    let members = format!("/settings/teams/{team}/members");
    let sam_id = sam.id.to_string();
    assert_eq!(form(&admin, &t, &members, &[("csrf", &csrf), ("user_id", &sam_id)]).await.0, 303);
    assert_eq!(t.services.store.team_member_ids(team).await.unwrap(), vec![sam.id]);
    let (_, html) = page(&admin, &t, "/settings/users").await;
    assert!(html.contains("Remove<span class=\"sr\"> Sam Lee from Billing"), "{html}");
    let remove = [("csrf", csrf.as_str()), ("user_id", sam_id.as_str()), ("remove", "1")];
    assert_eq!(form(&admin, &t, &members, &remove).await.0, 303);
    assert!(t.services.store.team_member_ids(team).await.unwrap().is_empty());
}
both_backends!(people_and_teams_in_the_ui);

async fn people_and_teams_over_the_api(db: Db) {
    let t = app(db).start().await;
    let admin = t.token_for("alex@example.com", Role::Admin).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let body = json!({ "email": "sam@example.com", "name": "Sam", "role": "agent" });
    assert_eq!(t.post(&agent, "/api/v1/invites", body.clone()).await.status(), 403);
    let r = t.post(&admin, "/api/v1/invites", body.clone()).await;
    assert_eq!(r.status(), 201);
    let out = json(r).await;
    assert_eq!(out["user"]["email"], "sam@example.com");
    let url = out["url"].as_str().unwrap();
    assert!(url.contains("/invite/") && out["expires_at"].is_string(), "{out}");
    assert_eq!(t.post(&admin, "/api/v1/invites", body).await.status(), 409);
    assert_eq!(
        t.post(&admin, "/api/v1/invites", json!({ "email": "x@example.com", "role": "boss" })).await.status(),
        422
    );
    let sam = out["user"]["id"].as_i64().unwrap();
    let again = json(t.post(&admin, &format!("/api/v1/users/{sam}/invite"), json!({})).await).await;
    assert_ne!(again["url"], out["url"]);
    let old = url.rsplit('/').next().unwrap();
    let r = t.client.get(t.url(&format!("/invite/{old}"))).send().await.unwrap();
    assert_eq!(r.status(), 404, "the older link stopped working");
    assert_eq!(t.post(&admin, "/api/v1/users/9999/invite", json!({})).await.status(), 404);

    let team = json(t.post(&admin, "/api/v1/teams", json!({ "name": "Front" })).await).await["id"].as_i64().unwrap();
    let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": sam })).await;
    assert_eq!(r.status(), 204);
    let members = json(t.get(&agent, &format!("/api/v1/teams/{team}/members")).await).await;
    assert_eq!(members[0]["name"], "Sam");
    let path = format!("/api/v1/teams/{team}/members/{sam}");
    assert_eq!(t.client.delete(t.url(&path)).bearer_auth(&agent).send().await.unwrap().status(), 403);
    assert_eq!(t.client.delete(t.url(&path)).bearer_auth(&admin).send().await.unwrap().status(), 204);
    assert!(json(t.get(&agent, &format!("/api/v1/teams/{team}/members")).await).await.as_array().unwrap().is_empty());
    assert_eq!(t.get(&agent, "/api/v1/teams/9999/members").await.status(), 404);
    // A team that is there, a person who is not: the body is wrong, not the address.
    let r = t.post(&admin, &format!("/api/v1/teams/{team}/members"), json!({ "user_id": 9999 })).await;
    assert_eq!(r.status(), 422);
    assert!(json(r).await["detail"].as_str().unwrap().contains("user_id"));
}
both_backends!(people_and_teams_over_the_api);

async fn first_run_checklist(db: Db) {
    // Any hour: the test text must go now.
    let t = app(db).config(|c| c.quiet_hours = "00:00-23:59".into()).start().await;
    t.user("alex@example.com", Role::Admin).await;
    t.user("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let admin = t.browser("alex@example.com").await;
    let steps = |html: &str| -> Vec<(String, bool)> {
        html.split("<li class=\"")
            .skip(1)
            .filter(|li| li.starts_with("done") || li.starts_with("todo"))
            .map(|li| {
                let link = li.split("<a href=\"").nth(1).and_then(|x| x.split_once("\">")).map(|(_, rest)| rest);
                let title = link.and_then(|rest| rest.split('<').next()).unwrap_or_default();
                (title.to_owned(), li.starts_with("done"))
            })
            .collect()
    };

    // A new admin's inbox says what to do, and where; an agent's does not.
    let (status, html) = page(&admin, &t, "/inbox").await;
    assert_eq!(status, 200);
    assert!(html.contains("Get textdesk ready"), "{html}");
    let got = steps(&html);
    let titles: Vec<&str> = got.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        titles,
        ["Connect a number", "Set business hours and an away message", "Invite a colleague", "Send a test text"]
    );
    assert_eq!(got.iter().filter(|(_, done)| *done).count(), 1, "a colleague is already here: {got:?}");
    assert!(html.contains(&format!("href=\"/settings/inboxes/{inbox}#hours\"")), "links to where it is done");
    let agent = t.browser("dana@example.com").await;
    assert!(!page(&agent, &t, "/inbox").await.1.contains("Get textdesk ready"), "admins set the account up");

    // A number typed as people write it, in the inbox's country: the test text ticks its step.
    let path = format!("/settings/inboxes/{inbox}");
    let csrf = csrf_of(&page(&admin, &t, &path).await.1);
    for typed in ["(415) 555-0199", "415-555-0199", "+1 415 555 0199"] {
        let (status, location, html) = form(
            &admin,
            &t,
            &format!("{path}/test"),
            &[("csrf", &csrf), ("to", typed), ("body", "Hello from the desk")],
        )
        .await;
        assert_eq!(status, 303, "{typed}: {html}");
        let m = location.split("?test=").nth(1).unwrap().split('#').next().unwrap().parse::<i64>().unwrap();
        let c = t.services.store.message(m).await.unwrap().conversation_id;
        let to = t.services.store.conversation_summary(t.account_id, c).await.unwrap().contact_address;
        assert_eq!(to, "+14155550199", "{typed}");
    }
    let (status, _, html) =
        form(&admin, &t, &format!("{path}/test"), &[("csrf", &csrf), ("to", "555"), ("body", "Hi")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("To: ") && html.contains("not a"), "{html}");

    // Hours and the away message: the preview is the server's, counted in texts.
    let (_, html) = page(&admin, &t, &path).await;
    assert!(html.contains("id=\"away-preview\"") && html.contains("1 text · "), "{html}");
    assert!(html.contains("type=\"time\" name=\"mon_open\" value=\"09:00\""), "a working week is suggested");
    let r = admin
        .post(t.url(&format!("{path}/away-preview")))
        .form(&[("off_text", "Closed now. We open {next_open}. ".repeat(6).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let preview = json(r).await;
    assert!(preview["summary"].as_str().unwrap().starts_with("2 texts · "), "{preview}");
    assert!(!preview["text"].as_str().unwrap().contains("{next_open}"), "rendered: {preview}");
    let r = agent.post(t.url(&format!("{path}/away-preview"))).form(&[("off_text", "x")]).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let mut hours: Vec<(String, String)> = vec![("csrf".into(), csrf.clone()), ("zone".into(), String::new())];
    for day in ["mon", "tue", "wed", "thu", "fri"] {
        hours.push((format!("{day}_open"), "09:00".into()));
        hours.push((format!("{day}_close"), "17:00".into()));
    }
    for day in ["sat", "sun"] {
        hours.push((format!("{day}_open"), String::new()));
        hours.push((format!("{day}_closed"), "on".into()));
    }
    let r = admin.post(t.url(&format!("{path}/hours"))).form(&hours).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let got = steps(&page(&admin, &t, "/inbox").await.1);
    assert_eq!(
        got.iter().map(|(_, done)| *done).collect::<Vec<_>>(),
        [false, true, true, true],
        "hours, a colleague and a text are done: {got:?}"
    );

    // Put away, it stays away.
    let csrf = csrf_of(&page(&admin, &t, "/inbox").await.1);
    let (status, location, _) = form(&admin, &t, "/setup/dismiss", &[("csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/inbox"));
    assert!(!page(&admin, &t, "/inbox").await.1.contains("Get textdesk ready"));
    let (status, _, _) = form(&agent, &t, "/setup/dismiss", &[("csrf", "wrong")]).await;
    assert_eq!(status, 403);
}
both_backends!(first_run_checklist);
