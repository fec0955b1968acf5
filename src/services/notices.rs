//! Telling an organization's owners and members what happened to it.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::domain::{EmailAddress, Message, Role};
use crate::error::Error;
use crate::services::outbox::{self, Queued};
use crate::services::shared::Settings;

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
        .filter(memberships::role.eq(Role::OWNER.as_str()))
        .order(memberships::name_key)
        .select((memberships::user_id, memberships::name, memberships::email))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, name, email)| Person { user_id, name, email })
        .collect())
}

/// Queues a message to each of `people`, made for each from their name (its
/// greeting names them). Someone whose stored address no longer parses is
/// skipped.
pub(crate) fn notify(
    conn: &mut DbConnection,
    people: &[Person],
    message: impl Fn(String) -> Message,
) -> Result<(), Error> {
    let mut emails = Vec::with_capacity(people.len());
    for person in people {
        let Ok(to) = EmailAddress::parse(&person.email) else {
            continue;
        };
        emails.push((to, message(person.name.clone())));
    }
    outbox::enqueue_all(
        conn,
        emails.iter().map(|(to, message)| Queued {
            to,
            message,
            invitation_id: None,
        }),
    )
}

pub(crate) fn settings_url(settings: &Settings, slug: &str) -> String {
    format!("{}/orgs/{slug}/settings", settings.public_url)
}

pub(crate) fn members_url(settings: &Settings, slug: &str) -> String {
    format!("{}/orgs/{slug}/members", settings.public_url)
}
