//! Telling an organization's owners and members what happened to it.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::mail::NoticeEmail;
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

pub(super) fn settings_url(settings: &Settings, slug: &str) -> String {
    format!("{}/orgs/{slug}/settings", settings.public_url)
}
