//! The audit trail: who did what to whom, with the state before and after.

use diesel::prelude::*;
use serde_json::Value;

use super::{Identified, new_id, now};
use crate::db::DbConnection;
use crate::db::schema::audit_events;
use crate::error::Error;

/// What happened, as recorded in `audit_events.action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    OrganizationCreated,
    InvitationCreated,
    InvitationResent,
    InvitationRevoked,
    InvitationAccepted,
    InvitationDeclined,
    MemberAdded,
    RoleChanged,
    MemberRemoved,
    MemberLeft,
    TokenCreated,
    TokenRevoked,
    ServiceAccountCreated,
    ServiceAccountDisabled,
    ServiceAccountDeleted,
    ServiceAccountKeyCreated,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrganizationCreated => "organization.created",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationResent => "invitation.resent",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::InvitationDeclined => "invitation.declined",
            AuditAction::MemberAdded => "member.added",
            AuditAction::RoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberLeft => "member.left",
            AuditAction::TokenCreated => "token.created",
            AuditAction::TokenRevoked => "token.revoked",
            AuditAction::ServiceAccountCreated => "service_account.created",
            AuditAction::ServiceAccountDisabled => "service_account.disabled",
            AuditAction::ServiceAccountDeleted => "service_account.deleted",
            AuditAction::ServiceAccountKeyCreated => "service_account.key_created",
        }
    }
}

/// Who did it, for the record.
pub(crate) struct AuditActor<'a> {
    pub id: Option<&'a str>,
    pub label: &'a str,
    pub client_ip: Option<std::net::IpAddr>,
}

impl<'a> From<&'a Identified> for AuditActor<'a> {
    fn from(who: &'a Identified) -> Self {
        Self {
            id: who.user_id.as_deref(),
            label: &who.audit_label,
            client_ip: who.client_ip,
        }
    }
}

/// One event to record.
pub(crate) struct AuditEvent<'a> {
    pub org_id: &'a str,
    pub actor: AuditActor<'a>,
    pub action: AuditAction,
    pub target: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_null = true)]
struct NewAuditEvent<'a> {
    id: String,
    org_id: Option<&'a str>,
    actor_id: Option<&'a str>,
    actor_label: &'a str,
    action: &'static str,
    target: &'a str,
    before_state: Option<String>,
    after_state: Option<String>,
    client_ip: Option<String>,
    created_at: chrono::NaiveDateTime,
}

impl<'a> AuditEvent<'a> {
    fn into_row(self) -> NewAuditEvent<'a> {
        NewAuditEvent {
            id: new_id(),
            org_id: Some(self.org_id),
            actor_id: self.actor.id,
            actor_label: self.actor.label,
            action: self.action.as_str(),
            target: self.target,
            before_state: self.before.map(|v| v.to_string()),
            after_state: self.after.map(|v| v.to_string()),
            client_ip: self.actor.client_ip.map(|ip| ip.to_string()),
            created_at: now(),
        }
    }
}

/// Records events in the caller's transaction.
pub(crate) fn record_all<'a>(
    conn: &mut DbConnection,
    events: impl IntoIterator<Item = AuditEvent<'a>>,
) -> Result<(), Error> {
    let rows: Vec<NewAuditEvent> = events.into_iter().map(AuditEvent::into_row).collect();
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        crate::db::insert_all!(conn, audit_events::table, chunk)?;
    }
    Ok(())
}

pub(crate) fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> Result<(), Error> {
    record_all(conn, [event])
}

/// A recorded event, as the audit log shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = audit_events)]
pub struct RecordedEvent {
    pub actor_label: String,
    pub action: String,
    pub target: String,
    pub before_state: Option<String>,
    pub after_state: Option<String>,
    pub client_ip: Option<String>,
    pub created_at: chrono::NaiveDateTime,
}

/// An organization's events, newest first.
pub fn for_organization(
    conn: &mut DbConnection,
    org_id: &str,
    limit: i64,
) -> Result<Vec<RecordedEvent>, Error> {
    Ok(audit_events::table
        .filter(audit_events::org_id.eq(org_id))
        .order((audit_events::created_at.desc(), audit_events::id.desc()))
        .limit(limit)
        .select(RecordedEvent::as_select())
        .load(conn)?)
}
