//! The profile page: a person's organizations, invitations and what they
//! can restore.

use askama::Template;

use super::base::{DayTime, Layout};
use crate::domain::Role;

/// A membership on the profile page.
#[derive(Debug, Clone)]
pub struct MembershipView {
    pub name: String,
    pub slug: String,
    pub role: Role,
}

/// An invitation on the profile page.
#[derive(Debug, Clone)]
pub struct ProfileInvitation {
    pub id: String,
    pub org_name: String,
    pub role: Role,
    pub inviter_name: String,
    pub email: String,
    pub expires: DayTime,
}

#[derive(Template)]
#[template(path = "profile/page.html")]
pub struct ProfilePage {
    pub layout: Layout,
    pub email: String,
    pub memberships: Vec<MembershipView>,
    pub invitations: Vec<ProfileInvitation>,
    /// Deleted organizations the user owns and can still restore.
    pub restorable: Vec<RestorableView>,
    pub new_org_name: String,
    pub new_org_error: Option<String>,
}

/// A deleted organization its owner can still restore, on the profile.
pub struct RestorableView {
    pub name: String,
    pub slug: String,
    pub until: DayTime,
}
