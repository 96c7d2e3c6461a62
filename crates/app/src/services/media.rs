//! The media store: attachments fetched from providers into files under the
//! data directory, and served back at signed, expiring links (to agents'
//! browsers, and to providers that fetch what we send).

use std::path::PathBuf;

use hmac::{KeyInit, Mac};
use jiff::{SignedDuration, Timestamp};
use sha2::Digest;
use subtle::ConstantTimeEq;
use textdesk_channels::net::FetchPolicy;
use textdesk_core::media;
use textdesk_store::{Inbox, Media, MediaFetch, MediaState};

use crate::services::Services;
use crate::services::error::{ServiceError, ServiceResult};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// One attachment of a message on its way out.
pub struct OutgoingMedia {
    pub link: String,
    pub content_type: String,
    pub file: PathBuf,
}

pub struct MediaStore {
    pub dir: PathBuf,
    /// Signs links; made from a key kept in the database, so every node agrees.
    key: [u8; 64],
    pub max_bytes: u64,
    /// Where providers' media links may lead (public addresses unless configured).
    pub fetch_policy: FetchPolicy,
}

/// "10 MB", "512 KB": a limit as people read it.
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MB", bytes / (1024 * 1024))
    } else if bytes >= 1024 {
        format!("{} KB", bytes.div_ceil(1024))
    } else {
        format!("{bytes} bytes")
    }
}

/// Whether a browser may show it inline (everything else is a download).
pub fn is_picture(content_type: Option<&str>) -> bool {
    media::served_kind(content_type).is_some_and(|k| k.inline)
}

impl MediaStore {
    pub fn new(dir: PathBuf, key: &str, max_bytes: u64, fetch_policy: FetchPolicy) -> Self {
        // HMAC pads a short key to the hash's block with zeros; padding it here
        // gives the fixed-size key its infallible constructor takes.
        let mut padded = [0u8; 64];
        padded[..32].copy_from_slice(&sha2::Sha256::digest(key.as_bytes()));
        MediaStore { dir, key: padded, max_bytes, fetch_policy }
    }

