//! An organization's settings: its name and slug, deletion and restoring,
//! the email domains it accepts, and handing ownership to another member.
//! Each change is one transaction under the organization's lock, checks the
//! policy, records its event and queues its emails.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::json;

use super::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use super::members::{self, MemberRef};
use super::organizations::{self as orgs, claim_slug};
use super::outbox::{self, Queued};
use super::{
    Acting, Actor, Identified, Organization, Principal, Settings, acting, identify, now, parse_stored_role,
};
use crate::db::schema::{
    allowed_email_domains, invitations, memberships, organization_slugs, organizations, ownership_transfers,
    users,
};
use crate::db::{self, DbConnection, literal};
use crate::domain::policy::{self, Action};
use crate::domain::{EmailAddress, EmailDomain, MAX_ALLOWED_DOMAINS, OrganizationName, Role, Slug};
use crate::error::{Error, day_and_time};
use crate::mail::NoticeEmail;

/// The organization as its audit events name it: by its slug, which no
/// person's address or account's name can be.
fn org_target(org: &Organization) -> AuditTarget<'_> {
    AuditTarget {
        key: &org.slug,
        ..AuditTarget::named(TargetKind::Organization, Some(&org.id), &org.name)
    }
}

/// Reads the organization again inside the transaction, after its lock
/// (what the request found before may have changed: renamed, deleted), and
/// the actor in it: a member of a deleted one is told so, anyone else that
/// they are not a member.
fn fresh(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
) -> Result<(Organization, Acting), Error> {
    db::lock_organization(conn, &org.id)?;
    let org = orgs::find_any(conn, &org.id)?;
    let acting = acting(conn, actor, &org)?;
    org.ensure_live()?;
    Ok((org, acting))
}

/// A member to write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub name: String,
    pub email: String,
}

/// The organization's owners, to tell them of what happens to it.
pub(crate) fn owners(conn: &mut DbConnection, org_id: &str) -> Result<Vec<Person>, Error> {
    let rows: Vec<(String, String, String)> = memberships::table
        .filter(memberships::org_id.eq(org_id))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .order(memberships::name_key)
        .select((memberships::user_id, memberships::name, memberships::email))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, name, email)| Person { user_id, name, email })
        .collect())
}

/// Queues the same notice to each of `people`.
pub(crate) fn notify(
    conn: &mut DbConnection,
    people: &[Person],
    subject: &str,
    paragraphs: &[String],
    link: Option<(&str, String)>,
) -> Result<(), Error> {
    let mut emails = Vec::with_capacity(people.len());
    for person in people {
        let Ok(to) = EmailAddress::parse(&person.email) else {
            continue;
        };
        emails.push(
            NoticeEmail {
                to: &to,
                greeting: &person.name,
                subject: subject.to_owned(),
                paragraphs: paragraphs.to_vec(),
                link: link.clone(),
            }
            .render()?,
        );
    }
    outbox::enqueue_all(
        conn,
        emails.iter().map(|email| Queued {
            email,
            invitation_id: None,
        }),
    )
}

fn settings_url(settings: &Settings, slug: &str) -> String {
    format!("{}/orgs/{slug}/settings", settings.public_url)
}

/// What a rename asks for: a new name, a new slug, or both.
#[derive(Debug, Clone, Default)]
pub struct Rename {
    pub name: Option<OrganizationName>,
    pub slug: Option<Slug>,
}

