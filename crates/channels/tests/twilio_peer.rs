//! Our signature check against signatures made by Twilio's own Python helper
//! library (installed by scripts/test-deps), an implementation we did not
//! write.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use textdesk_channels::twilio::validate_form;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The peer's interpreter, or `None` (after saying so) when it is not installed.
fn peer_python() -> Option<PathBuf> {
    let python = repo_root().join("target/peers/python/bin/python");
    let installed =
        python.exists() && Command::new(&python).args(["-c", "import twilio"]).status().is_ok_and(|s| s.success());
    if installed {
        return Some(python);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("python twilio peer not installed at {} (run scripts/test-deps)", python.display());
    }
    println!("skipped: python twilio peer not installed (run scripts/test-deps)");
    None
}

fn peer_sign(python: &PathBuf, token: &str, url: &str, params: &[(String, String)]) -> String {
    let request = serde_json::json!({ "token": token, "url": url, "params": params });
    let mut child = Command::new(python)
        .arg(repo_root().join("crates/channels/tests/peers/twilio/sign.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the python peer");
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the python peer failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

struct Case {
    token: &'static str,
    url: &'static str,
    params: Vec<(String, String)>,
}

fn cases() -> Vec<Case> {
    let token = "0123456789abcdef0123456789abcdef";
    vec![
        Case {
            token,
            url: "https://desk.example.com/webhooks/twilio/inbound",
            params: pairs(&[
                ("MessageSid", "SM0123456789abcdef0123456789abcdef"),
                ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
                ("From", "+14155552671"),
                ("To", "+14155550100"),
                ("Body", "Hi, is the shop open today?"),
                ("NumMedia", "0"),
            ]),
        },
        Case {
            // Repeated names, values deliberately unsorted.
            token,
            url: "https://desk.example.com/hook?inbox=7&x=a%20b",
            params: pairs(&[("Tag", "zeta"), ("Tag", "alpha"), ("Tag", "Mid"), ("A", "2"), ("A", "10"), ("B", "")]),
        },
        Case {
            // Unicode in names, values and the URL; emoji outside the BMP.
            token: "tøken-ü",
            url: "https://desk.example.com/wébhook?q=王",
            params: pairs(&[
                ("Body", "Grüße aus Köln 👋 — ça va? 你好"),
                ("FromCity", "SÃO PAULO"),
                ("Ünïcode", "ü"),
                ("Emoji", "😀"),
                ("Emoji", "a"),
            ]),
        },
        Case {
            // No parameters, explicit default port, http.
            token,
            url: "http://127.0.0.1:80/status?sid=SM1&status=sent&empty=",
            params: Vec::new(),
        },
        Case {
            // Characters that need escaping in a form body.
            token,
            url: "https://desk.example.com:8443/hook?a=1&b=2&b=1",
            params: pairs(&[
                ("Body", "a=b&c=d+e%20f\n\"quoted\" <tag>"),
                ("MediaUrl0", "https://api.twilio.com/x?y=1"),
            ]),
        },
    ]
}

#[test]
fn python_helper_signatures_validate_and_tampering_is_caught() {
    let Some(python) = peer_python() else { return };
    for (i, case) in cases().into_iter().enumerate() {
        let signature = peer_sign(&python, case.token, case.url, &case.params);
        assert_eq!(signature.len(), 28, "case {i}");
        assert!(validate_form(case.token, case.url, &case.params, &signature), "case {i}: peer signature rejected");

        // One byte changed in the URL.
        let url = format!("{}x", case.url);
        assert!(!validate_form(case.token, &url, &case.params, &signature), "case {i}: tampered URL accepted");
        // One byte changed in each parameter value.
        for j in 0..case.params.len() {
            let mut params = case.params.clone();
            params[j].1.push('.');
            assert!(!validate_form(case.token, case.url, &params, &signature), "case {i}: tampered param {j} accepted");
        }
        // One byte changed in the token.
        let token = format!("{}.", case.token);
        assert!(!validate_form(&token, case.url, &case.params, &signature), "case {i}: other token accepted");
        // One byte changed in the signature.
        let mut sig = signature.clone().into_bytes();
        sig[0] = if sig[0] == b'A' { b'B' } else { b'A' };
        let sig = String::from_utf8(sig).unwrap();
        assert!(!validate_form(case.token, case.url, &case.params, &sig), "case {i}: tampered signature accepted");
    }
}

#[test]
fn python_helper_agrees_on_the_published_vector() {
    let Some(python) = peer_python() else { return };
    let params = pairs(&[
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ]);
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    assert_eq!(peer_sign(&python, "12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
}