    fn signature(&self, id: i64, expires: i64) -> String {
        let mut mac = <HmacSha256 as KeyInit>::new(&self.key.into());
        mac.update(format!("{id}.{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// `/media/{id}?exp=…&sig=…`, good until `expires`.
    pub fn link_path(&self, id: i64, expires: Timestamp) -> String {
        let exp = expires.as_second();
        format!("/media/{id}?exp={exp}&sig={}", self.signature(id, exp))
    }

    pub fn verify(&self, id: i64, expires: i64, signature: &str, now: Timestamp) -> bool {
        expires >= now.as_second() && bool::from(self.signature(id, expires).as_bytes().ct_eq(signature.as_bytes()))
    }

    pub fn path_of(&self, media: &Media) -> Option<PathBuf> {
        let name = media.stored_name.as_deref()?;
        // Names are ours (hex), but a path never leaves the directory regardless.
        name.chars().all(|c| c.is_ascii_hexdigit()).then(|| self.dir.join(name))
    }
}

impl Services {
    /// A link to an attachment that works for `ttl`.
    pub fn media_link(&self, id: i64, ttl: SignedDuration) -> String {
        format!("{}{}", self.public_url, self.media.link_path(id, Timestamp::now() + ttl))
    }

    /// Keeps an agent's upload, to be sent with a message (`Draft::media`).
    pub async fn upload(&self, user: &textdesk_store::User, content_type: &str, bytes: &[u8]) -> ServiceResult<Media> {
        if bytes.is_empty() {
            return Err(ServiceError::Invalid("the file is empty".into()));
        }
        if bytes.len() as u64 > self.media.max_bytes {
            return Err(ServiceError::Invalid(format!(
                "the file is larger than {}, the most a file may be",
                human_size(self.media.max_bytes)
            )));
        }
        let kind = media::check(content_type, bytes).map_err(|refused| ServiceError::Invalid(refused.to_string()))?;
        let name = self.write_media(bytes).await?;
        Ok(self.store.add_upload(user.id, &name, kind.essence, bytes.len() as i64).await?)
    }

    /// Bytes already checked, written to the media store; its stored name.
    /// (A file no row ends up naming is swept after an hour.)
    pub(crate) async fn store_media_bytes(&self, bytes: &[u8]) -> ServiceResult<String> {
        self.write_media(bytes).await
    }

    /// A web chat visitor's attachment (checked by the caller) for the message
    /// ingest just stored: written here rather than fetched from a provider.
    pub(crate) async fn keep_visitor_upload(&self, message_id: i64, essence: &str, bytes: &[u8]) -> ServiceResult<()> {
        let name = self.write_media(bytes).await?;
        for m in self.store.media_of(&[message_id]).await? {
            if self.store.media_stored(m.id, &name, essence, bytes.len() as i64).await? {
                return Ok(());
            }
        }
        self.remove_media_file(&name).await;
        Ok(())
    }

    /// Writes bytes to the media store under a fresh random name.
    async fn write_media(&self, bytes: &[u8]) -> ServiceResult<String> {
        let name = hex::encode(rand::random::<[u8; 16]>());
        let written = async {
            tokio::fs::create_dir_all(&self.media.dir).await?;
            tokio::fs::write(self.media.dir.join(&name), bytes).await
        }
        .await;
        written.map(|()| name).map_err(|e| {
            tracing::error!(error = %e, "writing to the media store failed");
            ServiceError::Conflict("the media store could not be written".into())
        })
    }

    /// A message's stored attachments as a provider is given them: a signed
    /// link good for a day (long past any send and its retries' first hours),
    /// the content type, and the file on this server.
    pub async fn outgoing_media(&self, message_id: i64) -> ServiceResult<Vec<OutgoingMedia>> {
        Ok(self
            .store
            .media_of(&[message_id])
            .await?
            .into_iter()
            .filter(|m| m.state == MediaState::Stored)
            .filter_map(|m| {
                let file = self.media.path_of(&m)?;
                let content_type = m.content_type.clone().unwrap_or_else(|| "application/octet-stream".into());
                Some(OutgoingMedia { link: self.media_link(m.id, SignedDuration::from_hours(24)), content_type, file })
            })
            .collect())
    }

    /// Refuses, in the provider's words, an attachment of `author`'s that the
    /// inbox's channel cannot carry (WeChat's types and sizes), before
    /// anything is queued. Ids that are not the author's waiting uploads are
    /// left to the store, which refuses them with the message.
    pub(crate) async fn check_attachments(&self, inbox: &Inbox, author: i64, media: &[i64]) -> ServiceResult<()> {
        let Some(provider) = textdesk_channels::registry::find(&inbox.provider) else { return Ok(()) };
        for id in media {
            let Some(m) = self.store.waiting_upload(*id, author).await? else { continue };
            let content_type = m.content_type.as_deref().unwrap_or("application/octet-stream");
            let size = u64::try_from(m.size_bytes.unwrap_or_default()).unwrap_or_default();
            provider.check_attachment(inbox.medium, content_type, size).map_err(ServiceError::Invalid)?;
        }
        Ok(())
    }

    /// Fetches attachments that are due, one provider call each; returns how
    /// many were stored. Each is claimed first, so rounds running side by side
    /// (ingest's, housekeeping's, another node's) never fetch one twice.
    pub async fn fetch_due_media(&self, now: Timestamp) -> ServiceResult<usize> {
        let mut stored = 0;
        for due in self.store.claim_due_media(now, FETCH_LEASE, 20).await? {
            let inbox = self.store.inbox_by_id(due.inbox_id).await?;
            if self.fetch_one(&inbox, due, now).await? == MediaState::Stored {
                stored += 1;
            }
        }
        Ok(stored)
    }

    async fn fetch_one(&self, inbox: &Inbox, due: MediaFetch, now: Timestamp) -> ServiceResult<MediaState> {
        let id = due.media.id;
        let Some(url) = due.media.source_url.clone() else {
            return Ok(self.store.media_fetch_failed(id, "no address to fetch it from", false, now).await?);
        };
        let fetched = match self.channel(inbox).await {
            Ok(channel) => channel.fetch_media(&url, self.media.max_bytes).await.map_err(|e| (e.reason, e.retryable)),
            Err(e) => Err((e.to_string(), true)),
        };
        // Stored under the allow-list's own spelling of the type, never the provider's text.
        let file = fetched.and_then(|f| match media::check(&f.content_type, &f.bytes) {
            Ok(kind) => Ok((kind.essence, f.bytes)),
            Err(refused) => Err((refused.to_string(), false)),
        });
        match file {
            Ok((essence, bytes)) => match self.write_media(&bytes).await {
                Ok(name) => {
                    if !self.store.media_stored(id, &name, essence, bytes.len() as i64).await? {
                        // Kept by a fetch whose claim outlived its lease; ours goes.
                        self.remove_media_file(&name).await;
                    }
                    Ok(MediaState::Stored)
                }
                Err(_) => {
                    Ok(self.store.media_fetch_failed(id, "the media store could not be written", true, now).await?)
                }
            },
            Err((why, retryable)) => Ok(self.store.media_fetch_failed(id, &why, retryable, now).await?),
        }
    }

    pub(crate) async fn remove_media_file(&self, name: &str) {
        if let Err(e) = tokio::fs::remove_file(self.media.dir.join(name)).await {
            tracing::warn!(error = %e, "a media file could not be removed");
        }
    }

    /// Removes files in the media store that no attachment points to and
    /// that are older than `grace` (a file is written just before its row, so
    /// a young one may be about to be claimed). Returns how many went.
    pub async fn sweep_orphan_media(&self, grace: SignedDuration) -> ServiceResult<usize> {
        let cutoff = std::time::SystemTime::now() - grace.unsigned_abs();
        let mut old = Vec::new();
        let mut dir = match tokio::fs::read_dir(&self.media.dir).await {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => {
                tracing::error!(error = %e, "the media store could not be listed");
                return Ok(0);
            }
        };
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Only names this store gives out; anything else someone put there stays.
            if name.len() != 32 || !name.chars().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            let modified = entry.metadata().await.and_then(|m| m.modified());
            if modified.is_ok_and(|t| t < cutoff) {
                old.push(name);
            }
        }
        let mut swept = 0;
        for batch in old.chunks(500) {
            let in_use = self.store.media_names_in_use(batch).await?;
            for name in batch.iter().filter(|n| !in_use.contains(n)) {
                self.remove_media_file(name).await;
                swept += 1;
            }
        }
        if swept > 0 {
            tracing::info!(files = swept, "orphan media files removed");
        }
        Ok(swept)
    }
}

/// How long a claimed fetch is left to its claimer: past the download's own
/// time limit (two minutes), after which it is taken as dead and retried.
const FETCH_LEASE: SignedDuration = SignedDuration::from_mins(10);

/// Files younger than this are never swept: an upload is on disk a moment
/// before its row is.
pub const ORPHAN_GRACE: SignedDuration = SignedDuration::from_hours(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_signed_and_expire() {
        let store = MediaStore::new(PathBuf::from("/tmp"), "k3y", 10, FetchPolicy::public_only());
        let now = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1000);
        let path = store.link_path(7, now + SignedDuration::from_hours(1));
        let (_, query) = path.split_once('?').unwrap();
        let exp: i64 = query.split('&').next().unwrap()[4..].parse().unwrap();
        let sig = &query.split("sig=").nth(1).unwrap();
        assert!(store.verify(7, exp, sig, now));
        assert!(!store.verify(8, exp, sig, now), "another attachment");
        assert!(!store.verify(7, exp + 1, sig, now), "a longer life");
        assert!(!store.verify(7, exp, sig, now + SignedDuration::from_hours(2)), "expired");
        assert!(
            !MediaStore::new(PathBuf::from("/tmp"), "other", 10, FetchPolicy::public_only()).verify(7, exp, sig, now)
        );
    }

    #[test]
    fn only_safe_pictures_show_inline() {
        assert!(is_picture(Some("image/gif")) && !is_picture(Some("image/svg+xml")) && !is_picture(None));
        assert!(!is_picture(Some("image/png, text/html")) && !is_picture(Some("application/pdf")));
    }
}
