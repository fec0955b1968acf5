//! Error pages and error notices.

use askama::Template;

use super::base::Layout;

#[derive(Template)]
#[template(path = "errors/page.html")]
pub struct ErrorPage {
    pub title: &'static str,
    pub message: String,
}

/// An error page for someone signed in: the same words, under the header
/// with their organizations, their name and "Sign out".
#[derive(Template)]
#[template(path = "errors/signed_in.html")]
pub struct SignedInErrorPage {
    pub layout: Layout,
    pub title: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "errors/notice.html")]
pub struct ErrorNotice {
    pub message: String,
}
