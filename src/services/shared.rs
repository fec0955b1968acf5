//! What every service shares: the deployment's settings, an organization as
//! stored, ids, time, and cursors.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use crate::db::schema::{self};
use crate::domain::MembershipTerm;
use crate::domain::{Role, SecretKind};
use crate::error::Error;
/// What the services need to know about the deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base of the links in emails, without a trailing slash.
    pub public_url: String,
    /// How long an invitation link works after it was (re)sent.
    pub invite_ttl: Duration,
    /// For how many days a deleted organization can be restored.
    pub org_restore_days: u16,
}

/// Rows per multi-row INSERT: far below both backends' limits on bound parameters.
pub(crate) const INSERT_CHUNK: usize = 200;

/// How many pages `total` rows fill, `per_page` to a page; at least one, so
/// that an empty list still has a page to show.
pub fn page_count(total: i64, per_page: u32) -> u32 {
    let pages = (total.max(0) as u64).div_ceil(u64::from(per_page.max(1)));
    u32::try_from(pages).unwrap_or(u32::MAX).max(1)
}

/// An organization as stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = schema::organizations)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub slug: String,
    #[diesel(deserialize_as = crate::db::timestamp::StoredTime)]
    pub created_at: NaiveDateTime,
    /// When it was deleted, if it was: then it answers 410 until an owner
    /// restores it or the worker purges it.
    pub deleted_at: Option<NaiveDateTime>,
    /// Who deleted it, by name as it was.
    pub deleted_by: Option<String>,
    /// When the worker purges it, if it is deleted.
    pub purge_after: Option<NaiveDateTime>,
}

impl Organization {
    /// The refusal for a deleted organization, saying when, by whom, and
    /// until when it can be restored; None if it is not deleted.
    pub fn deleted(&self) -> Option<Error> {
        let at = self.deleted_at?;
        Some(Error::OrganizationDeleted {
            name: self.name.clone(),
            at,
            by: self.deleted_by.clone().unwrap_or_else(|| "an owner".to_owned()),
            restorable_until: self.purge_after.unwrap_or(at),
        })
    }

    /// Ok while the organization is not deleted.
    pub fn ensure_live(&self) -> Result<(), Error> {
        self.deleted().map_or(Ok(()), Err)
    }
}

/// Roles come out of the database as text that a CHECK constraint keeps valid;
/// anything else means the database was edited by hand.
pub(crate) fn parse_stored_role(stored: &str) -> Result<Role, Error> {
    stored.parse().map_err(|_| {
        Error::Database(diesel::result::Error::DeserializationError(
            format!("unknown role {stored:?} in the database").into(),
        ))
    })
}

/// Now, in UTC, to the microsecond (what both backends keep).
pub(crate) fn now() -> NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    now.with_nanosecond((now.nanosecond() / 1_000) * 1_000)
        .unwrap_or(now)
}

/// A keyset cursor as a link or a JSON field carries it: URL-safe base64.
pub(crate) fn encode_cursor(plain: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(plain)
}

/// The text of a cursor [`encode_cursor`] made, if `text` is one (and at most
/// `max_len` long); what it says is for its list to check.
pub(crate) fn decode_cursor(text: &str, max_len: usize) -> Option<String> {
    use base64::Engine;
    if text.len() > max_len {
        return None;
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// A new primary key: time-ordered, so recent rows cluster in indexes.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A signed-in user, by id. Their role is read from the database on every
    /// call, never trusted from a session.
    User(String),
    /// The operator at a shell, through `rollcall`: acts with an owner's
    /// permissions in every organization and is recorded as "command line".
    CommandLine,
    /// A service account calling the JSON API with one of its keys, by id.
    /// It acts only in its own organization, with its role there now.
    ServiceAccount(String),
}

/// The principal, the credential it presented and where the request came
/// from, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: Principal,
    pub credential: Credential,
    pub client_ip: Option<IpAddr>,
    /// The person behind a [`Principal::User`], when the request has read
    /// them already (see [`Actor::read_as`]).
    person: Option<Person>,
}

/// A signed-in person as the request read them, with their session: the
/// services take who is acting from it instead of reading the user again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub avatar_url: Option<String>,
}

/// What the actor proved who they are with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A signed-in browser.
    Session,
    /// An API token or a service account's key, known by its prefix and last
    /// four characters (what the tokens page shows; never the secret).
    Token { kind: SecretKind, last_four: String },
    /// `rollcall` at a shell.
    CommandLine,
}

