//! A flow as a file: `{"version": 1, "name": …, "steps": […]}`, pretty JSON
//! (or the same fields in YAML), so a business can keep it in version
//! control, move it between installations and review it. A bad file is refused with the line and the
//! field: "line 7, steps[1].options[0].goto: no step named 'billing'".

use serde::{Deserialize, Serialize};

use super::{Answer, Flow, FlowSpec, Step};

/// The file format's version; a file of another version is refused by name.
pub const FILE_VERSION: u32 = 1;

/// The file's shape: the flow's fields with the format's version beside them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowFile {
    pub version: u32,
    pub name: String,
    #[serde(default = "super::default_handoff_words")]
    pub handoff_words: Vec<String>,
    #[serde(default = "super::default_timeout")]
    pub timeout_minutes: u32,
    #[serde(default = "super::default_closing")]
    pub closing_message: String,
    #[serde(default = "super::default_handoff_message")]
    pub handoff_message: String,
    #[serde(default)]
    pub answers: Vec<Answer>,
    pub steps: Vec<Step>,
}

/// Why a file was refused: where (1-based line, and the field's path when
/// known) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub line: usize,
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.path.is_empty()) {
            (0, true) => write!(f, "{}", self.message),
            (0, false) => write!(f, "{}: {}", self.path, self.message),
            (l, true) => write!(f, "line {l}: {}", self.message),
            (l, false) => write!(f, "line {l}, {}: {}", self.path, self.message),
        }
    }
}

/// The file of a flow.
pub fn export(flow: &Flow) -> String {
    let s = flow.spec().clone();
    let file = FlowFile {
        version: FILE_VERSION,
        name: s.name,
        handoff_words: s.handoff_words,
        timeout_minutes: s.timeout_minutes,
        closing_message: s.closing_message,
        handoff_message: s.handoff_message,
        answers: s.answers,
        steps: s.steps,
    };
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

/// The flow as a YAML file (the same fields, for people who keep their
/// configuration in YAML).
pub fn export_yaml(flow: &Flow) -> String {
    let json = export(flow);
    // The JSON just written is a plain document: reading it back cannot fail.
    serde_json::from_str::<FlowFile>(&json)
        .ok()
        .and_then(|file| serde_norway::to_string(&file).ok())
        .unwrap_or_default()
}

/// Whether a file is JSON (it starts with `{`) rather than YAML.
fn is_json(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

fn path_of(path: String) -> String {
    if path == "." { String::new() } else { path }
}

/// A flow from a file, JSON or YAML, checked as a saved flow is.
pub fn import(text: &str) -> Result<Flow, ImportError> {
    let file: FlowFile = if is_json(text) {
        let mut de = serde_json::Deserializer::from_str(text);
        let file = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = path_of(e.path().to_string());
            let inner = e.into_inner();
            ImportError { line: inner.line(), path, message: plain(&inner.to_string()) }
        })?;
        de.end().map_err(|e| ImportError { line: e.line(), path: String::new(), message: plain(&e.to_string()) })?;
        file
    } else {
        serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text)).map_err(|e| {
            let path = path_of(e.path().to_string());
            let inner = e.into_inner();
            let line = inner.location().map(|l| l.line()).unwrap_or(0);
            let said = inner.to_string();
            // serde_norway names the field first; ours is said already.
            let said = said.strip_prefix(&format!("{path}: ")).unwrap_or(&said).to_owned();
            ImportError { line, path, message: plain(&said) }
        })?
    };
    if file.version != FILE_VERSION {
        return Err(at(
            text,
            "version",
            format!("this is a version {} file; this server reads version 1", file.version),
        ));
    }
    let spec = FlowSpec {
        name: file.name,
        handoff_words: file.handoff_words,
        timeout_minutes: file.timeout_minutes,
        closing_message: file.closing_message,
        handoff_message: file.handoff_message,
        answers: file.answers,
        steps: file.steps,
    };
    Flow::parse(spec).map_err(|e| match e.0.split_once(": ") {
        Some((path, why)) if looks_like_path(path) => at(text, path, why.to_owned()),
        _ => ImportError { line: 0, path: String::new(), message: e.0 },
    })
}

fn looks_like_path(p: &str) -> bool {
    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c))
}

fn at(text: &str, path: &str, message: String) -> ImportError {
    let line = if is_json(text) { locate(text, path) } else { super::yaml::locate(text, path) };
    ImportError { line: line.unwrap_or(0), path: path.to_owned(), message }
}

/// serde's words without its own " at line 3 column 5" (the line is said first).
fn plain(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

/// The 1-based line where the value at `path` (`steps[1].options[0].goto`)
/// begins in a JSON text, found by walking the text itself.
pub(crate) fn locate(text: &str, path: &str) -> Option<usize> {
    let mut want: Vec<Seg> = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').map(|(n, r)| (n, Some(r))).unwrap_or((part, None));
        if !name.is_empty() {
            want.push(Seg::Key(name.to_owned()));
        }
        if let Some(r) = rest {
            for idx in r.split('[') {
                want.push(Seg::Index(idx.trim_end_matches(']').parse().ok()?));
            }
        }
    }
    let mut w = Walker { b: text.as_bytes(), i: 0 };
    let pos = w.find(&want)?;
    Some(text[..pos].matches('\n').count() + 1)
}

enum Seg {
    Key(String),
    Index(usize),
}

struct Walker<'a> {
    b: &'a [u8],
    i: usize,
}

impl Walker<'_> {
    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }
    /// Returns the position where the value at `path` starts.
    fn find(&mut self, path: &[Seg]) -> Option<usize> {
        let Some(first) = path.first() else {
            self.ws();
            return Some(self.i);
        };
        match (self.peek()?, first) {
            (b'{', Seg::Key(k)) => {
                self.i += 1;
                loop {
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key_at = self.i;
                    let key = self.string()?;
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.i += 1;
                    if key == *k {
                        let found = self.find(&path[1..]);
                        return found.or(Some(key_at));
                    }
                    self.skip()?;
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
            }
            (b'[', Seg::Index(n)) => {
                self.i += 1;
                let start = self.i;
                for _ in 0..*n {
                    if self.peek()? == b']' {
                        return None;
                    }
                    self.skip()?;
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
                if self.peek()? == b']' {
                    self.i = start;
                    return None;
                }
                let here = self.i;
                self.find(&path[1..]).or(Some(here))
            }
            _ => None,
        }
    }
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.i += 1;
        let start = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'"' => {
                    let s = String::from_utf8_lossy(&self.b[start..self.i]).into_owned();
                    self.i += 1;
                    return Some(s);
                }
                _ => self.i += 1,
            }
        }
        None
    }
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                loop {
                    if self.peek()? == close {
                        self.i += 1;
                        return Some(());
                    }
                    if open == b'{' {
                        self.string()?;
                        if self.peek()? != b':' {
                            return None;
                        }
                        self.i += 1;
                    }
                    self.skip()?;
                    if self.peek()? == b',' {
                        self.i += 1;
                    }
                }
            }
            _ => {
                while self.i < self.b.len()
                    && !b",}]".contains(&self.b[self.i])
                    && !self.b[self.i].is_ascii_whitespace()
                {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
}
