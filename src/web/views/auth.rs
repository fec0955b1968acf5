//! The sign-in page.

use askama::Template;

use super::base::Layout;

#[derive(Template)]
#[template(path = "auth/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub google: bool,
    pub github: bool,
    pub dev_login: bool,
    pub next: String,
    pub next_query: String,
    pub email: String,
    pub error: Option<String>,
}
