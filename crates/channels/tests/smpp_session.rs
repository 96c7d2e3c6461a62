//! SmppLink against the in-process FakeSmsc.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.
#![cfg(feature = "fake")]

use std::time::Duration;

use textdesk_channels::smpp::fake::{FakeSmsc, ReceiptForm};
use textdesk_channels::smpp::receipt::ReceiptState;
use textdesk_channels::smpp::{LinkState, SmppConfig, SmppLink, check_bind};
use textdesk_channels::{InboundEvent, Outgoing, SendError};
use textdesk_core::DeliveryStatus;
use tokio::sync::mpsc::Receiver;

const WAIT: Duration = Duration::from_secs(5);

async fn fake() -> FakeSmsc {
    FakeSmsc::start("desk", "secret").await.unwrap()
}

async fn link(cfg: SmppConfig) -> (SmppLink, Receiver<InboundEvent>) {
    let (link, events) = SmppLink::start(cfg).unwrap();
    assert!(link.wait_bound(WAIT).await, "not bound: {}", link.state());
    (link, events)
}

fn text(to: &str, body: &str) -> Outgoing {
    Outgoing { from: "+14155550100".into(), to: to.into(), body: body.into(), ..Outgoing::default() }
}

async fn next(events: &mut Receiver<InboundEvent>) -> InboundEvent {
    tokio::time::timeout(WAIT, events.recv()).await.expect("an event in time").expect("the channel is open")
}

#[tokio::test]
async fn binds_and_sends_a_short_message() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    assert_eq!(link.state().as_str(), "bound");
    let accepted = link.send(&text("+14155552671", "Hello [there] €5")).await.unwrap();
    let submits = smsc.submits();
    assert_eq!(submits.len(), 1);
    let s = &submits[0];
    assert_eq!(accepted.provider_ids, vec![s.message_id.clone()]);
    assert_eq!((s.to.as_str(), s.from.as_str()), ("14155552671", "14155550100"));
    assert_eq!((s.data_coding, s.esm_class, s.registered_delivery, s.udh.as_ref()), (0, 0, 1, None));
    assert_eq!(s.text, "Hello [there] €5");
    assert_eq!(smsc.binds(), 1);
}

#[tokio::test]
async fn long_messages_go_in_ordered_parts_with_one_reference() {
    for packed in [false, true] {
        let smsc = fake().await;
        smsc.set_gsm7_packed(packed);
        let (link, _events) = link(smsc.config()).await;
        let body = "The quick brown fox {jumps} over the lazy dog. ".repeat(8);
        let accepted = link.send(&text("+14155552671", &body)).await.unwrap();
        let submits = smsc.submits();
        assert_eq!(submits.len(), 3);
        assert_eq!(accepted.provider_ids, submits.iter().map(|s| s.message_id.clone()).collect::<Vec<_>>());
        let reference = submits[0].concat.unwrap().reference;
        for (i, s) in submits.iter().enumerate() {
            let c = s.concat.unwrap();
            assert_eq!((c.reference, c.total, c.seq), (reference, 3, i as u8 + 1));
            assert_eq!(s.esm_class & 0x40, 0x40);
        }
        let joined: String = submits.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(joined, body);
        // The next message gets a fresh reference.
        link.send(&text("+14155552671", &body)).await.unwrap();
        assert_ne!(smsc.submits()[3].concat.unwrap().reference, reference);
    }
}

#[tokio::test]
async fn unicode_goes_as_ucs2() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    let body = "Привет 😀 ".repeat(10);
    let accepted = link.send(&text("+14155552671", &body)).await.unwrap();
    let submits = smsc.submits();
    assert_eq!(accepted.provider_ids.len(), submits.len());
    assert!(submits.iter().all(|s| s.data_coding == 8));
    assert_eq!(submits.iter().map(|s| s.text.as_str()).collect::<String>(), body);
}

#[tokio::test]
async fn throttling_is_retryable_then_succeeds() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    smsc.throttle_next(1);
    let err = link.send(&text("+14155552671", "hi")).await.unwrap_err();
    assert!(matches!(&err, SendError::Retryable(m) if m.contains("0x00000058")), "{err:?}");
    let ok = link.send(&text("+14155552671", "hi")).await.unwrap();
    assert_eq!(ok.provider_ids.len(), 1);
    assert_eq!(link.stats().throttled, 1);
}

