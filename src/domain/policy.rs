//! The permission table of Rollcall, as data, in exactly one place.
//!
//! The services ask [`authorize`] before every change, the Roles page renders
//! [`TABLE`], and the tests iterate over both, so what the page says and what the
//! server does cannot drift apart.

use super::api_token::AccessLevel;
use super::role::Role;

/// One thing a role may or may not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    ViewMembers,
    InviteMembers,
    ChangeMemberRoles,
    RemoveMembers,
    ManageOwners,
    ViewAuditLog,
    ManageServiceAccounts,
    CreateOperationsTokens,
    CreateInferenceTokens,
    ManageOrganization,
    TransferOwnership,
    ManageAllowedDomains,
    SetMembershipEnds,
    ViewSettings,
    PlatformUse,
    PlatformCreate,
    PlatformManageOthers,
}

/// A row of the permission table. Every permission is granted to a role and to
/// every role above it, so the lowest role that has it says it all.
#[derive(Debug, Clone, Copy)]
pub struct Grant {
    pub permission: Permission,
    /// The name the platform asks about (`POST /api/v1/authorize`) and the
    /// token check lists: stable, unlike the words.
    pub name: &'static str,
    /// The sentence shown on the Roles page.
    pub description: &'static str,
    /// What the permission lets one do, completing "Only owners and admins can …".
    pub verb: &'static str,
    pub lowest: Role,
}

/// The policy: one row per permission, in the order the Roles page shows them.
pub const TABLE: [Grant; 17] = [
    Grant {
        permission: Permission::ViewMembers,
        name: "members.view",
        description: "View members, roles and pending invitations",
        verb: "view members",
        lowest: Role::Viewer,
    },
    Grant {
        permission: Permission::InviteMembers,
        name: "members.invite",
        description: "Invite members with a non-owner role; resend and revoke invitations",
        verb: "invite members and manage invitations",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::ChangeMemberRoles,
        name: "members.change_role",
        description: "Change the role of a non-owner member to a non-owner role",
        verb: "change members’ roles",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::RemoveMembers,
        name: "members.remove",
        description: "Remove a non-owner member",
        verb: "remove members",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::ManageOwners,
        name: "owners.manage",
        description: "Invite owners; promote to, demote from, or remove an owner",
        verb: "invite, promote, demote or remove owners",
        lowest: Role::Owner,
    },
    Grant {
        permission: Permission::ViewAuditLog,
        name: "audit.view",
        description: "View and download the audit log",
        verb: "view the audit log",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::ManageServiceAccounts,
        name: "service_accounts.manage",
        description: "Manage service accounts and their keys; revoke other members’ API tokens",
        verb: "manage service accounts and other members’ API tokens",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::CreateOperationsTokens,
        name: "tokens.create_operations",
        description: "Create API tokens with operations access",
        verb: "create API tokens with operations access",
        lowest: Role::Contributor,
    },
    Grant {
        permission: Permission::CreateInferenceTokens,
        name: "tokens.create_inference",
        description: "Create API tokens with inference (endpoint) access",
        verb: "create API tokens with inference access",
        lowest: Role::Viewer,
    },
    Grant {
        permission: Permission::ManageOrganization,
        name: "organization.manage",
        description: "Rename the organization, view and edit billing, delete the organization",
        verb: "rename or delete the organization and manage billing",
        lowest: Role::Owner,
    },
    Grant {
        permission: Permission::TransferOwnership,
        name: "organization.transfer",
        description: "Transfer ownership of the organization to another member",
        verb: "transfer ownership of the organization",
        lowest: Role::Owner,
    },
    Grant {
        permission: Permission::ManageAllowedDomains,
        name: "organization.domains",
        description: "Choose the email domains invitations may go to",
        verb: "choose the email domains invitations may go to",
        lowest: Role::Owner,
    },
    Grant {
        permission: Permission::SetMembershipEnds,
        name: "members.set_end",
        description: "Set or clear the day a non-owner member’s access ends",
        verb: "set the day a member’s access ends",
        lowest: Role::Admin,
    },
    Grant {
        permission: Permission::ViewSettings,
        name: "settings.view",
        description: "View the organization’s settings",
        verb: "view the organization’s settings",
        lowest: Role::Viewer,
    },
    Grant {
        permission: Permission::PlatformUse,
        name: "platform.use",
        description: "Platform: run inference on deployments; view deployments, models, datasets",
        verb: "use the platform",
        lowest: Role::Viewer,
    },
    Grant {
        permission: Permission::PlatformCreate,
        name: "platform.create",
        description: "Platform: create deployments, models, datasets; edit and delete one’s own",
        verb: "create deployments, models and datasets",
        lowest: Role::Contributor,
    },
    Grant {
        permission: Permission::PlatformManageOthers,
        name: "platform.manage_others",
        description: "Platform: edit and delete resources owned by others; view logs and monitoring",
        verb: "manage others’ resources and view logs and monitoring",
        lowest: Role::Developer,
    },
];

