//! Opening an invitation's link, and accepting or declining it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::issue::PENDING;
use super::pending::{InvitationRow, PendingInvitation};
use super::resend_revoke::close;
use super::send::domain_not_allowed;
use crate::db::schema::{invitation_tokens, invitations, memberships, organizations};
use crate::db::{self, DbConnection, literal};
use crate::domain::{EmailAddress, InviteToken, MembershipEnd, Role, format_day};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::identity::identify;
use crate::services::outbox::{self};
use crate::services::shared::{Actor, Organization, Principal, now, parse_stored_role};
use crate::services::users;

/// How the invitee names an invitation: by the link's token, or (on the
/// profile page, where their verified address proves who they are) by id.
#[derive(Debug, Clone)]
pub enum InvitationRef {
    Token(InviteToken),
    Id(String),
}

/// Where an invitation stands, as its page explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitationStatus {
    Pending,
    Expired,
    /// The link was replaced by a newer one (Resend).
    Replaced,
    Revoked,
    Accepted,
    Declined,
}

/// An invitation as the invitation page shows it.
#[derive(Debug, Clone)]
pub struct InvitationView {
    pub id: String,
    pub organization: Organization,
    pub email: EmailAddress,
    pub name: Option<String>,
    pub role: Role,
    pub inviter_name: String,
    /// The inviting user, if the invitation came from one (not the command line).
    pub inviter_id: Option<String>,
    pub expires_at: NaiveDateTime,
    pub status: InvitationStatus,
    /// When the membership it offers ends, if it does.
    pub membership_ends: Option<MembershipEnd>,
}

impl InvitationView {
    /// The person who sent the invitation, to ask for a new one; None for
    /// one made from the command line, which no member of the organization sent.
    pub fn inviting_person(&self) -> Option<&str> {
        self.inviter_id.as_ref().map(|_| self.inviter_name.as_str())
    }
}

/// Finds the invitation behind a link or id, and where it stands.
pub fn open(conn: &mut DbConnection, reference: &InvitationRef) -> Result<Option<InvitationView>, Error> {
    let found: Option<(InvitationRow, Organization, Option<NaiveDateTime>)> = match reference {
        InvitationRef::Token(token) => invitation_tokens::table
            .inner_join(invitations::table.inner_join(organizations::table))
            .filter(invitation_tokens::token_hash.eq(token.hash().as_str()))
            .select((
                InvitationRow::as_select(),
                Organization::as_select(),
                invitation_tokens::replaced_at,
            ))
            .first(conn)
            .optional()?,
        InvitationRef::Id(id) => invitations::table
            .inner_join(organizations::table)
            .filter(invitations::id.eq(id))
            .select((InvitationRow::as_select(), Organization::as_select()))
            .first::<(InvitationRow, Organization)>(conn)
            .optional()?
            .map(|(row, org)| (row, org, None)),
    };
    let Some((row, organization, replaced_at)) = found else {
        return Ok(None);
    };
    let status = match row.state.as_str() {
        "accepted" => InvitationStatus::Accepted,
        "revoked" => InvitationStatus::Revoked,
        "declined" => InvitationStatus::Declined,
        _ if replaced_at.is_some() => InvitationStatus::Replaced,
        _ if row.expires_at <= now() => InvitationStatus::Expired,
        _ => InvitationStatus::Pending,
    };
    Ok(Some(InvitationView {
        id: row.id,
        email: EmailAddress::parse(&row.email).map_err(Error::from)?,
        role: parse_stored_role(&row.role)?,
        organization,
        name: row.name,
        inviter_name: row.inviter_name,
        inviter_id: row.invited_by,
        expires_at: row.expires_at,
        status,
        membership_ends: row.membership_expires_at.map(MembershipEnd::stored),
    }))
}

/// Why an invitation cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No invitation has this link.
    Unknown,
    Expired,
    Replaced,
    Revoked,
    AlreadyAccepted,
    Declined,
    /// The signed-in user has not verified the invited address.
    WrongAccount {
        invited: String,
        signed_in_as: String,
    },
}

