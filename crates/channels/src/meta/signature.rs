//! Meta's webhook checks (WhatsApp and Messenger alike): `X-Hub-Signature-256: sha256=<hex>`, the
//! HMAC-SHA256 of the raw body keyed by the app secret, and the verify token
//! of the subscription handshake. Both compared in constant time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header Meta puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

type HmacSha256 = Hmac<Sha256>;

/// The header value Meta sends for `body`: `sha256=` and 64 lowercase hex digits.
pub fn compute_signature(app_secret: &str, body: &[u8]) -> String {
    let Ok(mut mac) = HmacSha256::new_from_slice(app_secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether `header` is Meta's signature of `body` under `app_secret`. The hex
/// may come in either case; anything else (no prefix, SHA-1's `sha1=`) fails.
pub fn verify_signature(app_secret: &str, body: &[u8], header: &str) -> bool {
    if app_secret.is_empty() {
        return false;
    }
    let Some(given) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(given) = hex::decode(given) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Lengths are not secret (every SHA-256 is 32 bytes).
    given.len() == expected.len() && bool::from(expected.as_slice().ct_eq(&given))
}

/// Whether the handshake's `hub.verify_token` is the inbox's.
pub fn verify_token_matches(expected: &str, given: &str) -> bool {
    // Compared over hashes, so the time taken does not reveal the length either.
    use sha2::Digest;
    !expected.is_empty() && bool::from(Sha256::digest(expected.as_bytes()).ct_eq(&Sha256::digest(given.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_its_body_and_secret() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let sig = compute_signature("app-secret", body);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify_signature("app-secret", body, &sig));
        assert!(verify_signature("app-secret", body, &sig.to_ascii_uppercase().replace("SHA256=", "sha256=")));
        assert!(!verify_signature("other-secret", body, &sig));
        assert!(!verify_signature("app-secret", b"{}", &sig));
        assert!(!verify_signature("app-secret", body, sig.trim_start_matches("sha256=")));
        assert!(!verify_signature("app-secret", body, "sha256=zz"));
        assert!(!verify_signature("", body, &compute_signature("", body)));
        assert!(
            verify_token_matches("t0ken", "t0ken")
                && !verify_token_matches("t0ken", "t0ke")
                && !verify_token_matches("", "")
        );
    }
}
