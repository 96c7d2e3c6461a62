//! WeChat's checks and "safe mode" message encryption. A plain request is
//! signed as the SHA-1 (hex) of the token, timestamp and nonce sorted and
//! joined; an encrypted one as the SHA-1 of those and the `Encrypt` field
//! (`msg_signature`). The encryption: AES-256-CBC under the 43-character
//! EncodingAESKey (base64 without its `=`), the key's first 16 bytes as the
//! IV, PKCS#7 padding to 32-byte blocks, over random(16) + the message's
//! length (4 bytes, big-endian) + the message + the AppID.

use aes::Aes256;
use aes::cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit};
use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// WeChat pads to 32 bytes, not AES's 16.
const PAD_BLOCK: usize = 32;

/// The SHA-1 signature of `parts`, sorted and joined, as 40 lowercase hex digits.
pub fn sign(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    hex::encode(Sha1::digest(sorted.concat().as_bytes()))
}

/// Whether `given` is the signature of `parts` (constant time; hex in either case).
pub fn signature_matches(parts: &[&str], given: &str) -> bool {
    let expected = sign(parts);
    let given = given.trim().to_ascii_lowercase();
    given.len() == expected.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// An inbox's EncodingAESKey, read.
#[derive(Clone)]
pub struct AesKey([u8; 32]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl AesKey {
    /// The 43 characters WeChat's console shows.
    pub fn parse(encoding_aes_key: &str) -> Result<AesKey, String> {
        let k = encoding_aes_key.trim();
        let bad = || "the EncodingAESKey is the 43 letters and digits WeChat's console shows".to_owned();
        if k.len() != 43 {
            return Err(bad());
        }
        // WeChat's keys do not keep the last character's spare bits zero, as strict base64 wants.
        let lenient =
            GeneralPurpose::new(&alphabet::STANDARD, GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true));
        let bytes = lenient.decode(format!("{k}=")).map_err(|_| bad())?;
        Ok(AesKey(bytes.try_into().map_err(|_| bad())?))
    }

    /// Encrypts `msg` for `app_id`, as WeChat does (base64). `random` is the 16-byte prefix.
    pub fn encrypt(&self, msg: &str, app_id: &str, random: [u8; 16]) -> String {
        let mut plain = Vec::with_capacity(20 + msg.len() + app_id.len() + PAD_BLOCK);
        plain.extend_from_slice(&random);
        plain.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        plain.extend_from_slice(msg.as_bytes());
        plain.extend_from_slice(app_id.as_bytes());
        let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
        plain.extend(std::iter::repeat_n(pad as u8, pad));
        let cipher = Aes256::new(&self.0.into());
        let mut prev: [u8; 16] = self.iv();
        for chunk in plain.chunks_exact_mut(16) {
            for (b, p) in chunk.iter_mut().zip(prev) {
                *b ^= p;
            }
            let block: &mut [u8; 16] = chunk.try_into().unwrap_or_else(|_| unreachable!());
            let mut b = (*block).into();
            cipher.encrypt_block(&mut b);
            *block = b.into();
            prev = *block;
        }
        STANDARD.encode(plain)
    }

    /// Decrypts an `Encrypt` field: the message, if it is for `app_id`.
    pub fn decrypt(&self, encrypted: &str, app_id: &str) -> Result<String, String> {
        let bytes = STANDARD.decode(encrypted.trim()).map_err(|_| "Encrypt is not base64".to_owned())?;
        if bytes.is_empty() || bytes.len() % PAD_BLOCK != 0 {
            return Err("Encrypt is not whole blocks".into());
        }
        let cipher = Aes256::new(&self.0.into());
        let mut prev: [u8; 16] = self.iv();
        let mut plain = Vec::with_capacity(bytes.len());
        for chunk in bytes.chunks_exact(16) {
            let given: [u8; 16] = chunk.try_into().map_err(|_| "Encrypt is not whole blocks".to_owned())?;
            let mut b = given.into();
            cipher.decrypt_block(&mut b);
            let out: [u8; 16] = b.into();
            plain.extend(out.iter().zip(prev).map(|(x, p)| x ^ p));
            prev = given;
        }
        let pad = usize::from(*plain.last().unwrap_or(&0));
        if pad == 0
            || pad > PAD_BLOCK
            || pad > plain.len()
            || !plain[plain.len() - pad..].iter().all(|&b| usize::from(b) == pad)
        {
            return Err("the message could not be decrypted (wrong EncodingAESKey?)".into());
        }
        plain.truncate(plain.len() - pad);
        let len_bytes: [u8; 4] = plain.get(16..20).and_then(|s| s.try_into().ok()).ok_or("the message is too short")?;
        let len = u32::from_be_bytes(len_bytes) as usize;
        let msg = plain.get(20..20 + len).ok_or("the message's length is wrong")?;
        let to = &plain[20 + len..];
        if !bool::from(to.ct_eq(app_id.as_bytes())) {
            return Err("the message is for another AppID".into());
        }
        String::from_utf8(msg.to_vec()).map_err(|_| "the message is not UTF-8".into())
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Tencent's own sample for the message encryption (WXBizMsgCrypt's Sample.py).
    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    const APP_ID: &str = "wx2c2769f8efd9abc2";
    const ENCRYPT: &str = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";

    #[test]
    fn tencents_sample_verifies_and_decrypts() {
        let parts = ["spamtest", "1409735669", "1320562132", ENCRYPT];
        assert!(signature_matches(&parts, "5d197aaffba7e9b25a30732f161a50dee96bd5fa"));
        assert!(!signature_matches(
            &["spamtest", "1409735670", "1320562132", ENCRYPT],
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        ));
        assert!(!signature_matches(
            &["another", "1409735669", "1320562132", ENCRYPT],
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        ));
        let key = AesKey::parse(KEY).unwrap();
        let xml = key.decrypt(ENCRYPT, APP_ID).unwrap();
        assert!(xml.contains("<Content><![CDATA[abcdteT]]></Content>") && xml.contains("6054768590064713728"), "{xml}");
        assert!(key.decrypt(ENCRYPT, "wx0000000000000000").is_err(), "another AppID");
        let wrong = AesKey::parse("bbcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").unwrap();
        assert!(wrong.decrypt(ENCRYPT, APP_ID).is_err());
        assert!(!format!("{key:?}").contains("abc"));
        assert!(AesKey::parse("short").is_err());
    }

    #[test]
    fn what_is_encrypted_decrypts_to_itself() {
        let key = AesKey::parse(KEY).unwrap();
        for msg in ["", "a", &"x".repeat(31), &"你好".repeat(40)] {
            let sealed = key.encrypt(msg, APP_ID, *b"0123456789abcdef");
            assert_eq!(key.decrypt(&sealed, APP_ID).unwrap(), msg);
        }
        // The plain signature: the token, timestamp and nonce only.
        assert_eq!(sign(&["b", "a", "c"]), sign(&["a", "b", "c"]));
    }
}