impl InvitationStatus {
    /// Why an invitation in this state cannot be answered; None while it is
    /// pending.
    pub fn unavailable(self) -> Option<Unavailable> {
        match self {
            InvitationStatus::Pending => None,
            InvitationStatus::Expired => Some(Unavailable::Expired),
            InvitationStatus::Replaced => Some(Unavailable::Replaced),
            InvitationStatus::Revoked => Some(Unavailable::Revoked),
            InvitationStatus::Accepted => Some(Unavailable::AlreadyAccepted),
            InvitationStatus::Declined => Some(Unavailable::Declined),
        }
    }
}

/// Checks that `view` can be answered by `user_id`: pending, and addressed to
/// one of their verified addresses. The invitation page asks before offering
/// the buttons; accepting and declining ask again inside their transaction.
pub fn answerable(
    conn: &mut DbConnection,
    user_id: &str,
    view: &InvitationView,
) -> Result<Option<Unavailable>, Error> {
    let reason = view.status.unavailable();
    if reason.is_some() {
        return Ok(reason);
    }
    let verified = users::verified_emails(conn, user_id)?;
    if verified.contains(&view.email) {
        return Ok(None);
    }
    let signed_in_as = users::find(conn, user_id)?
        .and_then(|user| EmailAddress::parse(&user.email).ok())
        .map(|email| email.masked())
        .unwrap_or_default();
    Ok(Some(Unavailable::WrongAccount {
        invited: view.email.masked(),
        signed_in_as,
    }))
}

/// The signed-in user behind `actor`: only a person answers an invitation.
fn signed_in(actor: &Actor) -> Result<&str, Error> {
    match &actor.principal {
        Principal::User(id) => Ok(id),
        Principal::CommandLine | Principal::ServiceAccount(_) => Err(Error::Invalid(
            "Only a signed-in person can answer an invitation.".to_owned(),
        )),
    }
}

/// An invitation that could not be answered, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub invitation: Option<Box<InvitationView>>,
    pub reason: Unavailable,
}

/// The invitee's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    Accept,
    Decline,
}

/// Records the signed-in user's answer to an invitation, in the caller's
/// transaction: finds it, checks that it is pending and addressed to one of
/// the user's verified addresses, closes it (once: a conditional update) and
/// records the event.
pub(super) fn answer(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
    answer: Answer,
) -> Result<Result<InvitationView, Refusal>, Error> {
    let user_id = signed_in(actor)?;
    let unknown = || {
        Ok(Err(Refusal {
            invitation: None,
            reason: Unavailable::Unknown,
        }))
    };
    let Some(found) = open(conn, reference)? else {
        return unknown();
    };
    // The organization first, then the invitation, as every change that
    // takes both does (a deletion revokes its invitations under the
    // organization's lock): taken the other way round, the two deadlocked.
    // Then read again: a revoke or resend that got there first has changed
    // what this answer finds.
    db::lock_organization(conn, &found.organization.id)?;
    db::lock_invitation(conn, &found.id)?;
    let Some(view) = open(conn, reference)? else {
        return unknown();
    };
    if let Some(reason) = answerable(conn, user_id, &view)? {
        return Ok(Err(Refusal {
            invitation: Some(Box::new(view)),
            reason,
        }));
    }
    let (state, action) = match answer {
        Answer::Accept => ("accepted", AuditAction::InvitationAccepted),
        Answer::Decline => ("declined", AuditAction::InvitationDeclined),
    };
    if !close(conn, &view.id, state, Some(user_id))? {
        return Ok(Err(Refusal {
            invitation: Some(Box::new(view)),
            reason: Unavailable::AlreadyAccepted,
        }));
    }
    outbox::cancel_for_invitation(conn, &view.id)?;
    let who = identify(conn, actor)?;
    audit::record(
        conn,
        AuditEvent {
            org_id: Some(&view.organization.id),
            actor: (&who).into(),
            action,
            target: AuditTarget::person(
                TargetKind::Invitation,
                Some(&view.id),
                view.name.as_deref().unwrap_or(""),
                view.email.as_str(),
            ),
            before: Some(json!({ "state": PENDING })),
            after: Some(json!({ "state": state, "role": view.role.as_str() })),
        },
    )?;
    Ok(Ok(view))
}