#[tokio::test]
async fn permanent_errors_say_what_is_wrong() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    smsc.fail_next_with(0x0B);
    let err = link.send(&text("+14155552671", "hi")).await.unwrap_err();
    assert_eq!(err, SendError::Permanent("SMPP 0x0000000B: invalid destination address".into()));
    smsc.fail_next_with(0x14);
    assert!(matches!(link.send(&text("+14155552671", "hi")).await, Err(SendError::Retryable(_))));
    let bad = link.send(&text("not a number", "hi")).await.unwrap_err();
    assert!(matches!(bad, SendError::Permanent(_)));
    let media = Outgoing { media_urls: vec!["https://x/y.png".into()], ..text("+14155552671", "hi") };
    assert!(matches!(link.send(&media).await, Err(SendError::Permanent(_))));
}

#[tokio::test]
async fn keeps_the_link_alive() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.enquire_link_every = Duration::from_millis(30);
    let (link, _events) = link(cfg).await;
    assert!(smsc.wait_until(WAIT, |s| s.enquire_links() >= 3).await);
    assert!(link.state().is_bound());
    assert!(link.stats().enquire_links_sent >= 3);
}

#[tokio::test]
async fn reconnects_after_a_dropped_connection() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    assert!(smsc.disconnect());
    assert!(smsc.wait_until(WAIT, |s| s.binds() == 2).await);
    assert!(link.wait_bound(WAIT).await);
    assert!(link.send(&text("+14155552671", "after the drop")).await.is_ok());
    assert!(link.stats().disconnects >= 1);
}

#[tokio::test]
async fn rebinds_after_the_smsc_unbinds() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    assert!(smsc.unbind());
    assert!(smsc.wait_until(WAIT, |s| s.binds() == 2).await);
    assert!(link.wait_bound(WAIT).await);
    assert!(link.send(&text("+14155552671", "after the unbind")).await.is_ok());
}

#[tokio::test]
async fn wrong_password_is_reported_and_retried() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.password = textdesk_channels::smpp::SmppPassword::new("wrong");
    let err = check_bind(&cfg).await.unwrap_err();
    assert!(err.contains("password") && err.contains("0x0000000E"), "{err}");
    let (link, _events) = SmppLink::start(cfg).unwrap();
    assert!(smsc.wait_until(WAIT, |s| s.refused_binds() >= 3).await, "it keeps retrying with backoff");
    // Each retry passes through Connecting; the refusal then puts the reason back.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !matches!(link.state(), LinkState::Down { ref reason, .. } if reason.contains("password")) {
        assert!(tokio::time::Instant::now() < deadline, "the link says why it is down: {:?}", link.state());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut quick = smsc.config();
    quick.password = textdesk_channels::smpp::SmppPassword::new("wrong");
    quick.response_timeout = Duration::from_millis(50);
    let (quick, _e) = SmppLink::start(quick).unwrap();
    assert_eq!(quick.send(&text("+14155552671", "hi")).await, Err(SendError::Retryable("not bound".into())));
}

#[tokio::test]
async fn check_bind_accepts_good_credentials_and_names_refused_connections() {
    let smsc = fake().await;
    assert_eq!(check_bind(&smsc.config()).await, Ok(()));
    let mut cfg = smsc.config();
    drop(smsc);
    cfg.port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = check_bind(&cfg).await.unwrap_err();
    assert!(err.starts_with("could not connect to 127.0.0.1:"), "{err}");
}