/// Renames the organization. A new slug takes effect at once; the old one
/// answers 301 to the new one and stays reserved for 90 days.
pub fn rename(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    change: &Rename,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ManageOrganization)?;
        let name = change
            .name
            .as_ref()
            .map_or(org.name.clone(), |name| name.as_str().to_owned());
        let slug = change
            .slug
            .as_ref()
            .map_or(org.slug.clone(), |slug| slug.as_str().to_owned());
        if name == org.name && slug == org.slug {
            return Ok(org);
        }
        if slug != org.slug {
            let new_slug = Slug::parse(&slug).map_err(|error| Error::Invalid(error.to_string()))?;
            claim_slug(conn, &org.id, &new_slug)?;
            diesel::update(
                organization_slugs::table
                    .filter(organization_slugs::slug.eq(&org.slug))
                    .filter(organization_slugs::org_id.eq(&org.id)),
            )
            .set(organization_slugs::retired_at.eq(now()))
            .execute(conn)?;
        }
        diesel::update(organizations::table.find(&org.id))
            .set((organizations::name.eq(&name), organizations::slug.eq(&slug)))
            .execute(conn)
            .map_err(|error| {
                if db::is_unique_violation(&error) {
                    Error::Conflict(format!(
                        "The address /orgs/{slug} was taken a moment ago; choose another."
                    ))
                } else {
                    error.into()
                }
            })?;
        let renamed = Organization {
            name,
            slug,
            ..org.clone()
        };
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::OrganizationRenamed,
                target: org_target(&renamed),
                before: Some(json!({ "name": org.name, "slug": org.slug })),
                after: Some(json!({ "name": renamed.name, "slug": renamed.slug })),
            },
        )?;
        Ok(renamed)
    })
}

/// Deletes the organization, if `confirmation` is its slug: at once its
/// members lose access, its pending invitations are revoked, its tokens and
/// keys stop working (the token check and the API refuse a deleted
/// organization's), and every owner is told. Its owners can restore it for
/// `ROLLCALL_ORG_RESTORE_DAYS`; then the worker purges it.
pub fn delete(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    org: &Organization,
    confirmation: &str,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ManageOrganization)?;
        if confirmation.trim() != org.slug {
            return Err(Error::Invalid(format!(
                "To delete {}, type its slug, {}, exactly.",
                org.name, org.slug
            )));
        }
        let at = now();
        let purge_after = at + chrono::Duration::days(i64::from(settings.org_restore_days));
        diesel::update(organizations::table.find(&org.id))
            .set((
                organizations::deleted_at.eq(at),
                organizations::deleted_by.eq(&acting.who.display_name),
                organizations::purge_after.eq(purge_after),
            ))
            .execute(conn)?;
        let revoked = revoke_pending_invitations(conn, &org, &acting.who, at)?;
        diesel::delete(ownership_transfers::table.find(&org.id)).execute(conn)?;
        let deleted = Organization {
            deleted_at: Some(at),
            deleted_by: Some(acting.who.display_name.clone()),
            purge_after: Some(purge_after),
            ..org.clone()
        };
        let until = day_and_time(purge_after);
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::OrganizationDeleted,
                target: org_target(&org),
                before: None,
                after: Some(json!({ "restorable_until": until, "invitations_revoked": revoked })),
            },
        )?;
        let owners = owners(conn, &org.id)?;
        notify(
            conn,
            &owners,
            &format!("{} deleted {} on Rollcall", acting.who.display_name, org.name),
            &[
                format!(
                    "{} deleted the organization {}. Its members can no longer open it, its pending invitations were withdrawn, and its API tokens and service account keys stopped working.",
                    acting.who.display_name, org.name
                ),
                format!(
                    "As an owner, you can restore it from your profile until {until}. After that it is purged for good."
                ),
            ],
            Some(("Open your profile", format!("{}/profile", settings.public_url))),
        )?;
        Ok(deleted)
    })
}

/// Revokes the organization's pending invitations and withdraws their
/// queued emails; returns how many.
fn revoke_pending_invitations(
    conn: &mut DbConnection,
    org: &Organization,
    who: &Identified,
    at: NaiveDateTime,
) -> Result<usize, Error> {
    let pending: Vec<String> = invitations::table
        .filter(invitations::org_id.eq(&org.id))
        .filter(invitations::state.eq(literal::Pending))
        .select(invitations::id)
        .load(conn)?;
    diesel::update(
        invitations::table
            .filter(invitations::org_id.eq(&org.id))
            .filter(invitations::state.eq(literal::Pending)),
    )
    .set((
        invitations::state.eq("revoked"),
        invitations::closed_at.eq(at),
        invitations::closed_by.eq(who.user_id.as_deref()),
    ))
    .execute(conn)?;
    for id in &pending {
        outbox::cancel_for_invitation(conn, id)?;
    }
    Ok(pending.len())
}

