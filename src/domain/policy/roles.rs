//! A role in words: its name and label are the policy's, so that a role
//! reads, parses and serializes as the policy in force declares it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::catalog::current;
use crate::domain::role::Role;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a role; use one of {names}", names = Role::names())]
pub struct InvalidRole(pub String);

impl Role {
    /// Every role of the policy in force, highest first: the columns of the
    /// Roles page.
    pub fn all() -> Vec<Role> {
        current().roles().iter().map(|def| def.role).collect()
    }

    /// The stable name stored in the database and used in forms, the API and
    /// on the command line.
    pub fn as_str(self) -> &'static str {
        current().role_def(self).map_or("", |def| def.name.as_str())
    }

    /// The name shown to people.
    pub fn label(self) -> &'static str {
        current().role_def(self).map_or("", |def| def.label.as_str())
    }

    /// "owner, admin, developer, contributor, viewer".
    fn names() -> String {
        current()
            .roles()
            .iter()
            .map(|def| def.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for Role {
    type Err = InvalidRole;

    /// A role's name or label, in any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        current()
            .roles()
            .iter()
            .find(|def| def.name.eq_ignore_ascii_case(wanted) || def.label.eq_ignore_ascii_case(wanted))
            .map(|def| def.role)
            .ok_or_else(|| InvalidRole(wanted.chars().take(64).collect()))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// From JSON and queries: the name exactly, as the API documents it.
impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        current()
            .roles()
            .iter()
            .find(|def| def.name == name)
            .map(|def| def.role)
            .ok_or_else(|| serde::de::Error::custom(InvalidRole(name.chars().take(64).collect())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roles_are_the_built_in_policy_s() {
        assert_eq!(
            Role::all(),
            [
                Role::OWNER,
                Role::ADMIN,
                Role::DEVELOPER,
                Role::CONTRIBUTOR,
                Role::VIEWER
            ]
        );
        assert_eq!(Role::ADMIN.as_str(), "admin");
        assert_eq!(Role::CONTRIBUTOR.label(), "Contributor");
    }

    #[test]
    fn parses_its_own_names_and_nothing_else() {
        for role in Role::all() {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
            assert_eq!(role.label().parse::<Role>(), Ok(role));
        }
        assert!("superuser".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
        let refused = serde_json::from_str::<Role>("\"Admin\"");
        assert!(refused.is_err(), "the API takes names exactly");
    }
}
