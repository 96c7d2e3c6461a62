//! The Graph API client against the fake Graph API, over real HTTP: text,
//! media by link and templates sent in the Cloud API's shapes; Meta's error
//! codes become retry or give-up with plain words; the credential check;
//! templates listed across pages; a customer's media fetched by id with the
//! token, and never from an address the client did not make itself.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
#![cfg(feature = "fake")]

use serde_json::json;
use textdesk_channels::whatsapp::client::CredentialError;
use textdesk_channels::whatsapp::{FakeWhatsApp, WhatsAppClient};
use textdesk_channels::{Outgoing, OutgoingTemplate, SendError};

async fn setup() -> (FakeWhatsApp, WhatsAppClient) {
    let fake = FakeWhatsApp::start().await.unwrap();
    let client = WhatsAppClient::new(fake.config()).unwrap();
    (fake, client)
}

fn text(body: &str) -> Outgoing {
    Outgoing { from: "+15550783881".into(), to: "+16315551181".into(), body: body.into(), ..Default::default() }
}

#[tokio::test]
async fn text_media_and_templates_go_in_the_cloud_api_shapes() {
    let (fake, client) = setup().await;
    let accepted = client.send(&text("Your crown is ready.")).await.unwrap();
    let sent = fake.sent();
    assert_eq!(accepted.provider_ids, [sent[0].0.clone()]);
    assert!(sent[0].0.starts_with("wamid."));
    assert_eq!(
        sent[0].1,
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16315551181",
                "type": "text", "text": { "preview_url": false, "body": "Your crown is ready." } })
    );

    // A picture and a PDF: one WhatsApp message each, the text as the first's caption.
    let with_files = Outgoing {
        media_urls: vec![
            "https://desk.example.com/media/1?exp=1&sig=a".into(),
            "https://desk.example.com/media/2?exp=1&sig=b".into(),
        ],
        media_types: vec!["image/png".into(), "application/pdf".into()],
        ..text("Here is the x-ray and the invoice.")
    };
    let accepted = client.send(&with_files).await.unwrap();
    assert_eq!(accepted.provider_ids.len(), 2, "both parts' ids are kept for their statuses");
    let sent = fake.sent();
    assert_eq!(sent[1].1["type"], "image");
    assert_eq!(
        sent[1].1["image"],
        json!({ "link": "https://desk.example.com/media/1?exp=1&sig=a", "caption": "Here is the x-ray and the invoice." })
    );
    assert_eq!(sent[2].1["type"], "document");
    assert_eq!(sent[2].1["document"]["filename"], "attachment.pdf");
    assert!(sent[2].1["document"].get("caption").is_none());

    // Audio carries no caption: the text follows as its own message.
    let voice = Outgoing {
        media_urls: vec!["https://desk.example.com/media/3".into()],
        media_types: vec!["audio/ogg".into()],
        ..text("Listen")
    };
    assert_eq!(client.send(&voice).await.unwrap().provider_ids.len(), 2);
    let sent = fake.sent();
    assert_eq!((sent[3].1["type"].as_str(), sent[4].1["type"].as_str()), (Some("audio"), Some("text")));

    let template = Outgoing {
        template: Some(OutgoingTemplate {
            name: "visit_reminder".into(),
            language: "en_US".into(),
            values: vec!["Ana".into(), "Tuesday 9:00".into()],
            header: None,
            buttons: vec![],
        }),
        ..text("Hi Ana, see you Tuesday 9:00")
    };
    client.send(&template).await.unwrap();
    let sent = fake.sent();
    assert_eq!(
        sent[5].1["template"],
        json!({ "name": "visit_reminder", "language": { "code": "en_US" }, "components": [{ "type": "body",
                "parameters": [{ "type": "text", "text": "Ana" }, { "type": "text", "text": "Tuesday 9:00" }] }] })
    );
}

