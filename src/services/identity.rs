//! Who the actor is, by name and address, read in the current transaction:
//! what the audit log records of them.

use std::net::IpAddr;

use diesel::prelude::*;

use crate::db::schema;
use crate::db::schema::users as users_table;

use crate::db::DbConnection;

use crate::error::Error;
use crate::services::shared::{Actor, COMMAND_LINE, Person, Principal};

/// The actor with their name and address, read in the current transaction
/// (or, for a person, with their session earlier in the same request).
#[derive(Debug, Clone)]
pub(crate) struct Identified {
    pub user_id: Option<String>,
    pub kind: crate::domain::audit::ActorKind,
    /// The user's or service account's id, for the audit log.
    pub actor_id: Option<String>,
    /// The name as it is now ("Ada Lovelace", "deployer", "command line").
    pub name: String,
    /// How the actor is named in emails and invitations ("Ada Lovelace").
    pub display_name: String,
    /// What the audit log's actor filter matches: the address, else the name, lower-cased.
    pub audit_label: String,
    pub email: Option<crate::domain::EmailAddress>,
    pub credential: String,
    pub client_ip: Option<IpAddr>,
}

impl Identified {
    /// Rollcall itself, acting on its own schedule (a membership that
    /// ended, a deleted organization purged).
    pub(crate) fn background_worker() -> Self {
        Self {
            user_id: None,
            kind: crate::domain::audit::ActorKind::System,
            actor_id: None,
            name: "Rollcall".to_owned(),
            display_name: "Rollcall".to_owned(),
            audit_label: "rollcall".to_owned(),
            email: None,
            credential: "background worker".to_owned(),
            client_ip: None,
        }
    }
}

/// Looks the actor up, unless the request has read them already. A user id
/// that no longer exists is refused.
pub(crate) fn identify(conn: &mut DbConnection, actor: &Actor) -> Result<Identified, Error> {
    match &actor.principal {
        Principal::CommandLine => Ok(Identified {
            user_id: None,
            kind: crate::domain::audit::ActorKind::CommandLine,
            actor_id: None,
            name: COMMAND_LINE.to_owned(),
            // Whoever runs the server: the organization may have no admin yet.
            display_name: "The Rollcall administrator".to_owned(),
            audit_label: COMMAND_LINE.to_owned(),
            email: None,
            credential: actor.credential.label(),
            client_ip: actor.client_ip,
        }),
        Principal::ServiceAccount(account_id) => {
            let name: String = schema::service_accounts::table
                .find(account_id)
                .select(schema::service_accounts::name)
                .first(conn)
                .optional()?
                .ok_or(Error::NotFound("The service account was not found.".into()))?;
            Ok(Identified {
                user_id: None,
                kind: crate::domain::audit::ActorKind::ServiceAccount,
                actor_id: Some(account_id.clone()),
                display_name: format!("{name} (service account)"),
                audit_label: name.to_lowercase(),
                name,
                email: None,
                credential: actor.credential.label(),
                client_ip: actor.client_ip,
            })
        }
        Principal::User(user_id) => {
            if let Some(known) = actor.person() {
                return Ok(person(actor, user_id, known.name.clone(), &known.email));
            }
            let (name, email): (String, String) = users_table::table
                .find(user_id)
                .select((users_table::name, users_table::email))
                .first(conn)
                .optional()?
                .ok_or_else(account_gone)?;
            Ok(person(actor, user_id, name, &email))
        }
    }
}

/// The signed-in person behind `actor`, as the request read them or else
/// read now: what a membership copies of its member. None for a user id that
/// no longer exists, and for an actor who is not a person.
pub(crate) fn person_of(conn: &mut DbConnection, actor: &Actor) -> Result<Option<Person>, Error> {
    let Principal::User(user_id) = &actor.principal else {
        return Ok(None);
    };
    if let Some(known) = actor.person() {
        return Ok(Some(known.clone()));
    }
    let found: Option<(String, String, Option<String>)> = users_table::table
        .find(user_id)
        .select((users_table::name, users_table::email, users_table::avatar_url))
        .first(conn)
        .optional()?;
    Ok(found.map(|(name, email, avatar_url)| Person {
        user_id: user_id.clone(),
        name,
        email,
        avatar_url,
    }))
}

pub(super) fn account_gone() -> Error {
    Error::NotFound("Your account was not found.".into())
}

/// A signed-in person, as [`identify`] names them.
pub(super) fn person(actor: &Actor, user_id: &str, name: String, email: &str) -> Identified {
    Identified {
        user_id: Some(user_id.to_owned()),
        kind: crate::domain::audit::ActorKind::User,
        actor_id: Some(user_id.to_owned()),
        display_name: name.clone(),
        name,
        email: crate::domain::EmailAddress::parse(email).ok(),
        audit_label: email.to_lowercase(),
        credential: actor.credential.label(),
        client_ip: actor.client_ip,
    }
}
