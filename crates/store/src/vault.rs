//! Secrets at rest: provider credentials (`inbox_secrets`) and the server's own
//! keys (`server_keys`) are sealed with XChaCha20-Poly1305 under one key the
//! operator keeps outside the database (`TEXTDESK_SECRET_KEY` or a key file).
//! A copy of the database, a backup or a stolen disk image therefore holds no
//! usable credential without that key.
//!
//! A sealed value is `sealed:v1:` + hex(nonce ‖ ciphertext). Each value is
//! bound to where it lives (`inbox_secrets:12`) as associated data, so a sealed
//! value copied into another row does not open. Values written before this
//! module existed are plain text; they still read during an upgrade and are
//! sealed by [`Store::unlock`] at the first start with a key.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use jiff::Timestamp;
use sqlx::Row;

use crate::{Result, Store, StoreError, to_ms};

const PREFIX: &str = "sealed:v1:";
/// What the check row seals: opening it proves the key is the one in use.
const PROBE: &str = "textdesk secret key check";
const PROBE_CONTEXT: &str = "secret_key_check";

/// The key, ready to seal and open. Its bytes never leave this type.
#[derive(Clone)]
pub struct Vault {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault(..)")
    }
}

/// Why a sealed value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VaultError {
    #[error("this secret key does not open the secrets stored in the database")]
    WrongKey,
    #[error("a stored secret is damaged")]
    Damaged,
}

impl Vault {
    pub const KEY_BYTES: usize = 32;

    pub fn new(key: [u8; Self::KEY_BYTES]) -> Vault {
        Vault { cipher: XChaCha20Poly1305::new(&Key::from(key)) }
    }

    /// 32 bytes from the operating system's generator.
    pub fn generate_key() -> [u8; Self::KEY_BYTES] {
        rand::random()
    }

