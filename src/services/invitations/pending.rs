//! The pending invitations of an organization, and of a person.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::issue::PENDING;
use crate::db::schema::{invitations, organizations, pending_invitation_counts};
use crate::db::written::Written;
use crate::db::{self, DbConnection, literal};
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::services::access::Viewer;
use crate::services::shared::{Organization, now, parse_stored_role};
use crate::services::users;

/// An invitation as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
pub(super) struct InvitationRow {
    pub(super) id: String,
    pub(super) email: String,
    pub(super) name: Option<String>,
    pub(super) role: String,
    pub(super) invited_by: Option<String>,
    pub(super) inviter_name: String,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    pub(super) expires_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    last_sent_at: NaiveDateTime,
    pub(super) send_count: i32,
    delivery: String,
    pub(super) state: String,
    pub(super) membership_expires_at: Option<NaiveDateTime>,
}

/// An invitation still waiting for an answer, as the Members page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingInvitation {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub role: Role,
    pub inviter_name: String,
    pub created_at: NaiveDateTime,
    pub last_sent_at: NaiveDateTime,
    pub send_count: i32,
    pub expires_at: NaiveDateTime,
    /// queued, sent, retrying or failed.
    pub delivery: String,
}

impl PendingInvitation {
    pub fn is_expired(&self, at: NaiveDateTime) -> bool {
        self.expires_at <= at
    }
}

impl PendingPage {
    /// When the next of these invitations expires, after `now`.
    pub fn next_expiry(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        self.invitations
            .iter()
            .filter(|invitation| !invitation.is_expired(now))
            .map(|invitation| invitation.expires_at)
            .min()
    }
}

impl TryFrom<InvitationRow> for PendingInvitation {
    type Error = Error;

    fn try_from(row: InvitationRow) -> Result<Self, Error> {
        Ok(Self {
            role: parse_stored_role(&row.role)?,
            id: row.id,
            email: row.email,
            name: row.name,
            inviter_name: row.inviter_name,
            created_at: row.created_at,
            last_sent_at: row.last_sent_at,
            send_count: row.send_count,
            expires_at: row.expires_at,
            delivery: row.delivery,
        })
    }
}

/// A page of an organization's pending invitations, newest first.
#[derive(Debug, Clone)]
pub struct PendingPage {
    pub invitations: Vec<PendingInvitation>,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

impl PendingPage {
    pub fn page_count(&self) -> u32 {
        crate::services::shared::page_count(self.total, self.per_page)
    }
}

/// The organization's pending invitations, newest first: page `page` of
/// `per_page` rows (none for a `per_page` of 0, which asks only the total).
pub fn pending_for_org(
    conn: &mut DbConnection,
    viewer: &Viewer,
    page: u32,
    per_page: u32,
) -> Result<PendingPage, Error> {
    let org = &viewer.org;
    // Kept by the database as invitations come and go; no row means none.
    let total: i64 = match viewer.stamps {
        Some(stamps) => stamps.pending_invitations,
        None => Written(
            pending_invitation_counts::table
                .find(&org.id)
                .select(pending_invitation_counts::pending)
                .limit(1),
        )
        .get_result(conn)
        .optional()?
        .unwrap_or(0),
    };
    let page = page.max(1);
    let skipped = i64::from(page - 1) * i64::from(per_page);
    let invitations = if per_page == 0 || skipped >= total {
        Vec::new()
    } else {
        let rows: Vec<InvitationRow> = Written(
            invitations::table
                .filter(invitations::org_id.eq(&org.id))
                .filter(invitations::state.eq(literal::Pending))
                .order((invitations::created_at.desc(), invitations::id.desc()))
                .limit(i64::from(per_page))
                .offset(skipped)
                .select(InvitationRow::as_select()),
        )
        .load(conn)?;
        rows.into_iter()
            .map(PendingInvitation::try_from)
            .collect::<Result<_, _>>()?
    };
    Ok(PendingPage {
        invitations,
        total,
        page,
        per_page,
    })
}

/// Pending, unexpired invitations addressed to any of the user's verified
/// emails, with their organizations: what the profile page offers to accept.
pub fn pending_for_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<(PendingInvitation, Organization)>, Error> {
    let emails = users::verified_emails(conn, user_id)?;
    let addresses: Vec<&str> = emails.iter().map(EmailAddress::as_str).collect();
    let rows: Vec<(InvitationRow, Organization)> = invitations::table
        .inner_join(organizations::table)
        .filter(invitations::email.eq_any(&addresses))
        .filter(invitations::state.eq(literal::Pending))
        .filter(invitations::expires_at.gt(now()))
        .order(invitations::created_at.desc())
        .select((InvitationRow::as_select(), Organization::as_select()))
        .load(conn)?;
    rows.into_iter()
        .map(|(row, org)| Ok((PendingInvitation::try_from(row)?, org)))
        .collect()
}

/// Locks a pending invitation of the organization and reads it: the state a
/// resend or revoke changes from. One already answered or revoked is a conflict.
pub(super) fn pending_in_org(
    conn: &mut DbConnection,
    org: &Organization,
    invitation_id: &str,
) -> Result<InvitationRow, Error> {
    db::lock_invitation(conn, invitation_id)?;
    let row: InvitationRow = invitations::table
        .filter(invitations::id.eq(invitation_id))
        .filter(invitations::org_id.eq(&org.id))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("The invitation was not found.".into()))?;
    if row.state != PENDING {
        return Err(Error::Conflict(format!(
            "The invitation for {} was already {}.",
            row.email, row.state
        )));
    }
    Ok(row)
}
