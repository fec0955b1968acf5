//! One member of an organization, and a member's role.

use diesel::prelude::*;

use super::query::{Member, MemberRow};
use crate::db::DbConnection;
use crate::db::schema::memberships;
use crate::domain::{EmailAddress, Role};
use crate::error::Error;
use crate::services::access::role_in;
use crate::services::shared::{Actor, Organization, parse_stored_role};

/// How a member is named on the command line: by id or by email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    Id(String),
    Email(EmailAddress),
}

impl std::str::FromStr for MemberRef {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        Self::parse(text)
    }
}

impl MemberRef {
    /// Anything with an `@` is an email; anything else an id.
    pub fn parse(input: &str) -> Result<Self, Error> {
        if input.contains('@') {
            EmailAddress::parse(input).map(Self::Email).map_err(Error::from)
        } else if input.trim().is_empty() {
            Err(Error::Invalid("Name a member by id or email.".to_owned()))
        } else if input.trim().len() > 64 {
            Err(Error::Invalid(
                "That is neither a member’s id nor an email address.".to_owned(),
            ))
        } else {
            Ok(Self::Id(input.trim().to_owned()))
        }
    }
}

/// The member of `org` named by `member`, if there is one.
pub fn find(conn: &mut DbConnection, org: &Organization, member: &MemberRef) -> Result<Member, Error> {
    let selection = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .into_boxed();
    let selection = match member {
        MemberRef::Id(id) => selection.filter(memberships::user_id.eq(id)),
        MemberRef::Email(email) => selection.filter(memberships::email.eq(email.as_str())),
    };
    let row: MemberRow = selection
        .select(MemberRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found_in(org, member))?;
    row.into_member()
}

/// The refusal for a member `org` does not have.
pub(super) fn not_found_in(org: &Organization, member: &MemberRef) -> Error {
    let who = match member {
        MemberRef::Id(id) => format!("No user with id {id}"),
        MemberRef::Email(email) => email.to_string(),
    };
    Error::NotFound(format!("{who} is not a member of {}.", org.name))
}

fn role_of(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Role, Error> {
    let role: String = memberships::table
        .find((&org.id, user_id))
        .select(memberships::role)
        .first(conn)
        .optional()?
        .ok_or(Error::NotFound("The member was not found.".into()))?;
    parse_stored_role(&role)
}

/// The actor's role in the organization (what the console shows and offers).
pub fn role_of_actor(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Role, Error> {
    role_in(conn, actor, org)
}

/// Whether `user_id` is a member with the given role; for tests and checks.
pub fn role(conn: &mut DbConnection, org: &Organization, user_id: &str) -> Result<Option<Role>, Error> {
    match role_of(conn, org, user_id) {
        Ok(role) => Ok(Some(role)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Every member, by name: for exports and the command line.
pub fn all(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Vec<Member>, Error> {
    role_in(conn, actor, org)?;
    let rows: Vec<MemberRow> = memberships::table
        .filter(memberships::org_id.eq(&org.id))
        .order((memberships::name_key, memberships::user_id))
        .select(MemberRow::as_select())
        .load(conn)?;
    rows.into_iter().map(MemberRow::into_member).collect()
}
