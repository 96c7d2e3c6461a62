//! WeChat's XML: one `<xml>` element whose children hold the fields, mostly
//! as CDATA. Read with quick-xml into a flat list of (name, text); a DOCTYPE
//! is refused, so no entity is ever defined, and only XML's five named
//! entities and character references are read. Bounded in fields and depth.

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::ParseError;

const MAX_FIELDS: usize = 64;
const MAX_DEPTH: usize = 3;

/// The fields of a WeChat XML document: each leaf element's name (the
/// innermost, for nested ones such as `ScanCodeInfo/ScanType`) and text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }
}

fn bad(why: &str) -> ParseError {
    ParseError(format!("the body is not WeChat's XML: {why}"))
}

pub fn parse(xml: &str) -> Result<Fields, ParseError> {
    let mut reader = Reader::from_str(xml);
    let mut fields = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut seen_root = false;
    loop {
        match reader.read_event().map_err(|_| bad("it is not well-formed"))? {
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if path.is_empty() {
                    if seen_root || name != "xml" {
                        return Err(bad("the root element is not <xml>"));
                    }
                    seen_root = true;
                }
                path.push(name);
                if path.len() > MAX_DEPTH {
                    return Err(bad("it is nested too deeply"));
                }
                text.clear();
            }
            Event::End(_) => {
                let Some(name) = path.pop() else { return Err(bad("it is not well-formed")) };
                if !path.is_empty() && !text.trim().is_empty() {
                    if fields.len() >= MAX_FIELDS {
                        return Err(bad("it has too many fields"));
                    }
                    fields.push((name, std::mem::take(&mut text)));
                }
                text.clear();
            }
            Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
            Event::Text(t) => text.push_str(&t.xml10_content().map_err(|_| bad("it is not UTF-8"))?),
            Event::CData(c) => text.push_str(&c.decode().map_err(|_| bad("it is not UTF-8"))?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|_| bad("a character reference is not valid"))? {
                    text.push(c);
                } else {
                    let named = r.decode().map_err(|_| bad("it is not UTF-8"))?;
                    text.push(match named.as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => return Err(bad("it names an entity WeChat never sends")),
                    });
                }
            }
            Event::DocType(_) => return Err(bad("a DOCTYPE is not accepted")),
            Event::Eof => break,
        }
    }
    if !seen_root || !path.is_empty() {
        return Err(bad("it has no complete <xml> element"));
    }
    Ok(Fields(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_and_hostile_documents_refused() {
        let f = parse("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><Content>a &lt; b &#x4F60;</Content><ScanCodeInfo><ScanType>qrcode</ScanType></ScanCodeInfo></xml>").unwrap();
        assert_eq!(f.get("ToUserName"), Some("gh_1"));
        assert_eq!(f.get("Content"), Some("a < b 你"));
        assert_eq!(f.get("ScanType"), Some("qrcode"));
        assert!(parse("<!DOCTYPE x [<!ENTITY a \"aaaa\">]><xml><Content>&a;</Content></xml>").is_err());
        assert!(parse("<xml><Content>&a;</Content></xml>").is_err());
        assert!(parse("<root><Content>x</Content></root>").is_err());
        assert!(parse("<xml><Content>x</Content>").is_err());
        assert!(parse("{\"json\": true}").is_err());
        assert!(parse("<xml><a><b><c><d>x</d></c></b></a></xml>").is_err());
        let many: String = (0..100).map(|i| format!("<F{i}>x</F{i}>")).collect();
        assert!(parse(&format!("<xml>{many}</xml>")).is_err());
    }
}
