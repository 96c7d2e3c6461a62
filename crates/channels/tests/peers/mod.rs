//! Running a Python peer (a provider's own client library, installed under
//! `target/peers` by scripts/test-deps): where its interpreter is, and one
//! JSON request in, one JSON answer out.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv `target/peers/{venv}`'s Python if it can import `module`; None
/// (said on stdout) when it is not installed, unless TEXTDESK_REQUIRE_PEERS=1.
pub fn python(venv: &str, module: &str, what: &str) -> Option<PathBuf> {
    let python = repo_root().join(format!("target/peers/{venv}/bin/python"));
    let installed = python.exists()
        && Command::new(&python).args(["-c", &format!("import {module}")]).status().is_ok_and(|s| s.success());
    if installed {
        return Some(python);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("{what} peer not installed at {} (run scripts/test-deps)", python.display());
    }
    println!("skipped: {what} peer not installed (run scripts/test-deps)");
    None
}

/// Runs `crates/channels/tests/peers/{script}` with one request, off the runtime's thread.
pub async fn ask(python: PathBuf, script: &'static str, request: Value) -> Value {
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(python)
            .arg(repo_root().join("crates/channels/tests/peers").join(script))
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
