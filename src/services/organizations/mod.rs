//! Organizations: creating them, finding them, and their settings (name and
//! slug, deletion and restoring, the email domains they accept, handing
//! ownership to another member). Each change is one transaction under the
//! organization's lock, checks the policy, records its event and queues its
//! emails.
//!
//! - `find`: an organization by slug or id, and a user's organizations: the
//!   ground floor other services import directly; `slugs`: claiming and
//!   reserving slugs; `locked`: an organization read again under its lock.
//! - `create`, `rename`, `lifecycle` (delete, restore, purge), `domains`,
//!   `ownership` (transfer), `overview` (the Settings tab).

mod create;
pub(crate) mod domains;
pub(crate) mod find;
mod lifecycle;
mod locked;
mod overview;
mod ownership;
mod rename;
pub(crate) mod slugs;

pub use create::{CreatedWithInvitation, create_owned_by, create_with_owner_invitation};
pub use domains::{allowed_domains, set_allowed_domains};
pub use find::{
    Membership, Memberships, find_by_slug, find_even_deleted, for_user, moved_or_not_found, not_found,
    user_and_memberships,
};
pub use lifecycle::{Restorable, delete, purge_due, restorable_by, restore};
pub use overview::{Overview, overview};
pub use ownership::{
    Afterwards, PendingTransfer, cancel_transfer, confirm_transfer, make_owner_now, pending_transfer,
    request_transfer,
};
pub use rename::{Rename, rename};
pub use slugs::SLUG_RESERVATION_DAYS;