#[tokio::test]
async fn metas_error_codes_decide_between_trying_again_and_giving_up() {
    let (fake, client) = setup().await;
    fake.fail_next(1, 400, 131047);
    match client.send(&text("late")).await {
        Err(SendError::Permanent(why)) => assert!(why.starts_with("131047: More than 24 hours"), "{why}"),
        other => panic!("{other:?}"),
    }
    fake.fail_next(1, 429, 130429);
    assert!(matches!(client.send(&text("busy")).await, Err(SendError::Retryable(w)) if w.contains("limiting")));
    fake.fail_next(1, 500, 131000);
    assert!(matches!(client.send(&text("oops")).await, Err(SendError::Retryable(_))));
    assert!(fake.sent().is_empty(), "nothing refused was recorded as sent");
    // A token Meta does not accept.
    let bad = WhatsAppClient::new(textdesk_channels::whatsapp::WhatsAppConfig {
        access_token: "EAAGwrong".into(),
        ..fake.config()
    })
    .unwrap();
    assert!(matches!(bad.send(&text("x")).await, Err(SendError::Permanent(w)) if w.contains("access token")));
}

#[tokio::test]
async fn credentials_are_checked_against_the_phone_number() {
    let (fake, client) = setup().await;
    client.check_credentials().await.unwrap();
    let cfg = fake.config();
    let wrong_token = WhatsAppClient::new(textdesk_channels::whatsapp::WhatsAppConfig {
        access_token: "EAAGnope".into(),
        ..cfg.clone()
    })
    .unwrap();
    assert!(
        matches!(wrong_token.check_credentials().await, Err(CredentialError::Rejected(w)) if w.contains("access token"))
    );
    let wrong_number =
        WhatsAppClient::new(textdesk_channels::whatsapp::WhatsAppConfig { phone_number_id: "123".into(), ..cfg })
            .unwrap();
    assert!(
        matches!(wrong_number.check_credentials().await, Err(CredentialError::Rejected(w)) if w.contains("phone number ID"))
    );
}

#[tokio::test]
async fn templates_are_listed_across_pages() {
    let (fake, client) = setup().await;
    fake.set_page_size(2);
    fake.add_template("visit_reminder", "en_US", "APPROVED", "UTILITY", "Hi {{1}}, see you {{2}}.");
    fake.add_template("visit_reminder", "es", "APPROVED", "UTILITY", "Hola {{1}}, hasta el {{2}}.");
    fake.add_template("spring_sale", "en_US", "REJECTED", "MARKETING", "20% off whitening");
    let listed = client.templates().await.unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(listed[0].body, "Hi {{1}}, see you {{2}}.", "the body component's text");
    assert_eq!((listed[2].status.as_str(), listed[2].category.as_str()), ("REJECTED", "MARKETING"));
}

#[tokio::test]
async fn media_is_fetched_by_id_with_the_token_and_only_from_metas_answer() {
    let (fake, client) = setup().await;
    let png = b"\x89PNG\r\n\x1a\n tooth".to_vec();
    let id = fake.host_media(png.clone(), "image/png");
    let got = client.download_media(&format!("{}/{id}", fake.api_base()), 1024).await.unwrap();
    assert_eq!((got.content_type.as_str(), got.bytes), ("image/png", png));
    assert!(fake.storage_saw_token(), "Meta's media host wants the same token");
    // Too big, unknown, or an address the parser did not make: refused, and the token stays home.
    let too_big = client.download_media(&format!("{}/{id}", fake.api_base()), 4).await.unwrap_err();
    assert!(!too_big.retryable && too_big.reason.contains("larger"));
    let gone = client.download_media(&format!("{}/999", fake.api_base()), 1024).await.unwrap_err();
    assert!(!gone.retryable && gone.reason.contains("no such media"), "{gone:?}");
    let before = fake.storage_requests();
    let foreign = client.download_media("https://evil.example.com/v21.0/1", 1024).await.unwrap_err();
    assert!(!foreign.retryable);
    assert_eq!(fake.storage_requests(), before);
}