#[tokio::test]
async fn receipts_in_tlv_and_text_form() {
    let smsc = fake().await;
    let (link, mut events) = link(smsc.config()).await;
    let id = link.send(&text("+14155552671", "hi")).await.unwrap().provider_ids[0].clone();
    smsc.send_receipt(&id, ReceiptState::Delivered, "000", ReceiptForm::Tlv).unwrap();
    assert_eq!(
        next(&mut events).await,
        InboundEvent::Status { provider_id: id.clone(), status: DeliveryStatus::Delivered, error: None }
    );
    smsc.send_receipt(&id, ReceiptState::Undeliverable, "034", ReceiptForm::Text).unwrap();
    let InboundEvent::Status { provider_id, status, error } = next(&mut events).await else { panic!("a status") };
    assert_eq!((provider_id, status), (id, DeliveryStatus::Undelivered));
    assert_eq!(error.unwrap().code.as_deref(), Some("034"));
    assert!(smsc.wait_until(WAIT, |s| s.deliver_sm_resps() == 2).await);
}

#[tokio::test]
async fn mobile_originated_texts_short_and_long() {
    for packed in [false, true] {
        let smsc = fake().await;
        smsc.set_gsm7_packed(packed);
        let (_link, mut events) = link(smsc.config()).await;
        smsc.send_mo("+14155552671", "+14155550100", "STOP? no, just {hello}").unwrap();
        let InboundEvent::Message { from, body, provider_id, .. } = next(&mut events).await else { panic!() };
        assert_eq!(from.value(), "+14155552671");
        assert_eq!(body, "STOP? no, just {hello}");
        let long = "A long reply from a customer, with € and [brackets]. ".repeat(7);
        smsc.send_mo("+14155552671", "+14155550100", &long).unwrap();
        let unicode = "Спасибо 🙏 ".repeat(12);
        smsc.send_mo("+14155552672", "+14155550100", &unicode).unwrap();
        let InboundEvent::Message { body, provider_id: id2, .. } = next(&mut events).await else { panic!() };
        assert_eq!(body, long);
        assert_ne!(provider_id, id2);
        let InboundEvent::Message { body, from, .. } = next(&mut events).await else { panic!() };
        assert_eq!((from.value(), body), ("+14155552672", unicode));
    }
}

#[tokio::test]
async fn dropping_the_link_unbinds() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    drop(link);
    assert!(smsc.wait_until(WAIT, |s| s.send_mo("+1415", "+1", "x").is_err()).await);
}

#[tokio::test]
async fn a_malformed_pdu_closes_the_connection_and_it_rebinds() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    // command_length far past the limit: the client must not try to read 4 GiB.
    assert!(smsc.send_raw(&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9]));
    assert!(smsc.wait_until(WAIT, |s| s.binds() == 2).await);
    assert!(link.wait_bound(WAIT).await);
    // A well-framed deliver_sm whose body lies about its lengths.
    let mut bad = vec![0, 0, 0, 20, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 9];
    bad.extend([0x41, 0x41, 0x41, 0x41]);
    assert!(smsc.send_raw(&bad));
    assert!(smsc.wait_until(WAIT, |s| s.binds() == 3).await);
    assert!(link.wait_bound(WAIT).await);
    assert!(link.send(&text("+14155552671", "still here")).await.is_ok());
}

#[tokio::test]
async fn unknown_requests_get_a_generic_nack_and_the_link_stays() {
    let smsc = fake().await;
    let (link, _events) = link(smsc.config()).await;
    // data_sm (0x103), which this client does not speak.
    assert!(smsc.send_raw(&[0, 0, 0, 16, 0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 7]));
    assert!(link.send(&text("+14155552671", "after data_sm")).await.is_ok());
    assert_eq!(smsc.binds(), 1);
}

#[tokio::test]
async fn a_silent_smsc_is_detected_by_enquire_link() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.enquire_link_every = Duration::from_millis(20);
    cfg.response_timeout = Duration::from_millis(100);
    let (link, _events) = link(cfg).await;
    smsc.ignore_enquire_links(true);
    assert!(smsc.wait_until(WAIT, |s| s.binds() >= 2).await, "it reconnects when enquire_link goes unanswered");
    smsc.ignore_enquire_links(false);
    assert!(link.wait_bound(WAIT).await);
    assert!(link.stats().disconnects >= 1);
}

