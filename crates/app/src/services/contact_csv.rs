//! Contacts CSV import and export, streamed: a file is read a record at a
//! time and written a batch at a time, and an export is written a page at a
//! time, so a 100,000-row file never sits in memory. The columns and the
//! checks of a row are `core::contact_row`'s.

use std::collections::HashSet;
use std::io::Read;

use jiff::Timestamp;
use textdesk_core::contact_row::{Columns, ContactRow, EMAIL_ATTRIBUTE, FIXED, RowError};
use textdesk_core::{ConsentState, Role};
use textdesk_store::{NewAudit, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// Rows written per transaction.
const BATCH: usize = 200;

/// Bad rows listed in a report; the count goes on.
pub const MAX_LISTED_ERRORS: usize = 1000;

/// How an import is asked for.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Check every row and say what would happen; write nothing.
    pub dry_run: bool,
    /// The country a number without its code is read in ("US").
    pub region: Option<String>,
    /// The file's name, for the consent evidence and the audit trail.
    pub file_name: String,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Rows read, the header aside.
    pub rows: u64,
    pub created: u64,
    /// Rows whose number the account knew (or an earlier row had): merged into that contact.
    pub merged: u64,
    pub consent_recorded: u64,
    /// The first [`MAX_LISTED_ERRORS`] bad rows, in file order.
    pub errors: Vec<RowError>,
    pub bad_rows: u64,
}

impl ImportReport {
    /// One line per bad row, then the sums, in plain words.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for e in &self.errors {
            let column = e.column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default();
            out.push_str(&format!("line {}{column}: {}\n", e.line, e.reason));
        }
        if self.bad_rows as usize > self.errors.len() {
            out.push_str(&format!("… and {} more bad rows\n", self.bad_rows as usize - self.errors.len()));
        }
        let verb = if self.dry_run { "would be" } else { "were" };
        out.push_str(&format!(
            "{} rows read: {} new contacts {verb} created, {} {verb} merged into a contact with the same number, \
             {} consent records {verb} added; {} bad rows{}\n",
            self.rows,
            self.created,
            self.merged,
            self.consent_recorded,
            self.bad_rows,
            if self.dry_run { " (dry run: nothing was written)" } else { " (skipped)" }
        ));
        out
    }
}

fn bad(report: &mut ImportReport, errors: Vec<RowError>) {
    report.bad_rows += 1;
    for e in errors {
        if report.errors.len() < MAX_LISTED_ERRORS {
            report.errors.push(e);
        }
    }
}

