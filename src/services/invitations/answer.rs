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
use crate::services::identity::{account_gone, person, person_of};
use crate::services::outbox::{self};
use crate::services::shared::{Actor, Organization, Person, Principal, now, parse_stored_role};
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
    found
        .map(|(row, organization, replaced_at)| view_of(row, organization, replaced_at))
        .transpose()
}

/// [`open`], for a change: the organization is locked first, then the
/// invitation, and the invitation is read once, under both locks. Every
/// change that takes both takes them in this order (a deletion revokes its
/// invitations under the organization's lock): taken the other way round,
/// the two deadlocked. On SQLite, [`db::write`] holds the database's lock.
fn open_locked(conn: &mut DbConnection, reference: &InvitationRef) -> Result<Option<InvitationView>, Error> {
    /// Reads with `$lock` on Postgres; SQLite has no row locks to take.
    macro_rules! first_locked {
        ($query:expr, $lock:ident) => {
            match conn {
                DbConnection::Postgres(pg) => $query.$lock().first(pg).optional()?,
                DbConnection::Sqlite(sqlite) => $query.first(sqlite).optional()?,
            }
        };
    }
    let organization: Option<Organization> = match reference {
        InvitationRef::Token(token) => first_locked!(
            organizations::table
                .filter(
                    organizations::id.eq_any(
                        invitation_tokens::table
                            .inner_join(invitations::table)
                            .filter(invitation_tokens::token_hash.eq(token.hash().as_str()))
                            .select(invitations::org_id)
                    )
                )
                .select(Organization::as_select()),
            for_no_key_update
        ),
        InvitationRef::Id(id) => first_locked!(
            organizations::table
                .filter(
                    organizations::id.eq_any(
                        invitations::table
                            .filter(invitations::id.eq(id))
                            .select(invitations::org_id)
                    )
                )
                .select(Organization::as_select()),
            for_no_key_update
        ),
    };
    let Some(organization) = organization else {
        return Ok(None);
    };
    // The link's own row is read beside the invitation, not locked: the
    // invitation's lock is the one every change to it takes.
    let found: Option<(InvitationRow, Option<NaiveDateTime>)> = match reference {
        InvitationRef::Token(token) => {
            let hash = token.hash();
            let link = || invitation_tokens::table.filter(invitation_tokens::token_hash.eq(hash.as_str()));
            first_locked!(
                invitations::table
                    .filter(invitations::id.eq_any(link().select(invitation_tokens::invitation_id)))
                    .select((
                        InvitationRow::as_select(),
                        link().select(invitation_tokens::replaced_at).single_value()
                    )),
                for_update
            )
        }
        InvitationRef::Id(id) => {
            let row: Option<InvitationRow> = first_locked!(
                invitations::table
                    .filter(invitations::id.eq(id))
                    .select(InvitationRow::as_select()),
                for_update
            );
            row.map(|row| (row, None))
        }
    };
    found
        .map(|(row, replaced_at)| view_of(row, organization, replaced_at))
        .transpose()
}

/// An invitation as stored, where it stands.
fn view_of(
    row: InvitationRow,
    organization: Organization,
    replaced_at: Option<NaiveDateTime>,
) -> Result<InvitationView, Error> {
    let status = match row.state.as_str() {
        "accepted" => InvitationStatus::Accepted,
        "revoked" => InvitationStatus::Revoked,
        "declined" => InvitationStatus::Declined,
        _ if replaced_at.is_some() => InvitationStatus::Replaced,
        _ if row.expires_at <= now() => InvitationStatus::Expired,
        _ => InvitationStatus::Pending,
    };
    Ok(InvitationView {
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
    })
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
    answerable_by(conn, user_id, None, view)
}

/// [`answerable`], with the user as the request read them, if it has.
fn answerable_by(
    conn: &mut DbConnection,
    user_id: &str,
    known: Option<&Person>,
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
    let address = match known {
        Some(known) => Some(known.email.clone()),
        None => users::find(conn, user_id)?.map(|user| user.email),
    };
    let signed_in_as = address
        .and_then(|address| EmailAddress::parse(&address).ok())
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
/// transaction: finds it (once, under its locks), lets `check` refuse it,
/// checks that it is pending and addressed to one of the user's verified
/// addresses, closes it (once: a conditional update) and records the event.
/// Answers with the invitation and the person who answered.
pub(super) fn answer(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
    answer: Answer,
    check: impl FnOnce(&InvitationView) -> Result<(), Error>,
) -> Result<Result<(InvitationView, Person), Refusal>, Error> {
    let user_id = signed_in(actor)?;
    // A revoke or resend that got there first has changed what this reads.
    let Some(view) = open_locked(conn, reference)? else {
        return Ok(Err(Refusal {
            invitation: None,
            reason: Unavailable::Unknown,
        }));
    };
    check(&view)?;
    if let Some(reason) = answerable_by(conn, user_id, actor.person(), &view)? {
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
    let me = person_of(conn, actor)?.ok_or_else(account_gone)?;
    let who = person(actor, user_id, me.name.clone(), &me.email);
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
    Ok(Ok((view, me)))
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
    accept_checked(conn, actor, reference, |_| Ok(()))
}

/// [`accept`], once `check` has seen the invitation found and not refused it,
/// before anything changes: the console checks that it is the one its page
/// showed, without reading it again.
pub fn accept_checked(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
    check: impl FnOnce(&InvitationView) -> Result<(), Error>,
) -> Result<AcceptOutcome, Error> {
    db::write(conn, |conn| {
        let (view, me) = match answer(conn, actor, reference, Answer::Accept, check)? {
            Ok(answered) => answered,
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
        let already: bool = diesel::select(diesel::dsl::exists(
            memberships::table.find((&organization.id, &me.user_id)),
        ))
        .get_result(conn)?;
        if already {
            return Ok(AcceptOutcome::AlreadyMember { organization });
        }
        // Under the organization's lock, taken before the invitation was read.
        crate::services::members::add(
            conn,
            &organization,
            &me,
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
    decline_checked(conn, actor, reference, |_| Ok(()))
}

/// [`decline`], once `check` has seen the invitation found and not refused
/// it, before anything changes (as [`accept_checked`]).
pub fn decline_checked(
    conn: &mut DbConnection,
    actor: &Actor,
    reference: &InvitationRef,
    check: impl FnOnce(&InvitationView) -> Result<(), Error>,
) -> Result<DeclineOutcome, Error> {
    db::write(conn, |conn| {
        Ok(match answer(conn, actor, reference, Answer::Decline, check)? {
            Ok((view, _)) => DeclineOutcome::Declined {
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