    /// Seals `plain` for the place named by `context`.
    pub fn seal(&self, context: &str, plain: &str) -> Result<String> {
        let nonce: [u8; 24] = rand::random();
        let sealed = self
            .cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .map_err(|_| StoreError::Invalid("a secret could not be sealed".into()))?;
        let mut out = Vec::with_capacity(nonce.len() + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", hex::encode(out)))
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, VaultError> {
        let bytes = stored.strip_prefix(PREFIX).and_then(|h| hex::decode(h).ok()).ok_or(VaultError::Damaged)?;
        if bytes.len() < 24 + 16 {
            return Err(VaultError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| VaultError::Damaged)?;
        let plain = self
            .cipher
            .decrypt(&XNonce::from(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| VaultError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| VaultError::Damaged)
    }
}

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

fn inbox_context(inbox_id: i64) -> String {
    format!("inbox_secrets:{inbox_id}")
}

fn webhook_context(subscription_id: i64) -> String {
    format!("webhook_subscriptions:{subscription_id}")
}

fn server_key_context(name: &str) -> String {
    format!("server_keys:{name}")
}

/// What [`Store::unlock`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlocked {
    /// Secrets that were still in plain text and are now sealed.
    pub sealed_now: usize,
    /// True when this key was recorded as the database's key just now.
    pub first_key: bool,
}

impl Store {
    /// True when the database's secrets are already tied to a key (a new key
    /// would not open them).
    pub async fn has_secret_key(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) FROM secret_key_check").fetch_one(&self.pool).await?;
        Ok(row.try_get::<i64, _>(0)? > 0)
    }

    /// Checks `vault` against the database, records it as the key when there
    /// is none yet, seals what is still plain text, and keeps the key for every
    /// later read and write. A wrong key changes nothing.
    pub async fn unlock(&self, vault: Vault) -> Result<Unlocked> {
        let mut tx = self.begin_write().await?;
        // Two nodes starting at once record one key; the loser checks against it.
        let inserted = sqlx::query(
            "INSERT INTO secret_key_check (id, probe, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(vault.seal(PROBE_CONTEXT, PROBE)?)
        .bind(to_ms(Timestamp::now()))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let probe: String =
            sqlx::query("SELECT probe FROM secret_key_check WHERE id = 1").fetch_one(&mut *tx).await?.try_get(0)?;
        match vault.open(PROBE_CONTEXT, &probe) {
            Ok(p) if p == PROBE => {}
            _ => return Err(StoreError::WrongSecretKey),
        }
        let mut sealed_now = 0;
        for (inbox_id, secrets) in plain_rows(&mut tx, "SELECT inbox_id, secrets FROM inbox_secrets").await? {
            let sealed = vault.seal(&inbox_context(inbox_id), &secrets)?;
            // Only the value we read: another node sealing it at the same time wins.
            sealed_now += sqlx::query("UPDATE inbox_secrets SET secrets = $1 WHERE inbox_id = $2 AND secrets = $3")
                .bind(sealed)
                .bind(inbox_id)
                .bind(&secrets)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
        }
        let keys = sqlx::query("SELECT name, value FROM server_keys").fetch_all(&mut *tx).await?;
        for r in keys {
            let (name, value): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            if is_sealed(&value) {
                continue;
            }
            sealed_now += sqlx::query("UPDATE server_keys SET value = $1 WHERE name = $2 AND value = $3")
                .bind(vault.seal(&server_key_context(&name), &value)?)
                .bind(&name)
                .bind(&value)
                .execute(&mut *tx)
                .await?
                .rows_affected() as usize;
        }
        tx.commit().await?;
        // A second unlock (a test's restart on one store) keeps the first key, which it just matched.
        let _ = self.vault.set(vault);
        // Made now rather than at the first erasure, so that the inbound writer
        // finds it and keeps it (`privacy::erasure_key`) instead of looking for it
        // again in every batch with a new sender.
        self.server_key(crate::privacy::HASH_KEY).await?;
        Ok(Unlocked { sealed_now, first_key: inserted > 0 })
    }

    /// Re-seals every secret with `new` in one transaction and records it as
    /// the key; returns how many values were re-sealed. The store must be
    /// unlocked with the current key.
    pub async fn rotate_secret_key(&self, new: &Vault) -> Result<usize> {
        let old = self.vault()?;
        let mut tx = self.begin_write().await?;
        let mut count = 0;
        let rows = sqlx::query("SELECT inbox_id, secrets FROM inbox_secrets").fetch_all(&mut *tx).await?;
        for r in rows {
            let (inbox_id, stored): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
            let ctx = inbox_context(inbox_id);
            let plain = if is_sealed(&stored) { old.open(&ctx, &stored)? } else { stored };
            sqlx::query("UPDATE inbox_secrets SET secrets = $1 WHERE inbox_id = $2")
                .bind(new.seal(&ctx, &plain)?)
                .bind(inbox_id)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        let rows = sqlx::query("SELECT name, value FROM server_keys").fetch_all(&mut *tx).await?;
        for r in rows {
            let (name, stored): (String, String) = (r.try_get(0)?, r.try_get(1)?);
            let ctx = server_key_context(&name);
            let plain = if is_sealed(&stored) { old.open(&ctx, &stored)? } else { stored };
            sqlx::query("UPDATE server_keys SET value = $1 WHERE name = $2")
                .bind(new.seal(&ctx, &plain)?)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        // Outgoing webhooks' signing secrets are always written sealed.
        let rows = sqlx::query("SELECT id, secret FROM webhook_subscriptions").fetch_all(&mut *tx).await?;
        for r in rows {
            let (id, stored): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
            let ctx = webhook_context(id);
            sqlx::query("UPDATE webhook_subscriptions SET secret = $1 WHERE id = $2")
                .bind(new.seal(&ctx, &old.open(&ctx, &stored)?)?)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            count += 1;
        }
        sqlx::query("UPDATE secret_key_check SET probe = $1, created_at = $2 WHERE id = 1")
            .bind(new.seal(PROBE_CONTEXT, PROBE)?)
            .bind(to_ms(Timestamp::now()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(count)
    }

    fn vault(&self) -> Result<&Vault> {
        self.vault.get().ok_or(StoreError::Locked)
    }

    /// Seals an inbox's credentials for storage.
    pub(crate) fn seal_inbox_secrets(&self, inbox_id: i64, plain: &str) -> Result<String> {
        self.vault()?.seal(&inbox_context(inbox_id), plain)
    }

    /// Reads an inbox's stored credentials (sealed, or plain text from before the upgrade).
    pub(crate) fn open_inbox_secrets(&self, inbox_id: i64, stored: String) -> Result<String> {
        if !is_sealed(&stored) {
            return Ok(stored);
        }
        Ok(self.vault()?.open(&inbox_context(inbox_id), &stored)?)
    }

    pub(crate) fn seal_webhook_secret(&self, subscription_id: i64, plain: &str) -> Result<String> {
        self.vault()?.seal(&webhook_context(subscription_id), plain)
    }

    pub(crate) fn open_webhook_secret(&self, subscription_id: i64, stored: String) -> Result<String> {
        Ok(self.vault()?.open(&webhook_context(subscription_id), &stored)?)
    }

    pub(crate) fn seal_server_key(&self, name: &str, plain: &str) -> Result<String> {
        self.vault()?.seal(&server_key_context(name), plain)
    }

    pub(crate) fn open_server_key(&self, name: &str, stored: String) -> Result<String> {
        if !is_sealed(&stored) {
            return Ok(stored);
        }
        Ok(self.vault()?.open(&server_key_context(name), &stored)?)
    }
}

/// Rows of (id, text) whose text is not sealed yet.
async fn plain_rows(tx: &mut sqlx::AnyConnection, sql: &'static str) -> Result<Vec<(i64, String)>> {
    let rows = sqlx::query(sql).fetch_all(&mut *tx).await?;
    let mut out = Vec::new();
    for r in rows {
        let (id, text): (i64, String) = (r.try_get(0)?, r.try_get(1)?);
        if !is_sealed(&text) {
            out.push((id, text));
        }
    }
    Ok(out)
}

impl From<VaultError> for StoreError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::WrongKey => StoreError::WrongSecretKey,
            VaultError::Damaged => StoreError::Invalid(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_place() {
        let v = Vault::new([7; 32]);
        // The secret holds letters hex never uses, so finding them would mean the plain text leaked;
        // a hex-looking secret such as "abc" turns up in random ciphertext about one run in thirty.
        let sealed = v.seal("inbox_secrets:1", r#"{"auth_token":"xyz-token"}"#).unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("xyz"));
        assert_eq!(v.open("inbox_secrets:1", &sealed).unwrap(), r#"{"auth_token":"xyz-token"}"#);
        assert_eq!(v.open("inbox_secrets:2", &sealed), Err(VaultError::WrongKey), "moved to another row");
        assert_eq!(Vault::new([8; 32]).open("inbox_secrets:1", &sealed), Err(VaultError::WrongKey));
        assert_ne!(
            sealed,
            v.seal("inbox_secrets:1", r#"{"auth_token":"xyz-token"}"#).unwrap(),
            "a fresh nonce each time"
        );
        assert_eq!(v.open("inbox_secrets:1", "sealed:v1:zz"), Err(VaultError::Damaged));
        assert_eq!(v.open("inbox_secrets:1", &sealed[..40]), Err(VaultError::Damaged));
    }
}