/// Restores a deleted organization while its owners still may. Its members,
/// tokens and keys work again; the invitations revoked stay revoked.
pub fn restore(
    conn: &mut DbConnection,
    settings: &Settings,
    actor: &Actor,
    slug: &Slug,
) -> Result<Organization, Error> {
    db::write(conn, |conn| {
        let org = orgs::find_even_deleted(conn, actor, slug)?;
        db::lock_organization(conn, &org.id)?;
        let org = orgs::find_any(conn, &org.id)?;
        let who = identify(conn, actor)?;
        let role = match &actor.principal {
            Principal::CommandLine => Role::Owner,
            Principal::User(user_id) if org.deleted_at.is_some() => role_while_deleted(conn, &org, user_id)?,
            Principal::User(_) => super::role_in(conn, actor, &org)?,
            Principal::ServiceAccount(_) => return Err(orgs::not_found(slug)),
        };
        policy::authorize(role, Action::ManageOrganization)?;
        if org.deleted_at.is_none() {
            return Err(Error::Invalid(format!("{} is not deleted.", org.name)));
        }
        if org.purge_after.is_some_and(|until| until <= now()) {
            return Err(Error::Gone(format!(
                "{} can no longer be restored: its restore window ended on {}.",
                org.name,
                day_and_time(org.purge_after.unwrap_or_default())
            )));
        }
        diesel::update(organizations::table.find(&org.id))
            .set((
                organizations::deleted_at.eq(None::<NaiveDateTime>),
                organizations::deleted_by.eq(None::<String>),
                organizations::purge_after.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&who).into(),
                action: AuditAction::OrganizationRestored,
                target: org_target(&org),
                before: None,
                after: None,
            },
        )?;
        let owners = owners(conn, &org.id)?;
        notify(
            conn,
            &owners,
            &format!("{} restored {} on Rollcall", who.display_name, org.name),
            &[format!(
                "{} restored the organization {}. Its members, API tokens and service account keys work again; invitations withdrawn when it was deleted stay withdrawn.",
                who.display_name, org.name
            )],
            Some((
                "Open the organization",
                format!("{}/orgs/{}/members", settings.public_url, org.slug),
            )),
        )?;
        Ok(Organization {
            deleted_at: None,
            deleted_by: None,
            purge_after: None,
            ..org
        })
    })
}

