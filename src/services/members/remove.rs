//! Removing a member and leaving an organization.

use diesel::prelude::*;
use serde_json::json;

use super::find::{MemberRef, find};
use super::last_owner::ensure_another_owner;
use super::query::Member;
use crate::db::schema::memberships;
use crate::db::{self, DbConnection};
use crate::domain::Role;
use crate::domain::policy::{self, Action};
use crate::error::Error;
use crate::services::access::acting;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::shared::{Actor, Organization};

/// Removes another member, as the policy allows and the last-owner rule permits.
pub fn remove(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    member: &MemberRef,
) -> Result<Member, Error> {
    db::write(conn, |conn| {
        db::lock_organization(conn, &org.id)?;
        let acting = acting(conn, actor, org)?;
        let target = find(conn, org, member)?;
        let own = acting.who.user_id.as_deref() == Some(target.user_id.as_str());
        policy::authorize(
            acting.role,
            Action::Remove {
                role: target.role,
                own,
            },
        )?;
        take_out(conn, org, &acting, &target, AuditAction::MemberRemoved)?;
        Ok(target)
    })
}

/// The actor leaves the organization, unless they are its last owner.
pub fn leave(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<(), Error> {
    db::write(conn, |conn| {
        db::lock_organization(conn, &org.id)?;
        let acting = acting(conn, actor, org)?;
        let Some(user_id) = acting.who.user_id.clone() else {
            return Err(Error::Invalid(
                "Only a member who signed in can leave; the command line and service accounts are not members.".to_owned(),
            ));
        };
        let me = find(conn, org, &MemberRef::Id(user_id))?;
        take_out(conn, org, &acting, &me, AuditAction::MemberLeft)
    })
}

/// Deletes a membership unless it is the organization's last owner's, and
/// records why it went. Runs after [`db::lock_organization`].
fn take_out(
    conn: &mut DbConnection,
    org: &Organization,
    acting: &crate::services::access::Acting,
    member: &Member,
    action: AuditAction,
) -> Result<(), Error> {
    take_out_by(conn, org, &acting.who, member, action)
}

pub(super) fn take_out_by(
    conn: &mut DbConnection,
    org: &Organization,
    who: &crate::services::identity::Identified,
    member: &Member,
    action: AuditAction,
) -> Result<(), Error> {
    if member.role == Role::OWNER {
        ensure_another_owner(conn, org, &member.user_id)?;
    }
    delete(conn, org, member)?;
    void_transfers(conn, org, &member.user_id)?;
    // Their tokens go with them, in the same transaction.
    let tokens_revoked = crate::services::tokens::revoke_all_of_member(conn, org, &member.user_id)?;
    let mut before = json!({ "role": member.role.as_str() });
    if let Some(ends) = member.ends {
        before["ends_after"] = json!(ends.last_day().to_string());
    }
    audit::record(
        conn,
        AuditEvent {
            org_id: Some(&org.id),
            actor: who.into(),
            action,
            target: AuditTarget::person(
                TargetKind::Member,
                Some(&member.user_id),
                &member.name,
                &member.email,
            ),
            before: Some(before),
            after: Some(json!({ "tokens_revoked": tokens_revoked })),
        },
    )
}

pub(super) fn delete(conn: &mut DbConnection, org: &Organization, member: &Member) -> Result<(), Error> {
    let deleted = diesel::delete(memberships::table.find((&org.id, &member.user_id))).execute(conn)?;
    if deleted == 1 {
        Ok(())
    } else {
        Err(Error::NotFound("The member was not found.".into()))
    }
}

/// Whether the actor could leave now: the check the Leave dialog shows before
/// anyone presses the button. [`leave`] checks again under the lock.
pub fn check_leave(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<(), Error> {
    let acting = acting(conn, actor, org)?;
    match acting.who.user_id {
        Some(user_id) if acting.role == Role::OWNER => ensure_another_owner(conn, org, &user_id),
        _ => Ok(()),
    }
}

/// Cancels a waiting transfer of ownership that `user_id` asked for or was
/// named in, once their membership or ownership changes: confirmed later, it
/// would act on a situation that no longer holds (an owner demoted and
/// promoted again, a member removed and invited back).
pub(crate) fn void_transfers(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<(), Error> {
    use crate::db::schema::ownership_transfers as transfers;
    diesel::delete(
        transfers::table.filter(transfers::org_id.eq(&org.id)).filter(
            transfers::from_user_id
                .eq(user_id)
                .or(transfers::to_user_id.eq(user_id)),
        ),
    )
    .execute(conn)?;
    Ok(())
}