impl Permission {
    pub fn grant(self) -> &'static Grant {
        TABLE
            .iter()
            .find(|grant| grant.permission == self)
            .expect("every permission has a row in the table")
    }

    pub fn name(self) -> &'static str {
        self.grant().name
    }

    pub fn allows(self, role: Role) -> bool {
        role >= self.grant().lowest
    }

    /// "owners and admins", "owners": who holds this permission, in words.
    pub fn holders(self) -> String {
        let names: Vec<String> = Role::ALL
            .into_iter()
            .filter(|role| self.allows(*role))
            .map(|role| format!("{}s", role.as_str()))
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// The permission named so, if there is one.
    pub fn named(name: &str) -> Option<Permission> {
        TABLE
            .iter()
            .find(|grant| grant.name == name)
            .map(|grant| grant.permission)
    }

    /// The permission one needs to do this to a resource someone else owns,
    /// where the table tells one's own from others' ("edit and delete one's
    /// own" and "edit and delete resources owned by others").
    fn over_others(self) -> Permission {
        match self {
            Permission::PlatformCreate => Permission::PlatformManageOthers,
            other => other,
        }
    }

    /// Whether a token with inference access reaches it: using the platform's
    /// endpoints, and nothing that changes anything.
    fn reached_by(self, access: AccessLevel) -> bool {
        match access {
            AccessLevel::Operations => true,
            AccessLevel::Inference => self == Permission::PlatformUse,
        }
    }
}

/// What a token may do: what its holder's role allows now, as far as the
/// token's access level reaches. The token check lists these.
pub fn token_permissions(role: Role, access: AccessLevel) -> Vec<Permission> {
    TABLE
        .iter()
        .map(|grant| grant.permission)
        .filter(|permission| permission.allows(role) && permission.reached_by(access))
        .collect()
}

/// Whose resource a question about a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The caller's own, or no resource in particular.
    Caller,
    /// Someone else's.
    Other,
}

/// May a token held with `role`, at `access`, use `permission` on a
/// resource of `owner`'s? The platform's question (`POST
/// /api/v1/authorize`), answered from the same table as every other.
/// Answers with the permission decided on.
pub fn token_may(
    role: Role,
    access: AccessLevel,
    permission: Permission,
    owner: Owner,
) -> Result<Permission, Denied> {
    let needed = match owner {
        Owner::Caller => permission,
        Owner::Other => permission.over_others(),
    };
    if !needed.allows(role) {
        return Err(Denied::Lacks(needed));
    }
    if !needed.reached_by(access) {
        return Err(Denied::BeyondInference(needed));
    }
    Ok(needed)
}

/// Something one member may try to do to the organization's membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Invite someone with this role.
    Invite { role: Role },
    /// Resend or revoke a pending invitation for this role.
    ManageInvitation { role: Role },
    /// Change a member's role. `own` is true when the target is the actor.
    ChangeRole { from: Role, to: Role, own: bool },
    /// Remove a member (someone else: removing oneself is leaving).
    Remove { role: Role, own: bool },
    /// Create a personal API token with this access level.
    CreateToken { access: AccessLevel },
    /// Revoke an API token: one's own (`own`), or another member's.
    RevokeToken { own: bool },
    /// Create, change, disable or delete a service account with this role,
    /// or create and revoke its keys.
    ManageServiceAccount { role: Role },
    /// Read or download the organization's audit log.
    ViewAuditLog,
    /// Rename, delete or restore the organization.
    ManageOrganization,
    /// Hand ownership to another member.
    TransferOwnership,
    /// Change the email domains invitations may go to.
    ChangeAllowedDomains,
    /// Set or clear when a member with this role stops being one
    /// (in an invitation, `own` is false).
    SetMembershipEnd { role: Role, own: bool },
    /// Read the Settings tab.
    ViewSettings,
}

