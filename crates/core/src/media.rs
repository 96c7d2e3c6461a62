//! Kinds of file textdesk keeps, and whether a file is what it claims to be.
//!
//! A declared media type is read strictly (one `type/subtype`, then
//! `; name=value` parameters, as RFC 9110 writes them): a list such as
//! `image/png, text/html` or a broken one such as `image/png;,text/html` is not
//! a type, because browsers and servers disagree on which part counts. The
//! file's first bytes must then match the type, so a page cannot pass as a
//! picture and be shown on the app's origin.

use crate::Invalid;

/// A kind of file on the allow-list, known by its content.
#[derive(Debug, Clone, Copy)]
pub struct FileKind {
    /// The canonical `type/subtype`, as stored and served.
    pub essence: &'static str,
    /// Other spellings providers use for it.
    aliases: &'static [&'static str],
    /// Browsers may show it inline (a picture that cannot carry script).
    pub inline: bool,
    /// What a person calls it ("a PNG picture").
    pub described: &'static str,
    sniff: fn(&[u8]) -> bool,
}

fn starts(prefix: &'static [u8]) -> impl Fn(&[u8]) -> bool {
    move |b| b.starts_with(prefix)
}

/// ISO base media files (MP4, 3GP, QuickTime, HEIC): a box whose type is `ftyp`.
fn iso_media(b: &[u8]) -> bool {
    b.get(4..8) == Some(b"ftyp")
}

fn riff(form: &'static [u8]) -> impl Fn(&[u8]) -> bool {
    move |b| b.starts_with(b"RIFF") && b.get(8..12) == Some(form)
}

/// Text that opens with `begin` (a vCard or calendar), ignoring a BOM and blank lines.
fn text_beginning(b: &[u8], begin: &str) -> bool {
    let Ok(text) = std::str::from_utf8(b) else { return false };
    let text = text.trim_start_matches('\u{feff}').trim_start();
    text.get(..begin.len()).is_some_and(|s| s.eq_ignore_ascii_case(begin))
}

fn plain_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|t| !t.contains('\0'))
}

