//! Joining an organization and changing roles, under the last-owner rule.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Text;
use serde_json::json;

use super::at_hand::{AtHand, InOrg, at_hand};
use super::find::MemberRef;
use super::last_owner::ensure_another_owner;
use super::query::Member;
use super::remove::{delete, void_transfers};
use crate::db::schema::memberships;
use crate::db::{self, DbConnection};
use crate::domain::policy::{self, Action};
use crate::domain::{MembershipEnd, Role};
use crate::error::Error;
use crate::services::audit::{self, AuditAction, AuditEvent, AuditTarget, TargetKind};
use crate::services::shared::{Actor, Organization, Person, now};
use crate::services::users;

/// Adds a person to an organization. The one way in: invitations and
/// organization creation both come through here. Runs in the caller's
/// transaction, after [`db::lock_organization`] (an organization created in
/// it is the caller's alone until it commits), whose own event (the
/// invitation accepted, the organization created) records it.
pub(crate) fn add(
    conn: &mut DbConnection,
    org: &Organization,
    user: &Person,
    role: Role,
    invited_by: Option<&str>,
    ends: Option<MembershipEnd>,
) -> Result<Member, Error> {
    let joined_at = now();
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(&org.id),
            memberships::user_id.eq(&user.user_id),
            memberships::role.eq(role.as_str()),
            memberships::joined_at.eq(joined_at),
            memberships::invited_by.eq(invited_by),
            memberships::name.eq(&user.name),
            memberships::name_key.eq(users::name_key(&user.name)),
            memberships::email.eq(&user.email),
            memberships::avatar_url.eq(&user.avatar_url),
            memberships::expires_at.eq(ends.map(MembershipEnd::at)),
        ))
        .execute(conn)
        .map_err(|error| {
            if db::is_unique_violation(&error) {
                Error::Conflict(format!("{} is already a member of {}.", user.email, org.name))
            } else {
                error.into()
            }
        })?;
    Ok(Member {
        user_id: user.user_id.clone(),
        name: user.name.clone(),
        email: user.email.clone(),
        avatar_url: user.avatar_url.clone(),
        role,
        joined_at,
        ends,
    })
}

/// Changes a member's role, as the policy allows and the last-owner rule permits.
pub fn change_role<'a>(
    conn: &mut DbConnection,
    actor: &Actor,
    org: impl Into<InOrg<'a>>,
    member: &MemberRef,
    to: Role,
) -> Result<Member, Error> {
    update(
        conn,
        actor,
        org,
        member,
        &MemberChange {
            role: Some(to),
            ends: None,
        },
    )
}

/// What the change-role dialog (or `rollcall user update`) asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberChange {
    pub role: Option<Role>,
    /// A new end of the membership (`Some(None)` clears it); None leaves it.
    pub ends: Option<Option<MembershipEnd>>,
}

/// Changes a member's role and when their membership ends, in one
/// transaction, as the policy allows and the last-owner rule permits; each
/// change is its own audit event.
pub fn update<'a>(
    conn: &mut DbConnection,
    actor: &Actor,
    org: impl Into<InOrg<'a>>,
    member: &MemberRef,
    change: &MemberChange,
) -> Result<Member, Error> {
    // Only a change that makes or unmakes an owner can break the last-owner
    // rule, so only such a change queues behind the organization's others.
    // Any other writes the member's row only if the role is still the one it
    // read (a member made an owner meanwhile is never demoted unchecked);
    // when it is not, or the database undid it, it is done again, under the
    // lock, from what is there now.
    updated(conn, actor, org, member, change).map(|updated| updated.member)
}

/// A member as changed, the organization as the change read it, and the
/// role of whoever changed them (what the row they see offers depends on it).
#[derive(Debug, Clone)]
pub struct Updated {
    pub member: Member,
    pub org: Organization,
    pub actor_role: Role,
}

/// [`update`], answering with the organization and the actor's role too.
pub fn updated<'a>(
    conn: &mut DbConnection,
    actor: &Actor,
    org: impl Into<InOrg<'a>>,
    member: &MemberRef,
    change: &MemberChange,
) -> Result<Updated, Error> {
    let org = org.into();
    match db::write(conn, |conn| update_in(conn, actor, org, member, change, false)) {
        Err(Error::Conflict(_)) => db::write(conn, |conn| update_in(conn, actor, org, member, change, true)),
        done => done,
    }
}

