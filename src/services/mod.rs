//! Use cases. Each public function is one transaction on a connection it is
//! given, checks the policy, writes its audit events and queues its emails in
//! that same transaction, and returns a domain result. The web console and the
//! command line both call these, so no rule can be bypassed through a side door.

pub mod audit;
pub mod idempotency;
pub mod introspection;
pub mod invitations;
pub mod members;
pub mod organization_settings;
pub mod organizations;
pub mod outbox;
pub mod seed;
pub mod service_accounts;
pub mod settings;
pub mod submissions;
pub mod tokens;
pub mod users;

use std::net::IpAddr;
use std::time::Duration;

use chrono::{NaiveDateTime, Timelike};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{self, memberships, users as users_table};
use crate::db::written::Written;
use crate::domain::{MembershipTerm, Role, SecretKind, Slug};
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
        }
    }

    /// A service account, which acts only through one of its keys.
    pub fn service_account(id: impl Into<String>, key: Credential, client_ip: Option<IpAddr>) -> Self {
        Self {
            principal: Principal::ServiceAccount(id.into()),
            credential: key,
            client_ip,
        }
    }

    pub fn command_line() -> Self {
        Self {
            principal: Principal::CommandLine,
            credential: Credential::CommandLine,
            client_ip: None,
        }
    }

    /// The same actor, having presented `credential`.
    pub fn using(self, credential: Credential) -> Self {
        Self { credential, ..self }
    }
}

