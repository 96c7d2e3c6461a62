//! Privacy requests (F14): everything held about one person as a ZIP of JSON
//! and their files, or all of it erased (see `textdesk_store::privacy`). Both
//! are admin acts written to the audit trail; the web page, the API and the
//! CLI call these.

use std::io::Write;

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

/// Writing the archive failed (in memory: a bug, never the person's input).
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

fn pretty(v: &impl serde::Serialize) -> ServiceResult<Vec<u8>> {
    serde_json::to_vec_pretty(v).map_err(archive)
}

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

    /// The ZIP of everything held about the contact.
    pub async fn export_contact(
        &self,
        account_id: i64,
        contact_id: i64,
        by: Requester<'_>,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> ServiceResult<Vec<u8>> {
        let data = self.store.contact_export(account_id, contact_id).await?;
        let total = data.media.len() + 1;
        progress(Progress { done: 0, total, step: "reading their records" });
        let mut files = Vec::with_capacity(data.media.len());
        for (i, m) in data.media.iter().enumerate() {
            let name = m.stored_name.as_deref().filter(|n| n.chars().all(|c| c.is_ascii_hexdigit()));
            let bytes = match name {
                Some(n) => tokio::fs::read(self.media.dir.join(n)).await.ok(),
                None => None,
            };
            files.push(bytes);
            progress(Progress { done: i + 1, total, step: "copying their files" });
        }
        let zip = write_zip(&data, &files)?;
        progress(Progress { done: total, total, step: "done" });
        let detail = format!("{} conversations and {} files exported", data.conversations.len(), data.media.len());
        self.audit_privacy((account_id, contact_id), by, "contact.exported", &detail).await?;
        Ok(zip)
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

fn write_zip(data: &ContactExport, files: &[Option<Vec<u8>>]) -> ServiceResult<Vec<u8>> {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    // Pictures are compressed already.
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let media: Vec<_> = data
        .media
        .iter()
        .zip(files)
        .map(|(m, bytes)| {
            let mut v = json!(m);
            v["file"] = match bytes {
                Some(_) => json!(export_file_name(m.id, m.content_type.as_deref())),
                None => serde_json::Value::Null,
            };
            v
        })
        .collect();
    let entries: [(&str, Vec<u8>); 7] = [
        ("README.txt", README.as_bytes().to_vec()),
        ("contact.json", pretty(&json!({ "contact": data.contact, "erased_at": data.erased_at }))?),
        ("conversations.json", pretty(&data.conversations)?),
        ("notes.json", pretty(&data.notes)?),
        ("consent.json", pretty(&data.consent)?),
        ("events.json", pretty(&data.events)?),
        ("media.json", pretty(&media)?),
    ];
    for (name, bytes) in entries {
        zip.start_file(name, deflated).map_err(archive)?;
        zip.write_all(&bytes).map_err(archive)?;
    }
    for (m, bytes) in data.media.iter().zip(files) {
        if let Some(bytes) = bytes {
            zip.start_file(export_file_name(m.id, m.content_type.as_deref()), stored).map_err(archive)?;
            zip.write_all(bytes).map_err(archive)?;
        }
    }
    Ok(zip.finish().map_err(archive)?.into_inner())
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
