//! The webhook signature against the vectors Twilio publishes in its own
//! helper libraries' tests (token "12345"), plus tampering.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests and benchmarks may panic on a broken setup.

use textdesk_channels::twilio::{compute_signature, json_url, validate_form, validate_json};

const TOKEN: &str = "12345";
const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;
const JSON_BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
const JSON_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

fn params() -> Vec<(String, String)> {
    // Deliberately not in sorted order.
    [
        ("To", "+18005551212"),
        ("CallSid", "CA1234567890ABCDE"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("Caller", "+14158675309"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn published_vector_computes_and_validates() {
    assert_eq!(compute_signature(TOKEN, URL, &params()), EXPECTED);
    assert!(validate_form(TOKEN, URL, &params(), EXPECTED));
}

#[test]
fn repeated_names_sort_their_values() {
    let repeated = pairs(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]);
    assert_eq!(compute_signature(TOKEN, URL, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    assert!(validate_form(TOKEN, URL, &repeated, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    // Same values, other order: same signature.
    let reordered = pairs(&[("Digits", "1234"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Sid", "CA123")]);
    assert!(validate_form(TOKEN, URL, &reordered, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    // Twilio's helpers sign a repeated identical pair once.
    let doubled =
        pairs(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]);
    assert!(validate_form(TOKEN, URL, &doubled, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
    // A value moved to another name is a different request.
    let moved = pairs(&[("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digit", "1234")]);
    assert!(!validate_form(TOKEN, URL, &moved, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
}

#[test]
fn default_port_is_accepted_both_ways() {
    // Published: the URL signed with :443 validates against the URL without it.
    assert!(validate_form(TOKEN, URL, &params(), "kvajT1Ptam85bY51eRf/AJRuM3w="));
    // And the URL given with :443 validates against a signature without it.
    let with_443 = URL.replace(".com", ".com:443");
    assert!(validate_form(TOKEN, &with_443, &params(), EXPECTED));
    // http with :80 added.
    let http = URL.replace("https", "http");
    assert!(validate_form(TOKEN, &http, &params(), "0ZXoZLH/DfblKGATFgpif+LLRf4="));
    // A non-default port is part of the signed URL.
    let http_1234 = http.replace(".com", ".com:1234");
    assert!(validate_form(TOKEN, &http_1234, &params(), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
    // Twilio's Python helper also strips non-default ports; we do not, so a
    // signature made without :1234 does not cover a request that came with it.
    let https_1234 = URL.replace(".com", ".com:1234");
    assert!(!validate_form(TOKEN, &https_1234, &params(), EXPECTED));
}

#[test]
fn json_body_vector() {
    let url = format!("{URL}&bodySHA256={JSON_BODY_HASH}");
    assert!(validate_json(TOKEN, &url, JSON_BODY.as_bytes(), JSON_SIGNATURE));
    assert_eq!(json_url(URL, JSON_BODY.as_bytes()), url);
    assert_eq!(compute_signature(TOKEN, &url, &[]), JSON_SIGNATURE);
    // Body changed by one byte: the hash no longer matches.
    assert!(!validate_json(TOKEN, &url, br#"{"property": "valuE", "boolean": true}"#, JSON_SIGNATURE));
    // Hash in the URL changed: the signature no longer matches.
    let other = url.replace("6620", "6621");
    assert!(!validate_json(TOKEN, &other, JSON_BODY.as_bytes(), JSON_SIGNATURE));
    // No bodySHA256 at all: the body is not covered, so nothing is accepted.
    assert!(!validate_json(TOKEN, URL, JSON_BODY.as_bytes(), &compute_signature(TOKEN, URL, &[])));
    assert!(!validate_json(TOKEN, &url, JSON_BODY.as_bytes(), ""));
    assert!(!validate_json("54321", &url, JSON_BODY.as_bytes(), JSON_SIGNATURE));
}

#[test]
fn one_changed_byte_anywhere_is_rejected() {
    let p = params();
    // URL
    assert!(!validate_form(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", &p, EXPECTED));
    assert!(!validate_form(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=2&", &p, EXPECTED));
    assert!(!validate_form(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", &p, EXPECTED));
    // Each parameter name and value
    for i in 0..p.len() {
        let mut v = p.clone();
        v[i].1.push('0');
        assert!(!validate_form(TOKEN, URL, &v, EXPECTED), "value {i}");
        let mut n = p.clone();
        n[i].0.make_ascii_lowercase();
        assert!(!validate_form(TOKEN, URL, &n, EXPECTED), "name {i}");
    }
    // A parameter added or removed
    let mut extra = p.clone();
    extra.push(("Body".into(), String::new()));
    assert!(!validate_form(TOKEN, URL, &extra, EXPECTED));
    assert!(!validate_form(TOKEN, URL, &p[1..], EXPECTED));
    // Token
    assert!(!validate_form("12346", URL, &p, EXPECTED));
    assert!(!validate_form("", URL, &p, EXPECTED));
    // Signature: each byte changed, truncated, padded, missing
    for i in 0..EXPECTED.len() {
        let mut bytes = EXPECTED.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(!validate_form(TOKEN, URL, &p, &tampered), "signature byte {i}");
    }
    assert!(!validate_form(TOKEN, URL, &p, &EXPECTED[..27]));
    assert!(!validate_form(TOKEN, URL, &p, &format!("{EXPECTED} ")));
    assert!(!validate_form(TOKEN, URL, &p, ""));
    assert!(!validate_form(TOKEN, URL, &p, "invalid 王"));
}

#[test]
fn garbage_urls_and_params_never_panic() {
    let weird =
        ["", "://", "https://", "https://[", "https://]:443", "https://a:b:c@", "h://x", "https://é.com:443/ü?ä=1#f"];
    let params = pairs(&[("", ""), ("\u{0}", "\u{ffff}"), ("ü", "王"), ("", "x")]);
    for url in weird {
        let sig = compute_signature(TOKEN, url, &params);
        assert!(validate_form(TOKEN, url, &params, &sig), "{url}");
        assert!(!validate_json(TOKEN, url, b"{}", &sig));
    }
}
