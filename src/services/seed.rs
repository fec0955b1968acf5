//! Synthetic members for benchmarks and demonstrations (`rollcall dev seed`).
//!
//! Adding 100,000 members one [`super::members::add`] at a time would take
//! minutes, so this writes users and memberships in multi-row inserts inside
//! one transaction. It adds only non-owners, so no organization rule can be
//! broken by it; it writes no audit events, because nobody was invited. A
//! synthetic history for the audit log is [`audit_events`].

use chrono::Duration;
use diesel::prelude::*;

use super::users::name_key;
use crate::db::schema::{api_tokens, memberships, users};
use crate::db::{self, DbConnection};
use crate::domain::{AccessLevel, ApiSecret, Role, SecretKind};
use crate::error::Error;
use crate::services::shared::{INSERT_CHUNK, Organization, new_id, now};

const FIRST_NAMES: [&str; 32] = [
    "Ada",
    "Alan",
    "Barbara",
    "Claude",
    "Dennis",
    "Donald",
    "Edsger",
    "Frances",
    "Grace",
    "Guido",
    "Hedy",
    "Ivan",
    "Jean",
    "John",
    "Ken",
    "Leslie",
    "Linus",
    "Margaret",
    "Niklaus",
    "Radia",
    "Rosalind",
    "Sophie",
    "Tim",
    "Vint",
    "Whitfield",
    "Yukihiro",
    "Zhang",
    "Karen",
    "Lynn",
    "Mary",
    "Katherine",
    "Shafi",
];

const LAST_NAMES: [&str; 32] = [
    "Lovelace",
    "Turing",
    "Liskov",
    "Shannon",
    "Ritchie",
    "Knuth",
    "Dijkstra",
    "Allen",
    "Hopper",
    "Rossum",
    "Lamarr",
    "Sutherland",
    "Sammet",
    "McCarthy",
    "Thompson",
    "Lamport",
    "Torvalds",
    "Hamilton",
    "Wirth",
    "Perlman",
    "Franklin",
    "Wilson",
    "Berners-Lee",
    "Cerf",
    "Diffie",
    "Matsumoto",
    "Wei",
    "Jones",
    "Conway",
    "Keller",
    "Johnson",
    "Goldwasser",
];

/// The role of the `n`th synthetic member: a few in the highest role below
/// Owner, the rest spread over the next three (in the built-in policy: 1%
/// admins, 30% developers, 25% contributors, 44% viewers), as in a large
/// organization.
fn role_of(n: u64, below_owner: &[Role]) -> Role {
    let place = match n % 100 {
        0 => 0,
        1..=30 => 1,
        31..=55 => 2,
        _ => 3,
    };
    below_owner
        .get(place)
        .or(below_owner.last())
        .copied()
        .unwrap_or(Role::OWNER)
}

/// The name and address of the `n`th synthetic member.
fn person(n: u64) -> (String, String) {
    let first = FIRST_NAMES[(n % 32) as usize];
    let last = LAST_NAMES[((n / 32) % 32) as usize];
    let name = format!("{first} {last}");
    let email = format!("{}.{}.{n}@example.com", first.to_lowercase(), last.to_lowercase());
    (name, email)
}

/// Adds `count` synthetic members to the organization; returns how many it has now.
pub fn members(conn: &mut DbConnection, org: &Organization, count: u64) -> Result<i64, Error> {
    db::write(conn, |conn| {
        db::lock_organization(conn, &org.id)?;
        let existing: i64 = memberships::table
            .filter(memberships::org_id.eq(&org.id))
            .count()
            .get_result(conn)?;
        let first = u64::try_from(existing).unwrap_or_default();
        let at = now();
        let mut start = first;
        while start < first + count {
            let end = (start + INSERT_CHUNK as u64).min(first + count);
            let people: Vec<(String, String, String)> = (start..end)
                .map(|n| {
                    let (name, email) = person(n);
                    (new_id(), name, email)
                })
                .collect();
            let user_rows: Vec<_> = people
                .iter()
                .map(|(id, name, email)| {
                    (
                        users::id.eq(id),
                        users::name.eq(name),
                        users::email.eq(email),
                        users::created_at.eq(at),
                    )
                })
                .collect();
            db::insert_all!(conn, users::table, &user_rows)?;
            let below_owner: Vec<Role> = Role::all().into_iter().skip(1).collect();
            let membership_rows: Vec<_> = people
                .iter()
                .zip(start..end)
                .map(|((id, name, email), n)| {
                    (
                        memberships::org_id.eq(&org.id),
                        memberships::user_id.eq(id),
                        memberships::role.eq(role_of(n, &below_owner).as_str()),
                        memberships::joined_at.eq(at - Duration::seconds(n as i64)),
                        memberships::name.eq(name),
                        memberships::name_key.eq(name_key(name)),
                        memberships::email.eq(email),
                    )
                })
                .collect();
            db::insert_all!(conn, memberships::table, &membership_rows)?;
            start = end;
        }
        Ok(existing + count as i64)
    })
}

