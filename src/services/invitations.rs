//! Invitations: inviting by email, resending, revoking, and accepting or
//! declining by the person invited.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use super::outbox::{self, Queued};
use super::users;
use crate::db::schema::{
    invitation_tokens, invitations, memberships, organizations, pending_invitation_counts,
};
use crate::db::written::Written;
use crate::db::{self, DbConnection, literal};
use crate::domain::policy::{self, Action};
use crate::domain::{
    EmailAddress, InviteToken, MembershipEnd, Message, PersonName, Role, SentInvitation, format_day,
};
use crate::error::Error;
use crate::services::access::{Viewer, acting};
use crate::services::identity::{Identified, identify};
use crate::services::shared::{Actor, Organization, Principal, Settings, new_id, now, parse_stored_role};

/// One person to invite, as parsed from a form or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitee {
    pub email: EmailAddress,
    pub name: Option<PersonName>,
    pub role: Role,
    /// When the membership this invitation offers ends, if it does.
    pub ends: Option<MembershipEnd>,
}

/// A freshly made (or re-made) invitation with its link. The link exists only
/// in this value and in the queued email: the database keeps the token's hash.
#[derive(Debug, Clone)]
pub struct IssuedInvitation {
    pub invitation_id: String,
    pub email: EmailAddress,
    /// How the invitation greets them, if it names them.
    pub name: Option<String>,
    pub role: Role,
    pub link: String,
    pub expires_at: NaiveDateTime,
}

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

/// Where an address stands in an organization before anyone is invited: what
/// step 2 of the invite dialog shows next to each row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    New,
    AlreadyMember,
    AlreadyInvited { invitation_id: String },
    DomainNotAllowed,
}