/// The answer to "accept this invitation".
#[derive(Debug, Clone)]
pub enum AcceptOutcome {
    Joined {
        organization: Organization,
        role: Role,
    },
    /// The user was already a member; the invitation is used up all the same.
    AlreadyMember {
        organization: Organization,
    },
    Unavailable(Refusal),
}

/// Accepts an invitation for the signed-in user, who must have the invited
/// address verified. Single use: a second acceptance finds it already accepted.
pub fn accept(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
) -> Result<AcceptOutcome, Error> {
    db::write(conn, |conn| {
        let view = match answer(conn, actor, reference, Answer::Accept)? {
            Ok(view) => view,
            Err(refusal) => return Ok(AcceptOutcome::Unavailable(refusal)),
        };
        // Checked again here, for invitations made before the organization
        // changed its rules; refusing undoes the answer, so the invitation
        // still waits should the rules change back.
        let allowed = crate::services::organizations::domains::allowed_domains(conn, &view.organization.id)?;
        let ask = view
            .inviting_person()
            .map_or("one of its owners".to_owned(), str::to_owned);
        if !view.email.is_allowed_by(&allowed) {
            return Err(Error::Gone(format!(
                "{} Ask {ask} to invite another of your addresses.",
                domain_not_allowed(&view.organization, &view.email)
            )));
        }
        if let Some(ends) = view.membership_ends.filter(|ends| ends.at() <= now()) {
            return Err(Error::Gone(format!(
                "The access this invitation offered to {} ended on {}. Ask {ask} for a new invitation.",
                view.organization.name,
                format_day(ends.last_day())
            )));
        }
        let organization = view.organization;
        let user_id = signed_in(actor)?;
        let already: bool = diesel::select(diesel::dsl::exists(
            memberships::table.find((&organization.id, user_id)),
        ))
        .get_result(conn)?;
        if already {
            return Ok(AcceptOutcome::AlreadyMember { organization });
        }
        crate::services::members::add(
            conn,
            &organization,
            user_id,
            view.role,
            view.inviter_id.as_deref(),
            view.membership_ends,
        )?;
        metrics::counter!(crate::telemetry::INVITATIONS_ACCEPTED).increment(1);
        Ok(AcceptOutcome::Joined {
            organization,
            role: view.role,
        })
    })
}

/// The answer to "decline this invitation".
#[derive(Debug, Clone)]
pub enum DeclineOutcome {
    Declined { organization: Organization },
    Unavailable(Refusal),
}

/// Declines an invitation addressed to one of the user's verified emails.
pub fn decline(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
) -> Result<DeclineOutcome, Error> {
    db::write(conn, |conn| {
        Ok(match answer(conn, actor, reference, Answer::Decline)? {
            Ok(view) => DeclineOutcome::Declined {
                organization: view.organization,
            },
            Err(refusal) => DeclineOutcome::Unavailable(refusal),
        })
    })
}

/// One pending invitation of the organization, if it is still pending.
pub fn find_pending(
    conn: &mut DbConnection,
    org: &Organization,
    invitation_id: &str,
) -> Result<Option<PendingInvitation>, Error> {
    let row: Option<InvitationRow> = invitations::table
        .filter(invitations::id.eq(invitation_id))
        .filter(invitations::org_id.eq(&org.id))
        .filter(invitations::state.eq(literal::Pending))
        .select(InvitationRow::as_select())
        .first(conn)
        .optional()?;
    row.map(PendingInvitation::try_from).transpose()
}
