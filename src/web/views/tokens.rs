//! The API tokens page and a secret shown once.

use askama::Template;

use super::base::{DayTime, Layout, OrgView, Tabs};

/// A token's row on the API tokens page.
pub struct TokenRowView {
    pub token: crate::services::tokens::TokenView,
    pub created: DayTime,
    pub expires: DayTime,
    pub last_used: Option<DayTime>,
}

#[derive(Template)]
#[template(path = "tokens/page.html")]
pub struct TokensPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    pub sees_all: bool,
    pub tokens: Vec<TokenRowView>,
    pub access_levels: Vec<crate::domain::AccessLevel>,
    /// The permissions a token may be made to carry alone.
    pub permission_choices: Vec<PermissionChoice>,
    pub lifetimes: &'static [u16],
    pub form: TokenForm,
    pub error: Option<String>,
    /// The secret of the token just made, shown this once.
    pub created: Option<CreatedSecret>,
    /// The form was sent again: what it made the first time, without the secret.
    pub made_before: Option<SecretShownBefore>,
    /// The create form's one-time value.
    pub once: String,
}

/// What the create form holds (again, after a refusal).
#[derive(Debug, Clone, Default)]
pub struct TokenForm {
    pub name: String,
    pub access: String,
    pub days: u16,
    /// Whether the token is to carry only the permissions ticked.
    pub narrowed: bool,
    pub ticked: Vec<String>,
    /// The networks as typed.
    pub networks: String,
}

impl TokenForm {
    /// Whether the form was sent with `name` ticked.
    pub fn ticks(&self, name: &str) -> bool {
        self.ticked.iter().any(|ticked| ticked == name)
    }
}

/// A permission the token form offers to carry: one the viewer's role holds.
pub struct PermissionChoice {
    pub name: &'static str,
    pub description: &'static str,
}

/// A secret just made, with what it is for.
pub struct CreatedSecret {
    pub name: String,
    pub secret: String,
    pub expires: DayTime,
}

/// What a form that made a secret made, kept to answer the form sent again
/// (a reload): the name only, never the secret.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SecretShownBefore {
    pub name: String,
}

/// A token's limits, to change: where it works from and (a key's) rate.
#[derive(Template)]
#[template(path = "tokens/limits.html")]
pub struct TokenLimitsPage {
    pub layout: Layout,
    pub org: OrgView,
    pub csrf: String,
    pub token: crate::services::tokens::TokenView,
    /// The networks and rate as typed, or as they are.
    pub networks: String,
    pub rate: String,
    /// Whether a rate may be set: a service account's key.
    pub rated: bool,
    pub error: Option<String>,
}
