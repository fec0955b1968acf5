//! Memberships with an end date: the reminder a week before, and the end.

use diesel::prelude::*;

use super::find::{MemberRef, find};
use super::last_owner::ensure_another_owner;
use super::query::Member;
use super::remove::take_out_by;
use crate::db::schema::memberships;
use crate::db::{self, DbConnection};
use crate::domain::{MembershipEnd, Message, Role};
use crate::error::Error;
use crate::services::audit::AuditAction;
use crate::services::notices::{Person, members_url, notify, owners};
use crate::services::shared::{Organization, now};

/// How long before a membership ends its member and the owners are reminded.
pub const END_REMINDER_DAYS: i64 = 7;

/// The most memberships one round of the worker reminds or ends.
const END_BATCH: i64 = 200;

/// Sends the reminders of memberships that end within a week, once each (a
/// conditional update claims it, so two servers never both send one).
/// Returns how many were sent.
pub fn remind_ending(
    conn: &mut DbConnection,
    settings: &crate::services::shared::Settings,
) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let at = now();
    let due: Vec<(String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::expires_at.gt(at))
        .filter(memberships::expires_at.le(at + chrono::Duration::days(END_REMINDER_DAYS)))
        .filter(memberships::expiry_reminded_at.is_null())
        .filter(organizations::deleted_at.is_null())
        .select((memberships::org_id, memberships::user_id))
        .limit(END_BATCH)
        .load(conn)?;
    let mut sent = 0;
    for (org_id, user_id) in due {
        sent += usize::from(db::write(conn, |conn| {
            let claimed = diesel::update(
                memberships::table
                    .find((&org_id, &user_id))
                    .filter(memberships::expiry_reminded_at.is_null()),
            )
            .set(memberships::expiry_reminded_at.eq(now()))
            .execute(conn)?;
            if claimed == 0 {
                return Ok(false);
            }
            let org = crate::services::organizations::find::find_any(conn, &org_id)?;
            let member = find(conn, &org, &MemberRef::Id(user_id.clone()))?;
            let Some(ends) = member.ends else {
                return Ok(false);
            };
            let last_day = ends.last_day();
            let members_url = members_url(settings, &org.slug);
            let person = Person {
                user_id: member.user_id.clone(),
                name: member.name.clone(),
                email: member.email.clone(),
            };
            notify(conn, std::slice::from_ref(&person), |reader| {
                Message::MembershipEndingSoon {
                    reader,
                    org: org.name.clone(),
                    last_day,
                    members_url: members_url.clone(),
                }
            })?;
            let owners: Vec<_> = owners(conn, &org.id)?
                .into_iter()
                .filter(|owner| owner.user_id != member.user_id)
                .collect();
            notify(conn, &owners, |reader| Message::MembershipEndingSoonToOwners {
                reader,
                member: member.name.clone(),
                member_email: member.email.clone(),
                org: org.name.clone(),
                last_day,
                members_url: members_url.clone(),
            })?;
            Ok(true)
        })?);
    }
    Ok(sent)
}

/// Removes the members whose membership has ended, each in its own
/// transaction under the organization's lock (recorded as "member.expired",
/// with their tokens revoked), except an organization's last owner: the
/// owners are told instead, once. Returns how many were removed.
pub fn expire_due(
    conn: &mut DbConnection,
    settings: &crate::services::shared::Settings,
) -> Result<usize, Error> {
    use crate::db::schema::organizations;
    let due: Vec<(String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::expires_at.le(now()))
        .filter(memberships::expiry_held_at.is_null())
        .filter(organizations::deleted_at.is_null())
        .select((memberships::org_id, memberships::user_id))
        .limit(END_BATCH)
        .load(conn)?;
    let worker = crate::services::identity::Identified::background_worker();
    let mut removed = 0;
    for (org_id, user_id) in due {
        removed += usize::from(db::write(conn, |conn| {
            db::lock_organization(conn, &org_id)?;
            let org = crate::services::organizations::find::find_any(conn, &org_id)?;
            if org.deleted_at.is_some() {
                return Ok(false);
            }
            let Ok(member) = find(conn, &org, &MemberRef::Id(user_id.clone())) else {
                return Ok(false);
            };
            // Changed or removed since it was listed.
            let Some(ends) = member.ends.filter(|ends| ends.at() <= now()) else {
                return Ok(false);
            };
            if member.role == Role::OWNER && ensure_another_owner(conn, &org, &member.user_id).is_err() {
                hold_last_owner(conn, settings, &org, &member, ends)?;
                return Ok(false);
            }
            take_out_by(conn, &org, &worker, &member, AuditAction::MemberExpired)?;
            Ok(true)
        })?);
    }
    Ok(removed)
}

/// The last owner's membership ended: they stay, and the owners (them) are
/// told once what to do.
fn hold_last_owner(
    conn: &mut DbConnection,
    settings: &crate::services::shared::Settings,
    org: &Organization,
    member: &Member,
    ends: MembershipEnd,
) -> Result<(), Error> {
    diesel::update(memberships::table.find((&org.id, &member.user_id)))
        .set(memberships::expiry_held_at.eq(now()))
        .execute(conn)?;
    let owners = owners(conn, &org.id)?;
    let members_url = members_url(settings, &org.slug);
    notify(conn, &owners, |reader| Message::LastOwnerHeld {
        reader,
        member: member.name.clone(),
        org: org.name.clone(),
        last_day: ends.last_day(),
        members_url: members_url.clone(),
    })
}
