//! Users and their sign-in identities.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{ended_sessions, identities, identity_emails, memberships, users};
use crate::db::written::Written;
use crate::db::{self, DbConnection};
use crate::domain::audit::{ActorKind, AuditAction, TargetKind};
use crate::domain::{EmailAddress, PersonName, text};
use crate::error::Error;
use crate::services::audit::record::{self as audit, AuditActor, AuditEvent, AuditTarget};
use crate::services::shared::{Person, new_id, now};

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
    /// Sessions issued before this were ended ("sign out of every session").
    pub sessions_ended_at: Option<NaiveDateTime>,
}

impl From<&User> for Person {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id.clone(),
            name: user.name.clone(),
            email: user.email.clone(),
            avatar_url: user.avatar_url.clone(),
        }
    }
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
    fn label(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
            Provider::Dev => "The development sign-in",
        }
    }

    /// How the audit log names it, after "signed in with".
    pub fn audit_name(self) -> &'static str {
        match self {
            Provider::Google => "Google",
            Provider::GitHub => "GitHub",
            Provider::Dev => "the development sign-in",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::GitHub => "github",
            Provider::Dev => "dev",
        }
    }
}

/// What a provider told us about the person who just signed in, parsed into
/// the same types, with the same limits, as what a person types in a form.
#[derive(Debug, Clone)]
pub struct SignIn {
    provider: Provider,
    /// The provider's stable id for the account (Google's `sub`, GitHub's numeric id).
    subject: String,
    name: Option<PersonName>,
    avatar_url: Option<String>,
    /// Only the addresses the provider says are verified, each once; the first is the primary.
    verified_emails: Vec<EmailAddress>,
    /// Where the browser signed in from, for the audit log.
    client_ip: Option<std::net::IpAddr>,
}

/// The longest provider subject kept; Google's and GitHub's are far shorter.
const MAX_SUBJECT_BYTES: usize = 255;
/// The longest avatar URL kept; a longer one is dropped, not cut.
const MAX_AVATAR_URL_BYTES: usize = 2048;

impl SignIn {
    /// Parses what a provider reports. A name that is too long or spans lines
    /// is made one line of at most 100 characters (the person cannot be asked
    /// to fix it); an avatar that is not a plain `https://` URL is left out;
    /// an address listed twice counts once. Only the subject, which names the
    /// account, must be usable as it is.
    pub fn new(
        provider: Provider,
        subject: &str,
        name: Option<&str>,
        avatar_url: Option<&str>,
        verified_emails: impl IntoIterator<Item = EmailAddress>,
    ) -> Result<Self, Error> {
        let subject = subject.trim();
        if subject.is_empty() || subject.len() > MAX_SUBJECT_BYTES || text::has_control(subject) {
            return Err(Error::SignInFailed(format!(
                "{} did not say which account signed in. Please try again.",
                provider.label()
            )));
        }
        let name = name
            .map(|name| text::one_line(name, PersonName::MAX_CHARS))
            .and_then(|name| PersonName::parse(&name).ok());
        let avatar_url = avatar_url
            .filter(|url| url.len() <= MAX_AVATAR_URL_BYTES && url.starts_with("https://"))
            .filter(|url| !url.chars().any(|c| c.is_control() || c.is_whitespace()))
            .filter(|url| url::Url::parse(url).is_ok())
            .map(str::to_owned);
        let mut seen = HashSet::new();
        let verified_emails = verified_emails
            .into_iter()
            .filter(|email| seen.insert(email.clone()))
            .collect();
        Ok(Self {
            provider,
            subject: subject.to_owned(),
            name,
            avatar_url,
            verified_emails,
            client_ip: None,
        })
    }

    /// The same sign-in, made from `client_ip`.
    pub fn from_address(self, client_ip: Option<std::net::IpAddr>) -> Self {
        Self { client_ip, ..self }
    }
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
        // Two first sign-ins of one account (or of two accounts with one
        // address) at once, on any server, must make one user: they queue.
        let mut keys = vec![format!(
            "identity {} {}",
            sign_in.provider.as_str(),
            sign_in.subject
        )];
        keys.extend(
            sign_in
                .verified_emails
                .iter()
                .map(|email| format!("email {email}")),
        );
        db::lock_keys(conn, keys)?;
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
                        let name = display_name(sign_in.name.as_ref(), primary);
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
            Some(name) => name.as_str().to_owned(),
            None => user.name.clone(),
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
        let user = users::table
            .find(&user_id)
            .select(User::as_select())
            .first(conn)?;
        record_sign_in(conn, &user, sign_in)?;
        Ok(user)
    })
}

