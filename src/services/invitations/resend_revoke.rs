//! Resending an invitation (a new link, the old one void) and revoking it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::issue::{IssuedInvitation, PENDING};
use super::issue::{NewToken, expiry, link};
use super::pending::{PendingInvitation, pending_in_org};
use crate::db::schema::{invitation_tokens, invitations};
use crate::db::{self, DbConnection, literal};
use crate::domain::policy::{self, Action};
use crate::domain::{EmailAddress, InviteToken, Message};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::outbox::{self, Queued};
use crate::services::shared::{Actor, Organization, Settings, now, parse_stored_role};

/// Sends an invitation again with a new link and a new expiry; the old link
/// stops working at once.
pub fn resend(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    invitation_id: &str,
) -> Result<IssuedInvitation, Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        let row = pending_in_org(conn, org, invitation_id)?;
        let role = parse_stored_role(&row.role)?;
        policy::authorize(acting.role, Action::ManageInvitation { role })?;
        let email = EmailAddress::parse(&row.email).map_err(Error::from)?;
        let at = now();
        let expires_at = expiry(settings, at);
        let token = InviteToken::generate();
        retire_tokens(conn, &row.id, at)?;
        diesel::insert_into(invitation_tokens::table)
            .values(NewToken {
                token_hash: token.hash().as_str().to_owned(),
                invitation_id: row.id.clone(),
                created_at: at,
            })
            .execute(conn)?;
        diesel::update(
            invitations::table
                .find(&row.id)
                .filter(invitations::state.eq(literal::Pending)),
        )
        .set((
            invitations::expires_at.eq(expires_at),
            invitations::last_sent_at.eq(at),
            invitations::send_count.eq(row.send_count + 1),
            invitations::delivery.eq("queued"),
        ))
        .execute(conn)?;
        let issued = IssuedInvitation {
            invitation_id: row.id.clone(),
            email: email.clone(),
            name: row.name.clone(),
            role,
            link: link(settings, &token),
            expires_at,
        };
        let message = Message::Invitation {
            email: email.to_string(),
            name: row.name.clone(),
            inviter: acting.who.display_name.clone(),
            org: org.name.clone(),
            role,
            link: issued.link.clone(),
            expires_at,
        };
        outbox::cancel_for_invitation(conn, &row.id)?;
        outbox::enqueue_all(
            conn,
            [Queued {
                to: &email,
                message: &message,
                invitation_id: Some(&row.id),
            }],
        )?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::InvitationResent,
                target: AuditTarget::person(
                    TargetKind::Invitation,
                    Some(&row.id),
                    row.name.as_deref().unwrap_or(""),
                    email.as_str(),
                ),
                before: Some(
                    json!({ "expires_at": row.expires_at.and_utc().to_rfc3339(), "send_count": row.send_count }),
                ),
                after: Some(
                    json!({ "expires_at": expires_at.and_utc().to_rfc3339(), "send_count": row.send_count + 1 }),
                ),
            },
        )?;
        Ok(issued)
    })
}

fn retire_tokens(conn: &mut DbConnection, invitation_id: &str, at: NaiveDateTime) -> Result<(), Error> {
    diesel::update(
        invitation_tokens::table
            .filter(invitation_tokens::invitation_id.eq(invitation_id))
            .filter(invitation_tokens::replaced_at.is_null()),
    )
    .set(invitation_tokens::replaced_at.eq(at))
    .execute(conn)?;
    Ok(())
}

/// Withdraws a pending invitation; its link stops working at once.
pub fn revoke(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    invitation_id: &str,
) -> Result<PendingInvitation, Error> {
    db::write(conn, |conn| {
        let acting = acting(conn, actor, org)?;
        let row = pending_in_org(conn, org, invitation_id)?;
        let role = parse_stored_role(&row.role)?;
        policy::authorize(acting.role, Action::ManageInvitation { role })?;
        if !close(conn, &row.id, "revoked", acting.who.user_id.as_deref())? {
            return Err(Error::Conflict(format!(
                "The invitation for {} was answered a moment ago; it was not revoked.",
                row.email
            )));
        }
        outbox::cancel_for_invitation(conn, &row.id)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::InvitationRevoked,
                target: AuditTarget::person(
                    TargetKind::Invitation,
                    Some(&row.id),
                    row.name.as_deref().unwrap_or(""),
                    &row.email,
                ),
                before: Some(json!({ "state": PENDING, "role": role.as_str() })),
                after: Some(json!({ "state": "revoked" })),
            },
        )?;
        PendingInvitation::try_from(row)
    })
}

/// Moves a pending invitation to a final state. Returns false if another
/// request closed it first.
pub(super) fn close(
    conn: &mut DbConnection,
    invitation_id: &str,
    state: &'static str,
    by: Option<&str>,
) -> Result<bool, Error> {
    let closed = diesel::update(
        invitations::table
            .filter(invitations::id.eq(invitation_id))
            .filter(invitations::state.eq(literal::Pending)),
    )
    .set((
        invitations::state.eq(state),
        invitations::closed_at.eq(now()),
        invitations::closed_by.eq(by),
    ))
    .execute(conn)?;
    Ok(closed == 1)
}
