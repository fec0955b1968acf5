//! Writing audit events, in the transaction of the change they record, and
//! deleting them when retention is up.

use std::net::IpAddr;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Nullable, Text, Timestamp};
use serde_json::Value;

use crate::db::schema::audit_events;
use crate::db::{DbConnection, MultiBackend};
use crate::domain::EmailAddress;
use crate::domain::audit::{ActorKind, AuditAction, TargetKind};
use crate::error::Error;
use crate::services::identity::Identified;
use crate::services::shared::{new_id, now};

/// Who did it, for the record.
pub(crate) struct AuditActor<'a> {
    pub kind: ActorKind,
    pub id: Option<&'a str>,
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// What the actor filter matches.
    pub key: &'a str,
    pub credential: &'a str,
    pub client_ip: Option<IpAddr>,
}

impl<'a> From<&'a Identified> for AuditActor<'a> {
    fn from(who: &'a Identified) -> Self {
        Self {
            kind: who.kind,
            id: who.actor_id.as_deref(),
            name: &who.name,
            email: who.email.as_ref().map(EmailAddress::as_str),
            key: &who.audit_label,
            credential: &who.credential,
            client_ip: who.client_ip,
        }
    }
}

/// What it was done to, with its name and address as they were then.
#[derive(Clone, Copy)]
pub(crate) struct AuditTarget<'a> {
    pub kind: TargetKind,
    pub id: Option<&'a str>,
    pub name: &'a str,
    pub email: Option<&'a str>,
    /// What the target filter matches: the address of the person concerned,
    /// else a name.
    pub key: &'a str,
}

impl<'a> AuditTarget<'a> {
    /// A person, or something that is theirs: found by their address.
    pub fn person(kind: TargetKind, id: Option<&'a str>, name: &'a str, email: &'a str) -> Self {
        Self {
            kind,
            id,
            name,
            email: Some(email),
            key: email,
        }
    }

    /// Something with a name and no address: found by the name.
    pub fn named(kind: TargetKind, id: Option<&'a str>, name: &'a str) -> Self {
        Self {
            kind,
            id,
            name,
            email: None,
            key: name,
        }
    }
}

/// Deletes every event of an organization being purged (retention is the
/// only other DELETE; nothing updates an event).
pub(crate) fn purge_organization(conn: &mut DbConnection, org_id: &str) -> Result<usize, Error> {
    Ok(diesel::delete(audit_events::table.filter(audit_events::org_id.eq(org_id))).execute(conn)?)
}

/// One event to record.
pub(crate) struct AuditEvent<'a> {
    pub org_id: Option<&'a str>,
    pub actor: AuditActor<'a>,
    pub action: AuditAction,
    pub target: AuditTarget<'a>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_null = true)]
struct NewAuditEvent<'a> {
    id: String,
    org_id: Option<&'a str>,
    actor_kind: &'static str,
    actor_id: Option<&'a str>,
    actor_name: &'a str,
    actor_email: Option<&'a str>,
    actor_label: String,
    credential: &'a str,
    action: &'static str,
    target_kind: &'static str,
    target_id: Option<&'a str>,
    target_name: &'a str,
    target_email: Option<&'a str>,
    target: String,
    before_state: Option<String>,
    after_state: Option<String>,
    client_ip: Option<String>,
    created_at: NaiveDateTime,
}

/// One event's INSERT, written out with every column bound: diesel prepares
/// no INSERT of optional values a second time, so each action's event was
/// parsed and planned again. One text, so each connection prepares it once.
struct OneEvent<'r, 'a>(&'r NewAuditEvent<'a>);

impl QueryFragment<MultiBackend> for OneEvent<'_, '_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        let event = self.0;
        out.push_sql(
            "INSERT INTO audit_events (id, org_id, actor_kind, actor_id, actor_name, actor_email, \
             actor_label, credential, action, target_kind, target_id, target_name, target_email, \
             target, before_state, after_state, client_ip, created_at) VALUES (",
        );
        out.push_bind_param::<Text, _>(&event.id)?;
        macro_rules! then_bind {
            ($sql_type:ty, $value:expr) => {
                out.push_sql(", ");
                out.push_bind_param::<$sql_type, _>($value)?;
            };
        }
        then_bind!(Nullable<Text>, &event.org_id);
        then_bind!(Text, event.actor_kind);
        then_bind!(Nullable<Text>, &event.actor_id);
        then_bind!(Text, event.actor_name);
        then_bind!(Nullable<Text>, &event.actor_email);
        then_bind!(Text, &event.actor_label);
        then_bind!(Text, event.credential);
        then_bind!(Text, event.action);
        then_bind!(Text, event.target_kind);
        then_bind!(Nullable<Text>, &event.target_id);
        then_bind!(Text, event.target_name);
        then_bind!(Nullable<Text>, &event.target_email);
        then_bind!(Text, &event.target);
        then_bind!(Nullable<Text>, &event.before_state);
        then_bind!(Nullable<Text>, &event.after_state);
        then_bind!(Nullable<Text>, &event.client_ip);
        then_bind!(Timestamp, &event.created_at);
        out.push_sql(")");
        Ok(())
    }
}

