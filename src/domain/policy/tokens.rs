//! What a token may do: its holder's role now, as far as its access level
//! reaches, and, for a token made narrower than its holder, only the
//! permissions its maker chose.

use super::catalog::current;
use super::permissions::{Permission, PermissionSet};
use super::rules::Denied;
use crate::domain::api_token::AccessLevel;
use crate::domain::role::Role;

/// Which of its holder's permissions a token carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenScope {
    /// Everything the holder's role allows, as the role changes.
    #[default]
    Role,
    /// Only these, and of these only what the holder's role still allows:
    /// it never grows with the role.
    Only(PermissionSet),
}

/// A name that is not one of the policy's permissions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("“{0}” is not a permission; the Roles page lists them")]
pub struct UnknownPermission(pub String);

impl TokenScope {
    /// The permissions named, for a token that carries only them; none
    /// named, the holder's role.
    pub fn named<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, UnknownPermission> {
        let mut chosen: Option<PermissionSet> = None;
        for name in names {
            let permission = current()
                .named(name.trim())
                .ok_or_else(|| UnknownPermission(name.chars().take(64).collect()))?;
            chosen = Some(chosen.unwrap_or_default().with(permission));
        }
        Ok(chosen.map_or(TokenScope::Role, TokenScope::Only))
    }

    /// As stored: the chosen permissions' names, one space apart; none
    /// for a token that carries its holder's role. A name the policy no
    /// longer has is left out.
    pub fn stored(text: Option<&str>) -> Self {
        match text {
            None => TokenScope::Role,
            Some(names) => TokenScope::Only(PermissionSet::of(
                names.split_whitespace().filter_map(|name| current().named(name)),
            )),
        }
    }

    /// What to store: `None` for a token that carries its holder's role.
    pub fn to_stored(self) -> Option<String> {
        match self {
            TokenScope::Role => None,
            TokenScope::Only(chosen) => Some(
                current()
                    .permissions()
                    .iter()
                    .filter(|def| chosen.contains(def.permission))
                    .map(|def| def.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        }
    }

    /// Whether a token of this scope lets its holder use `permission`, as
    /// far as the holder's role allows it.
    pub fn carries(self, permission: Permission) -> bool {
        match self {
            TokenScope::Role => true,
            TokenScope::Only(chosen) => chosen.contains(permission),
        }
    }

    /// Whether a token of this scope may be made through a token of scope
    /// `maker`: never one that carries what the maker's token does not (a
    /// narrowed token makes only tokens narrowed within it).
    pub fn made_through(self, maker: TokenScope) -> Result<(), Denied> {
        match (maker, self) {
            (TokenScope::Role, _) => Ok(()),
            (TokenScope::Only(_), TokenScope::Role) => Err(Denied::MakerNarrowed),
            (TokenScope::Only(carried), TokenScope::Only(asked)) => match current()
                .permissions()
                .iter()
                .find(|def| asked.contains(def.permission) && !carried.contains(def.permission))
            {
                Some(def) => Err(Denied::NotChosen(def.permission)),
                None => Ok(()),
            },
        }
    }
}

/// What a token acts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPowers {
    /// Its holder's role now.
    pub role: Role,
    pub access: AccessLevel,
    pub scope: TokenScope,
}

/// Whose resource a question about a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The caller's own, or no resource in particular.
    Caller,
    /// Someone else's.
    Other,
}

impl TokenPowers {
    /// Everything it may do, in the policy's order: what the token check lists.
    pub fn permissions(self) -> Vec<Permission> {
        current()
            .held_by(self.role)
            .map(|def| def.permission)
            .filter(|permission| permission.reached_by(self.access) && self.scope.carries(*permission))
            .collect()
    }

    /// May it use `permission` on a resource of `owner`'s? The platform's
    /// question (`POST /api/v1/authorize`), answered from the same policy as
    /// every other. Answers with the permission decided on.
    pub fn may(self, permission: Permission, owner: Owner) -> Result<Permission, Denied> {
        let needed = match owner {
            Owner::Caller => permission,
            Owner::Other => permission.over_others(),
        };
        if !needed.allows(self.role) {
            return Err(Denied::Lacks(needed));
        }
        if !needed.reached_by(self.access) {
            return Err(Denied::BeyondInference(needed));
        }
        if !self.scope.carries(needed) {
            return Err(Denied::NotChosen(needed));
        }
        Ok(needed)
    }
}

