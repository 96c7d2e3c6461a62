//! A provider template's values as the API takes them, shared by a reply in
//! a conversation (`template: {id, …}`) and a notification
//! (`whatsapp_template: {name, language, …}`). A leaf: no handlers here.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::services::templates::TemplateFill;

/// A value for one of the template's buttons, by its index among the
/// template's buttons (from 0, as `GET /api/v1/inboxes/{id}/templates` lists them).
#[derive(Deserialize, Serialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ButtonValueIn {
    /// Meta allows ten buttons: the bound also keeps a number too large for
    /// the field out of the documented inputs (it would be a 400, not a 422).
    #[schema(minimum = 0, maximum = 9)]
    pub(crate) index: usize,
    /// A quick reply's payload (optional; it comes back with the customer's tap), or the
    /// ending of a URL button's address that replaces its {{1}} (required for such a button).
    pub(crate) value: String,
}

pub(crate) fn fill(values: &[String], header: Option<&String>, buttons: Option<&Vec<ButtonValueIn>>) -> TemplateFill {
    TemplateFill {
        values: values.to_vec(),
        header: header.cloned(),
        buttons: buttons.map(|b| b.iter().map(|b| (b.index, b.value.clone())).collect()).unwrap_or_default(),
    }
}
