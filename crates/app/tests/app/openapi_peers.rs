//! The API document read by programs we did not write (installed by
//! scripts/test-deps under target/peers/openapi): a Python client generated
//! from it by openapi-python-client lists conversations with filters and
//! sends a reply, and schemathesis sends generated requests to every
//! operation, failing on any server error, answer that breaks the document,
//! or status the document does not name. Without the peers the tests say
//! they were skipped, unless TEXTDESK_REQUIRE_PEERS=1.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

use common::*;
use textdesk_core::Role;

fn peers() -> Option<PathBuf> {
    let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/openapi/bin");
    if bin.join("schemathesis").exists() && bin.join("openapi-python-client").exists() {
        return Some(bin);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the OpenAPI peers are not installed in {} (run scripts/test-deps)", bin.display());
    }
    println!("skipped: the OpenAPI peers are not installed (run scripts/test-deps)");
    None
}

/// The count schemathesis prints after `label` ("Operations: 113 selected", "Authentication failed: 2 operations").
fn number_after(text: &str, label: &str) -> Option<usize> {
    let rest = text.split(label).nth(1)?;
    Some(rest.split_whitespace().next()?.parse().unwrap_or(usize::MAX))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the peer starts");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// What the generated client does: the calls an integrator would write.
const CLIENT_SCRIPT: &str = r#"
import json, sys
from textdesk_api_client import AuthenticatedClient
from textdesk_api_client.api.conversations import list_conversations
from textdesk_api_client.api.messages import create_message
from textdesk_api_client.models import NewMessageIn

base, token, words = sys.argv[1], sys.argv[2], sys.argv[3]
client = AuthenticatedClient(base_url=base, token=token, raise_on_unexpected_status=True)
found = list_conversations.sync(client=client, view="all", status="open", q=words, sort="activity", limit=10)
none = list_conversations.sync(client=client, status="resolved", limit=10)
conv = found.items[0]
sent = create_message.sync(id=conv.id, client=client, body=NewMessageIn(body="Yes, Thursday at 3 works."))
print(json.dumps({"found": [c.id for c in found.items], "resolved": len(none.items),
                  "sent_to": conv.id, "sent_body": sent.body, "direction": sent.direction}))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generated_python_client_lists_and_replies() {
    let Some(bin) = peers() else { return };
    let t = app(Db::Sqlite).start().await;
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550123", "Can I move my cleaning to Thursday?", None).await;
    t.text_in(inbox, "+14155550124", "Thanks, all good", None).await;
    let token = t.token_for("dana@example.com", Role::Agent).await;
    let dir = tempfile::tempdir().unwrap();
    let doc = dir.path().join("openapi.json");
    std::fs::write(&doc, t.client.get(t.url("/api/v1/openapi.json")).send().await.unwrap().bytes().await.unwrap())
        .unwrap();
    let out = dir.path().join("client");
    // No formatter run over the generated code: it is used, not kept.
    let config = dir.path().join("generator.yaml");
    // A contact's export is a ZIP: a file download to the generator, as its
    // documented override says (it knows application/octet-stream as a File).
    std::fs::write(&config, "post_hooks: []\ncontent_type_overrides:\n  application/zip: application/octet-stream\n")
        .unwrap();
    let generated = run(Command::new(bin.join("openapi-python-client"))
        .args(["generate", "--fail-on-warning", "--path"])
        .arg(&doc)
        .arg("--output-path")
        .arg(&out)
        .arg("--config")
        .arg(&config));
    let script = dir.path().join("use_client.py");
    std::fs::write(&script, CLIENT_SCRIPT).unwrap();
    let printed =
        run(Command::new(bin.join("python")).arg(&script).args([&t.base, &token, "thursday"]).env("PYTHONPATH", &out));
    let result: serde_json::Value =
        serde_json::from_str(printed.lines().last().unwrap()).unwrap_or_else(|_| panic!("{generated}\n{printed}"));
    let list = json(t.get(&token, "/api/v1/conversations?q=thursday").await).await;
    let wanted = list["items"][0]["id"].clone();
    assert_eq!(result["found"], serde_json::json!([wanted]), "the filters reached the server: {result}");
    assert_eq!(result["resolved"], 0);
    assert_eq!((&result["sent_to"], &result["direction"]), (&wanted, &serde_json::json!("outbound")));
    let thread = json(t.get(&token, &format!("/api/v1/conversations/{wanted}/messages")).await).await;
    assert!(thread.to_string().contains("Yes, Thursday at 3 works."), "the reply is in the thread: {thread}");
}

/// The operator's token on the server schemathesis tests.
const OPERATOR_TOKEN: &str = "an operator token for schemathesis";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_wrong() {
    let Some(bin) = peers() else { return };
    // Schemathesis tries hundreds of bad tokens from one address; with the
    // default limit every later answer would be 429 (documented, but it would
    // hide what the operations themselves do).
    // The operator's API exists only where an operator token is configured (404 elsewhere, by design): this
    // server has one, so its operations answer as documented.
    let t = app(Db::Sqlite)
        .config(|c| {
            c.login_ip_attempts = 1_000_000;
            c.operator_token = Some(OPERATOR_TOKEN.into());
        })
        .start()
        .await;
    let inbox = t.simulator_inbox().await;
    t.text_in(inbox, "+14155550123", "Hello there", None).await;
    let token = t.token_for("ada@example.com", Role::Admin).await;
    let dir = tempfile::tempdir().unwrap();
    // A 422 answers a value JSON Schema cannot judge (a real phone number, a
    // known zone): documented on every operation that reads input, so it
    // counts as an answer to schema-valid data.
    std::fs::write(
        dir.path().join("schemathesis.toml"),
        "[checks.positive_data_acceptance]\nexpected-statuses = [\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"422\", \"429\"]\n",
    )
    .unwrap();
    // Revoking tokens and demoting users would lock the run out halfway
    // (the token it uses is among them): those two go last, on their own.
    let last = ["/api/v1/tokens/{id}", "/api/v1/users/{id}"];
    // The event stream never ends; the live module covers it. The operator's API takes the operator's token, not
    // an account's: it runs on its own with that token.
    let operator = "/api/v1/operator/accounts";
    let mut everything_else = vec!["--exclude-path", "/api/v1/events", "--exclude-path", operator];
    everything_else.extend(last.iter().flat_map(|p| ["--exclude-path", p]));
    let lockouts: Vec<&str> = last.iter().flat_map(|p| ["--include-path", p]).collect();
    let operator_token = OPERATOR_TOKEN;
    // The lockouts may revoke the run's own token, and the operator's token is no account's.
    for (selection, seconds, token, token_survives) in [
        (everything_else, "70", token.as_str(), true),
        (lockouts, "20", token.as_str(), false),
        (vec!["--include-path", operator], "10", operator_token, false),
    ] {
        let out = Command::new(bin.join("schemathesis"))
            .arg("run")
            .arg(t.url("/api/v1/openapi.json"))
            .args(["--url", &t.base, "--header", &format!("Authorization: Bearer {token}")])
            .args(["--checks", "all", "--max-examples", "10", "--seed", "7", "--no-color"])
            // Bounded, so CI spends about a minute and a half here.
            .args(["--max-time", seconds, "--request-timeout", "10"])
            .args(&selection)
            .current_dir(dir.path())
            .output()
            .expect("schemathesis starts");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "schemathesis found problems:\n{text}");
        assert!(text.contains("passed"), "{text}");
        // Schemathesis warns "Authentication failed" for an operation whose only answers besides 404 were its own
        // unauthenticated probes' 401s: an unknown id it could not guess (on a loaded machine it tries fewer). A
        // token that did not work would put nearly every operation there; and the token must still work after.
        let tested = number_after(&text, "Operations:").unwrap_or(0);
        let refused = number_after(&text, "Authentication failed: ").unwrap_or(0);
        assert!(refused.saturating_mul(2) < tested.max(2), "the token did not work for schemathesis:\n{text}");
        if token_survives {
            assert_eq!(t.get(token, "/api/v1/me").await.status(), 200, "the run's token still works");
        }
    }
}
