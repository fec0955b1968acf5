//! The policy in force: every permission (Rollcall's own and the
//! platform's) and what each role holds. Built in, or read from the
//! operator's file at start-up ([`super::file`]), and the same for the life
//! of the process: every layer asks [`current`].

use std::sync::OnceLock;

use super::permissions::{OWN, Permission, PermissionSet};
use super::routes::{Matched, RouteRule, first_match};
use crate::domain::role::Role;

/// A permission as the policy describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionDef {
    pub permission: Permission,
    /// `members.invite`, `deployments.create`.
    pub name: String,
    /// The row of the Roles page.
    pub description: String,
    /// Completes "Only owners and admins can …".
    pub verb: String,
    /// The permission one needs to do this to a resource someone else owns,
    /// where one's own and others' are told apart.
    pub over_others: Option<Permission>,
    /// Whether a token with inference access reaches it.
    pub inference: bool,
}

/// A role as the policy declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleDef {
    pub role: Role,
    /// `developer`, `endpoint_user`: stored, and used by forms, the API and
    /// the command line.
    pub name: String,
    /// `Developer`, `Endpoint User`: shown to people.
    pub label: String,
    /// What it is for, in a sentence; may be empty.
    pub description: String,
}

/// Every permission, every role, and what each role holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Rollcall's own first, in [`OWN`]'s order, then the platform's.
    permissions: Vec<PermissionDef>,
    /// Highest first; Owner first of all.
    roles: Vec<RoleDef>,
    /// What each role holds, by its place in `roles`.
    holdings: Vec<PermissionSet>,
    /// The role an invitation offers first.
    default_role: Role,
    /// Which permission a request to the platform needs (the gateway's
    /// check); none in the built-in policy.
    routes: Vec<RouteRule>,
    /// Where it was read from: `None` for the built-in policy.
    pub source: Option<String>,
}

/// The most roles a policy declares besides Owner.
pub const MAX_ROLES: usize = 30;

/// The built-in policy's platform rows: name, description, verb, and
/// the lowest built-in role that holds it.
const PLATFORM: [(&str, &str, &str, Role); 3] = [
    (
        "platform.use",
        "Platform: run inference on deployments; view deployments, models, datasets",
        "use the platform",
        Role::VIEWER,
    ),
    (
        "platform.create",
        "Platform: create deployments, models, datasets; edit and delete one’s own",
        "create deployments, models and datasets",
        Role::CONTRIBUTOR,
    ),
    (
        "platform.manage_others",
        "Platform: edit and delete resources owned by others; view logs and monitoring",
        "manage others’ resources and view logs and monitoring",
        Role::DEVELOPER,
    ),
];

/// The built-in roles, highest first: name, label, description.
const BUILT_IN_ROLES: [(&str, &str, &str); 5] = [
    (
        "owner",
        "Owner",
        "Everything, the organization itself and its owners included",
    ),
    (
        "admin",
        "Admin",
        "Members, invitations, service accounts and the audit log, and all of the platform",
    ),
    (
        "developer",
        "Developer",
        "All of the platform, others’ resources and logs included",
    ),
    (
        "contributor",
        "Contributor",
        "Creates on the platform and manages what they made",
    ),
    ("viewer", "Viewer", "Uses and views the platform"),
];

/// The lowest built-in role that holds each of Rollcall's own permissions,
/// in [`OWN`]'s order (the table of DESIGN.md).
const OWN_LOWEST: [Role; 14] = [
    Role::VIEWER,
    Role::ADMIN,
    Role::ADMIN,
    Role::ADMIN,
    Role::OWNER,
    Role::ADMIN,
    Role::ADMIN,
    Role::CONTRIBUTOR,
    Role::VIEWER,
    Role::OWNER,
    Role::OWNER,
    Role::OWNER,
    Role::ADMIN,
    Role::VIEWER,
];

