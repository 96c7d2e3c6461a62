//! The account's audit trail as admins read and export it (entries are
//! written by the services that act: sign-ins, settings, consent, exports,
//! deletions, role changes, privacy requests, retention). The trail is
//! append-only: the store has no way to change an entry and the database
//! refuses one (migration 0033's triggers).

use axum::body::Bytes;
use futures_util::Stream;
use textdesk_core::Role;
use textdesk_store::{AuditEntry, AuditFilter, MAX_AUDIT_READ, NewAudit, User};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

/// The formats the trail is exported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

impl ExportFormat {
    pub fn parse(s: &str) -> ServiceResult<ExportFormat> {
        match s {
            "csv" => Ok(ExportFormat::Csv),
            "json" => Ok(ExportFormat::Json),
            other => Err(ServiceError::invalid(format!("format: {other:?} is not csv or json"))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
        }
    }
}

const CSV_HEADER: &str = "id,at,actor_user_id,actor_name,action,subject,ip,detail\n";

/// A CSV field, quoted when it must be, and never read as a formula by a
/// spreadsheet (a leading `=`, `+`, `-` or `@` gets a `'`).
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

fn csv_line(e: &AuditEntry) -> String {
    let fields = [
        e.id.to_string(),
        e.at.to_string(),
        e.actor_user_id.map(|i| i.to_string()).unwrap_or_default(),
        e.actor_name.clone().unwrap_or_default(),
        e.action.clone(),
        e.subject.clone(),
        e.ip.clone().unwrap_or_default(),
        e.detail.clone(),
    ];
    let mut line = fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}

fn require_admin(u: &User) -> ServiceResult<()> {
    if u.role.at_least(Role::Admin) { Ok(()) } else { Err(ServiceError::forbidden("the audit trail is for admins")) }
}

impl Services {
    /// The account's audit trail matching `f`, newest first, before entry `before_id`.
    pub async fn audit_entries(
        &self,
        u: &User,
        f: &AuditFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> ServiceResult<Vec<AuditEntry>> {
        require_admin(u)?;
        Ok(self.store.audit_entries_matching(u.account_id, f, before_id, limit).await?)
    }

    /// The actions the trail holds (for the page's filter).
    pub async fn audit_actions(&self, u: &User) -> ServiceResult<Vec<String>> {
        require_admin(u)?;
        Ok(self.store.audit_actions(u.account_id).await?)
    }

    /// Writes an audit entry for what `by` did.
    pub async fn audit(
        &self,
        by: &User,
        action: &str,
        subject: &str,
        ip: Option<&str>,
        detail: &str,
    ) -> ServiceResult<()> {
        let entry = NewAudit { account_id: by.account_id, actor_user_id: Some(by.id), action, subject, ip, detail };
        self.store.record_audit(entry, jiff::Timestamp::now()).await?;
        Ok(())
    }

    /// The trail matching `f` as a file, newest first, read a page at a time
    /// while it is sent (a long trail is never held whole in memory). The
    /// export itself is written to the trail first, so it is in what it exports.
    pub async fn export_audit(
        &self,
        u: &User,
        f: AuditFilter,
        format: ExportFormat,
        ip: Option<&str>,
    ) -> ServiceResult<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static> {
        require_admin(u)?;
        let detail = format!("Exported as {} ({}).", format.extension().to_uppercase(), describe_filter(&f));
        self.audit(u, "audit.exported", "audit", ip, &detail).await?;
        let store = self.store.clone();
        let account_id = u.account_id;
        // (the next page's upper bound, whether anything was written, done)
        let start: (Option<i64>, bool, bool) = (None, false, false);
        Ok(futures_util::stream::unfold(start, move |(before, wrote, done)| {
            let (store, f) = (store.clone(), f.clone());
            async move {
                if done {
                    return None;
                }
                let page = match store.audit_entries_matching(account_id, &f, before, MAX_AUDIT_READ).await {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, "reading the audit trail for an export failed");
                        return Some((
                            Err(std::io::Error::other("the audit trail could not be read")),
                            (None, wrote, true),
                        ));
                    }
                };
                let last = (page.len() as i64) < MAX_AUDIT_READ;
                let mut out = String::new();
                if before.is_none() {
                    out.push_str(match format {
                        ExportFormat::Csv => CSV_HEADER,
                        ExportFormat::Json => "[",
                    });
                }
                let mut wrote_any = wrote;
                for e in &page {
                    match format {
                        ExportFormat::Csv => out.push_str(&csv_line(e)),
                        ExportFormat::Json => {
                            if wrote_any {
                                out.push(',');
                            }
                            out.push('\n');
                            out.push_str(&serde_json::to_string(e).unwrap_or_default());
                        }
                    }
                    wrote_any = true;
                }
                if last && format == ExportFormat::Json {
                    out.push_str("\n]\n");
                }
                let next = page.last().map(|e| e.id).or(before);
                Some((Ok(Bytes::from(out)), (next, wrote_any, last)))
            }
        }))
    }
}

/// A filter in words, for the export's audit entry.
fn describe_filter(f: &AuditFilter) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &f.action {
        parts.push(format!("action {a}"));
    }
    if let Some(u) = f.actor_user_id {
        parts.push(format!("by user {u}"));
    }
    if let Some(t) = f.from {
        parts.push(format!("from {t}"));
    }
    if let Some(t) = f.to {
        parts.push(format!("before {t}"));
    }
    if parts.is_empty() { "everything".into() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a, b"), "\"a, b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}
