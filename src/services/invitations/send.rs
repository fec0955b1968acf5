//! Inviting one person or a batch: each row classified (already a member,
//! already invited, listed twice, outside the allowed domains), then issued.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::issue::{Invitee, IssuedInvitation, issue};
use crate::db::schema::{invitations, memberships};
use crate::db::{self, DbConnection, literal};
use crate::domain::policy::{self, Action, Permission};
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::identity::identify;
use crate::services::shared::{Actor, Organization, Settings};

/// What became of one address in a batch of invitations.
#[derive(Debug, Clone)]
pub enum InviteOutcome {
    Invited(IssuedInvitation),
    AlreadyMember,
    /// A pending invitation exists; resend it rather than make a second one.
    AlreadyInvited {
        invitation_id: String,
    },
    /// The same address appeared earlier in the batch.
    Duplicate,
    /// The organization allows only other email domains.
    DomainNotAllowed,
}

/// The most addresses one batch may invite.
pub const MAX_BATCH: usize = 2000;

/// Refuses a batch of `count` people past [`MAX_BATCH`], in the words every
/// way of inviting (console, API, command line) shows.
pub fn fits_one_batch(count: usize) -> Result<(), Error> {
    if count > MAX_BATCH {
        return Err(Error::Invalid(format!(
            "That is {count} addresses; invite at most {MAX_BATCH} at a time."
        )));
    }
    Ok(())
}

/// Where an address stands in an organization before anyone is invited: what
/// step 2 of the invite dialog shows next to each row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    New,
    AlreadyMember,
    AlreadyInvited {
        invitation_id: String,
    },
    DomainNotAllowed,
    /// The same address earlier in the list: only its first row counts.
    ListedTwice,
}

/// Looks up, in chunks, which of `emails` are members and which have a pending
/// invitation.
fn standings(
    conn: &mut DbConnection,
    org: &Organization,
    emails: &[&str],
) -> Result<(HashSet<String>, HashMap<String, String>), Error> {
    let mut members = HashSet::new();
    let mut pending = HashMap::new();
    for chunk in emails.chunks(500) {
        let found: Vec<String> = memberships::table
            .filter(memberships::org_id.eq(&org.id))
            .filter(memberships::email.eq_any(chunk))
            .select(memberships::email)
            .load(conn)?;
        members.extend(found);
        let invited: Vec<(String, String)> = invitations::table
            .filter(invitations::org_id.eq(&org.id))
            .filter(invitations::state.eq(literal::Pending))
            .filter(invitations::email.eq_any(chunk))
            .select((invitations::email, invitations::id))
            .load(conn)?;
        pending.extend(invited);
    }
    Ok((members, pending))
}

/// Where each address stands in the organization. The actor must be allowed to
/// invite at all.
pub fn classify(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    emails: &[EmailAddress],
) -> Result<Vec<Standing>, Error> {
    let acting = acting(conn, actor, org)?;
    policy::require(acting.role, Permission::InviteMembers)?;
    stand(conn, org, emails.iter())
}

/// Where each of `emails` stands, in order: the one rule the review step and
/// the batch both apply. A repeat is listed twice; then come the allowed
/// domains, the members, and the pending invitations.
fn stand<'a>(
    conn: &mut DbConnection,
    org: &Organization,
    emails: impl Iterator<Item = &'a EmailAddress> + Clone,
) -> Result<Vec<Standing>, Error> {
    let addresses: Vec<&str> = emails.clone().map(EmailAddress::as_str).collect();
    let (members, pending) = standings(conn, org, &addresses)?;
    let allowed = crate::services::organizations::domains::allowed_domains(conn, &org.id)?;
    let mut seen = HashSet::new();
    Ok(emails
        .map(|address| {
            let email = address.as_str();
            if !seen.insert(email) {
                Standing::ListedTwice
            } else if !address.is_allowed_by(&allowed) {
                Standing::DomainNotAllowed
            } else if members.contains(email) {
                Standing::AlreadyMember
            } else if let Some(id) = pending.get(email) {
                Standing::AlreadyInvited {
                    invitation_id: id.clone(),
                }
            } else {
                Standing::New
            }
        })
        .collect())
}

/// Invites everyone in `invitees` in one transaction, and returns what became
/// of each address, in order. If the actor may not grant one of the roles, the
/// whole batch is refused and nothing changes.
pub fn invite(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    invitees: &[Invitee],
) -> Result<Vec<(EmailAddress, InviteOutcome)>, Error> {
    let outcomes = db::write(conn, |conn| invite_in(conn, settings, actor, org, invitees))?;
    let created = outcomes
        .iter()
        .filter(|(_, outcome)| matches!(outcome, InviteOutcome::Invited(_)))
        .count();
    count_created(created);
    Ok(outcomes)
}

