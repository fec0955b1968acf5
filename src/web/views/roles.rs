//! The Roles page: what each role may do, from the policy the server enforces.

use askama::Template;

use super::base::{Layout, OrgView, Tabs};
use crate::domain::Role;
use crate::domain::policy::{self};

/// A row of the Roles page: a permission and, per role, whether it is granted.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub description: &'static str,
    pub allowed: Vec<bool>,
}

#[derive(Template)]
#[template(path = "roles/page.html")]
pub struct RolesPage {
    pub layout: Layout,
    pub org: OrgView,
    pub tabs: Tabs,
    pub roles: Vec<Role>,
    pub rows: Vec<PolicyRow>,
}

impl RolesPage {
    pub fn rows() -> Vec<PolicyRow> {
        policy::TABLE
            .iter()
            .map(|grant| PolicyRow {
                description: grant.description,
                allowed: Role::ALL
                    .iter()
                    .map(|role| grant.permission.allows(*role))
                    .collect(),
            })
            .collect()
    }
}