/// Adds `count` synthetic inference tokens held by the organization's
/// members in turn (a benchmark of the token check needs many); returns their
/// secrets, which exist nowhere else.
pub fn tokens(conn: &mut DbConnection, org: &Organization, count: u64) -> Result<Vec<ApiSecret>, Error> {
    db::write(conn, |conn| {
        let holders: Vec<String> = memberships::table
            .filter(memberships::org_id.eq(&org.id))
            .order(memberships::user_id)
            .limit(i64::try_from(count).unwrap_or(i64::MAX).max(1))
            .select(memberships::user_id)
            .load(conn)?;
        if holders.is_empty() {
            return Err(Error::Invalid(
                "Seed members first: tokens need holders.".to_owned(),
            ));
        }
        let at = now();
        let expires_at = at + Duration::days(366);
        let mut secrets = Vec::with_capacity(count as usize);
        let mut start = 0;
        while start < count {
            let end = (start + INSERT_CHUNK as u64).min(count);
            let made: Vec<(String, ApiSecret, &String)> = (start..end)
                .map(|n| {
                    (
                        new_id(),
                        ApiSecret::generate(SecretKind::Personal),
                        &holders[(n % holders.len() as u64) as usize],
                    )
                })
                .collect();
            let rows: Vec<_> = made
                .iter()
                .map(|(id, secret, holder)| {
                    (
                        api_tokens::id.eq(id),
                        api_tokens::org_id.eq(&org.id),
                        api_tokens::kind.eq(SecretKind::Personal.as_str()),
                        api_tokens::user_id.eq(Some(holder.as_str())),
                        api_tokens::name.eq("Synthetic token"),
                        api_tokens::access.eq(AccessLevel::Inference.as_str()),
                        api_tokens::token_hash.eq(secret.hash().as_str().to_owned()),
                        api_tokens::last_four.eq(secret.last_four()),
                        api_tokens::created_at.eq(at),
                        api_tokens::expires_at.eq(expires_at),
                    )
                })
                .collect();
            db::insert_all!(conn, api_tokens::table, &rows)?;
            secrets.extend(made.into_iter().map(|(_, secret, _)| secret));
            start = end;
        }
        Ok(secrets)
    })
}

/// Adds `count` synthetic audit events to the organization, spread over the
/// last year, newest last: role changes, invitations and tokens by a few
/// dozen admins about the synthetic members, each kind as often as in a busy
/// organization. Written in batches of their own transactions.
pub fn audit_events(conn: &mut DbConnection, org: &Organization, count: u64) -> Result<(), Error> {
    use super::audit::{ActorKind, AuditAction, AuditActor, AuditEvent, AuditTarget, TargetKind};
    let year = Duration::days(365).num_microseconds().unwrap_or(i64::MAX);
    let step = year / i64::try_from(count.max(1)).unwrap_or(i64::MAX);
    let start = now() - Duration::days(365);
    let admins: Vec<(String, String)> = (0..40).map(|n| person(n * 100)).collect();
    let roles: Vec<Role> = Role::all().into_iter().skip(1).rev().collect();
    let mut written = 0;
    while written < count {
        let batch = (count - written).min(10_000);
        // The actor's and the target's name and address, and the event's number.
        type Event = ((String, String), (String, String), u64);
        let people: Vec<Event> = (written..written + batch)
            .map(|n| {
                (
                    admins[(n % 40) as usize].clone(),
                    person(n.wrapping_mul(7919) % 100_000),
                    n,
                )
            })
            .collect();
        let states: Vec<(serde_json::Value, serde_json::Value)> = people
            .iter()
            .map(|(_, _, n)| {
                let role_at = |k: u64| {
                    roles
                        .get((k % roles.len().max(1) as u64) as usize)
                        .map_or("", |role| role.as_str())
                };
                let (from, to) = (role_at(*n), role_at(n + 1));
                let after = if n % 10 == 9 {
                    serde_json::json!({ "access": "inference" })
                } else {
                    serde_json::json!({ "role": to })
                };
                (serde_json::json!({ "role": from }), after)
            })
            .collect();
        db::write(conn, |conn| {
            super::audit::record_at(
                conn,
                people.iter().zip(&states).map(
                    |(((actor_name, actor_email), (name, email), n), (before, after))| {
                        let (action, kind) = match n % 10 {
                            0..=5 => (AuditAction::RoleChanged, TargetKind::Member),
                            6..=8 => (AuditAction::InvitationCreated, TargetKind::Invitation),
                            _ => (AuditAction::TokenCreated, TargetKind::Token),
                        };
                        let at = start + Duration::microseconds(step.saturating_mul(*n as i64));
                        (
                            AuditEvent {
                                org_id: Some(&org.id),
                                actor: AuditActor {
                                    kind: ActorKind::User,
                                    id: None,
                                    name: actor_name,
                                    email: Some(actor_email),
                                    key: actor_email,
                                    credential: "console session",
                                    client_ip: Some(std::net::IpAddr::from([203, 0, 113, (n % 250) as u8])),
                                },
                                action,
                                target: AuditTarget::person(kind, None, name, email),
                                before: (action == AuditAction::RoleChanged).then(|| before.clone()),
                                after: Some(after.clone()),
                            },
                            at,
                        )
                    },
                ),
            )
        })?;
        written += batch;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    #[test]
    fn synthetic_people_have_valid_distinct_addresses() {
        let addresses: std::collections::HashSet<String> = (0..5_000).map(|n| person(n).1).collect();
        assert_eq!(addresses.len(), 5_000);
        assert!(addresses.iter().all(|email| EmailAddress::parse(email).is_ok()));
    }

    #[test]
    fn seeds_no_owners() {
        let below_owner: Vec<Role> = Role::all().into_iter().skip(1).collect();
        assert!((0..1_000).all(|n| role_of(n, &below_owner) != Role::OWNER));
    }
}
