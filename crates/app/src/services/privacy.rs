//! Privacy requests (F14): everything held about one person as a ZIP of JSON
//! and their files, or all of it erased (see `textdesk_store::privacy`). Both
//! are admin acts written to the audit trail; the web page, the API and the
//! CLI call these.

use std::io::Write;
use std::path::Path;

use jiff::Timestamp;
use serde_json::json;
use textdesk_store::{ContactExport, Erased, ErasureSummary, NewAudit};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// Where a long request is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// What is being done, in plain words.
    pub step: &'static str,
}

/// Who asked, for the audit trail.
#[derive(Debug, Clone, Copy, Default)]
pub struct Requester<'a> {
    pub user_id: Option<i64>,
    pub ip: Option<&'a str>,
}

/// Writing the archive failed (a full disk, or a bug; never the person's input).
fn archive(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("the export could not be written: {e}"))
}

/// The name an attachment has inside the export: `media/<id>.<subtype>`.
pub fn export_file_name(id: i64, content_type: Option<&str>) -> String {
    let ext: String = content_type
        .and_then(|t| t.split(';').next())
        .and_then(|t| t.split_once('/'))
        .map(|(_, sub)| sub.trim().chars().filter(char::is_ascii_alphanumeric).take(10).collect())
        .filter(|s: &String| !s.is_empty())
        .unwrap_or_else(|| "bin".into());
    format!("media/{id}.{ext}")
}

const README: &str = "Everything this help desk holds about one person, as of the time in contact.json.\n\n\
contact.json        the contact: name, time zone, attributes, addresses (phone numbers)\n\
conversations.json  each conversation with its messages (private notes by staff included)\n\
notes.json          notes staff wrote about the person\n\
consent.json        the consent ledger: every opt-in and opt-out, with its source and evidence\n\
events.json         the history of their conversations (assignments, status changes, deliveries)\n\
media.json          the attachments; the files are under media/\n\
Times are UTC (RFC 3339).\n";

impl Services {
    /// When the contact's data was erased, if it was.
    pub async fn erased_at(&self, account_id: i64, contact_id: i64) -> ServiceResult<Option<Timestamp>> {
        Ok(self.store.erased_at(account_id, contact_id).await?)
    }

    /// The audit trail's entry for an act on a contact's data (never their number).
    async fn audit_privacy(
        &self,
        (account_id, contact_id): (i64, i64),
        by: Requester<'_>,
        action: &str,
        detail: &str,
    ) -> ServiceResult<()> {
        let subject = format!("contact:{contact_id}");
        let entry = NewAudit { account_id, actor_user_id: by.user_id, action, subject: &subject, ip: by.ip, detail };
        self.store.record_audit(entry, Timestamp::now()).await?;
        Ok(())
    }

    /// What erasing the contact would take now.
    pub async fn erasure_summary(&self, account_id: i64, contact_id: i64) -> ServiceResult<ErasureSummary> {
        Ok(self.store.erasure_summary(account_id, contact_id).await?)
    }