const PENDING: &str = literal::Pending::TEXT;

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
    policy::authorize(acting.role, Action::Invite { role: Role::Viewer })?;
    let addresses: Vec<&str> = emails.iter().map(EmailAddress::as_str).collect();
    let (members, pending) = standings(conn, org, &addresses)?;
    let allowed = super::organizations::domains::allowed_domains(conn, &org.id)?;
    Ok(emails
        .iter()
        .map(|address| {
            let email = &address.as_str();
            if !address.is_allowed_by(&allowed) {
                Standing::DomainNotAllowed
            } else if members.contains(*email) {
                Standing::AlreadyMember
            } else if let Some(id) = pending.get(*email) {
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
        let allowed = super::organizations::domains::allowed_domains(conn, &org.id)?;
        let addresses: Vec<&str> = invitees.iter().map(|invitee| invitee.email.as_str()).collect();
        let (members, pending) = standings(conn, org, &addresses)?;
        let mut seen = HashSet::new();
        let mut fresh = Vec::new();
        let mut outcomes: Vec<(EmailAddress, Option<InviteOutcome>)> = Vec::with_capacity(invitees.len());
        for invitee in invitees {
            let email = invitee.email.as_str();
            let outcome = if !seen.insert(email) {
                Some(InviteOutcome::Duplicate)
            } else if !invitee.email.is_allowed_by(&allowed) {
                Some(InviteOutcome::DomainNotAllowed)
            } else if members.contains(email) {
                Some(InviteOutcome::AlreadyMember)
            } else if let Some(id) = pending.get(email) {
                Some(InviteOutcome::AlreadyInvited {
                    invitation_id: id.clone(),
                })
            } else {
                fresh.push(invitee);
                None
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
    if invitees.len() > MAX_BATCH {
        return Err(Error::Invalid(format!(
            "That is {} addresses; invite at most {MAX_BATCH} at a time.",
            invitees.len()
        )));
    }
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
        role: Role::Owner,
        ends: None,
    };
    issue(conn, settings, &who, org, &[&invitee])?
        .pop()
        .ok_or(Error::NotFound("The invitation was not found.".into()))
}

#[derive(Insertable)]
#[diesel(table_name = invitations, treat_none_as_null = true)]
struct NewInvitation<'a> {
    id: String,
    org_id: &'a str,
    email: &'a str,
    name: Option<&'a str>,
    role: &'static str,
    invited_by: Option<&'a str>,
    inviter_name: &'a str,
    created_at: NaiveDateTime,
    expires_at: NaiveDateTime,
    last_sent_at: NaiveDateTime,
    send_count: i32,
    delivery: &'static str,
    state: &'static str,
    membership_expires_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = invitation_tokens)]
struct NewToken {
    token_hash: String,
    invitation_id: String,
    created_at: NaiveDateTime,
}

fn expiry(settings: &Settings, from: NaiveDateTime) -> NaiveDateTime {
    let ttl = chrono::Duration::from_std(settings.invite_ttl).unwrap_or(chrono::Duration::days(7));
    from.checked_add_signed(ttl).unwrap_or(NaiveDateTime::MAX)
}

fn link(settings: &Settings, token: &InviteToken) -> String {
    format!("{}/invite/{}", settings.public_url, token.expose())
}

fn members_url(settings: &Settings, org: &Organization) -> String {
    format!("{}/orgs/{}/members", settings.public_url, org.slug)
}

/// Creates invitations, their tokens, their emails and their audit events, in
/// the caller's transaction. The inviter gets one confirmation copy per batch.
fn issue(
    conn: &mut DbConnection,
    settings: &Settings,
    who: &Identified,
    org: &Organization,
    invitees: &[&Invitee],
) -> Result<Vec<IssuedInvitation>, Error> {
    if invitees.is_empty() {
        return Ok(Vec::new());
    }
    let at = now();
    let expires_at = expiry(settings, at);
    let mut rows = Vec::with_capacity(invitees.len());
    let mut tokens = Vec::with_capacity(invitees.len());
    let mut issued = Vec::with_capacity(invitees.len());
    let mut emails = Vec::with_capacity(invitees.len() + 1);
    for invitee in invitees {
        let token = InviteToken::generate();
        let id = new_id();
        let issued_invitation = IssuedInvitation {
            invitation_id: id.clone(),
            email: invitee.email.clone(),
            name: invitee.name.as_ref().map(|name| name.as_str().to_owned()),
            role: invitee.role,
            link: link(settings, &token),
            expires_at,
        };
        emails.push((
            &invitee.email,
            Some(id.clone()),
            Message::Invitation {
                email: invitee.email.to_string(),
                name: issued_invitation.name.clone(),
                inviter: who.display_name.clone(),
                org: org.name.clone(),
                role: invitee.role,
                link: issued_invitation.link.clone(),
                expires_at,
            },
        ));
        tokens.push(NewToken {
            token_hash: token.hash().as_str().to_owned(),
            invitation_id: id.clone(),
            created_at: at,
        });
        rows.push(NewInvitation {
            id,
            org_id: &org.id,
            email: invitee.email.as_str(),
            name: invitee.name.as_ref().map(PersonName::as_str),
            role: invitee.role.as_str(),
            invited_by: who.user_id.as_deref(),
            inviter_name: &who.display_name,
            created_at: at,
            expires_at,
            last_sent_at: at,
            send_count: 1,
            delivery: "queued",
            state: PENDING,
            membership_expires_at: invitee.ends.map(MembershipEnd::at),
        });
        issued.push(issued_invitation);
    }
    if let Some(inviter) = &who.email {
        let copy = Message::InvitationsSent {
            org: org.name.clone(),
            invitations: invitees
                .iter()
                .map(|invitee| SentInvitation {
                    email: invitee.email.to_string(),
                    role: invitee.role,
                })
                .collect(),
            expires_at,
            members_url: members_url(settings, org),
        };
        emails.push((inviter, None, copy));
    }
    for chunk in rows.chunks(crate::services::shared::INSERT_CHUNK) {
        db::insert_all!(conn, invitations::table, chunk)?;
    }
    for chunk in tokens.chunks(crate::services::shared::INSERT_CHUNK) {
        db::insert_all!(conn, invitation_tokens::table, chunk)?;
    }
    outbox::enqueue_all(
        conn,
        emails.iter().map(|(to, invitation_id, message)| Queued {
            to,
            message,
            invitation_id: invitation_id.as_deref(),
        }),
    )?;
    audit::record_all(
        conn,
        issued.iter().map(|invitation| AuditEvent {
            org_id: Some(&org.id),
            actor: who.into(),
            action: AuditAction::InvitationCreated,
            target: AuditTarget::person(
                TargetKind::Invitation,
                Some(&invitation.invitation_id),
                invitation.name.as_deref().unwrap_or(""),
                invitation.email.as_str(),
            ),
            before: None,
            after: Some(json!({ "role": invitation.role.as_str(), "expires_at": invitation.expires_at.and_utc().to_rfc3339() })),
        }),
    )?;
    Ok(issued)
}

/// An invitation as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct InvitationRow {
    id: String,
    email: String,
    name: Option<String>,
    role: String,
    invited_by: Option<String>,
    inviter_name: String,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    created_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    expires_at: NaiveDateTime,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    last_sent_at: NaiveDateTime,
    send_count: i32,
    delivery: String,
    state: String,
    membership_expires_at: Option<NaiveDateTime>,
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
fn pending_in_org(
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
        let email = EmailAddress::parse(&row.email).map_err(|error| Error::Invalid(error.to_string()))?;
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
fn close(
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
        email: EmailAddress::parse(&row.email).map_err(|error| Error::Invalid(error.to_string()))?,
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

/// Checks that `view` can be answered by `user_id`: pending, and addressed to
/// one of their verified addresses. The invitation page asks before offering
/// the buttons; accepting and declining ask again inside their transaction.
pub fn answerable(
    conn: &mut DbConnection,
    user_id: &str,
    view: &InvitationView,
) -> Result<Option<Unavailable>, Error> {
    let reason = match view.status {
        InvitationStatus::Pending => None,
        InvitationStatus::Expired => Some(Unavailable::Expired),
        InvitationStatus::Replaced => Some(Unavailable::Replaced),
        InvitationStatus::Revoked => Some(Unavailable::Revoked),
        InvitationStatus::Accepted => Some(Unavailable::AlreadyAccepted),
        InvitationStatus::Declined => Some(Unavailable::Declined),
    };
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
enum Answer {
    Accept,
    Decline,
}

/// Records the signed-in user's answer to an invitation, in the caller's
/// transaction: finds it, checks that it is pending and addressed to one of
/// the user's verified addresses, closes it (once: a conditional update) and
/// records the event.
fn answer(
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
        let allowed = super::organizations::domains::allowed_domains(conn, &view.organization.id)?;
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
        super::members::add(
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
