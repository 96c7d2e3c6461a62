//! The real Twilio client against the fake Twilio, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.
#![cfg(feature = "fake")]

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use textdesk_channels::net::FetchPolicy;
use textdesk_channels::twilio::{
    CredentialError, FakeTwilio, Timeouts, TwilioClient, TwilioConfig, parse_inbound, parse_status, validate_form,
};
use textdesk_channels::{InboundEvent, Outgoing, SendError};
use textdesk_core::DeliveryStatus;

const OURS: &str = "+14155550100";
const CUSTOMER: &str = "+14155552671";

async fn setup() -> (FakeTwilio, TwilioClient) {
    let fake = FakeTwilio::start().await.unwrap();
    let client = TwilioClient::new(fake.config()).unwrap();
    (fake, client)
}

fn text(body: &str) -> Outgoing {
    Outgoing { from: OURS.into(), to: CUSTOMER.into(), body: body.into(), ..Default::default() }
}

#[tokio::test]
async fn send_posts_the_fields_twilio_expects() {
    let (fake, client) = setup().await;
    let msg = Outgoing {
        media_urls: vec!["https://desk.example.com/m/1?sig=a".into(), "https://desk.example.com/m/2".into()],
        status_callback: Some("https://desk.example.com/webhooks/twilio/status?inbox=3".into()),
        ..text("Your order is ready 📦")
    };
    let accepted = client.send(&msg).await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(accepted.provider_ids, vec![sent[0].sid.clone()]);
    assert!(sent[0].sid.starts_with("SM") && sent[0].sid.len() == 34);
    assert_eq!(sent[0].from, OURS);
    assert_eq!(sent[0].to, CUSTOMER);
    assert_eq!(sent[0].body, "Your order is ready 📦");
    assert_eq!(sent[0].media_urls, msg.media_urls);
    assert_eq!(sent[0].status_callback, msg.status_callback);
    assert_eq!(sent[0].messaging_service_sid, None);
}

#[tokio::test]
async fn send_through_a_messaging_service_omits_from() {
    let fake = FakeTwilio::start().await.unwrap();
    let mg = "MG0123456789abcdef0123456789abcdef";
    let client = TwilioClient::new(TwilioConfig { messaging_service_sid: Some(mg.into()), ..fake.config() }).unwrap();
    client.send(&text("hello")).await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent[0].messaging_service_sid.as_deref(), Some(mg));
    assert_eq!(sent[0].from, "");
}