/// A member's role in a deleted organization (which every other path refuses).
fn role_while_deleted(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Role, Error> {
    let role: Option<String> = memberships::table
        .find((&org.id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?;
    match role {
        Some(role) => parse_stored_role(&role),
        None => Err(Error::NotMember {
            org: org.name.clone(),
        }),
    }
}

/// A deleted organization an owner can still restore, for their profile.
#[derive(Debug, Clone)]
pub struct Restorable {
    pub organization: Organization,
    pub restorable_until: NaiveDateTime,
}

/// The deleted organizations `user_id` owns and can still restore.
pub fn restorable_by(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Restorable>, Error> {
    let orgs: Vec<Organization> = organizations::table
        .inner_join(memberships::table)
        .filter(memberships::user_id.eq(user_id))
        .filter(memberships::role.eq(Role::Owner.as_str()))
        .filter(organizations::purge_after.gt(now()))
        .order(organizations::name)
        .select(Organization::as_select())
        .load(conn)?;
    Ok(orgs
        .into_iter()
        .filter_map(|organization| {
            let restorable_until = organization.purge_after?;
            Some(Restorable {
                organization,
                restorable_until,
            })
        })
        .collect())
}

/// The most organizations one round of the worker purges.
const PURGE_BATCH: i64 = 20;

/// Purges deleted organizations whose restore window has closed: every row
/// of theirs, their audit events included, each in its own transaction, with
/// an event of the instance naming what went. Returns how many.
pub fn purge_due(conn: &mut DbConnection) -> Result<usize, Error> {
    let due: Vec<String> = organizations::table
        .filter(organizations::purge_after.le(now()))
        .order(organizations::purge_after)
        .select(organizations::id)
        .limit(PURGE_BATCH)
        .load(conn)?;
    let mut purged = 0;
    for org_id in due {
        let done = db::write(conn, |conn| {
            db::lock_organization(conn, &org_id)?;
            let Ok(org) = orgs::find_any(conn, &org_id) else {
                return Ok(false);
            };
            // Restored, or purged by another server, since it was listed.
            if org.purge_after.is_none_or(|until| until > now()) {
                return Ok(false);
            }
            audit::purge_organization(conn, &org.id)?;
            diesel::delete(organizations::table.find(&org.id)).execute(conn)?;
            let worker = Identified::background_worker();
            audit::record(
                conn,
                AuditEvent {
                    org_id: None,
                    actor: (&worker).into(),
                    action: AuditAction::OrganizationPurged,
                    target: org_target(&org),
                    before: Some(json!({
                        "name": org.name,
                        "slug": org.slug,
                        "deleted_at": org.deleted_at.map(day_and_time),
                        "deleted_by": org.deleted_by,
                    })),
                    after: None,
                },
            )?;
            Ok(true)
        })?;
        purged += usize::from(done);
    }
    Ok(purged)
}

/// The email domains the organization accepts, sorted; empty: any.
pub fn allowed_domains(conn: &mut DbConnection, org_id: &str) -> Result<Vec<EmailDomain>, Error> {
    let stored: Vec<String> = allowed_email_domains::table
        .filter(allowed_email_domains::org_id.eq(org_id))
        .order(allowed_email_domains::domain)
        .select(allowed_email_domains::domain)
        .load(conn)?;
    Ok(stored
        .iter()
        .filter_map(|domain| EmailDomain::parse(domain).ok())
        .collect())
}

/// Replaces the list of email domains invitations may go to (empty: any).
/// Pending invitations to other domains stay, and are refused when accepted.
pub fn set_allowed_domains(
    conn: &mut DbConnection,
    actor: &Actor,
    org: &Organization,
    domains: &[EmailDomain],
) -> Result<Vec<EmailDomain>, Error> {
    if domains.len() > MAX_ALLOWED_DOMAINS {
        return Err(Error::Invalid(format!(
            "That is {} domains; list at most {MAX_ALLOWED_DOMAINS}.",
            domains.len()
        )));
    }
    db::write(conn, |conn| {
        let (org, acting) = fresh(conn, actor, org)?;
        policy::authorize(acting.role, Action::ChangeAllowedDomains)?;
        let before = allowed_domains(conn, &org.id)?;
        if before == domains {
            return Ok(before);
        }
        diesel::delete(allowed_email_domains::table.filter(allowed_email_domains::org_id.eq(&org.id)))
            .execute(conn)?;
        for domain in domains {
            diesel::insert_into(allowed_email_domains::table)
                .values((
                    allowed_email_domains::org_id.eq(&org.id),
                    allowed_email_domains::domain.eq(domain.as_str()),
                ))
                .execute(conn)?;
        }
        let names = |list: &[EmailDomain]| list.iter().map(|d| d.as_str().to_owned()).collect::<Vec<_>>();
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::DomainsChanged,
                target: org_target(&org),
                before: Some(json!({ "domains": names(&before) })),
                after: Some(json!({ "domains": names(domains) })),
            },
        )?;
        Ok(domains.to_vec())
    })
}

/// What the Settings tab shows: the allowed domains and the waiting transfer.
#[derive(Debug, Clone)]
pub struct Overview {
    pub domains: Vec<EmailDomain>,
    pub transfer: Option<PendingTransfer>,
}

/// The organization's settings as a member sees them (every member may).
pub fn overview(conn: &mut DbConnection, viewer: &super::Viewer) -> Result<Overview, Error> {
    policy::authorize(viewer.role, Action::ViewSettings)?;
    let transfer = match pending_transfer(conn, &viewer.org.id)? {
        // Void once its owner is no longer one or its member has left; a
        // new request replaces it.
        Some(transfer)
            if members::role(conn, &viewer.org, &transfer.from.user_id)? == Some(Role::Owner)
                && members::role(conn, &viewer.org, &transfer.to.user_id)?.is_some() =>
        {
            Some(transfer)
        }
        _ => None,
    };
    Ok(Overview {
        domains: allowed_domains(conn, &viewer.org.id)?,
        transfer,
    })
}

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
        if target.role == Role::Owner {
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
        let link = Some(("Review the transfer", settings_url(settings, &org.slug)));
        notify(
            conn,
            std::slice::from_ref(&to),
            &format!(
                "{} asks you to become an owner of {} on Rollcall",
                from.name, org.name
            ),
            &[format!(
                "{} asks you to take over ownership of {}. Nothing changes until you confirm on its Settings page; you can also decline there.",
                from.name, org.name
            )],
            link.clone(),
        )?;
        let then = match afterwards {
            Afterwards::Stay(role) => format!("you stay as {} {}", article(role), role.label()),
            Afterwards::Leave => "you leave the organization".to_owned(),
        };
        notify(
            conn,
            std::slice::from_ref(&from),
            &format!(
                "You asked {} to become an owner of {} on Rollcall",
                to.name, org.name
            ),
            &[format!(
                "{} becomes an owner of {} once they confirm; then {then}. You can cancel the transfer on the Settings page until then.",
                to.name, org.name
            )],
            link,
        )?;
        Ok(PendingTransfer {
            from,
            to,
            then_role,
            requested_at: at,
        })
    })
}