impl Services {
    /// Imports (or, dry, checks) a contacts CSV file. `progress` hears the
    /// bytes read so far. Bad rows are reported and skipped.
    pub async fn import_contacts(
        &self,
        account_id: i64,
        actor: Option<&User>,
        input: impl Read + Send,
        opts: &ImportOptions,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> ServiceResult<ImportReport> {
        if let Some(u) = actor
            && !u.role.at_least(Role::Admin)
        {
            return Err(ServiceError::forbidden("only an admin may import contacts"));
        }
        let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(LineFeeds::new(input));
        let mut record = csv::StringRecord::new();
        let header = match reader.read_record(&mut record) {
            Ok(true) => record.iter().map(str::to_owned).collect::<Vec<_>>(),
            Ok(false) => return Err(ServiceError::invalid("the file is empty: it needs a header row")),
            Err(e) => return Err(ServiceError::invalid(format!("line 1: {}", plain(&e)))),
        };
        let columns = Columns::parse(&header)?;
        // A number without its code is read in the country asked for, else the account's.
        let region = match &opts.region {
            Some(r) => Some(r.clone()),
            None => self.home_country(account_id, None).await?,
        };
        let mut report = ImportReport { dry_run: opts.dry_run, ..ImportReport::default() };
        let mut seen: HashSet<String> = HashSet::new();
        let mut batch: Vec<ContactRow> = Vec::with_capacity(BATCH);
        let now = Timestamp::now();
        let source = format!("imported from {}", if opts.file_name.is_empty() { "a file" } else { &opts.file_name });
        let actor_id = actor.map(|u| u.id);
        loop {
            let line = reader.position().line();
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    report.rows += 1;
                    let line = e.position().map(|p| p.line()).unwrap_or(line);
                    bad(&mut report, vec![RowError { line, column: None, reason: plain(&e) }]);
                    continue;
                }
            }
            report.rows += 1;
            let line = record.position().map(|p| p.line()).unwrap_or(line);
            let fields: Vec<String> = record.iter().map(str::to_owned).collect();
            if fields.iter().all(|f| f.trim().is_empty()) && fields.len() <= 1 {
                report.rows -= 1; // a blank line
                continue;
            }
            let row = match columns.row(&fields, line, region.as_deref(), now) {
                Ok(r) => r,
                Err(errors) => {
                    bad(&mut report, errors);
                    continue;
                }
            };
            batch.push(row);
            if batch.len() == BATCH {
                if opts.dry_run {
                    self.check_batch(account_id, &mut batch, &mut seen, &mut report).await?;
                } else {
                    self.write_batch(account_id, &mut batch, &source, actor_id, &mut report).await?;
                }
            }
            progress(reader.position().byte());
        }
        if opts.dry_run {
            self.check_batch(account_id, &mut batch, &mut seen, &mut report).await?;
        } else {
            self.write_batch(account_id, &mut batch, &source, actor_id, &mut report).await?;
            let detail = format!(
                "{source}: {} rows, {} contacts created, {} merged, {} consent records, {} bad rows skipped",
                report.rows, report.created, report.merged, report.consent_recorded, report.bad_rows
            );
            let entry = NewAudit {
                account_id,
                actor_user_id: actor_id,
                action: "contacts.imported",
                subject: "contacts",
                ip: None,
                detail: &detail,
            };
            self.store.record_audit(entry, Timestamp::now()).await?;
        }
        progress(reader.position().byte());
        Ok(report)
    }

    /// A dry run's batch: which rows would make a contact and which would
    /// merge (the account knows the number, or an earlier row has it).
    async fn check_batch(
        &self,
        account_id: i64,
        batch: &mut Vec<ContactRow>,
        seen: &mut HashSet<String>,
        report: &mut ImportReport,
    ) -> ServiceResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let phones: Vec<&str> = batch.iter().map(|r| r.phone.as_str()).collect();
        let known = self.store.known_phones(account_id, &phones).await?;
        for row in batch.drain(..) {
            let phone = row.phone.as_str().to_owned();
            if known.contains(&phone) || seen.contains(&phone) {
                report.merged += 1;
            } else {
                report.created += 1;
            }
            seen.insert(phone);
            report.consent_recorded += u64::from(row.consent.is_some());
        }
        Ok(())
    }

    async fn write_batch(
        &self,
        account_id: i64,
        batch: &mut Vec<ContactRow>,
        source: &str,
        actor_id: Option<i64>,
        report: &mut ImportReport,
    ) -> ServiceResult<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let outcomes = self.store.import_contact_rows(account_id, batch, source, actor_id, Timestamp::now()).await?;
        for o in outcomes {
            if o.created {
                report.created += 1;
            } else {
                report.merged += 1;
            }
            report.consent_recorded += u64::from(o.consent_recorded);
        }
        batch.clear();
        Ok(())
    }

    /// Writes the account's contacts as CSV with the import's columns (then
    /// one column per attribute), a page at a time into `sink` (which waits
    /// for its reader, so a slow download holds no more than a page or two);
    /// returns how many.
    pub async fn export_contacts(
        &self,
        account_id: i64,
        actor: Option<&User>,
        sink: tokio::sync::mpsc::Sender<Vec<u8>>,
        progress: &mut (dyn FnMut(u64) + Send),
    ) -> ServiceResult<u64> {
        if let Some(u) = actor
            && !u.role.at_least(Role::Admin)
        {
            return Err(ServiceError::forbidden("only an admin may export contacts"));
        }
        let extra = self.store.attribute_names(account_id).await?;
        let header: Vec<String> = FIXED.iter().map(|f| f.to_string()).chain(extra.iter().cloned()).collect();
        let gone = || ServiceError::Internal("the export's reader went away".into());
        sink.send(csv_lines(std::iter::once(header))?).await.map_err(|_| gone())?;
        let (mut after, mut n) = (0, 0u64);
        loop {
            let page = self.store.export_rows(account_id, after, 500).await?;
            let Some(last) = page.last() else { break };
            after = last.id;
            n += page.len() as u64;
            let records = page.into_iter().map(|c| {
                let (state, source, evidence, at) = match c.consent {
                    Some((s, source, evidence, at)) if s != ConsentState::Unknown => {
                        (s.as_str().to_owned(), source, evidence, at.to_string())
                    }
                    _ => Default::default(),
                };
                let mut rec = vec![
                    c.name,
                    c.phone.unwrap_or_default(),
                    c.attributes.get(EMAIL_ATTRIBUTE).cloned().unwrap_or_default(),
                    c.time_zone.unwrap_or_default(),
                    state,
                    source,
                    evidence,
                    at,
                ];
                rec.extend(extra.iter().map(|k| c.attributes.get(k).cloned().unwrap_or_default()));
                rec
            });
            sink.send(csv_lines(records)?).await.map_err(|_| gone())?;
            progress(n);
        }
        let detail = format!("{n} contacts exported as CSV");
        let entry = NewAudit {
            account_id,
            actor_user_id: actor.map(|u| u.id),
            action: "contacts.exported",
            subject: "contacts",
            ip: None,
            detail: &detail,
        };
        self.store.record_audit(entry, Timestamp::now()).await?;
        Ok(n)
    }
}

