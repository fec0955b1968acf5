//! The service accounts page.

use askama::Template;

use super::base::{DayTime, Layout, OrgView, Tabs};
use super::tokens::{CreatedSecret, SecretShownBefore};
use crate::domain::Role;

/// A service account's row.
pub struct AccountRowView {
    pub account: crate::services::service_accounts::ServiceAccount,
    pub created: DayTime,
}

#[derive(Template)]
#[template(path = "service_accounts/page.html")]
pub struct ServiceAccountsPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub csrf: String,
    pub accounts: Vec<AccountRowView>,
    pub roles: Vec<Role>,
    pub access_levels: Vec<crate::domain::AccessLevel>,
    pub lifetimes: &'static [u16],
    pub form: AccountForm,
    pub error: Option<String>,
    pub created: Option<CreatedSecret>,
    pub made_before: Option<SecretShownBefore>,
    /// The key forms' one-time value (each form has its own purpose).
    pub once: String,
}

/// What the create form of a service account holds (again, after a refusal).
#[derive(Debug, Clone)]
pub struct AccountForm {
    pub name: String,
    pub description: String,
    /// The role chosen, as sent; empty offers the lowest.
    pub role: String,
}