    /// Writes the ZIP of everything held about the contact to `to` (made
    /// anew, readable by this user only); returns its size. The archive is
    /// written to disk as it is made and each file is copied through a small
    /// buffer, so a person with gigabytes of pictures costs no memory.
    pub async fn export_contact(
        &self,
        (account_id, contact_id): (i64, i64),
        by: Requester<'_>,
        to: &Path,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> ServiceResult<u64> {
        let data = self.store.contact_export(account_id, contact_id).await?;
        let (conversations, files) = (data.conversations.len(), data.media.len());
        let out = create_private(to).map_err(|e| archive(format!("{}: {e}", to.display())))?;
        let (tick, mut ticks) = tokio::sync::mpsc::unbounded_channel();
        let media_dir = self.media.dir.clone();
        let writer = tokio::task::spawn_blocking(move || write_zip(&data, &media_dir, out, &tick));
        while let Some(p) = ticks.recv().await {
            progress(p);
        }
        let written = match writer.await {
            Ok(Ok(n)) => n,
            Ok(Err(e)) => {
                let _ = std::fs::remove_file(to);
                return Err(e);
            }
            Err(e) => {
                let _ = std::fs::remove_file(to);
                return Err(archive(e));
            }
        };
        let detail = format!("{conversations} conversations and {files} files exported");
        self.audit_privacy((account_id, contact_id), by, "contact.exported", &detail).await?;
        Ok(written)
    }

    /// The export as an open file for a download: written beside the media
    /// store, opened, and unlinked at once, so it is gone when the download
    /// ends (or the process does), whatever happens to the connection.
    pub async fn export_contact_file(
        &self,
        (account_id, contact_id): (i64, i64),
        by: Requester<'_>,
    ) -> ServiceResult<(tokio::fs::File, u64)> {
        let dir = self.media.dir.join(EXPORTS_DIR);
        tokio::fs::create_dir_all(&dir).await.map_err(archive)?;
        let path = dir.join(format!("{}.zip", hex::encode(rand::random::<[u8; 16]>())));
        let len = self.export_contact((account_id, contact_id), by, &path, &mut |_| {}).await?;
        let file = tokio::fs::File::open(&path).await.map_err(archive);
        let _ = tokio::fs::remove_file(&path).await;
        Ok((file?, len))
    }

    /// Erases the contact (one transaction), deletes their files and writes
    /// the audit entry.
    pub async fn erase_contact(
        &self,
        account_id: i64,
        contact_id: i64,
        by: Requester<'_>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> ServiceResult<Erased> {
        progress(Progress { done: 0, total: 1, step: "erasing their records" });
        let erased = self.store.erase_contact(account_id, contact_id, by.user_id, Timestamp::now()).await?;
        let total = erased.files.len() + 1;
        progress(Progress { done: 1, total, step: "deleting their files" });
        for (i, name) in erased.files.iter().enumerate() {
            // A file left behind (no row names it now) goes with the next orphan sweep.
            self.remove_media_file(name).await;
            progress(Progress { done: i + 2, total, step: "deleting their files" });
        }
        let s = erased.summary;
        let detail = format!(
            "erased {} conversations, {} messages, {} files, {} notes and {} addresses; {} queued messages cancelled; consent ledger kept with the numbers hashed",
            s.conversations, s.messages, s.files, s.notes, s.identities, erased.cancelled
        );
        self.audit_privacy((account_id, contact_id), by, "contact.erased", &detail).await?;
        Ok(erased)
    }
}

/// Where downloads are written before they are sent (inside the media folder,
/// on the same disk; the orphan sweep never looks inside it).
const EXPORTS_DIR: &str = ".exports";

fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

fn write_zip(
    data: &ContactExport,
    media_dir: &Path,
    out: std::fs::File,
    tick: &tokio::sync::mpsc::UnboundedSender<Progress>,
) -> ServiceResult<u64> {
    use zip::write::SimpleFileOptions;
    let total = data.media.len() + 1;
    let _ = tick.send(Progress { done: 0, total, step: "reading their records" });
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(out));
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // Pictures are compressed already.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("README.txt", deflated).map_err(archive)?;
    zip.write_all(README.as_bytes()).map_err(archive)?;
    // Each record is serialised straight into the archive, never into a copy in memory.
    let mut put = |name: &str, value: &dyn erased::Json| -> ServiceResult<()> {
        zip.start_file(name, deflated).map_err(archive)?;
        value.write_to(&mut zip).map_err(archive)
    };
    put("contact.json", &json!({ "contact": data.contact, "erased_at": data.erased_at }))?;
    put("conversations.json", &data.conversations)?;
    put("notes.json", &data.notes)?;
    put("consent.json", &data.consent)?;
    put("events.json", &data.events)?;
    let mut media = Vec::with_capacity(data.media.len());
    for (i, m) in data.media.iter().enumerate() {
        let name = m.stored_name.as_deref().filter(|n| n.chars().all(|c| c.is_ascii_hexdigit()));
        // A file missing from the store is listed with no file, not a failure.
        let source = name.and_then(|n| std::fs::File::open(media_dir.join(n)).ok());
        let mut v = json!(m);
        v["file"] = serde_json::Value::Null;
        if let Some(mut source) = source {
            let inside = export_file_name(m.id, m.content_type.as_deref());
            zip.start_file(inside.as_str(), stored).map_err(archive)?;
            std::io::copy(&mut source, &mut zip).map_err(archive)?;
            v["file"] = json!(inside);
        }
        media.push(v);
        let _ = tick.send(Progress { done: i + 1, total, step: "copying their files" });
    }
    zip.start_file("media.json", deflated).map_err(archive)?;
    serde_json::to_writer_pretty(&mut zip, &media).map_err(archive)?;
    let mut out = zip.finish().map_err(archive)?;
    out.flush().map_err(archive)?;
    let len = out.get_ref().metadata().map_err(archive)?.len();
    let _ = tick.send(Progress { done: total, total, step: "done" });
    Ok(len)
}

/// Serialising values of different types through one closure.
mod erased {
    pub trait Json {
        fn write_to(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()>;
    }

    impl<T: serde::Serialize> Json for T {
        fn write_to(&self, out: &mut dyn std::io::Write) -> serde_json::Result<()> {
            serde_json::to_writer_pretty(out, self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_in_the_export_are_named_by_id_and_type() {
        assert_eq!(export_file_name(7, Some("image/png")), "media/7.png");
        assert_eq!(export_file_name(8, Some("text/vcard; charset=utf-8")), "media/8.vcard");
        assert_eq!(export_file_name(9, Some("../../etc")), "media/9.etc");
        assert_eq!(export_file_name(10, None), "media/10.bin");
    }
}
