//! Handing ownership to another member: asked, confirmed, cancelled.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::locked::fresh;
use crate::db::schema::{ownership_transfers, users};
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action};
use crate::domain::{EmailAddress, InvalidRole, Message, Role};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::identity::Identified;
use crate::services::members::{self, MemberRef};
use crate::services::notices::{Person, members_url, notify, owners, settings_url};
use crate::services::shared::{Actor, Organization, Settings, now, parse_stored_role};

/// A transfer of ownership waiting for its new owner to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTransfer {
    pub from: Person,
    pub to: Person,
    /// The role the former owner keeps once it is confirmed; None: they leave.
    pub then_role: Option<Role>,
    pub requested_at: NaiveDateTime,
}

/// The organization's waiting transfer, if any.
pub fn pending_transfer(conn: &mut DbConnection, org_id: &str) -> Result<Option<PendingTransfer>, Error> {
    let row: Option<(String, String, Option<String>, NaiveDateTime)> = ownership_transfers::table
        .find(org_id)
        .select((
            ownership_transfers::from_user_id,
            ownership_transfers::to_user_id,
            ownership_transfers::then_role,
            ownership_transfers::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some((from, to, then_role, requested_at)) = row else {
        return Ok(None);
    };
    let person = |conn: &mut DbConnection, user_id: &str| -> Result<Person, Error> {
        let (name, email): (String, String) = users::table
            .find(user_id)
            .select((users::name, users::email))
            .first(conn)?;
        Ok(Person {
            user_id: user_id.to_owned(),
            name,
            email,
        })
    };
    Ok(Some(PendingTransfer {
        from: person(conn, &from)?,
        to: person(conn, &to)?,
        then_role: then_role.as_deref().map(parse_stored_role).transpose()?,
        requested_at,
    }))
}

/// What the former owner does once the transfer is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Afterwards {
    Stay(Role),
    Leave,
}

/// What the form says: `leave`, or the role to stay with.
impl std::str::FromStr for Afterwards {
    type Err = InvalidRole;

    fn from_str(text: &str) -> Result<Self, InvalidRole> {
        match text {
            "leave" => Ok(Self::Leave),
            role => role.parse().map(Self::Stay),
        }
    }
}

/// Step one: an owner names the member who is to become an owner, and what
/// becomes of themselves once that member confirms. Both get an email. A
/// new request replaces a waiting one.
pub fn request_transfer(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    to: &MemberRef,
    afterwards: Afterwards,
) -> Result<PendingTransfer, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::TransferOwnership)?;
        let Some(from_id) = acting.who.user_id.clone() else {
            return Err(Error::Invalid(
                "Only an owner who signs in can hand over their ownership; from the command line, `rollcall org transfer` makes the member an owner at once.".to_owned(),
            ));
        };
        let target = members::find(conn, &org, to)?;
        if target.user_id == from_id {
            return Err(Error::Invalid(
                "You are already an owner; name another member.".to_owned(),
            ));
        }
        if target.role == Role::OWNER {
            return Err(Error::Invalid(format!(
                "{} is already an owner of {}.",
                target.name, org.name
            )));
        }
        let at = now();
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        let then_role = match afterwards {
            Afterwards::Stay(role) => Some(role),
            Afterwards::Leave => None,
        };
        diesel::insert_into(ownership_transfers::table)
            .values((
                ownership_transfers::org_id.eq(&org.id),
                ownership_transfers::from_user_id.eq(&from_id),
                ownership_transfers::to_user_id.eq(&target.user_id),
                ownership_transfers::then_role.eq(then_role.map(Role::as_str)),
                ownership_transfers::created_at.eq(at),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::TransferRequested,
                target: AuditTarget::person(
                    TargetKind::Member,
                    Some(&target.user_id),
                    &target.name,
                    &target.email,
                ),
                before: None,
                after: Some(json!({ "former_owner_role": then_role.map(Role::as_str) })),
            },
        )?;
        let from = Person {
            user_id: from_id,
            name: acting.who.display_name.clone(),
            email: acting
                .who
                .email
                .as_ref()
                .map(EmailAddress::to_string)
                .unwrap_or_default(),
        };
        let to = Person {
            user_id: target.user_id.clone(),
            name: target.name.clone(),
            email: target.email.clone(),
        };
        let settings_url = settings_url(settings, &org.slug);
        notify(conn, std::slice::from_ref(&to), |reader| Message::TransferAsked {
            reader,
            from: from.name.clone(),
            org: org.name.clone(),
            settings_url: settings_url.clone(),
        })?;
        notify(conn, std::slice::from_ref(&from), |reader| {
            Message::TransferAskedCopy {
                reader,
                to: to.name.clone(),
                org: org.name.clone(),
                then_role,
                settings_url: settings_url.clone(),
            }
        })?;
        Ok(PendingTransfer {
            from,
            to,
            then_role,
            requested_at: at,
        })
    })
}