/// Why an action was refused, in words fit to show the person who tried it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("Only {} can {}.", .0.holders(), .0.grant().verb)]
    Lacks(Permission),
    #[error("You cannot change your own role; ask another owner or admin.")]
    OwnRole,
    #[error("You cannot remove yourself; use “Leave organization” instead.")]
    OwnRemoval,
    #[error("A service account cannot be an owner; give it the Admin role or lower.")]
    OwnerServiceAccount,
    #[error("A service account cannot have a role above your own.")]
    AboveOwnRole,
    #[error("This token has inference access only; the API needs a token with operations access.")]
    InferenceOnly,
    #[error("You cannot change when your own access ends; ask another owner or admin.")]
    OwnMembershipEnd,
    #[error("This token has inference access only, which does not reach {}: to {}, use a token with operations access.", .0.name(), .0.grant().verb)]
    BeyondInference(Permission),
}

impl Denied {
    /// The permission whose lack is the reason, if that is the reason.
    pub fn permission(&self) -> Option<Permission> {
        match self {
            Denied::Lacks(permission) | Denied::BeyondInference(permission) => Some(*permission),
            _ => None,
        }
    }
}

impl Action {
    /// The permission this action needs.
    pub fn permission(self) -> Permission {
        let touches_owner = match self {
            Action::Invite { role } | Action::ManageInvitation { role } => role == Role::Owner,
            Action::ChangeRole { from, to, .. } => from == Role::Owner || to == Role::Owner,
            Action::Remove { role, .. } | Action::SetMembershipEnd { role, .. } => role == Role::Owner,
            Action::CreateToken { .. }
            | Action::RevokeToken { .. }
            | Action::ManageServiceAccount { .. }
            | Action::ViewAuditLog
            | Action::ManageOrganization
            | Action::TransferOwnership
            | Action::ChangeAllowedDomains
            | Action::ViewSettings => false,
        };
        match self {
            Action::CreateToken {
                access: AccessLevel::Operations,
            } => Permission::CreateOperationsTokens,
            Action::CreateToken {
                access: AccessLevel::Inference,
            } => Permission::CreateInferenceTokens,
            Action::RevokeToken { own: true } => Permission::ViewMembers,
            Action::RevokeToken { own: false } | Action::ManageServiceAccount { .. } => {
                Permission::ManageServiceAccounts
            }
            Action::ViewAuditLog => Permission::ViewAuditLog,
            Action::ManageOrganization => Permission::ManageOrganization,
            Action::TransferOwnership => Permission::TransferOwnership,
            Action::ChangeAllowedDomains => Permission::ManageAllowedDomains,
            Action::ViewSettings => Permission::ViewSettings,
            _ if touches_owner => Permission::ManageOwners,
            Action::Invite { .. } | Action::ManageInvitation { .. } => Permission::InviteMembers,
            Action::ChangeRole { .. } => Permission::ChangeMemberRoles,
            Action::Remove { .. } => Permission::RemoveMembers,
            Action::SetMembershipEnd { .. } => Permission::SetMembershipEnds,
        }
    }
}

/// May a member with role `actor` do `action`? The only answer to that question
/// in the program. (The last-owner rule depends on the database and lives with
/// the membership services.)
pub fn authorize(actor: Role, action: Action) -> Result<(), Denied> {
    match action {
        Action::ChangeRole { own: true, .. } => return Err(Denied::OwnRole),
        Action::Remove { own: true, .. } => return Err(Denied::OwnRemoval),
        Action::SetMembershipEnd { own: true, .. } => return Err(Denied::OwnMembershipEnd),
        _ => {}
    }
    let permission = action.permission();
    if !permission.allows(actor) {
        return Err(Denied::Lacks(permission));
    }
    match action {
        Action::ManageServiceAccount { role: Role::Owner } => Err(Denied::OwnerServiceAccount),
        Action::ManageServiceAccount { role } if role > actor => Err(Denied::AboveOwnRole),
        _ => Ok(()),
    }
}

/// The access levels `actor` may give a token of their own.
pub fn creatable_access(actor: Role) -> Vec<AccessLevel> {
    AccessLevel::ALL
        .into_iter()
        .filter(|access| authorize(actor, Action::CreateToken { access: *access }).is_ok())
        .collect()
}

/// The roles `actor` may give a service account, highest first.
pub fn service_account_roles(actor: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|role| authorize(actor, Action::ManageServiceAccount { role: *role }).is_ok())
        .collect()
}