/// Records as CSV text (quoted where a field needs it).
fn csv_lines(records: impl Iterator<Item = Vec<String>>) -> ServiceResult<Vec<u8>> {
    let io = |e: String| ServiceError::Internal(format!("writing the export: {e}"));
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for r in records {
        w.write_record(&r).map_err(|e| io(e.to_string()))?;
    }
    w.into_inner().map_err(|e| io(e.to_string()))
}

/// A CSV reader's complaint in words, without the library's jargon.
fn plain(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "the line is not UTF-8 text (save the file as CSV UTF-8)".into(),
        csv::ErrorKind::Io(_) => "the file could not be read to the end".into(),
        _ => format!("the line is not valid CSV ({e})"),
    }
}

/// Reads `inner` with each CR LF as a lone LF. The CSV reader counts lines by
/// LF and ends a record at the CR, so with Windows line ends every row after
/// the first would be named by the line before it.
struct LineFeeds<R> {
    inner: R,
    /// A CR read last, not yet known to start a CR LF.
    held_cr: bool,
}

impl<R: Read> LineFeeds<R> {
    fn new(inner: R) -> Self {
        LineFeeds { inner, held_cr: false }
    }
}

impl<R: Read> Read for LineFeeds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.len() < 2 {
            return self.inner.read(buf);
        }
        let mut raw = vec![0; buf.len() - 1];
        let n = self.inner.read(&mut raw)?;
        let raw = &raw[..n];
        let mut out = 0;
        if self.held_cr && raw.first() != Some(&b'\n') {
            buf[out] = b'\r';
            out += 1;
        }
        self.held_cr = false;
        for (i, &b) in raw.iter().enumerate() {
            if b == b'\r' {
                match raw.get(i + 1) {
                    Some(b'\n') => continue,
                    Some(_) => {}
                    None => {
                        self.held_cr = true;
                        continue;
                    }
                }
            }
            buf[out] = b;
            out += 1;
        }
        if out == 0 && n > 0 {
            // Only a held CR: read on rather than say the file ended.
            return self.read(buf);
        }
        Ok(out)
    }
}