#[tokio::test]
async fn error_codes_become_the_right_send_errors() {
    let (fake, client) = setup().await;
    fake.fail_to("+14155550001", 21610);
    fake.fail_to("+14155550002", 30007);
    fake.fail_to("+14155550003", 20429);
    let to = |n: &str| Outgoing { to: n.into(), ..text("hi") };

    let SendError::OptedOut(why) = client.send(&to("+14155550001")).await.unwrap_err() else { panic!() };
    assert!(why.starts_with("21610: ") && why.contains("unsubscribed"), "{why}");
    let SendError::Permanent(why) = client.send(&to("+14155550002")).await.unwrap_err() else { panic!() };
    assert!(why.starts_with("30007: "), "{why}");
    let SendError::Retryable(why) = client.send(&to("+14155550003")).await.unwrap_err() else { panic!() };
    assert!(why.starts_with("20429: "), "{why}");
    // Not E.164: the fake answers 21211 like Twilio.
    let SendError::Permanent(why) = client.send(&to("4155552671")).await.unwrap_err() else { panic!() };
    assert!(why.starts_with("21211: "), "{why}");
    // Twilio's own message quotes the number; ours must not.
    assert!(!why.contains("4155552671"));
    // An unknown code is permanent and named.
    fake.fail_next(1, 400, Some(12345));
    let SendError::Permanent(why) = client.send(&text("hi")).await.unwrap_err() else { panic!() };
    assert!(why.contains("12345"), "{why}");
    // A 4xx without Twilio's error JSON.
    fake.fail_next(1, 400, None);
    assert!(matches!(client.send(&text("hi")).await, Err(SendError::Permanent(_))));
    assert!(fake.sent().is_empty());
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable() {
    let (fake, client) = setup().await;
    fake.fail_next(1, 429, Some(20429));
    fake.fail_next(1, 500, None);
    fake.fail_next(1, 503, Some(20500));
    for _ in 0..3 {
        assert!(matches!(client.send(&text("hi")).await, Err(SendError::Retryable(_))));
    }
    assert!(client.send(&text("hi")).await.is_ok());
}

#[tokio::test]
async fn wrong_credentials_are_permanent_and_do_not_leak_the_token() {
    let fake = FakeTwilio::start().await.unwrap();
    let token = "wrong-token-0123456789";
    let client = TwilioClient::new(TwilioConfig { auth_token: token.into(), ..fake.config() }).unwrap();
    let SendError::Permanent(why) = client.send(&text("hi")).await.unwrap_err() else { panic!() };
    assert!(why.contains("credentials"), "{why}");
    assert!(!why.contains(token) && !why.contains(fake.auth_token()));
    assert_eq!(client.check_credentials().await, Err(CredentialError::Rejected));
    let good = TwilioClient::new(fake.config()).unwrap();
    assert_eq!(good.check_credentials().await, Ok(()));
}

#[tokio::test]
async fn unreachable_and_slow_twilio() {
    // Nothing listens on a freshly closed port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let fake = FakeTwilio::start().await.unwrap();
    let cfg = TwilioConfig { api_base: format!("http://127.0.0.1:{port}"), ..fake.config() };
    let client = TwilioClient::new(cfg).unwrap();
    let SendError::Retryable(why) = client.send(&text("hi")).await.unwrap_err() else { panic!() };
    assert!(!why.contains("127.0.0.1"), "{why}");
    assert!(matches!(client.check_credentials().await, Err(CredentialError::Unreachable(_))));

    // Latency alone is fine.
    let client = TwilioClient::new(fake.config()).unwrap();
    fake.set_latency(Duration::from_millis(200));
    assert!(client.send(&text("hi")).await.is_ok());
}

#[tokio::test]
async fn find_sent_pages_and_stops_at_since() {
    let (fake, client) = setup().await;
    let now = Timestamp::now();
    let since = now - SignedDuration::from_mins(10);
    // Old ones (before since) must not count even with the same body.
    fake.add_sent(OURS, CUSTOMER, "Your order is ready", now - SignedDuration::from_hours(2));
    for i in 0..250 {
        fake.add_sent(OURS, CUSTOMER, &format!("filler {i}"), now - SignedDuration::from_mins(5));
    }
    // Other conversations.
    fake.add_sent(OURS, "+14155559999", "Your order is ready", now);
    fake.add_sent("+14155550111", CUSTOMER, "Your order is ready", now);
    let early = fake.add_sent(OURS, CUSTOMER, "Your order is ready", now - SignedDuration::from_mins(9));
    let accepted = client.send(&text("Your order is ready")).await.unwrap();

    let found = client.find_sent(OURS, CUSTOMER, "Your order is ready", since).await.unwrap();
    assert_eq!(found, vec![accepted.provider_ids[0].clone(), early]);
    assert!(client.find_sent(OURS, CUSTOMER, "never sent", since).await.unwrap().is_empty());
    // Only the first pages are read when since is recent: still correct.
    let recent = client.find_sent(OURS, CUSTOMER, "Your order is ready", now - SignedDuration::from_mins(1)).await;
    assert_eq!(recent.unwrap(), accepted.provider_ids);
}

#[tokio::test]
async fn find_sent_reports_failures() {
    let fake = FakeTwilio::start().await.unwrap();
    let client = TwilioClient::new(TwilioConfig { auth_token: "nope".into(), ..fake.config() }).unwrap();
    assert!(matches!(client.find_sent(OURS, CUSTOMER, "x", Timestamp::now()).await, Err(SendError::Permanent(_))));
}

#[tokio::test]
async fn media_downloads_through_the_redirect_without_leaking_credentials() {
    let (fake, client) = setup().await;
    let picture: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let url = fake.host_media(picture.clone(), "image/png");
    let got = client.download_media(&url, 1_000_000).await.unwrap();
    assert_eq!(got.content_type, "image/png");
    assert_eq!(got.bytes, picture);
    assert_eq!(fake.storage_requests(), 1);
    assert!(!fake.storage_saw_credentials(), "the auth header followed the redirect to the storage host");

    // The media URL itself needs the credentials.
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    assert_eq!(anonymous.get(&url).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn oversized_and_missing_media_are_permanent() {
    let (fake, client) = setup().await;
    let url = fake.host_media(vec![7u8; 10_001], "image/jpeg");
    let err = client.download_media(&url, 10_000).await.unwrap_err();
    assert!(!err.retryable && err.reason.contains("10000"), "{err:?}");
    assert!(client.download_media(&url, 10_001).await.is_ok());

    let missing = format!("{}x", &url[..url.len() - 1]);
    let err = client.download_media(&missing, 10_000).await.unwrap_err();
    assert!(!err.retryable && err.reason.contains("404"), "{err:?}");

    let err = client.download_media("file:///etc/passwd", 10).await.unwrap_err();
    assert!(!err.retryable);
}

#[tokio::test]
async fn media_on_another_host_gets_no_credentials() {
    let (fake, client) = setup().await;
    // A URL straight on the storage host (not the API host): fetched anonymously.
    let url = fake.host_media(b"hi".to_vec(), "text/plain");
    let storage = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let location = storage
        .get(&url)
        .basic_auth(fake.account_sid(), Some(fake.auth_token()))
        .send()
        .await
        .unwrap()
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(client.download_media(&location, 10).await.unwrap().bytes, b"hi");
    assert!(!fake.storage_saw_credentials());
    // The detector works: a request that does carry credentials is seen.
    storage.get(&location).basic_auth("someone", Some("secret")).send().await.unwrap();
    assert!(fake.storage_saw_credentials());
}

#[tokio::test]
async fn media_server_errors_are_retryable() {
    // A server that always answers 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    let fake = FakeTwilio::start().await.unwrap();
    let mut hosts = fake.private_hosts();
    hosts.push(addr.to_string());
    let client =
        TwilioClient::new(TwilioConfig { media_policy: FetchPolicy::allowing(&hosts).unwrap(), ..fake.config() })
            .unwrap();
    let err = client.download_media(&format!("http://{addr}/media/1"), 10).await.unwrap_err();
    assert!(err.retryable && err.reason.contains("503"), "{err:?}");
}

#[tokio::test]
async fn media_is_never_fetched_from_private_addresses() {
    use std::sync::atomic::Ordering;
    let secret = "HTTP/1.1 200 OK\r\ncontent-type: image/png\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret";
    let (inside, inside_hits) = textdesk_channels::net::counting_server(secret.into()).await.unwrap();
    let port = inside.port();
    // An allowed host (standing in for a public one) that redirects inside.
    let redirect = format!(
        "HTTP/1.1 302 Found\r\nlocation: http://localhost:{port}/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let (outside, _) = textdesk_channels::net::counting_server(redirect).await.unwrap();
    let redirect_ip = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:{port}/x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    let (outside_ip, _) = textdesk_channels::net::counting_server(redirect_ip).await.unwrap();
    let fake = FakeTwilio::start().await.unwrap();
    let hosts = [outside.to_string(), outside_ip.to_string()];
    let cfg = TwilioConfig { media_policy: FetchPolicy::allowing(&hosts).unwrap(), ..fake.config() };
    let client = TwilioClient::new(cfg).unwrap();
    let mut errors = Vec::new();
    for url in [
        format!("http://127.0.0.1:{port}/x"),
        format!("http://localhost:{port}/x"),
        format!("http://2130706433:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        format!("http://[::1]:{port}/x"),
        "http://169.254.169.254/latest/meta-data/".into(),
        "http://10.0.0.1/x".into(),
        format!("http://{outside}/x"),
        format!("http://{outside_ip}/x"),
        // Nothing listens here: a closed port reads like a refused address.
        "http://127.0.0.1:1/x".into(),
    ] {
        errors.push(client.download_media(&url, 1024).await.unwrap_err());
    }
    let closed = TwilioClient::new(TwilioConfig {
        media_policy: FetchPolicy::allowing(&["127.0.0.1:1"]).unwrap(),
        ..fake.config()
    })
    .unwrap();
    errors.push(closed.download_media("http://127.0.0.1:1/x", 1024).await.unwrap_err());
    assert_eq!(inside_hits.load(Ordering::SeqCst), 0, "a private address was reached");
    assert!(errors.iter().all(|e| *e == errors[0]), "the errors tell addresses apart: {errors:?}");
    assert_eq!(errors[0].reason, textdesk_channels::net::UNREACHABLE);
    // Allowed by name, the same server is reached.
    let allowed = TwilioClient::new(TwilioConfig {
        media_policy: FetchPolicy::allowing(&[inside.to_string()]).unwrap(),
        ..fake.config()
    })
    .unwrap();
    assert_eq!(allowed.download_media(&format!("http://{inside}/x"), 1024).await.unwrap().bytes, b"secret");
    assert_eq!(inside_hits.load(Ordering::SeqCst), 1);
}

/// The fake's webhooks are signed the way our validator (and Twilio) expect,
/// and parse as what they are.
#[tokio::test]
async fn signed_webhooks_from_the_fake_validate_and_parse() {
    use axum::extract::State;
    use axum::http::HeaderMap;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, Vec<(String, String)>)>>>;
    async fn record(State(seen): State<Seen>, headers: HeaderMap, body: axum::body::Bytes) -> &'static str {
        let sig = headers.get("x-twilio-signature").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let params = url::form_urlencoded::parse(&body).into_owned().collect();
        seen.lock().unwrap().push((sig, params));
        textdesk_channels::twilio::EMPTY_TWIML
    }
    let seen: Seen = Arc::default();
    let app = axum::Router::new().route("/hook", axum::routing::post(record)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook?inbox=1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (fake, client) = setup().await;
    let accepted = client.send(&text("hi")).await.unwrap();
    let sid = &accepted.provider_ids[0];
    let resp = fake.post_status(&url, sid, "undelivered", Some("30003")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let params = fake.inbound_params(CUSTOMER, OURS, "Hello there");
    fake.post_inbound(&url, &params).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (sig, params) in &seen {
        assert!(validate_form(fake.auth_token(), &url, params, sig));
        assert!(!validate_form("other", &url, params, sig));
    }
    let status = parse_status(&seen[0].1).unwrap();
    assert_eq!(status.account_sid, fake.account_sid());
    let InboundEvent::Status { provider_id, status, error } = status.event else { panic!() };
    assert_eq!((&provider_id, status), (sid, DeliveryStatus::Undelivered));
    assert_eq!(error.unwrap().code.as_deref(), Some("30003"));
    let inbound = parse_inbound(&seen[1].1, Timestamp::now()).unwrap();
    let InboundEvent::Message { from, body, .. } = inbound.event else { panic!() };
    assert_eq!((from.value(), body.as_str()), (CUSTOMER, "Hello there"));
}

#[tokio::test]
async fn timeouts_are_retryable() {
    let fake = FakeTwilio::start().await.unwrap();
    let timeouts = Timeouts { request: Duration::from_millis(200), ..Timeouts::default() };
    let client = TwilioClient::with_timeouts(fake.config(), timeouts).unwrap();
    fake.set_latency(Duration::from_secs(2));
    let SendError::Retryable(why) = client.send(&text("hi")).await.unwrap_err() else { panic!() };
    assert!(why.contains("timed out"), "{why}");
    assert!(matches!(client.find_sent(OURS, CUSTOMER, "hi", Timestamp::now()).await, Err(SendError::Retryable(_))));
    assert!(matches!(client.check_credentials().await, Err(CredentialError::Unreachable(_))));
}

#[tokio::test]
async fn inbound_media_round_trip() {
    let (fake, client) = setup().await;
    let url = fake.host_media(b"GIF89a".to_vec(), "image/gif");
    let params = fake.inbound_media_params(CUSTOMER, OURS, "", &[(&url, "image/gif")]);
    let inbound = parse_inbound(&params, Timestamp::now()).unwrap();
    let InboundEvent::Message { media, .. } = inbound.event else { panic!() };
    assert_eq!(media.len(), 1);
    assert_eq!(media[0].content_type.as_deref(), Some("image/gif"));
    let got = client.download_media(&media[0].url, 1024).await.unwrap();
    assert_eq!(got.bytes, b"GIF89a");
}
