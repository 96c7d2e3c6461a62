//! SmppLink against an independent SMSC: node-smpp (npm `smpp`), installed
//! by scripts/test-deps into target/peers/smpp, running
//! tests/peers/smpp/server.js. It checks our PDUs, UDH and GSM/UCS-2 bytes
//! with someone else's decoder, and ours against its encoder.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use textdesk_channels::smpp::{SmppConfig, SmppLink, SmppPassword, check_bind};
use textdesk_channels::{InboundEvent, Outgoing};
use textdesk_core::DeliveryStatus;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

fn peers_dir() -> PathBuf {
    match std::env::var_os("PEERS_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers"),
    }
}

/// The peer's node_modules, or None after saying why the test is skipped.
fn peer_installed() -> Option<PathBuf> {
    let modules = peers_dir().join("smpp/node_modules");
    if modules.join("smpp/package.json").exists() {
        return Some(modules);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the npm smpp peer is not installed in {}: run scripts/test-deps", modules.display());
    }
    println!("skipped: npm smpp peer not installed (run scripts/test-deps)");
    None
}

struct Peer {
    _child: Child,
    port: u16,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Peer {
    async fn start(modules: PathBuf) -> Peer {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/smpp/server.js");
        let mut child = Command::new("node")
            .arg(script)
            .args(["desk", "secret"])
            .env("NODE_PATH", modules)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(v);
                }
            }
        });
        let first = tokio::time::timeout(WAIT, lines.recv()).await.expect("the peer starts").expect("a line");
        assert_eq!(first["event"], "listening", "{first}");
        let port = first["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("a port");
        Peer { _child: child, port, lines }
    }

    /// The next logged line with this event name, skipping others.
    async fn next(&mut self, event: &str) -> Value {
        loop {
            let v = tokio::time::timeout(WAIT, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("the peer logs {event} in time"))
                .expect("the peer is running");
            if v["event"] == event {
                return v;
            }
        }
    }

    fn config(&self) -> SmppConfig {
        let mut cfg = SmppConfig::new("127.0.0.1", self.port, "desk", SmppPassword::new("secret"));
        cfg.response_timeout = Duration::from_secs(5);
        cfg.reconnect_min = Duration::from_millis(50);
        cfg.max_per_second = 1000.0;
        cfg
    }
}

async fn next_event(events: &mut mpsc::Receiver<InboundEvent>) -> InboundEvent {
    tokio::time::timeout(WAIT, events.recv()).await.expect("an event in time").expect("the channel is open")
}

#[tokio::test]
async fn talks_to_node_smpp() {
    let Some(modules) = peer_installed() else { return };
    let mut peer = Peer::start(modules).await;

    let mut wrong = peer.config();
    wrong.password = SmppPassword::new("nope");
    let err = check_bind(&wrong).await.unwrap_err();
    assert!(err.contains("password"), "{err}");

    let (link, mut events) = SmppLink::start(peer.config()).unwrap();
    assert!(link.wait_bound(WAIT).await, "{}", link.state());
    let bind = peer.next("bind").await;
    assert_eq!((bind["system_id"].as_str(), bind["interface_version"].as_u64()), (Some("desk"), Some(0x34)));

    // The peer's two-part MO, encoded by node-smpp, comes back whole.
    let InboundEvent::Message { from, body, .. } = next_event(&mut events).await else { panic!("an MO first") };
    assert_eq!(from.value(), "+14155552671");
    assert_eq!(body, "Hello from the node peer, this is part one; and this is part two {ok}");

    let long = "Your order #1234 has shipped, total €42 [paid]. Reply STOP to opt out. ".repeat(4);
    let to =
        Outgoing { from: "+14155550100".into(), to: "+14155552671".into(), body: long.clone(), ..Default::default() };
    let accepted = link.send(&to).await.unwrap();
    assert_eq!(accepted.provider_ids.len(), 2);
    let mut seen = Vec::new();
    for _ in 0..accepted.provider_ids.len() {
        seen.push(peer.next("submit_sm").await);
    }
    let udhs: Vec<&str> = seen.iter().map(|s| s["udh"][0].as_str().unwrap_or("")).collect();
    // node-smpp lists each information element: IEI 00, length 03, reference, total, sequence.
    assert_eq!(&udhs[0][..4], "0003");
    assert_eq!(&udhs[0][..6], &udhs[1][..6], "one reference for all parts");
    assert_eq!((&udhs[0][6..], &udhs[1][6..]), ("0201", "0202"));
    for s in &seen {
        assert_eq!((s["data_coding"].as_u64(), s["registered_delivery"].as_u64()), (Some(0), Some(1)));
        assert_eq!(s["esm_class"].as_u64().map(|e| e & 0x40), Some(0x40));
        assert_eq!(s["to"], "14155552671");
    }
    let joined: String = seen.iter().map(|s| s["text"].as_str().unwrap_or("")).collect();
    assert_eq!(joined, long);
    let ids: Vec<String> = seen.iter().map(|s| s["message_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(accepted.provider_ids, ids);

    // One receipt per part, from node-smpp's TLVs.
    let mut delivered = Vec::new();
    for _ in 0..ids.len() {
        match next_event(&mut events).await {
            InboundEvent::Status { provider_id, status: DeliveryStatus::Delivered, error: None } => {
                delivered.push(provider_id)
            }
            other => panic!("a delivered receipt, got {other:?}"),
        }
    }
    assert_eq!(delivered, ids);

    let unicode = Outgoing { body: "Привет 😀".into(), ..to.clone() };
    link.send(&unicode).await.unwrap();
    let s = peer.next("submit_sm").await;
    assert_eq!((s["data_coding"].as_u64(), s["text"].as_str()), (Some(8), Some("Привет 😀")));
    assert_eq!(peer.next("deliver_sm_resp").await["status"], 0);
}
