//! The operator's safe: `textdesk backup`, `textdesk restore` and
//! `textdesk secrets rotate-key`.
//!
//! A backup is one tar file: `textdesk-backup.json` (what it is), `textdesk.db`
//! (a consistent copy made by SQLite's `VACUUM INTO`, one read transaction, so
//! the server keeps serving) and `media/` (the attachments' files, copied after
//! the database, so every file the copy names is there). The secret key is
//! deliberately not in it: a stolen backup then holds no usable provider
//! credential, and the operator keeps the key apart.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use sqlx::Connection;
use textdesk::Config;
use textdesk::secrets::{self, KeySource};
use textdesk_store::{Store, Vault};

const MANIFEST: &str = "textdesk-backup.json";
const DATABASE: &str = "textdesk.db";
const FORMAT: u64 = 1;

#[derive(Subcommand)]
pub enum VaultCommand {
    /// Copy the database and the media folder into one file. Safe while the
    /// server runs (SQLite); with PostgreSQL, prints the pg_dump command to use.
    Backup {
        /// The file to write (refused if it exists).
        #[arg(long)]
        to: PathBuf,
    },
    /// Put a backup's database and media folder in place (stop the server first).
    Restore {
        /// A file made by `textdesk backup`.
        #[arg(long)]
        from: PathBuf,
        /// Replace the database and media already in the data directory.
        #[arg(long)]
        force: bool,
    },
    /// The key that encrypts provider secrets.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Encrypt every stored secret again with a new key, and save the key
    /// where the old one was (its file, or printed for TEXTDESK_SECRET_KEY).
    RotateKey,
}

pub async fn run(cfg: &Config, command: VaultCommand) -> anyhow::Result<()> {
    match command {
        VaultCommand::Backup { to } => backup(cfg, &to).await,
        VaultCommand::Restore { from, force } => restore(cfg, &from, force).await,
        VaultCommand::Secrets { command: SecretsCommand::RotateKey } => rotate_key(cfg).await,
    }
}

/// The SQLite file of `sqlite://PATH?options`.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// The database URL without its password, for a command to print.
fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => textdesk::config::redact_url(url),
    }
}

fn media_dir(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("media")
}

