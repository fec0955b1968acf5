//! The policy: Rollcall's own permissions in code, the platform's and what
//! each role holds as data (built in, or the operator's file), and the
//! rules that ask it.

mod catalog;
mod file;
mod permissions;
mod roles;
mod routes;
mod rules;
mod tokens;

pub use catalog::{MAX_ROLES, PermissionDef, Policy, RoleDef, current, install};
pub use file::{PolicyFileError, parse_policy};
pub use permissions::{MAX_PLATFORM_PERMISSIONS, OWN, OwnPermission, Permission, PermissionSet};
pub use roles::InvalidRole;
pub use routes::Matched;
pub use rules::{
    Action, Denied, MemberChanges, assignable_roles, authorize, creatable_access, invitable_roles,
    member_changes, require, service_account_roles, token_usable,
};
pub use tokens::{Owner, TokenPowers, TokenScope, UnknownPermission, may_narrow};
