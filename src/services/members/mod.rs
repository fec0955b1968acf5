//! Memberships: who is in an organization, with which role.
//!
//! Every path that adds or removes a member comes through [`add`], [`update`],
//! [`remove`] and [`leave`], and each checks the last-owner rule inside the
//! transaction, under a lock on the organization whenever an owner is
//! concerned (a change between two other roles cannot break it).
//!
//! - `query`: what a list of members asks for, its order and its cursors.
//! - `list`: the Members page, numbered pages; `slice`: keyset pages for the API.
//! - `find`: one member, or a member's role; `at_hand`: what a change to one
//!   member starts from, read in one statement.
//! - `change`: joining and role changes; `remove`: removal and leaving.
//! - `ending`: the worker that reminds and ends memberships with an end date.

mod at_hand;
mod change;
mod ending;
mod find;
mod last_owner;
mod list;
mod query;
mod remove;
mod slice;

pub use at_hand::InOrg;
pub use change::{MemberChange, Updated, change_role, update, updated};
pub(crate) use change::{add, hand_over, promote_to_owner};
pub use ending::{END_REMINDER_DAYS, expire_due, remind_ending};
pub use find::{MemberRef, all, find, role, role_of_actor};
pub use list::list;
pub use query::{
    Direction, MAX_CURSOR_CHARS, MAX_PER_PAGE, Member, MemberCursor, MemberPage, MemberQuery, SortKey, Step,
};
pub use remove::{check_leave, leave, remove};
pub use slice::{MemberSlice, MemberSliceQuery, slice};
