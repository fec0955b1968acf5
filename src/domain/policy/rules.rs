//! The rules: who may do what, asked of the policy in force, in exactly one
//! place. The services ask [`authorize`] before every change, the Roles
//! page renders the same policy, and the tests iterate over both, so what
//! the page says and what the server does cannot drift apart.

use std::sync::OnceLock;

use super::catalog::{PermissionDef, current};
use super::permissions::Permission;
use crate::domain::api_token::AccessLevel;
use crate::domain::role::Role;

impl Permission {
    fn def(self) -> &'static PermissionDef {
        static MISSING: OnceLock<PermissionDef> = OnceLock::new();
        current().def(self).unwrap_or_else(|| {
            MISSING.get_or_init(|| PermissionDef {
                permission: self,
                name: String::new(),
                description: String::new(),
                verb: "do this".to_owned(),
                over_others: None,
                inference: false,
            })
        })
    }

    /// Its name in the policy (`members.invite`, `platform.create`).
    pub fn name(self) -> &'static str {
        &self.def().name
    }

    /// What it lets one do, completing "Only owners and admins can …".
    pub fn verb(self) -> &'static str {
        &self.def().verb
    }

    pub fn allows(self, role: Role) -> bool {
        current().holds(role, self)
    }

    /// "owners and admins", "owners, admins and endpoint users": who holds
    /// this permission, in words.
    pub fn holders(self) -> String {
        let names: Vec<String> = Role::all()
            .into_iter()
            .filter(|role| self.allows(*role))
            .map(|role| format!("{}s", role.label().to_lowercase()))
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// The permission named so, if the policy has one.
    pub fn named(name: &str) -> Option<Permission> {
        current().named(name)
    }

    /// The permission one needs to do this to a resource someone else owns,
    /// where the policy tells one's own from others' ("edit and delete one's
    /// own" and "edit and delete resources owned by others").
    pub(super) fn over_others(self) -> Permission {
        self.def().over_others.unwrap_or(self)
    }

    /// Whether a token with this access level reaches it: an inference
    /// token reaches only what the policy marks as inference.
    pub(super) fn reached_by(self, access: AccessLevel) -> bool {
        match access {
            AccessLevel::Operations => true,
            AccessLevel::Inference => self.def().inference,
        }
    }
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
    /// Revoke an API token or set where it works from: one's own (`own`),
    /// or another member's.
    ManageToken { own: bool },
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
    #[error("Only {} can {}.", .0.holders(), .0.verb())]
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
    #[error("This token has inference access only, which does not reach {}: to {}, use a token with operations access.", .0.name(), .0.verb())]
    BeyondInference(Permission),
    #[error("You cannot give or manage the role {0}: it holds permissions your role does not.")]
    BeyondOwn(Role),
    #[error("This token was made to carry fewer permissions than its holder has, and {} is not among them.", .0.name())]
    NotChosen(Permission),
    #[error("You cannot give a token {}: your role does not hold it.", .0.name())]
    NotYours(Permission),
    #[error(
        "This token was made to carry only some permissions: a token made with it must name which of those it carries."
    )]
    MakerNarrowed,
    #[error(
        "This token works only from some networks: a token made with it must work only from those, or from within them."
    )]
    BeyondMakersNetworks,
}

impl Denied {
    /// The permission whose lack is the reason, if that is the reason.
    pub fn permission(&self) -> Option<Permission> {
        match self {
            Denied::Lacks(permission)
            | Denied::BeyondInference(permission)
            | Denied::NotChosen(permission)
            | Denied::NotYours(permission) => Some(*permission),
            _ => None,
        }
    }
}

