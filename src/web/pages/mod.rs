//! The handlers: extract, call a service, render.

pub mod audit;
pub mod auth;
pub mod invitation;
pub mod invitations;
pub mod members;
pub mod profile;
pub mod service_accounts;
pub mod settings;
pub mod token_limits;
pub mod tokens;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;

use super::context::SignedIn;
use super::session::SessionState;
use super::views::{DialogPage, Layout, OrgChoice, UserView, render};
use crate::error::Error;
use crate::services::users::User;
use crate::web::respond::html;
use crate::web::state::AppState;

pub use crate::web::context::{OrgContext, switcher};

/// How many of the newest pending invitations the Members page shows; the
/// invitations page lists them all.
pub const PENDING_ON_MEMBERS_PAGE: u32 = 10;

/// A `page` query parameter: a whole number from 1.
pub fn page_number(value: &str) -> Result<u32, Error> {
    value
        .parse::<u32>()
        .ok()
        .filter(|page| *page >= 1)
        .ok_or_else(|| Error::Invalid(format!("“{value}” is not a page number.")))
}

/// The frame of a full page.
pub fn layout(
    state: &AppState,
    session: &SessionState,
    title: impl Into<String>,
    user: Option<&User>,
    orgs: Vec<OrgChoice>,
    current_org: Option<&str>,
) -> Layout {
    Layout {
        title: title.into(),
        csrf: session.csrf_token(),
        user: user.map(UserView::from),
        orgs,
        current_org: current_org.map(str::to_owned),
        dev_banner: state.dev_login,
        flashes: session.take_flashes(),
    }
}

/// A dialog: alone for htmx, which opens it over the page; inside a full page
/// without JavaScript.
pub fn dialog(
    state: &AppState,
    signed: &SignedIn,
    user: &User,
    context: OrgContext,
    title: &str,
    render_dialog: impl FnOnce(bool) -> Result<String, Error>,
) -> Result<HttpResponse, Error> {
    dialog_with_status(state, signed, user, context, title, StatusCode::OK, render_dialog)
}

pub fn dialog_with_status(
    state: &AppState,
    signed: &SignedIn,
    user: &User,
    context: OrgContext,
    title: &str,
    status: StatusCode,
    render_dialog: impl FnOnce(bool) -> Result<String, Error>,
) -> Result<HttpResponse, Error> {
    if signed.htmx {
        return Ok(html(status, render_dialog(false)?));
    }
    let page = DialogPage {
        layout: layout(
            state,
            &signed.session,
            title,
            Some(user),
            context.orgs,
            Some(&context.viewer.org.slug),
        ),
        dialog: render_dialog(true)?,
    };
    Ok(html(status, render(&page, "the dialog page")?))
}

/// The pairs of a URL's query string; malformed encodings decode leniently.
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}
