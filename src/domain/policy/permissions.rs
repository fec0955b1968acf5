//! What a role may hold: Rollcall's own permissions, fixed in code, and the
//! platform's, declared by the operator (see [`super::Policy`]).

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
    /// The platform's permission at this position of the policy's list.
    Platform(u8),
}

/// One of Rollcall's own permissions: what it is called and how it reads.
#[derive(Debug, Clone, Copy)]
pub struct OwnPermission {
    pub permission: Permission,
    /// The name the platform asks about (`POST /api/v1/authorize`), the
    /// token check lists and the policy file uses: stable, unlike the words.
    pub name: &'static str,
    /// The sentence shown on the Roles page.
    pub description: &'static str,
    /// What the permission lets one do, completing "Only owners and admins can …".
    pub verb: &'static str,
}

const fn own(
    permission: Permission,
    name: &'static str,
    description: &'static str,
    verb: &'static str,
) -> OwnPermission {
    OwnPermission {
        permission,
        name,
        description,
        verb,
    }
}

/// Rollcall's own permissions, in the order the Roles page shows them.
pub const OWN: [OwnPermission; 14] = [
    own(
        Permission::ViewMembers,
        "members.view",
        "View members, roles and pending invitations",
        "view members",
    ),
    own(
        Permission::InviteMembers,
        "members.invite",
        "Invite members with a non-owner role; resend and revoke invitations",
        "invite members and manage invitations",
    ),
    own(
        Permission::ChangeMemberRoles,
        "members.change_role",
        "Change the role of a non-owner member to a non-owner role",
        "change members’ roles",
    ),
    own(
        Permission::RemoveMembers,
        "members.remove",
        "Remove a non-owner member",
        "remove members",
    ),
    own(
        Permission::ManageOwners,
        "owners.manage",
        "Invite owners; promote to, demote from, or remove an owner",
        "invite, promote, demote or remove owners",
    ),
    own(
        Permission::ViewAuditLog,
        "audit.view",
        "View and download the audit log",
        "view the audit log",
    ),
    own(
        Permission::ManageServiceAccounts,
        "service_accounts.manage",
        "Manage service accounts and their keys; revoke other members’ API tokens",
        "manage service accounts and other members’ API tokens",
    ),
    own(
        Permission::CreateOperationsTokens,
        "tokens.create_operations",
        "Create API tokens with operations access",
        "create API tokens with operations access",
    ),
    own(
        Permission::CreateInferenceTokens,
        "tokens.create_inference",
        "Create API tokens with inference (endpoint) access",
        "create API tokens with inference access",
    ),
    own(
        Permission::ManageOrganization,
        "organization.manage",
        "Rename the organization, view and edit billing, delete the organization",
        "rename or delete the organization and manage billing",
    ),
    own(
        Permission::TransferOwnership,
        "organization.transfer",
        "Transfer ownership of the organization to another member",
        "transfer ownership of the organization",
    ),
    own(
        Permission::ManageAllowedDomains,
        "organization.domains",
        "Choose the email domains invitations may go to",
        "choose the email domains invitations may go to",
    ),
    own(
        Permission::SetMembershipEnds,
        "members.set_end",
        "Set or clear the day a non-owner member’s access ends",
        "set the day a member’s access ends",
    ),
    own(
        Permission::ViewSettings,
        "settings.view",
        "View the organization’s settings",
        "view the organization’s settings",
    ),
];

/// The most platform permissions a policy declares: with Rollcall's own,
/// every set fits in 128 bits.
pub const MAX_PLATFORM_PERMISSIONS: usize = 100;

impl Permission {
    /// Its place among all of the policy's permissions: Rollcall's own
    /// first, then the platform's.
    pub fn index(self) -> usize {
        match self {
            Permission::Platform(at) => OWN.len() + usize::from(at),
            own => OWN
                .iter()
                .position(|row| row.permission == own)
                .unwrap_or_default(),
        }
    }
}

/// A set of permissions: what a role holds. Two words rather than a `u128`,
/// which would align every kept token answer holding one to 16 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet([u64; 2]);

impl PermissionSet {
    /// Every permission there is and may be: the Owner's.
    pub const ALL: PermissionSet = PermissionSet([u64::MAX; 2]);

    pub fn of(permissions: impl IntoIterator<Item = Permission>) -> Self {
        permissions
            .into_iter()
            .fold(Self::default(), |set, permission| set.with(permission))
    }

    /// The word and the bit of a permission.
    fn place(permission: Permission) -> (usize, u64) {
        let index = permission.index();
        (index / 64 % 2, 1 << (index % 64))
    }

    pub fn with(self, permission: Permission) -> Self {
        let (word, bit) = Self::place(permission);
        let mut words = self.0;
        words[word] |= bit;
        Self(words)
    }

    pub fn contains(self, permission: Permission) -> bool {
        let (word, bit) = Self::place(permission);
        self.0[word] & bit != 0
    }

    /// Whether everything in this set is in `other` too.
    pub fn is_within(self, other: PermissionSet) -> bool {
        self.0[0] & !other.0[0] == 0 && self.0[1] & !other.0[1] == 0
    }
}