impl Action {
    /// The permission this action needs.
    pub fn permission(self) -> Permission {
        let touches_owner = match self {
            Action::Invite { role } | Action::ManageInvitation { role } => role == Role::OWNER,
            Action::ChangeRole { from, to, .. } => from == Role::OWNER || to == Role::OWNER,
            Action::Remove { role, .. } | Action::SetMembershipEnd { role, .. } => role == Role::OWNER,
            Action::CreateToken { .. }
            | Action::ManageToken { .. }
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
            Action::ManageToken { own: true } => Permission::ViewMembers,
            Action::ManageToken { own: false } | Action::ManageServiceAccount { .. } => {
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
///
/// Besides the permission, the delegation rule: nobody gives, changes or
/// removes a role holding a permission they do not hold themselves, so no
/// path (an invitation, a role change, a service account) leads above one's
/// own role.
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
    let policy = current();
    let within_own = |role: Role| policy.holdings(role).is_within(policy.holdings(actor));
    match action {
        Action::ManageServiceAccount { role: Role::OWNER } => Err(Denied::OwnerServiceAccount),
        Action::ManageServiceAccount { role } if !within_own(role) => Err(Denied::AboveOwnRole),
        Action::Invite { role }
        | Action::ManageInvitation { role }
        | Action::Remove { role, .. }
        | Action::SetMembershipEnd { role, .. }
            if !within_own(role) =>
        {
            Err(Denied::BeyondOwn(role))
        }
        Action::ChangeRole { from, to, .. } if !within_own(from) || !within_own(to) => {
            Err(Denied::BeyondOwn(if within_own(from) { to } else { from }))
        }
        _ => Ok(()),
    }
}

/// Whether `actor` holds `permission`: for what may be done at all (open the
/// invite dialog, see the service accounts), before what to whom.
pub fn require(actor: Role, permission: Permission) -> Result<(), Denied> {
    if permission.allows(actor) {
        Ok(())
    } else {
        Err(Denied::Lacks(permission))
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
    Role::all()
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
    Role::all()
        .into_iter()
        .filter(|role| authorize(actor, Action::Invite { role: *role }).is_ok())
        .collect()
}

/// The roles `actor` may give a member who now has role `from`, highest first.
pub fn assignable_roles(actor: Role, from: Role, own: bool) -> Vec<Role> {
    Role::all()
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
        let to = if role == Role::VIEWER {
            Role::CONTRIBUTOR
        } else {
            Role::VIEWER
        };
        authorize(actor, Action::ChangeRole { from: role, to, own })?;
    }
    Ok(MemberChanges { roles, can_set_end })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of DESIGN.md, transcribed independently: a change to the
    /// built-in policy that does not match the contract fails here.
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
        (Permission::Platform(0), [true, true, true, true, true]),
        (Permission::Platform(1), [true, true, true, true, false]),
        (Permission::Platform(2), [true, true, true, false, false]),
    ];

    #[test]
    fn table_matches_the_design_contract() {
        let rows = current().permissions();
        assert_eq!(rows.len(), CONTRACT.len());
        for (row, (permission, expected)) in rows.iter().zip(CONTRACT) {
            assert_eq!(row.permission, permission);
            for (role, allowed) in Role::all().into_iter().zip(expected) {
                assert_eq!(permission.allows(role), allowed, "{permission:?} for {role:?}");
            }
        }
    }

    #[test]
    fn admins_cannot_touch_owners() {
        assert_eq!(
            invitable_roles(Role::ADMIN),
            [Role::ADMIN, Role::DEVELOPER, Role::CONTRIBUTOR, Role::VIEWER]
        );
        assert_eq!(invitable_roles(Role::OWNER), Role::all());
        assert!(invitable_roles(Role::DEVELOPER).is_empty());
        assert!(assignable_roles(Role::ADMIN, Role::OWNER, false).is_empty());
        assert_eq!(assignable_roles(Role::OWNER, Role::OWNER, false), Role::all());
        assert!(member_changes(Role::ADMIN, Role::OWNER, false).is_err());
        assert!(member_changes(Role::DEVELOPER, Role::VIEWER, false).is_err());
        let changes = member_changes(Role::ADMIN, Role::VIEWER, false).expect("an admin changes a viewer");
        assert!(changes.can_set_end && changes.roles.contains(&Role::DEVELOPER));
    }

    #[test]
    fn nobody_changes_their_own_role_or_removes_themselves() {
        for role in Role::all() {
            assert_eq!(
                authorize(
                    role,
                    Action::ChangeRole {
                        from: role,
                        to: Role::VIEWER,
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
        let denied = authorize(Role::ADMIN, Action::Invite { role: Role::OWNER }).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "Only owners can invite, promote, demote or remove owners."
        );
        let denied = authorize(
            Role::VIEWER,
            Action::Remove {
                role: Role::VIEWER,
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
            assert!(authorize(Role::OWNER, action).is_ok());
            assert!(authorize(Role::ADMIN, action).is_err());
        }
        let end = |role, own| Action::SetMembershipEnd { role, own };
        assert!(authorize(Role::ADMIN, end(Role::VIEWER, false)).is_ok());
        assert!(authorize(Role::ADMIN, end(Role::OWNER, false)).is_err());
        assert!(authorize(Role::OWNER, end(Role::OWNER, false)).is_ok());
        assert!(authorize(Role::DEVELOPER, end(Role::VIEWER, false)).is_err());
        assert_eq!(
            authorize(Role::OWNER, end(Role::OWNER, true)),
            Err(Denied::OwnMembershipEnd)
        );
        assert!(authorize(Role::VIEWER, Action::ViewSettings).is_ok());
    }

    #[test]
    fn tokens_and_service_accounts_follow_the_table() {
        assert_eq!(creatable_access(Role::VIEWER), [AccessLevel::Inference]);
        assert_eq!(
            creatable_access(Role::CONTRIBUTOR),
            [AccessLevel::Operations, AccessLevel::Inference]
        );
        assert!(service_account_roles(Role::DEVELOPER).is_empty());
        assert_eq!(
            service_account_roles(Role::ADMIN),
            [Role::ADMIN, Role::DEVELOPER, Role::CONTRIBUTOR, Role::VIEWER]
        );
        assert_eq!(
            service_account_roles(Role::OWNER),
            service_account_roles(Role::ADMIN)
        );
        assert_eq!(
            authorize(Role::OWNER, Action::ManageServiceAccount { role: Role::OWNER }),
            Err(Denied::OwnerServiceAccount)
        );
        assert!(authorize(Role::VIEWER, Action::ManageToken { own: true }).is_ok());
        assert!(authorize(Role::DEVELOPER, Action::ManageToken { own: false }).is_err());
        assert!(!token_usable(Role::VIEWER, AccessLevel::Operations));
        assert!(token_usable(Role::VIEWER, AccessLevel::Inference));
    }
}
