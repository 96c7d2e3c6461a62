//! wechatpy (PyPI, installed by scripts/test-deps.d/75-python-wechatpy.sh) as
//! an independent peer of the WeChat channel: it accepts our signatures and
//! refuses tampered ones; what it encrypts as WeChat does, we verify and
//! decrypt; what we encrypt, it opens (and refuses under another AppID); it
//! reads the XML our fake posts as we do; and, sending through our fake
//! WeChat API, it makes the same customer-service request our client makes.
//! Skipped when the peer is not installed, unless TEXTDESK_REQUIRE_PEERS=1.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may panic on a broken setup.
#![cfg(feature = "fake")]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use textdesk_channels::wechat::webhook::{encrypted_field, parse_message};
use textdesk_channels::wechat::{AesKey, FakeWechat, WechatClient, WechatConfig, sign, signature_matches};
use textdesk_channels::{InboundEvent, Outgoing};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn peer_python() -> Option<PathBuf> {
    let python = repo_root().join("target/peers/wechatpy/bin/python");
    let installed =
        python.exists() && Command::new(&python).args(["-c", "import wechatpy"]).status().is_ok_and(|s| s.success());
    if installed {
        return Some(python);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("python wechatpy peer not installed at {} (run scripts/test-deps)", python.display());
    }
    println!("skipped: python wechatpy peer not installed (run scripts/test-deps)");
    None
}

async fn ask(python: PathBuf, request: Value) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(repo_root().join("crates/channels/tests/peers/wechat/peer.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the python peer");
        child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "the python peer failed");
        serde_json::from_slice(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

const TOKEN: &str = "pamtest";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
const APP_ID: &str = "wxb11529c136998cb6";

#[tokio::test]
async fn wechatpy_accepts_our_signatures_and_refuses_tampered_ones() {
    let Some(python) = peer_python() else { return };
    let mut cases = Vec::new();
    let mut expected = Vec::new();
    for (ts, nonce) in [("1409304348", "xxxxxx"), ("1700000000", "1320562132"), ("1", "n")] {
        let sig = sign(&[TOKEN, ts, nonce]);
        cases.push(json!({ "token": TOKEN, "signature": sig, "timestamp": ts, "nonce": nonce }));
        expected.push(true);
        cases.push(json!({ "token": TOKEN, "signature": sig, "timestamp": format!("{ts}1"), "nonce": nonce }));
        expected.push(false);
        cases.push(json!({ "token": "another", "signature": sig, "timestamp": ts, "nonce": nonce }));
        expected.push(false);
    }
    assert_eq!(ask(python, json!({ "op": "verify", "cases": cases })).await, json!(expected));
}

#[tokio::test]
async fn what_wechatpy_encrypts_we_open_and_the_reverse() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWechat::start().await.unwrap();
    let xml = fake.xml("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "text", &[("Content", "加密的问候 & more")]);
    let (ts, nonce) = ("1409304348", "1320562132");
    let sealed = ask(
        python.clone(),
        json!({ "op": "encrypt", "token": TOKEN, "key": KEY, "app_id": APP_ID, "xml": xml, "nonce": nonce, "timestamp": ts }),
    )
    .await;
    let sealed = sealed["xml"].as_str().unwrap();
    let encrypted = encrypted_field(sealed).unwrap();
    let their_signature =
        textdesk_channels::wechat::xml::parse(sealed).unwrap().get("MsgSignature").unwrap().to_owned();
    assert!(signature_matches(&[TOKEN, ts, nonce, &encrypted], &their_signature));
    assert!(!signature_matches(&["another", ts, nonce, &encrypted], &their_signature));
    let key = AesKey::parse(KEY).unwrap();
    assert_eq!(key.decrypt(&encrypted, APP_ID).unwrap(), xml);
    assert!(key.decrypt(&encrypted, "wx00000000000000ff").is_err());

    // Ours, opened by wechatpy; refused by it under another AppID or signature.
    let ours = key.encrypt(&xml, APP_ID, *b"textdesk-random!");
    let body = format!("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Encrypt><![CDATA[{ours}]]></Encrypt></xml>");
    let msg_signature = sign(&[TOKEN, ts, nonce, &ours]);
    let open = |app_id: &str, signature: &str| {
        json!({ "op": "decrypt", "token": TOKEN, "key": KEY, "app_id": app_id, "body": body,
                "msg_signature": signature, "timestamp": ts, "nonce": nonce })
    };
    assert_eq!(ask(python.clone(), open(APP_ID, &msg_signature)).await["xml"], xml);
    assert_eq!(ask(python.clone(), open("wx00000000000000ff", &msg_signature)).await["error"], "InvalidAppIdException");
    assert_eq!(
        ask(python, open(APP_ID, &sign(&[TOKEN, ts, "other", &ours]))).await["error"],
        "InvalidSignatureException"
    );
}

#[tokio::test]
async fn wechatpy_reads_our_fakes_messages_as_we_do() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWechat::start().await.unwrap();
    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let now = jiff::Timestamp::now();
    let xmls = [
        fake.xml(openid, "text", &[("Content", "Hello <there>")]),
        fake.xml(openid, "voice", &[("MediaId", "media_123"), ("Format", "amr"), ("Recognition", "明天见")]),
        fake.xml(
            openid,
            "location",
            &[("Location_X", "23.134521"), ("Location_Y", "113.358803"), ("Scale", "20"), ("Label", "Tianhe")],
        ),
        fake.xml(openid, "event", &[("Event", "subscribe")]),
    ];
    for xml in xmls {
        let theirs = ask(python.clone(), json!({ "op": "parse", "xml": xml })).await;
        let ours = parse_message(&xml, "https://api.weixin.qq.com", now).unwrap().unwrap();
        let InboundEvent::Message { from, provider_id, body, media, .. } = ours else { panic!("{ours:?}") };
        assert_eq!(from.value(), theirs["source"].as_str().unwrap());
        match theirs["type"].as_str().unwrap() {
            "text" => assert_eq!(body, theirs["content"].as_str().unwrap()),
            "voice" => {
                assert_eq!(body, theirs["recognition"].as_str().unwrap());
                assert!(media[0].url.ends_with(&format!("media_id={}", theirs["media_id"].as_str().unwrap())));
            }
            "location" => assert!(body.contains("Tianhe") && body.contains("mlat=23.134521&mlon=113.358803"), "{body}"),
            "event" => assert_eq!(theirs["event"], "subscribe"),
            other => panic!("{other}"),
        }
        if theirs["type"] != "event" {
            assert_eq!(provider_id, theirs["id"].to_string().trim_matches('"'));
        }
    }
}