impl Credential {
    /// How the audit log names it: "console session", "API token rcp_…x9Yz".
    pub fn label(&self) -> String {
        match self {
            Credential::Session => "console session".to_owned(),
            Credential::Token { kind, last_four } => {
                let what = match kind {
                    SecretKind::ServiceAccount => "service account key",
                    SecretKind::Personal | SecretKind::Introspection => "API token",
                };
                format!("{what} {}…{last_four}", kind.prefix())
            }
            Credential::CommandLine => COMMAND_LINE.to_owned(),
        }
    }
}

impl Actor {
    /// A signed-in user of the console.
    pub fn user(id: impl Into<String>, client_ip: Option<IpAddr>) -> Self {
        Self {
            principal: Principal::User(id.into()),
            credential: Credential::Session,
            client_ip,
            person: None,
        }
    }

    /// A service account, which acts only through one of its keys.
    pub fn service_account(id: impl Into<String>, key: Credential, client_ip: Option<IpAddr>) -> Self {
        Self {
            principal: Principal::ServiceAccount(id.into()),
            credential: key,
            client_ip,
            person: None,
        }
    }

    pub fn command_line() -> Self {
        Self {
            principal: Principal::CommandLine,
            credential: Credential::CommandLine,
            client_ip: None,
            person: None,
        }
    }

    /// The same actor, having presented `credential`.
    pub fn using(self, credential: Credential) -> Self {
        Self { credential, ..self }
    }

    /// The same actor, as the request has just read them (the console reads
    /// the signed-in user to check their session): who they are is not read
    /// again. Someone else's record is ignored.
    pub fn read_as(self, person: Person) -> Self {
        match &self.principal {
            Principal::User(id) if *id == person.user_id => Self {
                person: Some(person),
                ..self
            },
            _ => self,
        }
    }

    /// The person behind the actor, if the request has read them already.
    pub(crate) fn person(&self) -> Option<&Person> {
        self.person.as_ref()
    }
}

pub(crate) const COMMAND_LINE: &str = "command line";

/// What the database keeps about an organization's lists, read in the same
/// statement as the viewer's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListStamps {
    /// Raised by the database in every transaction that changes the
    /// organization's memberships: a member list rendered at this version is
    /// current while the version is unchanged.
    pub members_version: i64,
    /// The same for the organization's invitations, raised also as their
    /// emails are delivered.
    pub invitations_version: i64,
    /// The organization's pending invitations, as the database counts them.
    pub pending_invitations: i64,
    /// The organization's members in each role, as the database counts them.
    pub members: MemberCounts,
}

/// How many members an organization has in each role, kept by the database
/// with its member-list version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberCounts {
    pub owners: i64,
    pub admins: i64,
    pub developers: i64,
    pub contributors: i64,
    pub viewers: i64,
    /// In the roles of an operator's policy that the built-in policy does
    /// not name.
    pub others: i64,
}

/// A membership's term, from what the statement that found the membership
/// read with it: its end, when the worker held it, its role, and how many
/// owners the organization has (none read: the organization's counts have
/// no row yet, and it is taken for its only owner).
pub(crate) fn term(
    ends: Option<NaiveDateTime>,
    held: Option<NaiveDateTime>,
    role: Role,
    owners: Option<i64>,
) -> MembershipTerm {
    MembershipTerm::stored(
        ends,
        held.is_some(),
        role == Role::OWNER && owners.unwrap_or(0) <= 1,
    )
}

/// The refusal for a member whose membership has ended, before the
/// background worker has removed them: what they will be told afterwards.
pub(super) fn ended(org: &Organization) -> Error {
    Error::NoLongerMember {
        org: org.name.clone(),
    }
}

impl MemberCounts {
    /// The members in `role`, or in every role; `None` for a role whose
    /// name the database does not count apart (see the migration
    /// `role_counts`: it counts by the built-in policy's names).
    pub fn of(self, role: Option<Role>) -> Option<i64> {
        let Some(role) = role else {
            return Some(
                self.owners + self.admins + self.developers + self.contributors + self.viewers + self.others,
            );
        };
        match role.as_str() {
            "owner" => Some(self.owners),
            "admin" => Some(self.admins),
            "developer" => Some(self.developers),
            "contributor" => Some(self.contributors),
            "viewer" => Some(self.viewers),
            _ => None,
        }
    }
}

impl From<(i64, i64, i64, i64, i64, i64)> for MemberCounts {
    /// The counts in the order `member_list_versions` holds them.
    fn from(
        (owners, admins, developers, contributors, viewers, others): (i64, i64, i64, i64, i64, i64),
    ) -> Self {
        Self {
            owners,
            admins,
            developers,
            contributors,
            viewers,
            others,
        }
    }
}