/// Invitations created, for `/metrics`: counted once their transaction is done.
fn count_created(created: usize) {
    metrics::counter!(crate::telemetry::INVITATIONS_CREATED).increment(created as u64);
}

/// [`invite`], in the caller's transaction.
fn invite_in(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    invitees: &[Invitee],
) -> Result<Vec<(EmailAddress, InviteOutcome)>, Error> {
    {
        // Serializes invitations to one organization, so two admins inviting
        // the same address at once get "already invited", not a crash.
        db::lock_organization(conn, &org.id)?;
        let acting = acting(conn, actor, org)?;
        for role in invitees
            .iter()
            .map(|invitee| invitee.role)
            .collect::<HashSet<_>>()
        {
            policy::authorize(acting.role, Action::Invite { role })?;
        }
        for invitee in invitees.iter().filter(|invitee| invitee.ends.is_some()) {
            policy::authorize(
                acting.role,
                Action::SetMembershipEnd {
                    role: invitee.role,
                    own: false,
                },
            )?;
        }
        let standings = stand(conn, org, invitees.iter().map(|invitee| &invitee.email))?;
        let mut fresh = Vec::new();
        let mut outcomes: Vec<(EmailAddress, Option<InviteOutcome>)> = Vec::with_capacity(invitees.len());
        for (invitee, standing) in invitees.iter().zip(standings) {
            let outcome = match standing {
                Standing::ListedTwice => Some(InviteOutcome::Duplicate),
                Standing::DomainNotAllowed => Some(InviteOutcome::DomainNotAllowed),
                Standing::AlreadyMember => Some(InviteOutcome::AlreadyMember),
                Standing::AlreadyInvited { invitation_id } => {
                    Some(InviteOutcome::AlreadyInvited { invitation_id })
                }
                Standing::New => {
                    fresh.push(invitee);
                    None
                }
            };
            outcomes.push((invitee.email.clone(), outcome));
        }
        let mut issued = issue(conn, settings, &acting.who, org, &fresh)?.into_iter();
        Ok(outcomes
            .into_iter()
            .map(|(email, outcome)| {
                let outcome = outcome.or_else(|| issued.next().map(InviteOutcome::Invited));
                (email, outcome.unwrap_or(InviteOutcome::Duplicate))
            })
            .collect())
    }
}

/// Invites everyone in `invitees`, or nobody: if any address is already a
/// member, already invited or listed twice, the batch is refused with each
/// such row named by its position, and nothing changes.
pub fn invite_all(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    invitees: &[Invitee],
) -> Result<Vec<IssuedInvitation>, Error> {
    fits_one_batch(invitees.len())?;
    let issued = db::write(conn, |conn| {
        let outcomes = invite_in(conn, settings, actor, org, invitees)?;
        let mut issued = Vec::with_capacity(outcomes.len());
        let mut problems = Vec::new();
        for (index, (email, outcome)) in outcomes.into_iter().enumerate() {
            let (kind, detail) = match outcome {
                InviteOutcome::Invited(invitation) => {
                    issued.push(invitation);
                    continue;
                }
                InviteOutcome::AlreadyMember => ("already-a-member", format!("{email} is already a member.")),
                InviteOutcome::AlreadyInvited { .. } => (
                    "already-invited",
                    format!("{email} is already invited; resend that invitation instead."),
                ),
                InviteOutcome::Duplicate => ("duplicate", format!("{email} is listed more than once.")),
                InviteOutcome::DomainNotAllowed => ("domain-not-allowed", domain_not_allowed(org, &email)),
            };
            problems.push(crate::error::RowProblem { index, kind, detail });
        }
        if problems.is_empty() {
            Ok(issued)
        } else {
            Err(Error::Rows(problems))
        }
    })?;
    count_created(issued.len());
    Ok(issued)
}

/// Why an address cannot be invited to an organization that allows only
/// some domains.
pub fn domain_not_allowed(org: &Organization, email: &EmailAddress) -> String {
    format!(
        "{} does not accept addresses at {}; an owner can change the allowed domains in Settings.",
        org.name,
        email.domain()
    )
}

/// The first owner's invitation of a new organization (see `organizations`).
pub(crate) fn issue_owner_invitation(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    email: &EmailAddress,
) -> Result<IssuedInvitation, Error> {
    let who = identify(conn, actor)?;
    let invitee = Invitee {
        email: email.clone(),
        name: None,
        role: Role::OWNER,
        ends: None,
    };
    issue(conn, settings, &who, org, &[&invitee])?
        .pop()
        .ok_or(Error::NotFound("The invitation was not found.".into()))
}