/// Step two: the member named confirms. They become an owner; then the
/// former owner takes the role they chose, or leaves, in the same
/// transaction, so the organization has an owner at every moment. If the
/// former owner is no longer an owner, the transfer is void.
pub fn confirm_transfer(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
) -> Result<PendingTransfer, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        let transfer = waiting_for(conn, &org, &acting.who)?;
        let former = members::find(conn, &org, &MemberRef::Id(transfer.from.user_id.clone()));
        let former = match former {
            Ok(former) if former.role == Role::OWNER => former,
            _ => {
                return Err(Error::Conflict(format!(
                    "{} is no longer an owner of {}, so this transfer cannot complete; ask an owner for a new one.",
                    transfer.from.name, org.name
                )));
            }
        };
        let new_owner_was = members::find(conn, &org, &MemberRef::Id(transfer.to.user_id.clone()))?.role;
        let tokens_revoked =
            members::hand_over(conn, &org, &transfer.to.user_id, &former, transfer.then_role)?;
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        let mut after = json!({
            "former_owner_role": transfer.then_role.map(Role::as_str),
            "new_owner": transfer.to.email,
            "new_owner_role_before": new_owner_was.as_str(),
        });
        if transfer.then_role.is_none() {
            after["tokens_revoked"] = json!(tokens_revoked);
        }
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::OwnershipTransferred,
                target: AuditTarget::person(
                    TargetKind::Member,
                    Some(&former.user_id),
                    &former.name,
                    &former.email,
                ),
                before: Some(json!({ "role": Role::OWNER.as_str() })),
                after: Some(after),
            },
        )?;
        let members_url = members_url(settings, &org.slug);
        notify(conn, &[transfer.from.clone(), transfer.to.clone()], |reader| {
            Message::TransferConfirmed {
                reader,
                new_owner: transfer.to.name.clone(),
                former_owner: former.name.clone(),
                org: org.name.clone(),
                former_owner_role: transfer.then_role,
                members_url: members_url.clone(),
            }
        })?;
        Ok(transfer)
    })
}

/// The transfer waiting for `who` to confirm.
fn waiting_for(
    conn: &mut DbConnection,
    org: &Organization,
    who: &Identified,
) -> Result<PendingTransfer, Error> {
    match pending_transfer(conn, &org.id)? {
        Some(transfer) if who.user_id.as_deref() == Some(transfer.to.user_id.as_str()) => Ok(transfer),
        _ => Err(Error::NotFound(format!(
            "No transfer of ownership of {} waits for you.",
            org.name
        ))),
    }
}

/// Ends a waiting transfer: the member named declines it, or an owner
/// cancels it.
pub fn cancel_transfer(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<(), Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        let Some(transfer) = pending_transfer(conn, &org.id)? else {
            return Err(Error::NotFound(format!(
                "No transfer of ownership of {} is waiting.",
                org.name
            )));
        };
        let declined = acting.who.user_id.as_deref() == Some(transfer.to.user_id.as_str());
        if !declined {
            policy::authorize(acting.role, Action::TransferOwnership)?;
        }
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::TransferCancelled,
                target: AuditTarget::person(
                    TargetKind::Member,
                    Some(&transfer.to.user_id),
                    &transfer.to.name,
                    &transfer.to.email,
                ),
                before: None,
                after: Some(json!({ "by": if declined { "declined" } else { "cancelled" } })),
            },
        )?;
        Ok(())
    })
}

/// `rollcall org transfer`: the operator makes a member an owner at once
/// (there is no former owner to step down); the owners are told.
pub fn make_owner_now(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    to: &MemberRef,
) -> Result<members::Member, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::TransferOwnership)?;
        let target = members::find(conn, &org, to)?;
        if target.role == Role::OWNER {
            return Err(Error::Invalid(format!(
                "{} is already an owner of {}.",
                target.name, org.name
            )));
        }
        let owners_before = owners(conn, &org.id)?;
        members::promote_to_owner(conn, &org, &target.user_id)?;
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::RoleChanged,
                target: AuditTarget::person(
                    TargetKind::Member,
                    Some(&target.user_id),
                    &target.name,
                    &target.email,
                ),
                before: Some(json!({ "role": target.role.as_str() })),
                after: Some(json!({ "role": Role::OWNER.as_str() })),
            },
        )?;
        let mut told = owners_before;
        told.push(Person {
            user_id: target.user_id.clone(),
            name: target.name.clone(),
            email: target.email.clone(),
        });
        let members_url = members_url(settings, &org.slug);
        notify(conn, &told, |reader| Message::MadeOwner {
            reader,
            by: acting.who.display_name.clone(),
            new_owner: target.name.clone(),
            org: org.name.clone(),
            members_url: members_url.clone(),
        })?;
        Ok(members::Member {
            role: Role::OWNER,
            ..target
        })
    })
}