/// [`update`] in the caller's transaction; `locked` takes the
/// organization's lock whatever the change. The organization, the actor's
/// role and the member are read once, under the lock when the change needs
/// it: a change that makes an owner takes it first; one that finds it
/// unmakes one takes it then and reads again.
fn update_in(
    conn: &mut DbConnection,
    actor: &Actor,
    org: InOrg<'_>,
    member: &MemberRef,
    change: &MemberChange,
    locked: bool,
) -> Result<Updated, Error> {
    let locked = locked || change.role == Some(Role::OWNER);
    if locked {
        match org {
            InOrg::Named(slug) => db::lock_organization_named(conn, slug.as_str())?,
            InOrg::Read(org) => db::lock_organization(conn, &org.id)?,
        }
    }
    let mut seen = at_hand(conn, actor, org, member)?;
    if !locked && seen.target.role == Role::OWNER {
        let org = seen.org.clone();
        db::lock_organization(conn, &org.id)?;
        seen = at_hand(conn, actor, InOrg::Read(&org), member)?;
    }
    let AtHand { org, acting, target } = seen;
    let org = &org;
    let own = acting.who.user_id.as_deref() == Some(target.user_id.as_str());
    let to = change.role.unwrap_or(target.role);
    if change.role.is_some() {
        policy::authorize(
            acting.role,
            Action::ChangeRole {
                from: target.role,
                to,
                own,
            },
        )?;
    }
    let new_end = change.ends.filter(|ends| *ends != target.ends);
    if new_end.is_some() {
        // Whoever may touch the member's role before or after the change.
        for role in [target.role, to] {
            policy::authorize(acting.role, Action::SetMembershipEnd { role, own })?;
        }
    }
    if target.role == Role::OWNER && to != Role::OWNER {
        ensure_another_owner(conn, org, &target.user_id)?;
    }
    let person = AuditTarget::person(
        TargetKind::Member,
        Some(&target.user_id),
        &target.name,
        &target.email,
    );
    let day = |ends: Option<MembershipEnd>| ends.map(|end| end.last_day().to_string());
    // The events first and the membership's row last: the rows every
    // change of the organization writes (its counts and list version,
    // by trigger) are held from that update until the commit.
    if let Some(ends) = new_end {
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::MembershipEndChanged,
                target: person,
                before: Some(json!({ "ends_after": day(target.ends) })),
                after: Some(json!({ "ends_after": day(ends) })),
            },
        )?;
    }
    if target.role != to {
        audit::record(
            conn,
            AuditEvent {
                org_id: Some(&org.id),
                actor: (&acting.who).into(),
                action: AuditAction::RoleChanged,
                target: person,
                before: Some(json!({ "role": target.role.as_str() })),
                after: Some(json!({ "role": to.as_str() })),
            },
        )?;
    }
    let still = memberships::table
        .find((&org.id, &target.user_id))
        .filter(memberships::role.eq(target.role.as_str()));
    let written = match (new_end, target.role != to) {
        (None, false) => 1,
        (Some(ends), false) => diesel::update(still)
            .set((
                memberships::expires_at.eq(ends.map(MembershipEnd::at)),
                memberships::expiry_reminded_at.eq(None::<NaiveDateTime>),
                memberships::expiry_held_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
        (None, true) => RoleUpdate {
            org_id: &org.id,
            user_id: &target.user_id,
            from: target.role.as_str(),
            to: to.as_str(),
        }
        .execute(conn)?,
        (Some(ends), true) => diesel::update(still)
            .set((
                memberships::role.eq(to.as_str()),
                memberships::expires_at.eq(ends.map(MembershipEnd::at)),
                memberships::expiry_reminded_at.eq(None::<NaiveDateTime>),
                memberships::expiry_held_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?,
    };
    if (target.role == Role::OWNER) != (to == Role::OWNER) {
        void_transfers(conn, org, &target.user_id)?;
    }
    if written == 0 {
        return Err(Error::Conflict(format!(
            "{}’s role changed a moment ago, so nothing was changed; reload to see it and try again.",
            target.name
        )));
    }
    Ok(Updated {
        member: Member {
            role: to,
            ends: new_end.unwrap_or(target.ends),
            ..target
        },
        org: org.clone(),
        actor_role: acting.role,
    })
}

/// `UPDATE memberships SET role = to WHERE … AND role = from`, written out:
/// diesel prepares no UPDATE a second time (the columns a changeset names can
/// vary), and preparing this one compiled its triggers again on every change
/// (BENCHMARKS.md). One text, so each connection prepares it once.
#[derive(Debug, Clone, Copy)]
struct RoleUpdate<'a> {
    org_id: &'a str,
    user_id: &'a str,
    from: &'a str,
    to: &'a str,
}

impl QueryFragment<db::MultiBackend> for RoleUpdate<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, db::MultiBackend>) -> QueryResult<()> {
        out.push_sql("UPDATE memberships SET role = ");
        out.push_bind_param::<Text, str>(self.to)?;
        out.push_sql(" WHERE org_id = ");
        out.push_bind_param::<Text, str>(self.org_id)?;
        out.push_sql(" AND user_id = ");
        out.push_bind_param::<Text, str>(self.user_id)?;
        out.push_sql(" AND role = ");
        out.push_bind_param::<Text, str>(self.from)?;
        Ok(())
    }
}

