//! Invitations: inviting by email, resending, revoking, and accepting or
//! declining by the person invited.
//!
//! - `send`: inviting one person or a batch, with the checks each row gets;
//!   `issue`: writing an invitation, its link and its email.
//! - `pending`: the pending lists; `resend_revoke`: a new link, or none.
//! - `answer`: opening a link, and accepting or declining it.

mod answer;
mod issue;
mod pending;
mod resend_revoke;
mod send;

pub use answer::{
    AcceptOutcome, DeclineOutcome, InvitationRef, InvitationStatus, InvitationView, Refusal, Unavailable,
    accept, accept_checked, answerable, decline, decline_checked, find_pending, open,
};
pub use issue::{Invitee, IssuedInvitation};
pub use pending::{PendingInvitation, PendingPage, pending_for_org, pending_for_user};
pub use resend_revoke::{resend, revoke};
pub(crate) use send::issue_owner_invitation;
pub use send::{
    InviteOutcome, MAX_BATCH, Standing, classify, domain_not_allowed, fits_one_batch, invite, invite_all,
};