/// Whether a token of `access` held by someone whose role is now `role` may
/// be used at all: the token acts with both, so a role that may no longer
/// make such a token may no longer use one.
pub fn token_usable(role: Role, access: AccessLevel) -> bool {
    authorize(role, Action::CreateToken { access }).is_ok()
}

/// The roles a member with role `actor` may hand out in an invitation, highest first.
pub fn invitable_roles(actor: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|role| authorize(actor, Action::Invite { role: *role }).is_ok())
        .collect()
}

/// The roles `actor` may give a member who now has role `from`, highest first.
pub fn assignable_roles(actor: Role, from: Role, own: bool) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|to| authorize(actor, Action::ChangeRole { from, to: *to, own }).is_ok())
        .collect()
}

/// What an actor may change about one member: the roles they may give
/// (the member's own among them) and whether they may set an end date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberChanges {
    pub roles: Vec<Role>,
    pub can_set_end: bool,
}

/// What `actor` may change about a member whose role is `role` (`own`: the
/// actor themselves). Nothing at all is refused, with the reason a role
/// change would be: the Change role dialog opens only for something to do.
pub fn member_changes(actor: Role, role: Role, own: bool) -> Result<MemberChanges, Denied> {
    let roles = assignable_roles(actor, role, own);
    let can_set_end = authorize(actor, Action::SetMembershipEnd { role, own }).is_ok();
    if !can_set_end && !roles.iter().any(|to| *to != role) {
        let to = if role == Role::Viewer {
            Role::Contributor
        } else {
            Role::Viewer
        };
        authorize(actor, Action::ChangeRole { from: role, to, own })?;
    }
    Ok(MemberChanges { roles, can_set_end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of DESIGN.md, transcribed independently: a change to `TABLE`
    /// that does not match the contract fails here.
    const CONTRACT: [(Permission, [bool; 5]); 17] = [
        (Permission::ViewMembers, [true, true, true, true, true]),
        (Permission::InviteMembers, [true, true, false, false, false]),
        (Permission::ChangeMemberRoles, [true, true, false, false, false]),
        (Permission::RemoveMembers, [true, true, false, false, false]),
        (Permission::ManageOwners, [true, false, false, false, false]),
        (Permission::ViewAuditLog, [true, true, false, false, false]),
        (
            Permission::ManageServiceAccounts,
            [true, true, false, false, false],
        ),
        (
            Permission::CreateOperationsTokens,
            [true, true, true, true, false],
        ),
        (Permission::CreateInferenceTokens, [true, true, true, true, true]),
        (Permission::ManageOrganization, [true, false, false, false, false]),
        (Permission::TransferOwnership, [true, false, false, false, false]),
        (
            Permission::ManageAllowedDomains,
            [true, false, false, false, false],
        ),
        (Permission::SetMembershipEnds, [true, true, false, false, false]),
        (Permission::ViewSettings, [true, true, true, true, true]),
        (Permission::PlatformUse, [true, true, true, true, true]),
        (Permission::PlatformCreate, [true, true, true, true, false]),
        (Permission::PlatformManageOthers, [true, true, true, false, false]),
    ];

    #[test]
    fn table_matches_the_design_contract() {
        assert_eq!(TABLE.len(), CONTRACT.len());
        for (grant, (permission, expected)) in TABLE.iter().zip(CONTRACT) {
            assert_eq!(grant.permission, permission);
            for (role, allowed) in Role::ALL.into_iter().zip(expected) {
                assert_eq!(permission.allows(role), allowed, "{permission:?} for {role:?}");
            }
        }
    }

    #[test]
    fn admins_cannot_touch_owners() {
        assert_eq!(
            invitable_roles(Role::Admin),
            [Role::Admin, Role::Developer, Role::Contributor, Role::Viewer]
        );
        assert_eq!(invitable_roles(Role::Owner), Role::ALL);
        assert!(invitable_roles(Role::Developer).is_empty());
        assert!(assignable_roles(Role::Admin, Role::Owner, false).is_empty());
        assert_eq!(assignable_roles(Role::Owner, Role::Owner, false), Role::ALL);
        assert!(member_changes(Role::Admin, Role::Owner, false).is_err());
        assert!(member_changes(Role::Developer, Role::Viewer, false).is_err());
        let changes = member_changes(Role::Admin, Role::Viewer, false).expect("an admin changes a viewer");
        assert!(changes.can_set_end && changes.roles.contains(&Role::Developer));
    }

    #[test]
    fn nobody_changes_their_own_role_or_removes_themselves() {
        for role in Role::ALL {
            assert_eq!(
                authorize(
                    role,
                    Action::ChangeRole {
                        from: role,
                        to: Role::Viewer,
                        own: true
                    }
                ),
                Err(Denied::OwnRole)
            );
            assert_eq!(
                authorize(role, Action::Remove { role, own: true }),
                Err(Denied::OwnRemoval)
            );
        }
    }

    #[test]
    fn refusals_say_who_may() {
        let denied = authorize(Role::Admin, Action::Invite { role: Role::Owner }).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "Only owners can invite, promote, demote or remove owners."
        );
        let denied = authorize(
            Role::Viewer,
            Action::Remove {
                role: Role::Viewer,
                own: false,
            },
        )
        .unwrap_err();
        assert_eq!(denied.to_string(), "Only owners and admins can remove members.");
    }

    #[test]
    fn only_owners_change_the_organization_and_owners_end_dates() {
        for action in [
            Action::ManageOrganization,
            Action::TransferOwnership,
            Action::ChangeAllowedDomains,
        ] {
            assert!(authorize(Role::Owner, action).is_ok());
            assert!(authorize(Role::Admin, action).is_err());
        }
        let end = |role, own| Action::SetMembershipEnd { role, own };
        assert!(authorize(Role::Admin, end(Role::Viewer, false)).is_ok());
        assert!(authorize(Role::Admin, end(Role::Owner, false)).is_err());
        assert!(authorize(Role::Owner, end(Role::Owner, false)).is_ok());
        assert!(authorize(Role::Developer, end(Role::Viewer, false)).is_err());
        assert_eq!(
            authorize(Role::Owner, end(Role::Owner, true)),
            Err(Denied::OwnMembershipEnd)
        );
        assert!(authorize(Role::Viewer, Action::ViewSettings).is_ok());
    }

    #[test]
    fn the_platform_asks_by_name_and_others_resources_need_more() {
        for grant in TABLE {
            assert_eq!(Permission::named(grant.name), Some(grant.permission));
        }
        assert_eq!(Permission::named("platform.delete_everything"), None);
        let create = Permission::PlatformCreate;
        let ops = AccessLevel::Operations;
        assert_eq!(
            token_may(Role::Contributor, ops, create, Owner::Caller),
            Ok(create)
        );
        assert_eq!(
            token_may(Role::Contributor, ops, create, Owner::Other),
            Err(Denied::Lacks(Permission::PlatformManageOthers))
        );
        assert_eq!(
            token_may(Role::Developer, ops, create, Owner::Other),
            Ok(Permission::PlatformManageOthers)
        );
        assert_eq!(
            token_may(Role::Viewer, ops, create, Owner::Caller),
            Err(Denied::Lacks(create))
        );
        let inference = AccessLevel::Inference;
        assert!(token_may(Role::Owner, inference, Permission::PlatformUse, Owner::Other).is_ok());
        assert_eq!(
            token_may(Role::Owner, inference, create, Owner::Caller),
            Err(Denied::BeyondInference(create))
        );
        assert_eq!(
            token_permissions(Role::Owner, inference),
            [Permission::PlatformUse]
        );
        let viewer = token_permissions(Role::Viewer, ops);
        assert!(viewer.contains(&Permission::ViewMembers) && !viewer.contains(&create));
        assert_eq!(token_permissions(Role::Owner, ops).len(), TABLE.len());
    }

    #[test]
    fn tokens_and_service_accounts_follow_the_table() {
        assert_eq!(creatable_access(Role::Viewer), [AccessLevel::Inference]);
        assert_eq!(
            creatable_access(Role::Contributor),
            [AccessLevel::Operations, AccessLevel::Inference]
        );
        assert!(service_account_roles(Role::Developer).is_empty());
        assert_eq!(
            service_account_roles(Role::Admin),
            [Role::Admin, Role::Developer, Role::Contributor, Role::Viewer]
        );
        assert_eq!(
            service_account_roles(Role::Owner),
            service_account_roles(Role::Admin)
        );
        assert_eq!(
            authorize(Role::Owner, Action::ManageServiceAccount { role: Role::Owner }),
            Err(Denied::OwnerServiceAccount)
        );
        assert!(authorize(Role::Viewer, Action::RevokeToken { own: true }).is_ok());
        assert!(authorize(Role::Developer, Action::RevokeToken { own: false }).is_err());
        assert!(!token_usable(Role::Viewer, AccessLevel::Operations));
        assert!(token_usable(Role::Viewer, AccessLevel::Inference));
    }
}
