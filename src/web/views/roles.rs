//! The Roles page: what each role may do, from the policy the server enforces.

use askama::Template;

use super::base::{Layout, OrgView, Tabs};
use crate::domain::Role;
use crate::domain::policy::{self};

/// A row of the Roles page: a permission and, per role, whether it is granted.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub description: &'static str,
    pub name: &'static str,
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
        let policy = policy::current();
        policy
            .permissions()
            .iter()
            .map(|row| PolicyRow {
                description: &row.description,
                name: &row.name,
                allowed: Role::all()
                    .iter()
                    .map(|role| policy.holds(*role, row.permission))
                    .collect(),
            })
            .collect()
    }
}
