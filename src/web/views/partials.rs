//! Notices, dialogs and confirmations, shown inside any screen or on a page
//! of their own when JavaScript is off.

use askama::Template;

use super::base::Layout;
use crate::web::session::Flash;

#[derive(Template)]
#[template(path = "partials/notice_oob.html")]
pub struct NoticesOob {
    pub flashes: Vec<Flash>,
}

#[derive(Template)]
#[template(path = "partials/notice.html")]
pub struct NoticeFragment {
    pub flash: Flash,
}

/// A one-time notice on a page of its own: what a form without JavaScript
/// lands on when the notice carries a link that must not go in the cookie.
#[derive(Template)]
#[template(path = "notice_page.html")]
pub struct NoticePage {
    pub layout: Layout,
    pub flash: Flash,
    pub back: String,
}

#[derive(Template)]
#[template(path = "dialog_page.html")]
pub struct DialogPage {
    pub layout: Layout,
    pub dialog: String,
}

/// A question before something that cannot be undone, as a page of its own.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub back: String,
    pub csrf: String,
}
