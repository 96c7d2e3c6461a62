//! Slow and silent connections, over raw TCP against the application (short
//! timeouts in the test config): silent sockets, headers a line at a time and
//! bodies a byte at a time are closed once their time is up; past the
//! connection cap the oldest idle socket makes room, so `/healthz` still
//! answers, and a newcomer finding every connection busy gets a short 503;
//! a keep-alive connection left idle after its request is closed; live event
//! streams outlive the header timeout.

use crate::common;

use std::time::{Duration, Instant};

use common::{Db, app};
use textdesk_core::Role;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(t: &common::TestApp) -> TcpStream {
    TcpStream::connect(t.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads until the server closes the connection (or `limit` passes); returns
/// what it sent and when it closed.
async fn until_closed(s: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(limit.saturating_sub(started.elapsed()), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), Some(started.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_header_and_slow_body_connections_are_closed() {
    let t = app(Db::Sqlite)
        .config(|c| {
            c.header_timeout_secs = 1;
            c.body_timeout_secs = 2;
        })
        .start()
        .await;

    // Silent: closed after the header timeout.
    let mut silent = connect(&t).await;
    let (_, closed) = until_closed(&mut silent, Duration::from_secs(5)).await;
    let closed = closed.expect("a silent socket is closed");
    assert!(closed >= Duration::from_millis(800), "{closed:?}");

    // Headers a line at a time, every 400 ms: closed while still dripping.
    let mut slow = connect(&t).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let (mut read, mut write) = slow.into_split();
    let drip = tokio::spawn(async move {
        for i in 0..20 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if write.write_all(format!("X-Slow-{i}: 1\r\n").as_bytes()).await.is_err() {
                return i;
            }
        }
        20
    });
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(6), read.read(&mut buf)).await.expect("closed").unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).contains("200 OK"), "headers never finished");
    assert!(started.elapsed() < Duration::from_secs(3), "closed after {:?}", started.elapsed());
    drip.abort();

    // A body a byte at a time, every 400 ms: 408 once its 2 s are up, then closed.
    let mut body = connect(&t).await;
    body.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n",
    )
    .await
    .unwrap();
    let (mut read, mut write) = body.into_split();
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(400)).await;
            if write.write_all(b"a").await.is_err() {
                return;
            }
        }
    });
    let started = Instant::now();
    let mut got = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(8), read.read_to_end(&mut got)).await;
    let answer = String::from_utf8_lossy(&got);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(closed.is_ok(), "the connection is closed after the 408");
    assert!(started.elapsed() < Duration::from_secs(4), "answered after {:?}", started.elapsed());
    drip.abort();

    // A normal request still works.
    assert_eq!(t.client.get(t.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keep_alive_connection_left_idle_is_closed() {
    // The header timeout is far off, so only the idle timeout can end the connection.
    let t = app(Db::Sqlite)
        .config(|c| {
            c.header_timeout_secs = 30;
            c.idle_timeout_secs = 1;
        })
        .start()
        .await;
    let mut s = connect(&t).await;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.expect("an answer").unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200") && !answer.contains("onnection: close"), "kept alive: {answer}");
    // Then nothing either way: closed once the idle second is up, long before the header timeout.
    let (rest, closed) = until_closed(&mut s, Duration::from_secs(6)).await;
    let closed = closed.expect("an idle keep-alive connection is closed");
    assert!(rest.is_empty(), "nothing more was sent: {rest}");
    assert!(closed >= Duration::from_millis(700) && closed < Duration::from_secs(4), "closed after {closed:?}");
    // A fresh connection is served as usual.
    assert_eq!(t.client.get(t.url("/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_cap_idle_sockets_make_room_and_busy_ones_get_a_refusal() {
    let t = app(Db::Sqlite)
        .config(|c| {
            c.max_connections = 20;
            c.header_timeout_secs = 30;
            c.body_timeout_secs = 30;
        })
        .start()
        .await;
    // 30 silent sockets against a cap of 20.
    let mut idle = Vec::new();
    for _ in 0..30 {
        idle.push(connect(&t).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let r = fresh.get(t.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "health checks still get through");
    let mut closed = 0;
    for s in &mut idle {
        if until_closed(s, Duration::from_millis(50)).await.1.is_some() {
            closed += 1;
        }
    }
    assert!(closed >= 10, "the oldest idle sockets made room: {closed} closed");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 20 connections busy sending a body: the 21st is told plainly.
    let mut busy = Vec::new();
    for _ in 0..20 {
        let mut s = connect(&t).await;
        s.write_all(b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 50\r\n\r\n")
            .await
            .unwrap();
        busy.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut newcomer = connect(&t).await;
    let _ = newcomer.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let (answer, closed) = until_closed(&mut newcomer, Duration::from_secs(3)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("Retry-After: 1") && answer.ends_with("Try again in a moment"), "{answer}");
    assert!(closed.is_some(), "and closed");
    drop(busy);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fresh.get(t.url("/healthz")).send().await.unwrap().status(), 200, "room again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_outlast_the_header_timeout() {
    let t = app(Db::Sqlite).config(|c| c.header_timeout_secs = 1).start().await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let inbox = t.simulator_inbox().await;
    let mut s = connect(&t).await;
    s.write_all(format!("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Three header timeouts later, the stream still delivers what happens.
    tokio::time::sleep(Duration::from_secs(3)).await;
    t.text_in(inbox, "+14155550123", "Still there?", None).await;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("message.created") {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, s.read(&mut buf)).await.expect("an event arrives").unwrap();
        assert!(n > 0, "the stream was closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

/// The real binary under `ulimit -n 300` (soft and hard) with the default cap
/// of 800: it says the cap was lowered and how to raise the limit, and 400
/// silent sockets (more than its files) still leave `/healthz` answering, as
/// the oldest idle ones make room instead of `accept` running out of files.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_low_open_file_limit_the_cap_is_lowered_to_fit() {
    use common::binary::{BIN, Env, Server};
    let dir = tempfile::tempdir().unwrap();
    let env = Env::new(&format!("sqlite://{}", dir.path().join("textdesk.db").display()), dir.path())
        .set("TEXTDESK_HEADER_TIMEOUT_SECS", 60);
    env.run(&["migrate"], None);
    let serve = env.command(&["serve"]);
    let mut sh = std::process::Command::new("sh");
    sh.args(["-c", "ulimit -n 300 && exec \"$0\" serve", BIN]).env_remove("TEXTDESK_CONFIG");
    for (k, v) in serve.get_envs() {
        if let Some(v) = v {
            sh.env(k, v);
        }
    }
    let log = dir.path().join("server.log");
    sh.stdout(std::fs::File::create(log.with_extension("out")).unwrap());
    sh.stderr(std::fs::File::create(&log).unwrap());
    let _server = Server(sh.spawn().unwrap());
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let health = format!("{}/healthz", env.base());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fresh.get(&health).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "not healthy: {}", std::fs::read_to_string(&log).unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let said = std::fs::read_to_string(&log).unwrap() + &std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(said.contains("max_connections is more than the open-file limit allows"), "{said}");
    assert!(said.contains("LimitNOFILE"), "{said}");

    let addr = env.base().trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..400 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let r = tokio::time::timeout(Duration::from_secs(5), fresh.get(&health).send()).await;
    assert!(r.is_ok_and(|r| r.is_ok_and(|r| r.status().is_success())), "/healthz answers past the file limit");
    drop(idle);
}