/// Whether a member with `role` may make a token of `access` that carries
/// only `chosen`: every one of them theirs, and within the access level.
pub fn may_narrow(role: Role, access: AccessLevel, chosen: PermissionSet) -> Result<(), Denied> {
    for def in current().permissions() {
        if !chosen.contains(def.permission) {
            continue;
        }
        if !def.permission.allows(role) {
            return Err(Denied::NotYours(def.permission));
        }
        if !def.permission.reached_by(access) {
            return Err(Denied::BeyondInference(def.permission));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn powers(role: Role, access: AccessLevel) -> TokenPowers {
        TokenPowers {
            role,
            access,
            scope: TokenScope::Role,
        }
    }

    #[test]
    fn the_platform_asks_by_name_and_others_resources_need_more() {
        for row in current().permissions() {
            assert_eq!(Permission::named(&row.name), Some(row.permission));
        }
        assert_eq!(Permission::named("platform.delete_everything"), None);
        let (create, manage_others) = (Permission::Platform(1), Permission::Platform(2));
        let ops = AccessLevel::Operations;
        assert_eq!(
            powers(Role::CONTRIBUTOR, ops).may(create, Owner::Caller),
            Ok(create)
        );
        assert_eq!(
            powers(Role::CONTRIBUTOR, ops).may(create, Owner::Other),
            Err(Denied::Lacks(manage_others))
        );
        assert_eq!(
            powers(Role::DEVELOPER, ops).may(create, Owner::Other),
            Ok(manage_others)
        );
        assert_eq!(
            powers(Role::VIEWER, ops).may(create, Owner::Caller),
            Err(Denied::Lacks(create))
        );
        let inference = AccessLevel::Inference;
        assert!(
            powers(Role::OWNER, inference)
                .may(Permission::Platform(0), Owner::Other)
                .is_ok()
        );
        assert_eq!(
            powers(Role::OWNER, inference).may(create, Owner::Caller),
            Err(Denied::BeyondInference(create))
        );
        assert_eq!(
            powers(Role::OWNER, inference).permissions(),
            [Permission::Platform(0)]
        );
        let viewer = powers(Role::VIEWER, ops).permissions();
        assert!(viewer.contains(&Permission::ViewMembers) && !viewer.contains(&create));
        assert_eq!(
            powers(Role::OWNER, ops).permissions().len(),
            current().permissions().len()
        );
    }

    #[test]
    fn a_narrowed_token_carries_what_was_chosen_and_its_role_still_allows() {
        let (use_, create) = (Permission::Platform(0), Permission::Platform(1));
        let chosen = PermissionSet::of([use_, Permission::ViewMembers]);
        let narrowed = TokenPowers {
            scope: TokenScope::Only(chosen),
            ..powers(Role::DEVELOPER, AccessLevel::Operations)
        };
        assert_eq!(narrowed.permissions(), [Permission::ViewMembers, use_]);
        assert_eq!(
            narrowed.may(create, Owner::Caller),
            Err(Denied::NotChosen(create))
        );
        assert_eq!(narrowed.may(use_, Owner::Caller), Ok(use_));
        // The role grows: the token does not.
        let promoted = TokenPowers {
            role: Role::OWNER,
            ..narrowed
        };
        assert_eq!(promoted.permissions(), narrowed.permissions());
        // The role shrinks: so does the token.
        let demoted = TokenPowers {
            role: Role::VIEWER,
            ..narrowed
        };
        assert_eq!(demoted.permissions(), [Permission::ViewMembers, use_]);
        let stored = TokenScope::Only(chosen).to_stored();
        assert_eq!(stored.as_deref(), Some("members.view platform.use"));
        assert_eq!(TokenScope::stored(stored.as_deref()), TokenScope::Only(chosen));
        assert_eq!(
            TokenScope::stored(Some("members.view gone.away")),
            TokenScope::Only(PermissionSet::of([Permission::ViewMembers]))
        );
        assert_eq!(TokenScope::stored(None), TokenScope::Role);

        let ops = AccessLevel::Operations;
        assert_eq!(may_narrow(Role::DEVELOPER, ops, chosen), Ok(()));
        assert_eq!(
            may_narrow(Role::VIEWER, ops, PermissionSet::of([create])),
            Err(Denied::NotYours(create))
        );
        assert_eq!(
            may_narrow(
                Role::DEVELOPER,
                AccessLevel::Inference,
                PermissionSet::of([create])
            ),
            Err(Denied::BeyondInference(create))
        );
    }
}