#[tokio::test]
async fn max_per_second_spaces_the_parts() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.max_per_second = 50.0;
    let (link, _events) = link(cfg).await;
    let started = std::time::Instant::now();
    for _ in 0..6 {
        link.send(&text("+14155552671", "paced")).await.unwrap();
    }
    // Six submits at 50 per second: five gaps of 20 ms at least.
    assert!(started.elapsed() >= Duration::from_millis(100), "{:?}", started.elapsed());
    assert_eq!(smsc.submits().len(), 6);
}

#[tokio::test]
async fn concurrent_sends_all_get_their_own_ids() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.window = 2;
    let (link, _events) = link(cfg).await;
    let sends = (0..10).map(|i| {
        let link = link.clone();
        tokio::spawn(async move { link.send(&text("+14155552671", &format!("message {i}"))).await })
    });
    let mut ids = Vec::new();
    for s in sends {
        ids.extend(s.await.unwrap().unwrap().provider_ids);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10);
    assert_eq!(smsc.submits().len(), 10);
}

#[tokio::test]
async fn the_window_caps_submits_in_flight() {
    let smsc = fake().await;
    smsc.delay_responses(Some(Duration::from_millis(30)));
    let mut cfg = smsc.config();
    cfg.window = 3;
    let (link, _events) = link(cfg).await;
    let sends: Vec<_> = (0..9)
        .map(|i| {
            let link = link.clone();
            tokio::spawn(async move { link.send(&text("+14155552671", &format!("windowed {i}"))).await })
        })
        .collect();
    for s in sends {
        assert!(s.await.unwrap().is_ok());
    }
    assert_eq!(smsc.max_in_flight(), 3);
}

#[test]
fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let cfg = SmppConfig::new("127.0.0.1", 2775, "desk", textdesk_channels::smpp::SmppPassword::new("x"));
    assert!(SmppLink::start(cfg).is_err());
}

#[tokio::test]
async fn sixteen_bit_udh_and_sar_parts_reassemble_and_stale_parts_expire() {
    use textdesk_channels::smpp::pdu::{Sm, SmAddr, Tlv, tlv};
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.reassembly_timeout = Duration::from_millis(100);
    let (_link, mut events) = link(cfg).await;
    let from = SmAddr { ton: 1, npi: 1, addr: "14155552671".into() };
    let udh16 = |seq: u8, body: &[u8]| Sm {
        source: from.clone(),
        esm_class: 0x40,
        data_coding: 3,
        short_message: [&[6, 8, 4, 0xAB, 0xCD, 2, seq][..], body].concat(),
        ..Sm::default()
    };
    smsc.deliver(udh16(2, b" world")).unwrap();
    smsc.deliver(udh16(1, b"Hello")).unwrap();
    let InboundEvent::Message { body, .. } = next(&mut events).await else { panic!() };
    assert_eq!(body, "Hello world");

    let sar = |seq: u8, body: &str| Sm {
        source: from.clone(),
        data_coding: 0,
        short_message: body.as_bytes().to_vec(),
        tlvs: vec![
            Tlv { tag: tlv::SAR_MSG_REF_NUM, value: vec![0, 9] },
            Tlv { tag: tlv::SAR_TOTAL_SEGMENTS, value: vec![2] },
            Tlv { tag: tlv::SAR_SEGMENT_SEQNUM, value: vec![seq] },
        ],
        ..Sm::default()
    };
    smsc.deliver(sar(1, "stale ")).unwrap();
    assert!(smsc.wait_until(WAIT, |s| s.deliver_sm_resps() == 3).await);
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The first part has expired, so this second part alone starts a new, incomplete message.
    smsc.deliver(sar(2, "part")).unwrap();
    smsc.send_mo("+14155552671", "+14155550100", "next").unwrap();
    let InboundEvent::Message { body, .. } = next(&mut events).await else { panic!() };
    assert_eq!(body, "next");
}

#[tokio::test]
async fn tls_to_a_plain_port_fails_with_a_clear_error() {
    let smsc = fake().await;
    let mut cfg = smsc.config();
    cfg.tls = true;
    cfg.host = "localhost".into();
    cfg.response_timeout = Duration::from_millis(500);
    let err = check_bind(&cfg).await.unwrap_err();
    assert!(err.starts_with("TLS handshake with localhost:"), "{err}");
}