#[tokio::test]
async fn wechatpy_and_our_client_send_the_same_requests() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWechat::start().await.unwrap();
    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let answer = ask(
        python,
        json!({ "op": "send", "api_base": fake.base_url(), "app_id": fake.app_id(), "secret": fake.app_secret(),
                "openid": openid, "text": "Your glasses are ready." }),
    )
    .await;
    assert_eq!(answer["errcode"], 0, "the fake answered wechatpy as WeChat does: {answer}");
    let client = WechatClient::new(WechatConfig {
        api_base: fake.base_url().into(),
        app_id: fake.app_id().into(),
        app_secret: fake.app_secret().into(),
    })
    .unwrap();
    let msg = Outgoing {
        from: "gh_1".into(),
        to: openid.into(),
        body: "Your glasses are ready.".into(),
        ..Default::default()
    };
    client.send(&msg).await.unwrap();
    let sent = fake.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0], sent[1], "wechatpy: {} ours: {}", sent[0], sent[1]);
}

#[tokio::test]
async fn wechatpy_and_our_client_upload_and_send_the_same_media() {
    let Some(python) = peer_python() else { return };
    let fake = FakeWechat::start().await.unwrap();
    let openid = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
    let dir = std::env::temp_dir().join(format!("textdesk-wechat-peer-{}", hex::encode(rand::random::<[u8; 8]>())));
    std::fs::create_dir_all(&dir).unwrap();
    let client = WechatClient::new(WechatConfig {
        api_base: fake.base_url().into(),
        app_id: fake.app_id().into(),
        app_secret: fake.app_secret().into(),
    })
    .unwrap();
    let files: [(&str, &str, &str, &[u8]); 3] = [
        ("image", "picture.png", "image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("voice", "voice.amr", "audio/amr", b"#!AMR\n\x3c\x48\x77"),
        ("video", "video.mp4", "video/mp4", b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"),
    ];
    for (kind, name, content_type, bytes) in files {
        use base64::Engine;
        let answer = ask(
            python.clone(),
            json!({ "op": "send_media", "api_base": fake.base_url(), "app_id": fake.app_id(),
                    "secret": fake.app_secret(), "openid": openid, "kind": kind, "file_name": name,
                    "content_type": content_type, "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
        )
        .await;
        assert_eq!(answer["upload"]["type"], kind, "the fake took wechatpy's upload: {answer}");
        assert_eq!(answer["send"]["errcode"], 0, "{answer}");
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let msg = Outgoing {
            from: "gh_1".into(),
            to: openid.into(),
            media_urls: vec![format!("https://textdesk.example/media/1?{name}")],
            media_types: vec![content_type.into()],
            media_files: vec![path],
            ..Default::default()
        };
        client.send(&msg).await.unwrap();
        let (uploads, sent) = (fake.uploads(), fake.sent());
        let (theirs, ours) = (&uploads[uploads.len() - 2], &uploads[uploads.len() - 1]);
        assert_eq!(
            (&ours.kind, &ours.file_name, &ours.content_type, &ours.bytes),
            (&theirs.kind, &theirs.file_name, &theirs.content_type, &theirs.bytes),
            "the same multipart upload as wechatpy's"
        );
        let mut ours_sent = sent[sent.len() - 1].clone();
        ours_sent[kind]["media_id"] = json!(theirs.media_id);
        assert_eq!(ours_sent, sent[sent.len() - 2], "the same message as wechatpy's");
    }
    std::fs::remove_dir_all(&dir).ok();
}
