//! Users and their sign-in identities.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{new_id, now};
use crate::db::schema::{identities, identity_emails, memberships, users};
use crate::db::written::Written;
use crate::db::{self, DbConnection};
use crate::domain::EmailAddress;
use crate::error::Error;

/// A person who has signed in at least once.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    pub created_at: NaiveDateTime,
    pub last_sign_in_at: Option<NaiveDateTime>,
}

/// A sign-in identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    GitHub,
    /// The development sign-in, on loopback only: trusts the typed address.
    Dev,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
            Provider::Dev => "dev",
        }
    }
}

/// What a provider told us about the person who just signed in.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub provider: Provider,
    /// The provider's stable id for the account (Google's `sub`, GitHub's numeric id).
    pub subject: String,
    pub name: Option<String>,
    pub avatar_url: Option<String>,
    /// Only the addresses the provider says are verified; the first is the primary.
    pub verified_emails: Vec<EmailAddress>,
}

/// Records a sign-in and returns the user it belongs to.
///
/// The identity is found by (provider, subject), never by email. A new identity
/// joins the existing user who has one of its verified addresses, so that
/// Google and GitHub accounts of one person are one user; otherwise it makes a
/// new user.
pub fn sign_in(conn: &mut DbConnection, sign_in: &SignIn) -> Result<User, Error> {
    let Some(primary) = sign_in.verified_emails.first() else {
        return Err(Error::Invalid(format!(
            "Your {} account has no verified email address. Verify one with {} and sign in again.",
            sign_in.provider.as_str(),
            sign_in.provider.as_str()
        )));
    };
    db::write(conn, |conn| {
        let at = now();
        let known: Option<(String, String)> = identities::table
            .filter(identities::provider.eq(sign_in.provider.as_str()))
            .filter(identities::subject.eq(&sign_in.subject))
            .select((identities::id, identities::user_id))
            .first(conn)
            .optional()?;
        let (identity_id, user_id) = match known {
            Some(found) => found,
            None => {
                let addresses: Vec<&str> = sign_in.verified_emails.iter().map(EmailAddress::as_str).collect();
                let existing_user: Option<String> = identity_emails::table
                    .inner_join(identities::table)
                    .filter(identity_emails::email.eq_any(&addresses))
                    .select(identities::user_id)
                    .order(identities::created_at)
                    .first(conn)
                    .optional()?;
                let user_id = match existing_user {
                    Some(id) => id,
                    None => {
                        let id = new_id();
                        let name = display_name(sign_in.name.as_deref(), primary);
                        diesel::insert_into(users::table)
                            .values((
                                users::id.eq(&id),
                                users::name.eq(&name),
                                users::email.eq(primary.as_str()),
                                users::avatar_url.eq(&sign_in.avatar_url),
                                users::created_at.eq(at),
                            ))
                            .execute(conn)?;
                        id
                    }
                };
                let identity_id = new_id();
                diesel::insert_into(identities::table)
                    .values((
                        identities::id.eq(&identity_id),
                        identities::user_id.eq(&user_id),
                        identities::provider.eq(sign_in.provider.as_str()),
                        identities::subject.eq(&sign_in.subject),
                        identities::created_at.eq(at),
                    ))
                    .execute(conn)?;
                (identity_id, user_id)
            }
        };
        // The provider's list is the truth for this identity: an address that is
        // no longer verified there stops counting here.
        diesel::delete(identity_emails::table.filter(identity_emails::identity_id.eq(&identity_id)))
            .execute(conn)?;
        let rows: Vec<_> = sign_in
            .verified_emails
            .iter()
            .map(|email| {
                (
                    identity_emails::identity_id.eq(&identity_id),
                    identity_emails::email.eq(email.as_str()),
                )
            })
            .collect();
        db::insert_all!(conn, identity_emails::table, &rows)?;

        let user = users::table
            .find(&user_id)
            .select(User::as_select())
            .first(conn)?;
        let name = match &sign_in.name {
            Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => user.name.clone(),
        };
        let avatar_url = sign_in.avatar_url.as_ref().or(user.avatar_url.as_ref());
        diesel::update(users::table.find(&user_id))
            .set((
                users::name.eq(&name),
                users::avatar_url.eq(avatar_url),
                users::last_sign_in_at.eq(at),
            ))
            .execute(conn)?;
        // The member list reads name and avatar from the memberships.
        if name != user.name || avatar_url != user.avatar_url.as_ref() {
            diesel::update(memberships::table.filter(memberships::user_id.eq(&user_id)))
                .set((
                    memberships::name.eq(&name),
                    memberships::name_key.eq(name_key(&name)),
                    memberships::avatar_url.eq(avatar_url),
                ))
                .execute(conn)?;
        }
        Ok(users::table
            .find(&user_id)
            .select(User::as_select())
            .first(conn)?)
    })
}

/// The name to show for someone the provider gave no name: their address's local part.
fn display_name(name: Option<&str>, email: &EmailAddress) -> String {
    match name.map(str::trim) {
        Some(name) if !name.is_empty() => name.chars().take(100).collect(),
        _ => email.as_str().split('@').next().unwrap_or_default().to_owned(),
    }
}

/// The key members are sorted and searched by: the name, lower-cased.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<User>, Error> {
    Ok(Written(users::table.find(id).select(User::as_select()).limit(1))
        .get_result(conn)
        .optional()?)
}

/// Every address any of the user's identities has verified.
pub fn verified_emails(conn: &mut DbConnection, user_id: &str) -> Result<Vec<EmailAddress>, Error> {
    let stored: Vec<String> = identity_emails::table
        .inner_join(identities::table)
        .filter(identities::user_id.eq(user_id))
        .select(identity_emails::email)
        .distinct()
        .order(identity_emails::email)
        .load(conn)?;
    Ok(stored
        .iter()
        .filter_map(|email| EmailAddress::parse(email).ok())
        .collect())
}