impl QueryId for OneEvent<'_, '_> {
    type QueryId = OneEvent<'static, 'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for OneEvent<'_, '_> {}

impl<'a> AuditEvent<'a> {
    fn into_row(self, at: NaiveDateTime) -> NewAuditEvent<'a> {
        NewAuditEvent {
            id: new_id(),
            org_id: self.org_id,
            actor_kind: self.actor.kind.as_str(),
            actor_id: self.actor.id,
            actor_name: self.actor.name,
            actor_email: self.actor.email,
            actor_label: filter_key(self.actor.key),
            credential: self.actor.credential,
            action: self.action.as_str(),
            target_kind: self.target.kind.as_str(),
            target_id: self.target.id,
            target_name: self.target.name,
            target_email: self.target.email,
            target: filter_key(self.target.key),
            before_state: self.before.map(|v| v.to_string()),
            after_state: self.after.map(|v| v.to_string()),
            client_ip: self.actor.client_ip.map(|ip| ip.to_string()),
            created_at: at,
        }
    }
}

/// How the actor and target filters compare: trimmed, lower-cased.
pub(super) fn filter_key(text: &str) -> String {
    text.trim().to_lowercase()
}

/// Records events in the caller's transaction.
pub(crate) fn record_all<'a>(
    conn: &mut DbConnection,
    events: impl IntoIterator<Item = AuditEvent<'a>>,
) -> Result<(), Error> {
    let at = now();
    record_at(conn, events.into_iter().map(|event| (event, at)))
}

/// Records events that happened at the times given (synthetic history).
pub(crate) fn record_at<'a>(
    conn: &mut DbConnection,
    events: impl IntoIterator<Item = (AuditEvent<'a>, NaiveDateTime)>,
) -> Result<(), Error> {
    let rows: Vec<NewAuditEvent> = events.into_iter().map(|(event, at)| event.into_row(at)).collect();
    // Nearly every action records one event.
    if let [row] = rows.as_slice() {
        OneEvent(row).execute(conn)?;
        return Ok(());
    }
    for chunk in rows.chunks(crate::services::shared::INSERT_CHUNK) {
        crate::db::insert_all!(conn, audit_events::table, chunk)?;
    }
    Ok(())
}

pub(crate) fn record(conn: &mut DbConnection, event: AuditEvent<'_>) -> Result<(), Error> {
    record_all(conn, [event])
}

/// Records an instance event by the operator at a shell (an introspection
/// client made or revoked), in the caller's transaction.
pub(crate) fn record_by_command_line(
    conn: &mut DbConnection,
    action: AuditAction,
    target: AuditTarget<'_>,
    after: Value,
) -> Result<(), Error> {
    let who = crate::services::identity::identify(conn, &crate::services::shared::Actor::command_line())?;
    record(
        conn,
        AuditEvent {
            org_id: None,
            actor: (&who).into(),
            action,
            target,
            before: None,
            after: Some(after),
        },
    )
}

/// Records a refused sign-in, with the reason the person was shown.
pub fn record_sign_in_refused(
    conn: &mut DbConnection,
    provider: &str,
    reason: &str,
    client_ip: Option<IpAddr>,
) -> Result<(), Error> {
    let credential = format!("sign-in with {provider}");
    // The reason can carry what the provider's redirect said: kept to one
    // short line, so that nobody can write log lines of their own.
    let reason = crate::domain::text::one_line(reason, 300);
    record(
        conn,
        AuditEvent {
            org_id: None,
            actor: AuditActor {
                kind: ActorKind::Visitor,
                id: None,
                name: "",
                email: None,
                key: "",
                credential: &credential,
                client_ip,
            },
            action: AuditAction::SignInRefused,
            target: AuditTarget::named(TargetKind::Session, None, provider),
            before: None,
            after: Some(serde_json::json!({ "reason": reason })),
        },
    )
}

/// Deletes up to `batch` events recorded before `cutoff`; returns how many.
/// Retention calls it until it returns less than a batch, one short
/// statement at a time, so that writers never wait long behind it. It walks
/// each organization's oldest events (and the sign-ins') by the index the
/// log is read by.
pub fn prune(conn: &mut DbConnection, cutoff: NaiveDateTime, batch: i64) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let orgs: Vec<String> = organizations::table.select(organizations::id).load(conn)?;
    let mut old: Vec<String> = audit_events::table
        .filter(audit_events::org_id.is_null())
        .filter(audit_events::created_at.lt(cutoff))
        .order(audit_events::created_at.asc())
        .select(audit_events::id)
        .limit(batch)
        .load(conn)?;
    for org_id in &orgs {
        let room = batch - i64::try_from(old.len()).unwrap_or(batch);
        if room <= 0 {
            break;
        }
        old.extend(
            audit_events::table
                .filter(audit_events::org_id.eq(org_id))
                .filter(audit_events::created_at.lt(cutoff))
                .order(audit_events::created_at.asc())
                .select(audit_events::id)
                .limit(room)
                .load::<String>(conn)?,
        );
    }
    if old.is_empty() {
        return Ok(0);
    }
    Ok(diesel::delete(audit_events::table.filter(audit_events::id.eq_any(&old))).execute(conn)?)
}
