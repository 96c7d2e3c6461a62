//! `/text-us/{inbox}`: a public, printable page with the business's number
//! and a QR code that starts a text to it, for the business to share.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use crate::http::extract::Path;
use crate::http::problem::Problem;
use crate::http::state::AppState;
use crate::services::webchat::sms_qr_svg;

#[derive(Template, WebTemplate)]
#[template(path = "text_us.html")]
pub(crate) struct Page {
    business: String,
    number: String,
    /// Made by the QR crate from the number alone: no text of anyone else's.
    qr_svg: String,
}

pub(crate) async fn page(State(s): State<AppState>, Path(inbox): Path<i64>) -> Result<Page, Problem> {
    let t = s.services.text_us(inbox).await?;
    let qr_svg = sms_qr_svg(&t.number)?;
    Ok(Page { business: t.business, number: t.number, qr_svg })
}
