//! What WeChat's customer-service messages can carry besides text: a file is
//! first uploaded as temporary media (`/cgi-bin/media/upload`, kept 3 days),
//! then sent by its `media_id` as a picture, a voice message or a video. The
//! rules (WeChat's upload types, formats and sizes) are read here once, for
//! the check before a message is queued and for the send.

use textdesk_core::media::served_kind;

const MB: u64 = 1024 * 1024;

/// What WeChat takes, in the words an agent reads when a file is refused.
const TAKES: &str = "it takes pictures (PNG, JPEG or GIF, up to 10 MB), voice recordings (AMR or MP3, up to 2 MB and 60 seconds) and MP4 videos (up to 10 MB)";

/// A file as WeChat sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WechatMedia {
    Image,
    Voice,
    Video,
}

impl WechatMedia {
    /// The kind an attachment goes as, or why WeChat cannot take it.
    pub fn for_file(content_type: &str, size: u64) -> Result<WechatMedia, String> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let kind = match essence.as_str() {
            "image/png" | "image/jpeg" | "image/gif" => WechatMedia::Image,
            "audio/amr" | "audio/mpeg" => WechatMedia::Voice,
            "video/mp4" => WechatMedia::Video,
            _ => {
                let what = served_kind(Some(&essence)).map_or("a file of this type", |k| k.described);
                return Err(format!("WeChat cannot carry {what}: {TAKES}."));
            }
        };
        if size > kind.max_bytes() {
            return Err(format!(
                "This file is too large for WeChat ({} MB): {TAKES}.",
                size.div_ceil(MB / 10) as f64 / 10.0
            ));
        }
        Ok(kind)
    }

    pub fn max_bytes(self) -> u64 {
        match self {
            WechatMedia::Image | WechatMedia::Video => 10 * MB,
            WechatMedia::Voice => 2 * MB,
        }
    }

    /// The upload's `type` and the message's `msgtype`.
    pub fn as_str(self) -> &'static str {
        match self {
            WechatMedia::Image => "image",
            WechatMedia::Voice => "voice",
            WechatMedia::Video => "video",
        }
    }

    /// The upload's file name and content type (WeChat goes by the name's
    /// extension as well as the contents), for a type `for_file` took.
    pub fn upload_name(content_type: &str) -> (&'static str, &'static str) {
        match content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
            "image/png" => ("picture.png", "image/png"),
            "image/gif" => ("picture.gif", "image/gif"),
            "audio/amr" => ("voice.amr", "audio/amr"),
            "audio/mpeg" => ("voice.mp3", "audio/mpeg"),
            "video/mp4" => ("video.mp4", "video/mp4"),
            _ => ("picture.jpg", "image/jpeg"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_within_its_limit_goes() {
        assert_eq!(WechatMedia::for_file("image/png", 10 * MB), Ok(WechatMedia::Image));
        assert_eq!(WechatMedia::for_file("Image/JPEG; charset=binary", 1), Ok(WechatMedia::Image));
        assert_eq!(WechatMedia::for_file("audio/amr", 2 * MB), Ok(WechatMedia::Voice));
        assert_eq!(WechatMedia::for_file("audio/mpeg", 1), Ok(WechatMedia::Voice));
        assert_eq!(WechatMedia::for_file("video/mp4", 10 * MB), Ok(WechatMedia::Video));
        assert_eq!(WechatMedia::upload_name("audio/mpeg"), ("voice.mp3", "audio/mpeg"));
    }

    #[test]
    fn the_rest_is_refused_in_words() {
        let pdf = WechatMedia::for_file("application/pdf", 10).unwrap_err();
        assert!(pdf.starts_with("WeChat cannot carry a PDF document: it takes pictures"), "{pdf}");
        let voice = WechatMedia::for_file("audio/amr", 2 * MB + 1).unwrap_err();
        assert!(
            voice.starts_with("This file is too large for WeChat (2.1 MB)") && voice.contains("up to 2 MB"),
            "{voice}"
        );
        assert!(WechatMedia::for_file("image/webp", 1).unwrap_err().contains("a WebP picture"));
        assert!(WechatMedia::for_file("application/x-unknown", 1).unwrap_err().contains("a file of this type"));
    }
}