/// The sign-in's audit event: the person's, not any organization's.
fn record_sign_in(conn: &mut DbConnection, user: &User, sign_in: &SignIn) -> Result<(), Error> {
    let credential = format!("sign-in with {}", sign_in.provider.audit_name());
    audit::record(
        conn,
        AuditEvent {
            org_id: None,
            actor: AuditActor {
                kind: ActorKind::User,
                id: Some(&user.id),
                name: &user.name,
                email: Some(&user.email),
                key: &user.email,
                credential: &credential,
                client_ip: sign_in.client_ip,
            },
            action: AuditAction::SignedIn,
            target: AuditTarget::person(TargetKind::Session, Some(&user.id), &user.name, &user.email),
            before: None,
            after: Some(serde_json::json!({ "provider": sign_in.provider.audit_name() })),
        },
    )
}

/// A signed-in session, as its cookie names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    pub user_id: String,
    /// Random, made at sign-in; what signing out records.
    pub session_id: String,
    pub issued_at: NaiveDateTime,
}

impl SessionUser {
    /// Whether the session is still current for its `user`: not signed out
    /// on its own (`ended_alone`) nor by a "sign out of every session" after
    /// it began.
    pub fn is_current(&self, user: &User, ended_alone: bool) -> bool {
        !ended_alone && user.sessions_ended_at.is_none_or(|ended| self.issued_at > ended)
    }
}

/// The user of a session that is still current: not signed out, neither on
/// its own nor with every other session of its user. The user and whether
/// the session was signed out come in one statement.
pub fn session_user(conn: &mut DbConnection, session: &SessionUser) -> Result<Option<User>, Error> {
    let found: Option<(User, Option<String>)> = Written(
        users::table
            .left_join(ended_sessions::table.on(ended_sessions::session_id.eq(session.session_id.clone())))
            .filter(users::id.eq(session.user_id.clone()))
            .select((User::as_select(), ended_sessions::session_id.nullable()))
            .limit(1),
    )
    .get_result(conn)
    .optional()?;
    Ok(found
        .filter(|(user, ended)| session.is_current(user, ended.is_some()))
        .map(|(user, _)| user))
}

/// Signs one session out, on every server: it is remembered as ended until
/// it would have expired anyway. Sessions that have are forgotten.
pub fn end_session(
    conn: &mut DbConnection,
    session: &SessionUser,
    expires_at: NaiveDateTime,
) -> Result<(), Error> {
    db::write(conn, |conn| {
        diesel::delete(ended_sessions::table.filter(ended_sessions::expires_at.lt(now()))).execute(conn)?;
        let known: bool = diesel::select(diesel::dsl::exists(
            ended_sessions::table.find(&session.session_id),
        ))
        .get_result(conn)?;
        if !known {
            diesel::insert_into(ended_sessions::table)
                .values((
                    ended_sessions::session_id.eq(&session.session_id),
                    ended_sessions::expires_at.eq(expires_at),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Signs a user out of every session they have, on every server.
pub fn end_all_sessions(
    conn: &mut DbConnection,
    actor: &crate::services::shared::Actor,
) -> Result<(), Error> {
    db::write(conn, |conn| {
        let who = crate::services::identity::identify(conn, actor)?;
        let Some(user_id) = &who.user_id else {
            return Err(Error::Invalid(
                "Only a person who signed in has sessions to end.".to_owned(),
            ));
        };
        diesel::update(users::table.find(user_id))
            .set(users::sessions_ended_at.eq(now()))
            .execute(conn)?;
        audit::record(
            conn,
            AuditEvent {
                org_id: None,
                actor: (&who).into(),
                action: AuditAction::SessionsEnded,
                target: AuditTarget::person(TargetKind::Session, Some(user_id), &who.name, &who.audit_label),
                before: None,
                after: None,
            },
        )
    })
}

/// The name to show for someone the provider gave no name: their address's local part.
fn display_name(name: Option<&PersonName>, email: &EmailAddress) -> String {
    match name {
        Some(name) => name.as_str().to_owned(),
        None => email.as_str().split('@').next().unwrap_or_default().to_owned(),
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