/// Every kind kept. SVG is not on it: a picture that can carry script.
pub const KINDS: &[FileKind] = &[
    FileKind {
        essence: "image/png",
        aliases: &[],
        inline: true,
        described: "a PNG picture",
        sniff: |b| starts(b"\x89PNG\r\n\x1a\n")(b),
    },
    FileKind {
        essence: "image/jpeg",
        aliases: &["image/jpg", "image/pjpeg"],
        inline: true,
        described: "a JPEG picture",
        sniff: |b| starts(b"\xff\xd8\xff")(b),
    },
    FileKind {
        essence: "image/gif",
        aliases: &[],
        inline: true,
        described: "a GIF picture",
        sniff: |b| starts(b"GIF87a")(b) || starts(b"GIF89a")(b),
    },
    FileKind {
        essence: "image/webp",
        aliases: &[],
        inline: true,
        described: "a WebP picture",
        sniff: |b| riff(b"WEBP")(b),
    },
    FileKind {
        essence: "image/bmp",
        aliases: &["image/x-ms-bmp"],
        inline: true,
        described: "a BMP picture",
        sniff: |b| starts(b"BM")(b),
    },
    FileKind {
        essence: "image/heic",
        aliases: &["image/heif"],
        inline: false,
        described: "an HEIC picture",
        sniff: iso_media,
    },
    FileKind {
        essence: "application/pdf",
        aliases: &[],
        inline: false,
        described: "a PDF document",
        sniff: |b| starts(b"%PDF-")(b),
    },
    FileKind {
        essence: "text/vcard",
        aliases: &["text/x-vcard", "text/directory"],
        inline: false,
        described: "a contact card (vCard)",
        sniff: |b| text_beginning(b, "BEGIN:VCARD"),
    },
    FileKind {
        essence: "text/calendar",
        aliases: &[],
        inline: false,
        described: "a calendar entry",
        sniff: |b| text_beginning(b, "BEGIN:VCALENDAR"),
    },
    FileKind { essence: "text/plain", aliases: &[], inline: false, described: "a text file", sniff: plain_text },
    FileKind {
        essence: "audio/mpeg",
        aliases: &["audio/mp3"],
        inline: false,
        described: "an MP3 recording",
        sniff: |b| starts(b"ID3")(b) || (b.len() > 1 && b[0] == 0xff && b[1] & 0xe0 == 0xe0),
    },
    FileKind {
        essence: "audio/mp4",
        aliases: &["audio/m4a", "audio/x-m4a"],
        inline: false,
        described: "an M4A recording",
        sniff: iso_media,
    },
    FileKind {
        essence: "audio/aac",
        aliases: &[],
        inline: false,
        described: "an AAC recording",
        sniff: |b| b.len() > 1 && b[0] == 0xff && b[1] & 0xf6 == 0xf0,
    },
    FileKind {
        essence: "audio/ogg",
        aliases: &["audio/opus"],
        inline: false,
        described: "an Ogg recording",
        sniff: |b| starts(b"OggS")(b),
    },
    FileKind {
        essence: "audio/amr",
        aliases: &[],
        inline: false,
        described: "an AMR recording",
        sniff: |b| starts(b"#!AMR")(b),
    },
    FileKind {
        essence: "audio/wav",
        aliases: &["audio/x-wav", "audio/wave"],
        inline: false,
        described: "a WAV recording",
        sniff: |b| riff(b"WAVE")(b),
    },
    FileKind { essence: "video/mp4", aliases: &[], inline: false, described: "an MP4 video", sniff: iso_media },
    FileKind {
        essence: "video/3gpp",
        aliases: &["video/3gpp2"],
        inline: false,
        described: "a 3GP video",
        sniff: iso_media,
    },
    FileKind {
        essence: "video/quicktime",
        aliases: &[],
        inline: false,
        described: "a QuickTime video",
        sniff: iso_media,
    },
    FileKind {
        essence: "video/webm",
        aliases: &["audio/webm"],
        inline: false,
        described: "a WebM video",
        sniff: |b| starts(b"\x1a\x45\xdf\xa3")(b),
    },
];

/// What the allow-list holds, in words, for error messages.
pub const KEPT: &str =
    "pictures (PNG, JPEG, GIF, WebP, BMP, HEIC), PDF, vCard, calendar, plain text, and common audio and video";

/// A declared media type, read strictly. Holds the lowercase `type/subtype`;
/// parameters are checked for form and dropped (none changes what is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType(String);

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn is_quoted(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')) else { return false };
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return false,
            c if c.is_control() && c != '\t' => return false,
            _ => {}
        }
    }
    !escaped
}

impl MediaType {
    /// RFC 6838 allows 127 characters each for type and subtype; parameters
    /// are dropped, so anything longer is junk or an attack on the logs.
    pub const MAX_CHARS: usize = 255;

    pub fn parse(declared: &str) -> Result<MediaType, Invalid> {
        let bad = || Invalid::new(format!("{:?} is not one media type such as image/png", shorten(declared)));
        if declared.len() > Self::MAX_CHARS {
            return Err(bad());
        }
        let mut parts = declared.split(';');
        let essence = parts.next().unwrap_or_default().trim_matches([' ', '\t']);
        let (kind, subtype) = essence.split_once('/').ok_or_else(bad)?;
        if !is_token(kind) || !is_token(subtype) {
            return Err(bad());
        }
        for param in parts {
            let param = param.trim_matches([' ', '\t']);
            let (name, value) = param.split_once('=').ok_or_else(bad)?;
            if !is_token(name) || !(is_token(value) || is_quoted(value)) {
                return Err(bad());
            }
        }
        Ok(MediaType(essence.to_ascii_lowercase()))
    }

    /// `type/subtype`, lowercase.
    pub fn essence(&self) -> &str {
        &self.0
    }

