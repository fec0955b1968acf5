//! The JSON API under `/api/v1`, for the operators who script the platform:
//! authenticated by an API token with operations access, answering errors as
//! problem documents (see `errors::problem_adapter`), calling the same
//! services as the console and the command line.

mod invitations;
mod members;
mod openapi;

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

pub use self::invitations::{create_invitations, invitations, resend_invitation, revoke_invitation};
pub use self::members::{change_member, members, remove_member};
pub use self::openapi::{ApiDoc, IntrospectionAnswer, OAuthError, document};
use super::context::client_ip;
use super::credentials;
use crate::domain::{AccessLevel, Role, SecretKind, Slug, policy};
use crate::error::Error;
use crate::services::tokens::{self, TokenGrant, Use};
use crate::services::{Actor, Credential, Viewer, now, organizations};
use crate::web::state::AppState;

/// Who is calling: a live token with operations access, as its holder's role
/// allows now, and the actor the services see (the person, or the service
/// account).
pub struct Caller {
    pub grant: TokenGrant,
    pub actor: Actor,
}

/// Reads and checks the request's bearer token.
pub async fn caller(state: &AppState, req: &HttpRequest) -> Result<Caller, Error> {
    let secret = credentials::api_token(req)?;
    let credential = Credential::Token {
        kind: secret.kind(),
        last_four: secret.last_four().to_owned(),
    };
    let ip = client_ip(req);
    // Read afresh, not from what the token check keeps: a change through the
    // API must see a revocation or a role change the moment it is committed.
    let grant = state
        .read(move |conn| tokens::grant(conn, &secret))
        .await?
        .filter(|grant| grant.is_active(now()))
        .ok_or_else(|| {
            credentials::unauthenticated("This token is expired, revoked, or no longer works for its holder.")
        })?;
    credentials::mark_authenticated(req);
    state.tokens.note_use(Use {
        token_id: grant.token_id.clone(),
        at: now(),
        client_ip: ip.map(|ip| ip.to_string()),
    });
    if grant.access != AccessLevel::Operations {
        return Err(Error::Forbidden(policy::Denied::InferenceOnly));
    }
    let actor = match grant.kind {
        SecretKind::ServiceAccount => Actor::service_account(&grant.subject, credential, ip),
        _ => Actor::user(&grant.subject, ip).using(credential),
    };
    Ok(Caller { grant, actor })
}

impl Caller {
    /// The organization named in the path, which must be the token's own:
    /// a token reaches no other organization, and to it no other exists.
    /// A slug the token's organization gave up less than 90 days ago
    /// answers with where it is now (301), like the console's pages.
    pub async fn org(&self, state: &AppState, segment: &str) -> Result<Slug, Error> {
        let not_found = || organizations::not_found(&segment.chars().take(60).collect::<String>());
        let slug = Slug::parse(segment).map_err(|_| not_found())?;
        if slug.as_str() == self.grant.org_slug {
            return Ok(slug);
        }
        let (asker, asked) = (self.actor.clone(), slug.clone());
        let why = state
            .read(move |conn| organizations::moved_or_not_found(conn, &asker, &asked))
            .await?;
        match why {
            Error::Moved { slug } if slug == self.grant.org_slug => Err(Error::Moved { slug }),
            _ => Err(not_found()),
        }
    }

    /// The caller's view of its organization, read now.
    pub async fn viewer(&self, state: &AppState, segment: &str) -> Result<Viewer, Error> {
        let slug = self.org(state, segment).await?;
        let actor = self.actor.clone();
        state.read(move |conn| Viewer::open(conn, &actor, &slug)).await
    }
}

/// The query string as `T`: unknown parameters and values of the wrong type
/// are refused, with words that say which.
pub fn query<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, Error> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|error| {
            Error::Invalid(format!(
                "The query is not usable: {}.",
                bounded(&error.to_string())
            ))
        })
}

/// The largest JSON body any call takes: a thousand invitations with room.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Reads a JSON body of at most [`MAX_JSON_BYTES`], whole: the bytes (for an
/// idempotency digest) and the value they hold.
pub async fn json_body<T: DeserializeOwned>(mut payload: web::Payload) -> Result<(web::Bytes, T), Error> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| Error::Invalid(format!("The body could not be read: {error}.")))?;
        if body.len() + chunk.len() > MAX_JSON_BYTES {
            return Err(Error::TooLarge {
                limit: "1 MiB of JSON",
            });
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let unusable = |error: serde_json::Error| {
        Error::Invalid(format!(
            "The body is not usable JSON: {}.",
            bounded(&error.to_string())
        ))
    };
    let Strict(json) = serde_json::from_slice(&body).map_err(unusable)?;
    let Object(value) = Object::deserialize(json).map_err(unusable)?;
    Ok((body, value))
}