async fn backup(cfg: &Config, to: &Path) -> anyhow::Result<()> {
    if !cfg.is_sqlite() {
        bail!(
            "this installation keeps its data in PostgreSQL, which backs up best with its own tool:\n\n    \
             pg_dump --format=custom --file=textdesk.dump '{}'\n\n(the password is left out: give it in PGPASSWORD \
             or ~/.pgpass). Copy the media folder {} with it, and keep the secret key apart. No backup was written.",
            without_password(&cfg.database_url),
            media_dir(cfg).display()
        );
    }
    let db = sqlite_path(&cfg.database_url);
    if !db.exists() {
        bail!("there is no database at {} to back up (check --data-dir or TEXTDESK_DATABASE_URL)", db.display());
    }
    if to.exists() {
        bail!("{} already exists; choose another name, or remove it first", to.display());
    }
    let partial = with_suffix(to, ".partial");
    let copy = with_suffix(to, ".db.partial");
    let result = write_backup(cfg, &db, to, &partial, &copy).await;
    let _ = std::fs::remove_file(&copy);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    let (db_bytes, files, media_bytes) = result?;
    println!(
        "backed up the database ({}) and {files} media files ({}) to {}",
        textdesk::services::media::human_size(db_bytes),
        textdesk::services::media::human_size(media_bytes),
        to.display()
    );
    println!(
        "The secret key is not in the backup. Keep a copy of {} apart from it: the provider credentials in the \
         backup are encrypted with it.",
        match secrets::read(cfg)? {
            Some(k) => k.source.to_string(),
            None => format!("the key file {}", cfg.secret_key_path().display()),
        }
    );
    Ok(())
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Writes the tar to `partial` and renames it to `to`; returns (database bytes, media files, media bytes).
async fn write_backup(
    cfg: &Config,
    db: &Path,
    to: &Path,
    partial: &Path,
    copy: &Path,
) -> anyhow::Result<(u64, usize, u64)> {
    let _ = std::fs::remove_file(copy);
    // One read transaction: a consistent copy while the server goes on writing.
    // Read-write (never created): a read-only open of a WAL database needs its -shm file.
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rw", db.display()))
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut conn).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(copy.display().to_string())
        .execute(&mut conn)
        .await
        .context("copying the database")?;
    conn.close().await?;
    let db_bytes = std::fs::metadata(copy)?.len();

    let file = std::fs::File::create_new(partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    tar.mode(tar::HeaderMode::Deterministic);
    let mut files = 0;
    let mut media_bytes = 0;
    let media = media_dir(cfg);
    let mut names = Vec::new();
    match std::fs::read_dir(&media) {
        Ok(entries) => {
            for e in entries {
                let e = e?;
                if e.file_type()?.is_file() {
                    names.push(e.file_name());
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", media.display())),
    }
    names.sort();
    let manifest = serde_json::json!({
        "format": FORMAT,
        "made_by": format!("textdesk {}", env!("CARGO_PKG_VERSION")),
        "created_at": jiff::Timestamp::now().to_string(),
        "database": DATABASE,
        "media_files": names.len(),
    });
    append_bytes(&mut tar, MANIFEST, manifest.to_string().as_bytes())?;
    tar.append_path_with_name(copy, DATABASE)?;
    for name in names {
        let path = media.join(&name);
        match std::fs::File::open(&path) {
            Ok(mut f) => {
                media_bytes += f.metadata()?.len();
                tar.append_file(Path::new("media").join(&name), &mut f)?;
                files += 1;
            }
            // Swept as an orphan after the listing: the copied database does not name it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    let mut out = tar.into_inner()?;
    out.flush()?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(partial, to).with_context(|| format!("moving the backup into {}", to.display()))?;
    Ok((db_bytes, files, media_bytes))
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
}

async fn restore(cfg: &Config, from: &Path, force: bool) -> anyhow::Result<()> {
    if !cfg.is_sqlite() {
        bail!(
            "this installation keeps its data in PostgreSQL: restore a pg_dump file with\n\n    \
             pg_restore --clean --if-exists --dbname='{}' textdesk.dump\n\n(the password is left out: give it in \
             PGPASSWORD or ~/.pgpass), and put the media folder back at {}. Nothing was changed.",
            without_password(&cfg.database_url),
            media_dir(cfg).display()
        );
    }
    let db = sqlite_path(&cfg.database_url);
    let media = media_dir(cfg);
    let held_files = std::fs::read_dir(&media).map(|d| d.count()).unwrap_or(0);
    if (db.exists() || held_files > 0) && !force {
        bail!(
            "{} already holds a database{}; restoring would replace them. Stop the server and run again with --force, \
             or restore into an empty --data-dir. Nothing was changed.",
            cfg.data_dir.display(),
            if held_files > 0 { format!(" and {held_files} media files") } else { String::new() }
        );
    }
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| format!("creating {}", cfg.data_dir.display()))?;
    let staging = cfg.data_dir.join(format!(".restore-{:08x}", rand::random::<u32>()));
    let result = unpack_and_check(from, &staging).await;
    let files = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    // Checked and complete: only now is anything in the data directory replaced.
    for suffix in ["", "-wal", "-shm"] {
        let p = with_suffix(&db, suffix);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    if media.exists() {
        std::fs::remove_dir_all(&media).with_context(|| format!("removing {}", media.display()))?;
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::rename(staging.join(DATABASE), &db).with_context(|| format!("moving the database to {}", db.display()))?;
    let staged_media = staging.join("media");
    if staged_media.exists() {
        std::fs::rename(&staged_media, &media).with_context(|| format!("moving media to {}", media.display()))?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    println!("restored the database and {files} media files from {} into {}", from.display(), cfg.data_dir.display());
    println!(
        "Start the server with the secret key the backup was made with (TEXTDESK_SECRET_KEY or {}): its provider \
         credentials are encrypted with it.",
        cfg.secret_key_path().display()
    );
    Ok(())
}

/// Unpacks a backup into `staging` and checks it; returns how many media files it holds.
async fn unpack_and_check(from: &Path, staging: &Path) -> anyhow::Result<usize> {
    let file = std::fs::File::open(from).with_context(|| format!("opening {}", from.display()))?;
    let not_a_backup = || format!("{} is not a backup made by `textdesk backup`", from.display());
    std::fs::create_dir_all(staging)?;
    // `unpack` keeps every entry inside `staging` (no `..`, no absolute paths).
    tar::Archive::new(std::io::BufReader::new(file)).unpack(staging).with_context(not_a_backup)?;
    let manifest: serde_json::Value = std::fs::read(staging.join(MANIFEST))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .with_context(not_a_backup)?;
    if manifest["format"].as_u64() != Some(FORMAT) {
        bail!("{} is a backup of a format this textdesk does not read ({})", from.display(), manifest["format"]);
    }
    let db = staging.join(DATABASE);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .with_context(not_a_backup)?;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await?;
    conn.close().await?;
    if check != "ok" {
        bail!("the database in {} is damaged ({check}); nothing was changed", from.display());
    }
    Ok(std::fs::read_dir(staging.join("media")).map(|d| d.count()).unwrap_or(0))
}

async fn rotate_key(cfg: &Config) -> anyhow::Result<()> {
    let Some(current) = secrets::read(cfg)? else {
        bail!(
            "there is no secret key to rotate: TEXTDESK_SECRET_KEY is not set and {} does not exist",
            cfg.secret_key_path().display()
        );
    };
    if cfg.is_sqlite() {
        cfg.prepare_data_dir()?;
    }
    let store = Store::connect(&cfg.database_url).await?;
    secrets::unlock(&store, cfg).await?;
    let key = Vault::generate_key();
    let count = match &current.source {
        KeySource::File(path) => {
            // The new key is on disk before the database depends on it.
            let next = with_suffix(path, ".new");
            secrets::write_key_file(&next, &key, false).with_context(|| format!("writing {}", next.display()))?;
            let count = store.rotate_secret_key(&Vault::new(key)).await?;
            std::fs::rename(&next, path).with_context(|| {
                format!(
                    "the secrets are now encrypted with the key in {}, but it could not be moved to {}: move it there",
                    next.display(),
                    path.display()
                )
            })?;
            println!("re-encrypted {count} secrets with a new key, saved in {}", path.display());
            println!("Copy it to every node, restart the servers, and replace the copy you keep apart from backups.");
            count
        }
        KeySource::Variable => {
            let count = store.rotate_secret_key(&Vault::new(key)).await?;
            println!("re-encrypted {count} secrets with a new key. Set TEXTDESK_SECRET_KEY to it on every node:");
            println!("{}", secrets::encode_key(&key));
            count
        }
    };
    store.close().await;
    tracing::debug!(count, "secret key rotated");
    Ok(())
}