impl QueryId for RoleUpdate<'_> {
    type QueryId = RoleUpdate<'static>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for RoleUpdate<'_> {}

/// Makes a member an owner, in the caller's transaction (a transfer of
/// ownership; its caller records the event). An owner's membership does not
/// end by itself: its end date goes.
pub(crate) fn promote_to_owner(
    conn: &mut DbConnection,
    org: &Organization,
    user_id: &str,
) -> Result<(), Error> {
    let changed = diesel::update(memberships::table.find((&org.id, user_id)))
        .set((
            memberships::role.eq(Role::OWNER.as_str()),
            memberships::expires_at.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    if changed == 1 {
        Ok(())
    } else {
        Err(Error::NotFound("The member was not found.".into()))
    }
}

/// Completes a transfer of ownership in the caller's transaction, after
/// [`db::lock_organization`]: `new_owner` becomes an owner, then `former`
/// takes `then_role` or (None) leaves, with their tokens. Returns how many
/// tokens were revoked.
pub(crate) fn hand_over(
    conn: &mut DbConnection,
    org: &Organization,
    new_owner: &str,
    former: &Member,
    then_role: Option<Role>,
) -> Result<usize, Error> {
    promote_to_owner(conn, org, new_owner)?;
    match then_role {
        Some(Role::OWNER) => Ok(0),
        Some(role) => {
            ensure_another_owner(conn, org, &former.user_id)?;
            diesel::update(memberships::table.find((&org.id, &former.user_id)))
                .set(memberships::role.eq(role.as_str()))
                .execute(conn)?;
            Ok(0)
        }
        None => {
            ensure_another_owner(conn, org, &former.user_id)?;
            delete(conn, org, former)?;
            crate::services::tokens::revoke_all_of_member(conn, org, &former.user_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use diesel::connection::{Connection, InstrumentationEvent};

    use super::*;
    use crate::db::schema::audit_events;
    use crate::domain::{EmailAddress, OrganizationName};
    use crate::services::members::all;
    use crate::services::shared::Settings;
    use crate::services::{organizations, seed};

    /// How many statements the connection prepared to keep, by their start.
    fn count_kept(conn: &mut DbConnection, starts: [&'static str; 2]) -> Arc<[AtomicUsize; 2]> {
        let kept = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
        let counters = kept.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                for (start, counter) in starts.iter().zip(counters.iter()) {
                    if sql.starts_with(start) {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
        kept
    }

    #[test]
    fn role_changes_and_their_events_are_prepared_once_and_each_takes_its_own_values() {
        let conn = &mut db::in_memory();
        let kept = count_kept(conn, ["UPDATE memberships SET role", "INSERT INTO audit_events"]);
        let actor = Actor::command_line();
        let settings = Settings {
            public_url: "http://127.0.0.1".to_owned(),
            invite_ttl: Duration::from_secs(3600),
            org_restore_days: 7,
        };
        let name = OrganizationName::parse("Acme").expect("a name");
        let owner = EmailAddress::parse("owner@example.com").expect("an address");
        let org = organizations::create_with_owner_invitation(conn, &settings, &actor, &name, &owner)
            .expect("an organization")
            .organization;
        seed::members(conn, &org, 3).expect("members");
        let people = all(conn, &actor, &org).expect("the members");
        let rounds = [Role::ADMIN, Role::DEVELOPER, Role::VIEWER];
        for (round, to) in rounds.into_iter().enumerate() {
            for person in &people {
                let changed = change_role(conn, &actor, &org, &MemberRef::Id(person.user_id.clone()), to)
                    .expect("a role change");
                assert_eq!(changed.role, to, "round {round}");
            }
        }
        let now: Vec<Role> = all(conn, &actor, &org)
            .expect("the members")
            .iter()
            .map(|member| member.role)
            .collect();
        assert_eq!(now, vec![Role::VIEWER; people.len()]);
        let recorded: Vec<(Option<String>, Option<String>)> = audit_events::table
            .filter(audit_events::action.eq(AuditAction::RoleChanged.as_str()))
            .select((audit_events::target_id, audit_events::after_state))
            .load(conn)
            .expect("the events");
        // One event a change, with its own member and role; none for a
        // member who already had the role.
        for person in &people {
            let afters: Vec<&str> = recorded
                .iter()
                .filter(|(target, _)| target.as_deref() == Some(person.user_id.as_str()))
                .filter_map(|(_, after)| after.as_deref())
                .collect();
            let mut was = person.role;
            let changes: Vec<String> = rounds
                .iter()
                .filter(|to| std::mem::replace(&mut was, **to) != **to)
                .map(|to| format!(r#"{{"role":"{}"}}"#, to.as_str()))
                .collect();
            assert_eq!(afters, changes, "{}", person.name);
        }
        assert_eq!(
            kept[0].load(Ordering::Relaxed),
            1,
            "the role update, prepared once"
        );
        assert_eq!(
            kept[1].load(Ordering::Relaxed),
            1,
            "the audit event, prepared once"
        );
    }

    #[test]
    fn a_change_by_a_person_read_with_their_session_reads_once() {
        let conn = &mut db::in_memory();
        let email = EmailAddress::parse("ada@example.com").expect("an address");
        let sign_in = users::SignIn::new(users::Provider::Dev, email.as_str(), None, None, [email.clone()])
            .expect("a sign-in");
        let ada = users::sign_in(conn, &sign_in).expect("a user");
        let name = OrganizationName::parse("Acme").expect("a name");
        let org = organizations::create_owned_by(conn, &Actor::user(&ada.id, None), &name)
            .expect("an organization");
        seed::members(conn, &org, 2).expect("members");
        let member = all(conn, &Actor::command_line(), &org)
            .expect("the members")
            .into_iter()
            .find(|member| member.role != Role::OWNER)
            .expect("a member who is not an owner");
        let slug = crate::domain::Slug::parse(&org.slug).expect("a slug");
        // As the console asks, having read Ada with her session.
        let actor = Actor::user(&ada.id, None).read_as((&ada).into());
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::StartQuery { query, .. } = event
                && query.to_string().starts_with("SELECT")
            {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let to = if member.role == Role::VIEWER {
            Role::DEVELOPER
        } else {
            Role::VIEWER
        };
        let updated = updated(
            conn,
            &actor,
            &slug,
            &MemberRef::Id(member.user_id.clone()),
            &MemberChange {
                role: Some(to),
                ends: None,
            },
        )
        .expect("a role change");
        assert_eq!((updated.member.role, updated.actor_role), (to, Role::OWNER));
        assert_eq!(updated.org.id, org.id);
        assert_eq!(
            reads.load(Ordering::Relaxed),
            1,
            "the organization, Ada's role and the member, in one statement"
        );
    }
}