impl Default for Policy {
    /// The built-in policy: the five roles, each holding what the role
    /// below holds and more, and three generic platform permissions.
    fn default() -> Self {
        let mut permissions: Vec<PermissionDef> = OWN
            .iter()
            .map(|own| PermissionDef {
                permission: own.permission,
                name: own.name.to_owned(),
                description: own.description.to_owned(),
                verb: own.verb.to_owned(),
                over_others: None,
                inference: false,
            })
            .collect();
        let platform_at = |index: usize| Permission::Platform(index as u8);
        permissions.extend(
            PLATFORM
                .iter()
                .enumerate()
                .map(|(index, (name, description, verb, _))| PermissionDef {
                    permission: platform_at(index),
                    name: (*name).to_owned(),
                    description: (*description).to_owned(),
                    verb: (*verb).to_owned(),
                    over_others: (*name == "platform.create").then(|| platform_at(2)),
                    inference: *name == "platform.use",
                }),
        );
        let lowest: Vec<Role> = OWN_LOWEST
            .iter()
            .copied()
            .chain(PLATFORM.iter().map(|row| row.3))
            .collect();
        let roles: Vec<RoleDef> = BUILT_IN_ROLES
            .iter()
            .enumerate()
            .map(|(index, (name, label, description))| RoleDef {
                role: Role::at(index as u8),
                name: (*name).to_owned(),
                label: (*label).to_owned(),
                description: (*description).to_owned(),
            })
            .collect();
        // Each built-in role holds what the roles below it hold, and more.
        let holdings = roles
            .iter()
            .map(|def| {
                PermissionSet::of(
                    permissions
                        .iter()
                        .zip(&lowest)
                        .filter(|(_, lowest)| def.role.index() <= lowest.index())
                        .map(|(permission, _)| permission.permission),
                )
            })
            .collect();
        Policy {
            permissions,
            roles,
            holdings,
            default_role: Role::DEVELOPER,
            routes: Vec::new(),
            source: None,
        }
    }
}

impl Policy {
    /// Made by the file reader, which has checked every name. Owner comes
    /// first whatever the file says.
    pub(super) fn new(
        permissions: Vec<PermissionDef>,
        declared: Vec<(RoleDef, PermissionSet)>,
        default_role: Role,
        routes: Vec<RouteRule>,
        source: String,
    ) -> Self {
        let owner = Policy::default().roles.swap_remove(0);
        let (roles, holdings) = std::iter::once((owner, PermissionSet::ALL))
            .chain(declared)
            .unzip();
        Policy {
            permissions,
            roles,
            holdings,
            default_role,
            routes,
            source: Some(source),
        }
    }

    /// Every role, highest first.
    pub fn roles(&self) -> &[RoleDef] {
        &self.roles
    }

    pub fn role_def(&self, role: Role) -> Option<&RoleDef> {
        self.roles.get(role.index())
    }

    /// The rule that decides a request to the platform, if one does.
    pub fn route<'a>(&'a self, method: &str, path: &'a str) -> Option<Matched<'a>> {
        first_match(&self.routes, method, path)
    }

    /// The role an invitation offers first, where the inviter may give it.
    pub fn default_role(&self) -> Role {
        self.default_role
    }

    /// Every permission, in the order the Roles page shows them.
    pub fn permissions(&self) -> &[PermissionDef] {
        &self.permissions
    }

    pub fn def(&self, permission: Permission) -> Option<&PermissionDef> {
        self.permissions.get(permission.index())
    }

    /// The permission named so, if the policy has one.
    pub fn named(&self, name: &str) -> Option<Permission> {
        self.permissions
            .iter()
            .find(|def| def.name == name)
            .map(|def| def.permission)
    }

    /// Everything `role` holds. An Owner holds every permission, whatever
    /// the file says.
    pub fn holdings(&self, role: Role) -> PermissionSet {
        if role.is_owner() {
            return PermissionSet::ALL;
        }
        self.holdings.get(role.index()).copied().unwrap_or_default()
    }

    pub fn holds(&self, role: Role, permission: Permission) -> bool {
        self.holdings(role).contains(permission)
    }

    /// The permissions `role` holds, in the policy's order.
    pub fn held_by(&self, role: Role) -> impl Iterator<Item = &PermissionDef> {
        let holdings = self.holdings(role);
        self.permissions
            .iter()
            .filter(move |def| holdings.contains(def.permission))
    }
}

static CURRENT: OnceLock<Policy> = OnceLock::new();

/// Puts `policy` in force for the life of the process, once, before anything
/// asks: answers it back if another is in force already.
pub fn install(policy: Policy) -> Result<(), Box<Policy>> {
    CURRENT.set(policy).map_err(Box::new)
}

/// The policy in force: the built-in one unless a file was installed.
pub fn current() -> &'static Policy {
    CURRENT.get_or_init(Policy::default)
}