/// Any JSON, read as `serde_json::Value` is, except that an object naming a
/// field twice, at any depth, is refused: which one counts would depend on
/// who reads it (a proxy, an audit tool, this server).
struct Strict(serde_json::Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("JSON")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_str<E>(self, value: &str) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_string<E>(self, value: String) -> Result<Strict, E> {
        Ok(Strict(value.into()))
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(serde_json::Value::Null))
    }

    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(serde_json::Value::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(serde_json::Value::Array(items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some((name, Strict(value))) = map.next_entry::<String, Strict>()? {
            if fields.contains_key(&name) {
                return Err(serde::de::Error::custom(format_args!(
                    "the field `{name}` is given twice"
                )));
            }
            fields.insert(name, value);
        }
        Ok(Strict(serde_json::Value::Object(fields)))
    }
}

/// A JSON object read as `T`. Serde also reads a struct from an array of its
/// fields in order (`["viewer"]` as `{"role": "viewer"}`): here only an
/// object with the fields named will do.
pub struct Object<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fields = deserializer.deserialize_map(Fields)?;
        T::deserialize(serde_json::Value::Object(fields))
            .map(Object)
            .map_err(serde::de::Error::custom)
    }
}

/// A JSON object's fields (each named once: see [`Strict`]).
struct Fields;

impl<'de> serde::de::Visitor<'de> for Fields {
    type Value = serde_json::Map<String, serde_json::Value>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = serde_json::Map::new();
        while let Some((name, value)) = map.next_entry::<String, serde_json::Value>()? {
            fields.insert(name, value);
        }
        Ok(fields)
    }
}

/// Parser messages quote the input; a quote of a huge input helps nobody.
fn bounded(message: &str) -> String {
    const MAX_CHARS: usize = 300;
    if message.chars().count() <= MAX_CHARS {
        message.to_owned()
    } else {
        let cut: String = message.chars().take(MAX_CHARS).collect();
        format!("{cut}…")
    }
}

/// A time as the API writes it: RFC 3339, in UTC.
fn timestamp(at: chrono::NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    /// `personal` or `service_account`.
    kind: &'static str,
    /// The person's user id, or the service account's id.
    id: String,
    /// The organization's slug: the only one the token reaches.
    org: String,
    /// The holder's role now.
    #[schema(value_type = Role)]
    role: &'static str,
    /// `operations` (every route here) or `inference` (none of them).
    access: &'static str,
    token_expires_at: String,
}

/// Who the token acts as, where, and with which role now.
#[utoipa::path(get, path = "/api/v1/me", tag = "tokens",
    responses(
        (status = 200, body = Me),
    ),
    security(("bearer" = [])))]
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, Error> {
    let Caller { grant, .. } = caller(&state, &req).await?;
    Ok(HttpResponse::Ok().json(Me {
        kind: grant.kind.as_str(),
        id: grant.subject.clone(),
        org: grant.org_slug.clone(),
        role: grant.role.as_str(),
        access: grant.access.as_str(),
        token_expires_at: timestamp(grant.expires_at),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct PolicyRow {
    permission: &'static str,
    /// The lowest role that has it; every role above has it too.
    #[schema(value_type = Role)]
    lowest_role: &'static str,
    #[schema(value_type = Vec<Role>)]
    roles: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct Roles {
    /// Every role, lowest first.
    #[schema(value_type = Vec<Role>)]
    roles: Vec<&'static str>,
    permissions: Vec<PolicyRow>,
}

/// The permission table as data: the same table the server enforces and the
/// Roles page shows.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/roles", tag = "roles",
    params(("slug" = String, Path, description = "The organization's slug")),
    responses(
        (status = 200, body = Roles),
    ),
    security(("bearer" = [])))]
pub async fn roles(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.org(&state, &path).await?;
    let permissions = policy::TABLE
        .iter()
        .map(|grant| PolicyRow {
            permission: grant.description,
            lowest_role: grant.lowest.as_str(),
            roles: Role::ALL
                .into_iter()
                .filter(|role| grant.permission.allows(*role))
                .map(Role::as_str)
                .collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(Roles {
        roles: Role::ALL.iter().map(|role| role.as_str()).collect(),
        permissions,
    }))
}