/// The actor with their name and address, read in the current transaction.
#[derive(Debug, Clone)]
pub(crate) struct Identified {
    pub user_id: Option<String>,
    pub kind: audit::ActorKind,
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

/// The actor as seen inside one organization: who, and with which role now.
#[derive(Debug, Clone)]
pub(crate) struct Acting {
    pub who: Identified,
    pub role: Role,
}

pub(crate) const COMMAND_LINE: &str = "command line";

impl Identified {
    /// Rollcall itself, acting on its own schedule (a membership that
    /// ended, a deleted organization purged).
    pub(crate) fn background_worker() -> Self {
        Self {
            user_id: None,
            kind: audit::ActorKind::System,
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

/// Rows per multi-row INSERT: far below both backends' limits on bound parameters.
pub(crate) const INSERT_CHUNK: usize = 200;

/// Looks the actor up. A user id that no longer exists is refused.
pub(crate) fn identify(conn: &mut DbConnection, actor: &Actor) -> Result<Identified, Error> {
    match &actor.principal {
        Principal::CommandLine => Ok(Identified {
            user_id: None,
            kind: audit::ActorKind::CommandLine,
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
                kind: audit::ActorKind::ServiceAccount,
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

fn account_gone() -> Error {
    Error::NotFound("Your account was not found.".into())
}

/// A signed-in person, as [`identify`] names them.
fn person(actor: &Actor, user_id: &str, name: String, email: &str) -> Identified {
    Identified {
        user_id: Some(user_id.to_owned()),
        kind: audit::ActorKind::User,
        actor_id: Some(user_id.to_owned()),
        display_name: name.clone(),
        name,
        email: crate::domain::EmailAddress::parse(email).ok(),
        audit_label: email.to_lowercase(),
        credential: actor.credential.label(),
        client_ip: actor.client_ip,
    }
}

/// How many pages `total` rows fill, `per_page` to a page; at least one, so
/// that an empty list still has a page to show.
pub fn page_count(total: i64, per_page: u32) -> u32 {
    let pages = (total.max(0) as u64).div_ceil(u64::from(per_page.max(1)));
    u32::try_from(pages).unwrap_or(u32::MAX).max(1)
}

/// Reads the actor's current role in the organization, refusing non-members.
/// The command line acts as an owner.
pub(crate) fn role_in(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Role, Error> {
    let user_id = match &actor.principal {
        Principal::User(user_id) => user_id,
        Principal::CommandLine => return Ok(Role::Owner),
        Principal::ServiceAccount(account_id) => return service_account_role(conn, account_id, org),
    };
    // With the organization's state read afresh: after a deletion commits,
    // no change in any transaction on any server is made in its name.
    use schema::member_list_versions as versions;
    type Row = (
        String,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    );
    let role: Option<Row> = memberships::table
        .inner_join(schema::organizations::table)
        .left_join(versions::table.on(versions::org_id.eq(memberships::org_id)))
        .filter(memberships::org_id.eq(&org.id))
        .filter(memberships::user_id.eq(user_id))
        .select((
            memberships::role,
            schema::organizations::deleted_at,
            memberships::expires_at,
            memberships::expiry_held_at,
            versions::owners.nullable(),
        ))
        .first(conn)
        .optional()?;
    match role {
        Some((_, Some(_), ..)) => Err(organizations::find_any(conn, &org.id)?
            .deleted()
            .unwrap_or_else(|| organizations::not_found(&org.slug))),
        Some((role, None, ends, held, owners)) => {
            let role = parse_stored_role(&role)?;
            if term(ends, held, role, owners).is_over(now()) {
                return Err(ended(org));
            }
            Ok(role)
        }
        None => {
            let who = identify(conn, actor)?;
            Err(not_a_member(conn, &who, org)?)
        }
    }
}

/// An enabled service account's role in its own organization; any other
/// organization is not found to it.
fn service_account_role(
    conn: &mut DbConnection,
    account_id: &str,
    org: &Organization,
) -> Result<Role, Error> {
    use schema::service_accounts as accounts;
    let role: Option<String> = accounts::table
        .inner_join(schema::organizations::table)
        .filter(accounts::id.eq(account_id))
        .filter(accounts::org_id.eq(&org.id))
        .filter(accounts::disabled_at.is_null())
        .filter(schema::organizations::deleted_at.is_null())
        .select(accounts::role)
        .first(conn)
        .optional()?;
    match role {
        Some(role) => parse_stored_role(&role),
        None => Err(organizations::not_found(&org.slug)),
    }
}

/// The actor, identified, with their current role in the organization;
/// refuses non-members.
pub(crate) fn acting(conn: &mut DbConnection, actor: &Actor, org: &Organization) -> Result<Acting, Error> {
    let Principal::User(user_id) = &actor.principal else {
        let who = identify(conn, actor)?;
        let role = role_in(conn, actor, org)?;
        return Ok(Acting { who, role });
    };
    // The person, their role and the organization's state in one
    // statement: every change asks, first thing.
    use schema::{member_list_versions as versions, organizations as orgs};
    type Row = (
        String,
        String,
        Option<String>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<NaiveDateTime>,
        Option<i64>,
    );
    let found: Option<Row> = users_table::table
        .left_join(
            memberships::table.on(memberships::user_id
                .eq(users_table::id)
                .and(memberships::org_id.eq(org.id.clone()))),
        )
        .left_join(orgs::table.on(orgs::id.eq(memberships::org_id)))
        .left_join(versions::table.on(versions::org_id.eq(memberships::org_id)))
        .filter(users_table::id.eq(user_id.clone()))
        .select((
            users_table::name,
            users_table::email,
            memberships::role.nullable(),
            orgs::deleted_at.nullable(),
            memberships::expires_at.nullable(),
            memberships::expiry_held_at.nullable(),
            versions::owners.nullable(),
        ))
        .first(conn)
        .optional()?;
    let (name, email, role, deleted_at, ends, held, owners) = found.ok_or_else(account_gone)?;
    let who = person(actor, user_id, name, &email);
    match (role, deleted_at) {
        (Some(_), Some(_)) => Err(organizations::find_any(conn, &org.id)?
            .deleted()
            .unwrap_or_else(|| organizations::not_found(&org.slug))),
        (Some(role), None) => {
            let role = parse_stored_role(&role)?;
            if term(ends, held, role, owners).is_over(now()) {
                return Err(ended(org));
            }
            Ok(Acting { role, who })
        }
        (None, _) => Err(not_a_member(conn, &who, org)?),
    }
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
        role == Role::Owner && owners.unwrap_or(0) <= 1,
    )
}

/// The refusal for a member whose membership has ended, before the
/// background worker has removed them: what they will be told afterwards.
fn ended(org: &Organization) -> Error {
    Error::NoLongerMember {
        org: org.name.clone(),
    }
}

/// An organization as one of its members sees it: the organization and the
/// member's role in it now. Only [`Viewer::open`], [`Viewer::among`] and
/// [`Viewer::of`] make one, and all three refuse non-members, so a function
/// given a `Viewer` knows the actor may read the organization and does not ask
/// the database again.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Viewer {
    pub org: Organization,
    pub role: Role,
    /// Read with the role when the statement that found it could
    /// ([`Viewer::among`]); otherwise read where needed.
    pub stamps: Option<ListStamps>,
}

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
}

impl MemberCounts {
    /// The members in `role`, or in every role.
    pub fn of(self, role: Option<Role>) -> i64 {
        match role {
            None => self.owners + self.admins + self.developers + self.contributors + self.viewers,
            Some(Role::Owner) => self.owners,
            Some(Role::Admin) => self.admins,
            Some(Role::Developer) => self.developers,
            Some(Role::Contributor) => self.contributors,
            Some(Role::Viewer) => self.viewers,
        }
    }
}

impl From<(i64, i64, i64, i64, i64)> for MemberCounts {
    /// The counts in the order `member_list_versions` holds them.
    fn from((owners, admins, developers, contributors, viewers): (i64, i64, i64, i64, i64)) -> Self {
        Self {
            owners,
            admins,
            developers,
            contributors,
            viewers,
        }
    }
}

impl Viewer {
    /// The organization named `slug` and the actor's role in it, read in one
    /// query. The command line acts as an owner.
    pub fn open(conn: &mut DbConnection, actor: &Actor, slug: &Slug) -> Result<Self, Error> {
        use schema::organizations as orgs;
        let Principal::User(user_id) = &actor.principal else {
            let org = organizations::find_by_slug(conn, actor, slug)?;
            return Self::of(conn, actor, org);
        };
        use schema::member_list_versions as versions;
        type Row = (
            Organization,
            Option<String>,
            Option<NaiveDateTime>,
            Option<NaiveDateTime>,
            Option<i64>,
        );
        let found: Option<Row> = Written(
            orgs::table
                .left_join(
                    memberships::table.on(memberships::org_id
                        .eq(orgs::id)
                        .and(memberships::user_id.eq(user_id.clone()))),
                )
                .left_join(versions::table.on(versions::org_id.eq(orgs::id)))
                .filter(orgs::slug.eq(slug.as_str()))
                .select((
                    Organization::as_select(),
                    memberships::role.nullable(),
                    memberships::expires_at.nullable(),
                    memberships::expiry_held_at.nullable(),
                    versions::owners.nullable(),
                ))
                .limit(1),
        )
        .get_result(conn)
        .optional()?;
        match found {
            None => Err(organizations::moved_or_not_found(conn, actor, slug)?),
            // Who deleted it and when is for its members; to anyone else
            // it is an organization they are not in.
            Some((org, Some(_), ..)) if org.deleted_at.is_some() => {
                Err(org.deleted().unwrap_or_else(|| organizations::not_found(slug)))
            }
            Some((org, Some(role), ends, held, owners)) => {
                let role = parse_stored_role(&role)?;
                if term(ends, held, role, owners).is_over(now()) {
                    return Err(ended(&org));
                }
                Ok(Self {
                    org,
                    role,
                    stamps: None,
                })
            }
            Some((org, None, ..)) => {
                let who = identify(conn, actor)?;
                Err(not_a_member(conn, &who, &org)?)
            }
        }
    }

    /// The organization named `slug` found among the actor's memberships,
    /// read in this transaction ([`organizations::for_user`] or
    /// [`organizations::user_and_memberships`]); one that is not among them
    /// is read as [`Viewer::open`] does, to explain the refusal.
    pub fn among(
        conn: &mut DbConnection,
        actor: &Actor,
        slug: &Slug,
        memberships: &[organizations::Membership],
    ) -> Result<Self, Error> {
        match memberships
            .iter()
            .find(|membership| membership.org.slug == slug.as_str())
        {
            Some(membership) => Ok(Self {
                org: membership.org.clone(),
                role: membership.role,
                stamps: Some(membership.stamps),
            }),
            None => Self::open(conn, actor, slug),
        }
    }

    /// The actor's view of an organization already read.
    pub fn of(conn: &mut DbConnection, actor: &Actor, org: Organization) -> Result<Self, Error> {
        let role = role_in(conn, actor, &org)?;
        Ok(Self {
            org,
            role,
            stamps: None,
        })
    }
}

/// The refusal for someone who is not a member: "no longer" when the audit
/// log shows they were removed, left or their membership ended, so they
/// know what happened.
fn not_a_member(conn: &mut DbConnection, who: &Identified, org: &Organization) -> Result<Error, Error> {
    use crate::db::schema::audit_events;
    let departed: bool = diesel::select(diesel::dsl::exists(
        audit_events::table
            .filter(audit_events::org_id.eq(&org.id))
            .filter(audit_events::target.eq(&who.audit_label))
            .filter(audit_events::action.eq_any([
                audit::AuditAction::MemberRemoved.as_str(),
                audit::AuditAction::MemberLeft.as_str(),
                audit::AuditAction::MemberExpired.as_str(),
            ])),
    ))
    .get_result(conn)?;
    let org = org.name.clone();
    Ok(if departed {
        Error::NoLongerMember { org }
    } else {
        Error::NotMember { org }
    })
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
