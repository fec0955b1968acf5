//! Writing an invitation: its row, its one-time link and its email.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use crate::db::schema::{invitation_tokens, invitations};
use crate::db::{self, DbConnection, literal};
use crate::domain::{EmailAddress, InviteToken, MembershipEnd, Message, PersonName, Role, SentInvitation};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::identity::Identified;
use crate::services::outbox::{self, Queued};
use crate::services::shared::{Organization, Settings, new_id, now};

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

pub(super) const PENDING: &str = literal::Pending::TEXT;

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
pub(super) struct NewToken {
    pub(super) token_hash: String,
    pub(super) invitation_id: String,
    pub(super) created_at: NaiveDateTime,
}

pub(super) fn expiry(settings: &Settings, from: NaiveDateTime) -> NaiveDateTime {
    let ttl = chrono::Duration::from_std(settings.invite_ttl).unwrap_or(chrono::Duration::days(7));
    from.checked_add_signed(ttl).unwrap_or(NaiveDateTime::MAX)
}

pub(super) fn link(settings: &Settings, token: &InviteToken) -> String {
    format!("{}/invite/{}", settings.public_url, token.expose())
}

fn members_url(settings: &Settings, org: &Organization) -> String {
    format!("{}/orgs/{}/members", settings.public_url, org.slug)
}

/// Creates invitations, their tokens, their emails and their audit events, in
/// the caller's transaction. The inviter gets one confirmation copy per batch.
pub(super) fn issue(
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
