/// A role of the policy in force: its place in the policy's list of roles,
/// highest first, with Owner always first. Its name and words are the
/// policy's ([`super::policy::Policy`]); what it may do is the set of
/// permissions the policy gives it, not its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Role(u8);

impl Role {
    /// The one role every policy has, holding every permission.
    pub const OWNER: Role = Role(0);
    /// The built-in policy's roles below Owner. Under an operator's policy
    /// file they are whatever the file declares in their places, if
    /// anything: code that runs under any policy asks the policy for its
    /// roles instead, and these name roles only in the tests and in what
    /// the built-in policy itself declares.
    pub const ADMIN: Role = Role(1);
    pub const DEVELOPER: Role = Role(2);
    pub const CONTRIBUTOR: Role = Role(3);
    pub const VIEWER: Role = Role(4);

    /// The role at `index` of the policy's list (the policy's own reader
    /// makes them).
    pub(super) const fn at(index: u8) -> Role {
        Role(index)
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    pub fn is_owner(self) -> bool {
        self == Role::OWNER
    }
}