    /// The allow-list's entry for this type, if it is on it.
    pub fn kind(&self) -> Option<&'static FileKind> {
        KINDS.iter().find(|k| k.essence == self.0 || k.aliases.contains(&self.0.as_str()))
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Why a file is not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Malformed(Invalid),
    #[error("files of type {0} are not kept: send {KEPT}")]
    NotKept(String),
    #[error("the file is not {0}, as its type says: its content is something else")]
    Mismatch(&'static str),
}

/// Reads a declared type and checks the file's content against it: the kind
/// to store it as, or why it is refused.
pub fn check(declared: &str, content: &[u8]) -> Result<&'static FileKind, Refusal> {
    let media_type = MediaType::parse(declared).map_err(Refusal::Malformed)?;
    let kind = media_type.kind().ok_or_else(|| Refusal::NotKept(media_type.essence().to_owned()))?;
    if (kind.sniff)(content) { Ok(kind) } else { Err(Refusal::Mismatch(kind.described)) }
}

/// How a stored type is served: the kind when it is on the allow-list (and so
/// was checked against the content when kept), otherwise nothing, which
/// means "a download of unknown bytes".
pub fn served_kind(stored: Option<&str>) -> Option<&'static FileKind> {
    stored.and_then(|s| MediaType::parse(s).ok()).and_then(|t| t.kind())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn one_type_with_parameters_is_read() {
        assert_eq!(MediaType::parse("image/png").unwrap().essence(), "image/png");
        assert_eq!(MediaType::parse("Image/PNG ; charset=binary").unwrap().essence(), "image/png");
        assert_eq!(MediaType::parse("text/plain; charset=\"utf-8\"").unwrap().essence(), "text/plain");
    }

    #[test]
    fn lists_and_garbage_are_not_types() {
        for bad in [
            "image/png, text/html",
            "image/png;,text/html",
            "image/png;text/html",
            "image/png; a=b, text/html",
            "image/png;",
            "image/",
            "/png",
            "image",
            "",
            "image/png text/html",
            "image/png\r\nX: y",
            "text/plain; charset=\"utf-8",
            "image/p\u{e9}ng",
        ] {
            assert!(MediaType::parse(bad).is_err(), "{bad:?} was read as a type");
        }
    }

    #[test]
    fn content_must_match_the_declared_type() {
        assert_eq!(check("image/png", PNG).unwrap().essence, "image/png");
        assert_eq!(check("image/jpg", b"\xff\xd8\xff\xe0rest").unwrap().essence, "image/jpeg");
        assert_eq!(check("application/pdf", b"%PDF-1.7\n").unwrap().essence, "application/pdf");
        assert!(check("text/x-vcard", b"\xef\xbb\xbf\r\nbegin:vcard\r\nVERSION:3.0").is_ok());
        assert!(matches!(check("image/png", b"<html><script>alert(1)</script>"), Err(Refusal::Mismatch(_))));
        assert!(matches!(check("image/gif", PNG), Err(Refusal::Mismatch(_))));
        assert!(matches!(check("text/plain", b"a\0b"), Err(Refusal::Mismatch(_))));
        assert!(matches!(check("text/html", b"<html>"), Err(Refusal::NotKept(_))));
        assert!(matches!(check("image/svg+xml", b"<svg/>"), Err(Refusal::NotKept(_))));
        assert!(matches!(check("image/png, text/html", PNG), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn only_checked_pictures_are_served_inline() {
        assert!(served_kind(Some("image/png")).unwrap().inline);
        assert!(!served_kind(Some("application/pdf")).unwrap().inline);
        assert!(served_kind(Some("image/png, text/html")).is_none());
        assert!(served_kind(Some("text/html")).is_none() && served_kind(None).is_none());
        for k in KINDS {
            assert_eq!(MediaType::parse(k.essence).unwrap().kind().map(|f| f.essence), Some(k.essence));
        }
    }
}
