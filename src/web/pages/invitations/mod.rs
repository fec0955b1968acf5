//! The pending invitations page, the invite dialog (paste addresses, review
//! each row, send), and resending and revoking pending invitations.

mod invite;
mod list;
mod row;

pub use invite::{review, send, step_one};
pub use list::list;
pub use row::{resend, revoke};
