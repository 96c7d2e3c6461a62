//! Attachments under attack: media links that point inside our network,
//! files that claim to be pictures, and fetch rounds racing each other.
//! Inbound media arrives the way Twilio sends it (signed webhooks, a fake
//! Twilio API); uploads and downloads go over real HTTP.

use crate::common;

use std::sync::atomic::Ordering;

use common::*;
use serde_json::{Value, json};
use textdesk_channels::twilio::FakeTwilio;
use textdesk_core::Role;

const SENDER: &str = "+14155550100";
const CUSTOMER: &str = "+14155550111";

/// A Twilio inbox pointed at the fake; returns its inbound webhook URL.
async fn twilio_inbox(t: &TestApp, fake: &FakeTwilio) -> String {
    let admin = t.token_for("owner@example.com", Role::Admin).await;
    let body = json!({ "name": "Main line", "channel_kind": "twilio", "sender": SENDER,
        "twilio": { "account_sid": fake.account_sid(), "auth_token": fake.auth_token(), "api_base": fake.base_url() } });
    let r = t.post(&admin, "/api/v1/inboxes", body).await;
    assert_eq!(r.status(), 201);
    json(r).await["webhook_urls"]["inbound"].as_str().unwrap().to_owned()
}

/// Every attachment of every message in the account's conversations.
async fn all_media(t: &TestApp, token: &str) -> Vec<Value> {
    let list = json(t.get(token, "/api/v1/conversations").await).await;
    let mut out = Vec::new();
    for c in list["items"].as_array().unwrap() {
        let id = c["id"].as_i64().unwrap();
        let msgs = json(t.get(token, &format!("/api/v1/conversations/{id}/messages")).await).await;
        for m in msgs.as_array().unwrap() {
            out.extend(m["media"].as_array().unwrap().iter().cloned());
        }
    }
    out
}

fn files_in_media_store(t: &TestApp) -> usize {
    std::fs::read_dir(&t.services.media.dir).map(|d| d.count()).unwrap_or(0)
}

