//! aiosmtpd, a real SMTP server, as a test peer: started on a port, keeping
//! what it receives in a Maildir the test reads.

use std::time::Duration;

/// The SMTP server's process, stopped when the test ends (even by a failed assertion).
pub struct Smtp(std::process::Child);

impl Smtp {
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn peer() -> Option<std::path::PathBuf> {
    let bin = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/peers/aiosmtpd/bin/python");
    if bin.exists() {
        return Some(bin);
    }
    if std::env::var("TEXTDESK_REQUIRE_PEERS").as_deref() == Ok("1") {
        panic!("the aiosmtpd peer is not installed in {} (run scripts/test-deps)", bin.display());
    }
    println!("skipped: the Python aiosmtpd peer is not installed (run scripts/test-deps)");
    None
}

/// aiosmtpd on a free port, keeping what it receives in a Maildir; None (the test says it was skipped)
/// unless peers are required.
pub fn smtp_server(dir: &std::path::Path) -> Option<(Smtp, u16)> {
    let port = super::binary::free_port();
    smtp_server_on(dir, port).map(|s| (s, port))
}

/// The same on a port chosen beforehand (a server that comes back where it was).
pub fn smtp_server_on(dir: &std::path::Path, port: u16) -> Option<Smtp> {
    let bin = peer()?;
    let server = Smtp(
        std::process::Command::new(bin)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("maildir"))
            .spawn()
            .unwrap(),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(server);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("aiosmtpd did not start on port {port}");
}

/// The messages the SMTP server kept, as raw text.
pub fn mails(dir: &std::path::Path) -> Vec<String> {
    let new = dir.join("maildir/new");
    let mut out: Vec<String> = std::fs::read_dir(new)
        .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Whether the aiosmtpd peer can run here (else the test says it was skipped).
pub fn available() -> bool {
    peer().is_some()
}

/// A kept message's headers (folded lines joined) and its text, decoded
/// from the transfer encoding the sender chose (lettre picks quoted-printable
/// or base64 for text that is not plain short ASCII).
pub fn parsed(mail: &str) -> (String, String) {
    use base64::Engine;
    let mail = mail.replace("\r\n", "\n");
    let (head, body) = mail.split_once("\n\n").unwrap_or((&mail, ""));
    let head = head.replace("\n ", " ").replace("\n\t", " ");
    let encoding = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Transfer-Encoding: "))
        .unwrap_or("7bit")
        .trim()
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64 body"),
        "quoted-printable" => {
            let joined = body.replace("=\n", "");
            let raw = joined.as_bytes();
            let mut out = Vec::with_capacity(raw.len());
            let mut i = 0;
            while i < raw.len() {
                let hex = raw.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                match (raw[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                    (b'=', Some(b)) => {
                        out.push(b);
                        i += 3;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            out
        }
        _ => body.as_bytes().to_vec(),
    };
    (head, String::from_utf8(bytes).expect("UTF-8 text"))
}