fn article(role: Role) -> &'static str {
    match role {
        Role::Owner | Role::Admin => "an",
        Role::Developer | Role::Contributor | Role::Viewer => "a",
    }
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
            Ok(former) if former.role == Role::Owner => former,
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
                before: Some(json!({ "role": Role::Owner.as_str() })),
                after: Some(after),
            },
        )?;
        let then = match transfer.then_role {
            Some(role) => format!("{} stays as {} {}.", former.name, article(role), role.label()),
            None => format!("{} left the organization.", former.name),
        };
        notify(
            conn,
            &[transfer.from.clone(), transfer.to.clone()],
            &format!("{} is now an owner of {} on Rollcall", transfer.to.name, org.name),
            &[format!(
                "{} confirmed the transfer and is now an owner of {}. {then}",
                transfer.to.name, org.name
            )],
            Some((
                "Open the organization",
                format!("{}/orgs/{}/members", settings.public_url, org.slug),
            )),
        )?;
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
        if target.role == Role::Owner {
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
                after: Some(json!({ "role": Role::Owner.as_str() })),
            },
        )?;
        let mut told = owners_before;
        told.push(Person {
            user_id: target.user_id.clone(),
            name: target.name.clone(),
            email: target.email.clone(),
        });
        notify(
            conn,
            &told,
            &format!("{} is now an owner of {} on Rollcall", target.name, org.name),
            &[format!(
                "{} made {} an owner of {}.",
                acting.who.display_name, target.name, org.name
            )],
            Some((
                "Open the organization",
                format!("{}/orgs/{}/members", settings.public_url, org.slug),
            )),
        )?;
        Ok(members::Member {
            role: Role::Owner,
            ..target
        })
    })
}
