//! WhatsApp message templates as the Cloud API speaks them: the `template`
//! message textdesk sends (header, body and button components) and a
//! template as the Business Management API lists it (body, header, buttons).

use serde_json::{Value, json};
use textdesk_core::channel_template::{
    ButtonKind, ButtonParam, HeaderFormat, HeaderParam, TemplateButton, TemplateParts,
};

use crate::OutgoingTemplate;
use crate::provider::ProviderTemplate;

/// The `template` message for `t`, as the Cloud API takes it: a `header`
/// component with its one parameter (text, or an image, video or document by
/// link), the `body` component with the values as text parameters, and a
/// `button` component per button given a value (`sub_type` quick_reply with
/// a payload, or url with the address's ending), its `index` a string.
pub fn template_payload(t: &OutgoingTemplate) -> Value {
    let mut template = json!({ "name": t.name, "language": { "code": t.language } });
    let mut components = Vec::new();
    if let Some(h) = &t.header {
        let parameter = match h {
            HeaderParam::Text { text } => json!({ "type": "text", "text": text }),
            HeaderParam::Image { link } => json!({ "type": "image", "image": { "link": link } }),
            HeaderParam::Video { link } => json!({ "type": "video", "video": { "link": link } }),
            HeaderParam::Document { link } => json!({ "type": "document", "document": { "link": link } }),
        };
        components.push(json!({ "type": "header", "parameters": [parameter] }));
    }
    if !t.values.is_empty() {
        let parameters: Vec<Value> = t.values.iter().map(|v| json!({ "type": "text", "text": v })).collect();
        components.push(json!({ "type": "body", "parameters": parameters }));
    }
    for b in &t.buttons {
        components.push(match b {
            ButtonParam::QuickReply { index, payload } => json!({ "type": "button", "sub_type": "quick_reply",
                "index": index.to_string(), "parameters": [{ "type": "payload", "payload": payload }] }),
            ButtonParam::Url { index, text } => json!({ "type": "button", "sub_type": "url",
                "index": index.to_string(), "parameters": [{ "type": "text", "text": text }] }),
        });
    }
    if !components.is_empty() {
        template["components"] = Value::Array(components);
    }
    json!({ "type": "template", "template": template })
}

/// A template as the Graph API lists it: the body's text, the header's
/// format (and text), and each button's kind, text and address.
pub(crate) fn template_of(v: &Value) -> Option<ProviderTemplate> {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let components = v.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    let of_type = |t: &str| {
        components.iter().find(|c| c.get("type").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(t)))
    };
    let text = |c: &Value| c.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
    let body = of_type("BODY").map(text).unwrap_or_default();
    let header = of_type("HEADER").map(|h| {
        match h.get("format").and_then(Value::as_str).unwrap_or("TEXT").to_ascii_uppercase().as_str() {
            "IMAGE" => HeaderFormat::Image,
            "VIDEO" => HeaderFormat::Video,
            "DOCUMENT" => HeaderFormat::Document,
            "LOCATION" => HeaderFormat::Location,
            _ => HeaderFormat::Text { text: text(h) },
        }
    });
    let buttons = of_type("BUTTONS")
        .and_then(|b| b.get("buttons").and_then(Value::as_array))
        .map(|list| {
            list.iter()
                .map(|b| TemplateButton {
                    kind: match b.get("type").and_then(Value::as_str).unwrap_or_default().to_ascii_uppercase().as_str()
                    {
                        "QUICK_REPLY" => ButtonKind::QuickReply,
                        "URL" => ButtonKind::Url,
                        _ => ButtonKind::Other,
                    },
                    text: text(b),
                    url: b.get("url").and_then(Value::as_str).map(str::to_owned),
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ProviderTemplate {
        name: s("name")?,
        language: s("language")?,
        status: s("status").unwrap_or_default(),
        category: s("category").unwrap_or_default(),
        body,
        parts: TemplateParts { header, buttons },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_shaped_as_the_cloud_api_takes_them() {
        let t = OutgoingTemplate {
            name: "visit_reminder".into(),
            language: "en_US".into(),
            values: vec!["Ana".into()],
            header: None,
            buttons: vec![],
        };
        assert_eq!(
            template_payload(&t),
            json!({ "type": "template", "template": { "name": "visit_reminder", "language": { "code": "en_US" },
                "components": [{ "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] }] } })
        );
        let bare = OutgoingTemplate { values: vec![], ..t.clone() };
        assert!(template_payload(&bare)["template"].get("components").is_none());
        // Meta's "Sending message templates" example: a media header, body text and two kinds of button.
        let full = OutgoingTemplate {
            header: Some(HeaderParam::Image { link: "https://cdn.example/crown.png".into() }),
            buttons: vec![
                ButtonParam::QuickReply { index: 0, payload: "CONFIRM-42".into() },
                ButtonParam::Url { index: 1, text: "visit/42".into() },
            ],
            ..t
        };
        assert_eq!(
            template_payload(&full)["template"]["components"],
            json!([
                { "type": "header", "parameters": [{ "type": "image", "image": { "link": "https://cdn.example/crown.png" } }] },
                { "type": "body", "parameters": [{ "type": "text", "text": "Ana" }] },
                { "type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{ "type": "payload", "payload": "CONFIRM-42" }] },
                { "type": "button", "sub_type": "url", "index": "1", "parameters": [{ "type": "text", "text": "visit/42" }] }
            ])
        );
        let listed = json!({ "name": "order_ready", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
            "components": [
                { "type": "HEADER", "format": "DOCUMENT", "example": { "header_handle": ["4::aW..."] } },
                { "type": "BODY", "text": "Hi {{1}}, your order is ready." },
                { "type": "BUTTONS", "buttons": [
                    { "type": "QUICK_REPLY", "text": "Pick up today" },
                    { "type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+15550001111" },
                    { "type": "URL", "text": "Track", "url": "https://shop.example/t/{{1}}", "example": ["https://shop.example/t/A1"] } ] } ] });
        let parsed = template_of(&listed).unwrap();
        assert_eq!(parsed.body, "Hi {{1}}, your order is ready.");
        assert_eq!(parsed.parts.header, Some(HeaderFormat::Document));
        let kinds: Vec<ButtonKind> = parsed.parts.buttons.iter().map(|b| b.kind).collect();
        assert_eq!(kinds, [ButtonKind::QuickReply, ButtonKind::Other, ButtonKind::Url]);
        assert!(parsed.parts.buttons[2].needs_value());
    }
}