async fn private_media_links_are_never_fetched(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let secret = "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret";
    let (inside, inside_hits) = textdesk_channels::net::counting_server(secret.into()).await.unwrap();
    let port = inside.port();
    // Stands in for a public host (so it is named as allowed) that redirects inside.
    let to_inside = format!(
        "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{port}/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let (redirector, _) = textdesk_channels::net::counting_server(to_inside).await.unwrap();
    let mut allowed = fake.private_hosts();
    allowed.extend([redirector.to_string(), "127.0.0.1:1".into()]);
    let t = app(db).config(move |c| c.media_allow_private_hosts = allowed).start().await;
    let inbound_url = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let app_port = t.base.rsplit(':').next().unwrap().to_owned();

    let private = [
        format!("http://127.0.0.1:{app_port}/metrics"),
        format!("http://localhost:{port}/x"),
        format!("http://2130706433:{port}/x"),
        format!("http://0x7f.0.0.1:{port}/x"),
        format!("http://[::1]:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        "http://169.254.169.254/latest/meta-data/iam/".into(),
        "http://10.0.0.7/x".into(),
        "http://192.168.1.1/x".into(),
        format!("http://{redirector}/picture.png"),
        // An allowed host with nothing listening: it must read like a refusal.
        "http://127.0.0.1:1/x".into(),
    ];
    let picture = fake.host_media(PNG.to_vec(), "image/png");
    for chunk in private.chunks(6) {
        let mut media: Vec<(&str, &str)> = chunk.iter().map(|u| (u.as_str(), "image/png")).collect();
        media.push((&picture, "image/png"));
        let params = fake.inbound_media_params(CUSTOMER, SENDER, "look", &media);
        assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    }
    t.services.fetch_due_media(jiff::Timestamp::now()).await.unwrap();
    let media = t
        .eventually(|| async {
            let m = all_media(&t, &agent).await;
            (m.len() == private.len() + 2 && m.iter().all(|x| x["state"] == "stored" || x["error"].is_string()))
                .then_some(m)
        })
        .await;
    let (stored, refused): (Vec<_>, Vec<_>) = media.iter().partition(|m| m["state"] == "stored");
    assert_eq!(stored.len(), 2, "the fake Twilio, named in the configuration, still works: {media:?}");
    assert_eq!(refused.len(), private.len());
    assert_eq!(inside_hits.load(Ordering::SeqCst), 0, "an internal service was reached");
    // One answer for every refusal and every connection failure: ports cannot be told apart.
    for m in &refused {
        assert_eq!((&m["state"], &m["error"], &m["url"]), (&refused[0]["state"], &refused[0]["error"], &Value::Null));
    }
    assert_eq!(files_in_media_store(&t), 2, "only the allowed pictures are on disk");
    // The thread says in plain words that the picture could not be fetched.
    let conv = json(t.get(&agent, "/api/v1/conversations").await).await["items"][0]["id"].as_i64().unwrap();
    let browser = t.browser("dana@example.com").await;
    let page = browser.get(t.url(&format!("/conversations/{conv}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("could not be fetched yet (the address the provider gave could not be reached)"), "{page}");
    assert!(!page.contains("127.0.0.1") && !page.contains("169.254"), "the thread names no address");
}
both_backends!(private_media_links_are_never_fetched);

async fn upload(t: &TestApp, token: &str, content_type: &str, bytes: &[u8]) -> reqwest::Response {
    let r = t.client.post(t.url("/api/v1/media")).bearer_auth(token).header("content-type", content_type);
    r.body(bytes.to_vec()).send().await.unwrap()
}

async fn get_link(t: &TestApp, link: &str) -> reqwest::Response {
    let link = if link.starts_with("http") { link.to_owned() } else { t.url(link) };
    t.client.get(link).send().await.unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

const PAGE: &[u8] = b"<html><body><script>fetch('/api/v1/me')</script></body></html>";

async fn html_never_passes_as_a_picture(db: Db) {
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    // Lists, broken lists, a page calling itself a PNG, and a page: refused with a reason.
    for (declared, bytes) in [
        ("image/png, text/html", PAGE),
        ("image/png;,text/html", PAGE),
        ("image/png, text/html", PNG),
        ("image/png", PAGE),
        ("text/html", PAGE),
        ("image/svg+xml", b"<svg onload=alert(1)/>".as_slice()),
    ] {
        let r = upload(&t, &agent, declared, bytes).await;
        assert_eq!(r.status(), 422, "{declared} was kept");
        assert_eq!(header(&r, "content-type"), "application/problem+json");
        let detail = json(r).await["detail"].as_str().unwrap().to_owned();
        assert!(detail.contains("type") || detail.contains("not a PNG"), "{declared}: {detail}");
    }
    // The composer's upload reads its parts the same way.
    let inbox = t.simulator_inbox().await;
    let conv = json(t.text_in(inbox, CUSTOMER, "send me a picture", None).await).await["conversation_id"].as_i64();
    let browser = t.browser("dana@example.com").await;
    let html = browser.get(t.url(&format!("/conversations/{}", conv.unwrap()))).send().await.unwrap();
    let csrf = csrf_of(&html.text().await.unwrap());
    for declared in ["image/png, text/html", "image/png"] {
        let (ct, body) = multipart(&[("csrf", &csrf)], &[("files", "x.png", declared, PAGE)]);
        let path = format!("/conversations/{}/attachments", conv.unwrap());
        let r = browser.post(t.url(&path)).header("content-type", ct).body(body).send().await.unwrap();
        assert_eq!(r.status(), 422, "{declared}");
    }
    assert_eq!(files_in_media_store(&t), 0, "nothing refused is kept");

    // A real picture with a parameter is kept as image/png and shown inline, never sniffed.
    let r = upload(&t, &agent, "image/PNG; charset=binary", PNG).await;
    assert_eq!(r.status(), 201);
    let kept = json(r).await;
    assert_eq!(kept["content_type"], "image/png");
    let r = get_link(&t, kept["url"].as_str().unwrap()).await;
    assert_eq!((header(&r, "content-type"), header(&r, "content-disposition")), ("image/png", "inline"));
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    // A PDF is a download.
    let r = upload(&t, &agent, "application/pdf", b"%PDF-1.4 a form").await;
    let r = get_link(&t, json(r).await["url"].as_str().unwrap()).await;
    assert_eq!((header(&r, "content-type"), header(&r, "content-disposition")), ("application/pdf", "attachment"));
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");

    // A file kept before these checks under a declared list is served as unknown bytes to download.
    let user_id = json(t.get(&agent, "/api/v1/me").await).await["id"].as_i64().unwrap();
    std::fs::write(t.services.media.dir.join("0123456789abcdef0123456789abcdef"), PAGE).unwrap();
    let old =
        t.services.store.add_upload(user_id, "0123456789abcdef0123456789abcdef", "image/png, text/html", 60).await;
    let link = t.services.media_link(old.unwrap().id, jiff::SignedDuration::from_mins(5));
    let r = get_link(&t, &link).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        (header(&r, "content-type"), header(&r, "content-disposition")),
        ("application/octet-stream", "attachment")
    );
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
}
both_backends!(html_never_passes_as_a_picture);

async fn fetched_media_is_checked_like_uploads(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let inbound_url = twilio_inbox(&t, &fake).await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let listed = fake.host_media(PAGE.to_vec(), "image/png, text/html");
    let disguised = fake.host_media(PAGE.to_vec(), "image/png");
    let real = fake.host_media(PNG.to_vec(), "image/png; name=tooth.png");
    let media = [(listed.as_str(), "image/png"), (disguised.as_str(), "image/png"), (real.as_str(), "image/png")];
    let params = fake.inbound_media_params(CUSTOMER, SENDER, "", &media);
    assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    let media = t
        .eventually(|| async {
            let m = all_media(&t, &agent).await;
            m.iter().all(|x| x["state"] != "pending").then_some(m)
        })
        .await;
    assert_eq!(
        (&media[0]["state"], &media[1]["state"], &media[2]["state"]),
        (&json!("failed"), &json!("failed"), &json!("stored"))
    );
    assert!(media[1]["error"].as_str().unwrap().contains("not a PNG picture"), "{media:?}");
    assert_eq!(media[2]["content_type"], "image/png");
    let r = get_link(&t, media[2]["url"].as_str().unwrap()).await;
    assert_eq!((header(&r, "content-type"), header(&r, "x-content-type-options")), ("image/png", "nosniff"));
    assert_eq!(files_in_media_store(&t), 1);
}
both_backends!(fetched_media_is_checked_like_uploads);

/// Ten MMS with a picture each, then fetch rounds racing on `nodes` (ingest
/// starts one per message too): every picture is fetched exactly once.
async fn each_picture_fetched_once(fake: &FakeTwilio, nodes: &[&TestApp]) {
    let inbound_url = twilio_inbox(nodes[0], fake).await;
    for i in 0..10 {
        let picture = fake.host_media(PNG.to_vec(), "image/png");
        let params = fake.inbound_media_params(CUSTOMER, SENDER, &format!("picture {i}"), &[(&picture, "image/png")]);
        assert_eq!(fake.post_inbound(&inbound_url, &params).await.unwrap().status(), 200);
    }
    let rounds = nodes.iter().cycle().take(8).map(|t| t.services.fetch_due_media(jiff::Timestamp::now()));
    for r in futures_util::future::join_all(rounds).await {
        r.unwrap();
    }
    let agent = nodes[0].token_for("dana@example.com", Role::Agent).await;
    nodes[0]
        .eventually(|| async {
            let m = all_media(nodes[0], &agent).await;
            (m.len() == 10 && m.iter().all(|x| x["state"] == "stored")).then_some(())
        })
        .await;
    // Rounds that start now find nothing left to claim.
    for t in nodes {
        assert_eq!(t.services.fetch_due_media(jiff::Timestamp::now()).await.unwrap(), 0);
    }
    assert_eq!(fake.storage_requests(), 10, "each picture is fetched once");
    let files: usize = nodes.iter().map(|t| files_in_media_store(t)).sum();
    assert_eq!(files, 10, "no duplicate files");
}

async fn racing_fetch_rounds_fetch_each_picture_once(db: Db) {
    let fake = FakeTwilio::start().await.unwrap();
    let hosts = fake.private_hosts();
    let t = app(db).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    each_picture_fetched_once(&fake, &[&t]).await;
}
both_backends!(racing_fetch_rounds_fetch_each_picture_once);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_fetch_each_picture_once() {
    if postgres_url().is_none() {
        return;
    }
    let fake = FakeTwilio::start().await.unwrap();
    let hosts = fake.private_hosts();
    let more = hosts.clone();
    let a = app(Db::Postgres).config(move |c| c.media_allow_private_hosts = hosts).start().await;
    let url = a.database_url.clone();
    let b = app(Db::Postgres)
        .config(move |c| {
            c.database_url = url;
            c.media_allow_private_hosts = more;
        })
        .start()
        .await;
    each_picture_fetched_once(&fake, &[&a, &b]).await;
}

async fn orphan_files_are_swept(db: Db) {
    let t = app(db).start().await;
    let agent = t.token_for("dana@example.com", Role::Agent).await;
    let kept = json(upload(&t, &agent, "image/png", PNG).await).await;
    let kept_name = std::fs::read_dir(&t.services.media.dir).unwrap().next().unwrap().unwrap().path();
    let dir = t.services.media.dir.clone();
    let orphan = dir.join("00000000000000000000000000000001");
    let young = dir.join("00000000000000000000000000000002");
    let not_ours = dir.join("README.txt");
    for p in [&orphan, &young, &not_ours] {
        std::fs::write(p, b"left behind").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for p in [&orphan, &kept_name, &not_ours] {
        std::fs::File::options().write(true).open(p).unwrap().set_modified(two_hours_ago).unwrap();
    }
    let swept = t.services.sweep_orphan_media(textdesk::services::media::ORPHAN_GRACE).await.unwrap();
    assert_eq!(swept, 1);
    assert!(!orphan.exists(), "an old file no row names is swept");
    assert!(kept_name.exists() && young.exists() && not_ours.exists());
    // The kept upload still downloads.
    assert_eq!(get_link(&t, kept["url"].as_str().unwrap()).await.status(), 200);
}
both_backends!(orphan_files_are_swept);
