//! The roles the database holds that the policy in force does not declare:
//! a member, a pending invitation or a service account with such a role
//! could be neither shown nor checked, so a server refuses to start on such
//! a database and the doctor says which roles and where.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::db::schema::{invitations, memberships, service_accounts};
use crate::db::{DbConnection, literal};
use crate::domain::Role;
use crate::error::Error;

/// A role stored somewhere that the policy does not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UndeclaredRole {
    pub name: String,
    pub members: i64,
    pub invitations: i64,
    pub service_accounts: i64,
}

/// Every stored role the policy in force does not declare, by name.
pub fn undeclared_roles(conn: &mut DbConnection) -> Result<Vec<UndeclaredRole>, Error> {
    let declared: Vec<&str> = Role::all().into_iter().map(Role::as_str).collect();
    let members: Vec<(String, i64)> = memberships::table
        .group_by(memberships::role)
        .select((memberships::role, diesel::dsl::count_star()))
        .filter(memberships::role.ne_all(&declared))
        .load(conn)?;
    let pending: Vec<(String, i64)> = invitations::table
        .filter(invitations::state.eq(literal::Pending))
        .filter(invitations::role.ne_all(&declared))
        .group_by(invitations::role)
        .select((invitations::role, diesel::dsl::count_star()))
        .load(conn)?;
    let accounts: Vec<(String, i64)> = service_accounts::table
        .filter(service_accounts::role.ne_all(&declared))
        .group_by(service_accounts::role)
        .select((service_accounts::role, diesel::dsl::count_star()))
        .load(conn)?;
    let mut found: BTreeMap<String, UndeclaredRole> = BTreeMap::new();
    for (name, count) in members {
        entry(&mut found, name).members = count;
    }
    for (name, count) in pending {
        entry(&mut found, name).invitations = count;
    }
    for (name, count) in accounts {
        entry(&mut found, name).service_accounts = count;
    }
    Ok(found.into_values().collect())
}

fn entry(found: &mut BTreeMap<String, UndeclaredRole>, name: String) -> &mut UndeclaredRole {
    found.entry(name.clone()).or_insert(UndeclaredRole {
        name,
        members: 0,
        invitations: 0,
        service_accounts: 0,
    })
}

/// "contributor (3 members, 1 pending invitation), viewer (12 members)".
pub fn in_words(undeclared: &[UndeclaredRole]) -> String {
    let counted = |count: i64, one: &str, many: &str| match count {
        0 => None,
        1 => Some(format!("1 {one}")),
        _ => Some(format!("{count} {many}")),
    };
    undeclared
        .iter()
        .map(|role| {
            let places: Vec<String> = [
                counted(role.members, "member", "members"),
                counted(role.invitations, "pending invitation", "pending invitations"),
                counted(role.service_accounts, "service account", "service accounts"),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("{} ({})", role.name, places.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
