//! The key that seals provider secrets at rest (`textdesk_store::Vault`): from
//! `TEXTDESK_SECRET_KEY`, or a key file (`secret_key_file`, by default
//! `data_dir/secret.key`) made with owner-only rights at first start. Every
//! way of opening the store for the server goes through [`unlock`].

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use textdesk_store::{Store, StoreError, Unlocked, Vault};

use crate::Config;

/// Where the key in use came from, as the operator would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Variable,
    File(PathBuf),
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeySource::Variable => f.write_str("TEXTDESK_SECRET_KEY"),
            KeySource::File(p) => write!(f, "the key file {}", p.display()),
        }
    }
}

pub struct SecretKey {
    pub vault: Vault,
    pub source: KeySource,
}

/// 32 bytes in base64, as `openssl rand -base64 32` prints them.
pub fn parse_key(text: &str, source: &KeySource) -> anyhow::Result<[u8; Vault::KEY_BYTES]> {
    let bytes = STANDARD.decode(text.trim()).ok();
    match bytes.and_then(|b| <[u8; Vault::KEY_BYTES]>::try_from(b).ok()) {
        Some(k) => Ok(k),
        None => bail!(
            "{source} must hold 32 random bytes in base64 (make one with `openssl rand -base64 32`); it holds something else"
        ),
    }
}

pub fn encode_key(key: &[u8; Vault::KEY_BYTES]) -> String {
    STANDARD.encode(key)
}

/// The configured key, or None when there is no variable and no key file yet.
pub fn read(cfg: &Config) -> anyhow::Result<Option<SecretKey>> {
    if let Some(text) = &cfg.secret_key {
        let source = KeySource::Variable;
        return Ok(Some(SecretKey { vault: Vault::new(parse_key(text, &source)?), source }));
    }
    let path = cfg.secret_key_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_shared(&path);
            let source = KeySource::File(path);
            Ok(Some(SecretKey { vault: Vault::new(parse_key(&text, &source)?), source }))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the secret key file {}", path.display())),
    }
}

#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path)
        && m.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the secret key file can be read by other users: chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_: &Path) {}

/// Writes a key file readable by its owner only. `create_new`: fail if one exists.
pub fn write_key_file(path: &Path, key: &[u8; Vault::KEY_BYTES], create_new: bool) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    writeln!(f, "{}", encode_key(key))?;
    f.sync_all()
}

/// Opens the store's secrets with the configured key, making the key (file)
/// at the very first start. A key that does not fit, or a missing key for a
/// database that has one, is an error saying what to do; nothing is changed.
pub async fn unlock(store: &Store, cfg: &Config) -> anyhow::Result<Unlocked> {
    let key = match read(cfg)? {
        Some(k) => k,
        None => {
            let path = cfg.secret_key_path();
            if store.has_secret_key().await? {
                bail!(
                    "this database's provider secrets are encrypted, but no key was found: TEXTDESK_SECRET_KEY is not \
                     set and there is no key file at {}. Put back the key file (from your key backup, or from \
                     another node) or set TEXTDESK_SECRET_KEY to the key. Nothing was changed.",
                    path.display()
                );
            }
            made_key(&path)?
        }
    };
    let unlocked = match store.unlock(key.vault).await {
        Ok(u) => u,
        Err(StoreError::WrongSecretKey) => bail!(
            "the secret key from {} does not open the provider secrets in this database: they were encrypted with \
             another key. Start with the key used before (set TEXTDESK_SECRET_KEY to it, or put its file back at {}); \
             with several nodes, every node needs the same key. Nothing was changed.",
            key.source,
            cfg.secret_key_path().display()
        ),
        Err(e) => return Err(e.into()),
    };
    if unlocked.sealed_now > 0 {
        tracing::info!(count = unlocked.sealed_now, "encrypted secrets that were stored in plain text");
    }
    Ok(unlocked)
}

/// A new key in a new file; if another process made the file first, its key.
fn made_key(path: &Path) -> anyhow::Result<SecretKey> {
    let key = Vault::generate_key();
    match write_key_file(path, &key, true) {
        Ok(()) => {
            tracing::info!(path = %path.display(), "made a new secret key file; keep a copy of it apart from backups");
            Ok(SecretKey { vault: Vault::new(key), source: KeySource::File(path.to_owned()) })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the secret key file {}", path.display()))?;
            let source = KeySource::File(path.to_owned());
            Ok(SecretKey { vault: Vault::new(parse_key(&text, &source)?), source })
        }
        Err(e) => Err(e).with_context(|| format!("writing the secret key file {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_32_bytes_of_base64() {
        let key = Vault::generate_key();
        assert_eq!(parse_key(&format!("{}\n", encode_key(&key)), &KeySource::Variable).unwrap(), key);
        let short = parse_key("c2hvcnQ=", &KeySource::Variable).unwrap_err().to_string();
        assert!(short.contains("TEXTDESK_SECRET_KEY must hold 32 random bytes"), "{short}");
        assert!(parse_key("not base64!", &KeySource::Variable).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret.key");
        write_key_file(&path, &[1; 32], true).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(write_key_file(&path, &[2; 32], true).unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(parse_key(&text, &KeySource::File(path)).unwrap(), [1; 32], "never overwritten");
    }
}
