//! `/api/v1/orgs/{slug}/tokens`: the tokens and keys the caller may see, and
//! their limits (where each works from, and a key's rate).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::caller::caller;
use super::json::{json_body, timestamp};
use crate::domain::Permission;
use crate::domain::policy::{Denied, TokenScope};
use crate::domain::{AccessLevel, ClientNetworks, KeyRate, LabelName, Lifetime, LimitsChange, TokenLimits};
use crate::error::Error;
use crate::services::tokens::{self, TokenRequest, TokenView};
use crate::web::errors::Problem;
use crate::web::state::AppState;

/// A token or key as the API shows it: never its secret.
#[derive(Serialize, ToSchema)]
pub struct TokenJson {
    id: String,
    name: String,
    /// `personal` or `service_account`.
    kind: &'static str,
    /// The person's name and address, or the service account's name.
    holder: String,
    /// `operations` or `inference`.
    access: &'static str,
    /// Its secret's first and last characters: `rcp_…a1B2`.
    hint: String,
    /// `active`, `expired` or `revoked`.
    status: String,
    created_at: String,
    expires_at: String,
    last_used_at: Option<String>,
    /// The networks it works from (CIDR); empty: anywhere.
    networks: Vec<String>,
    /// A key's calls per second, minute or hour on each server (`600/min`).
    rate: Option<String>,
}

impl From<TokenView> for TokenJson {
    fn from(token: TokenView) -> Self {
        Self {
            hint: format!("{}…{}", token.prefix(), token.last_four),
            kind: token.kind.as_str(),
            access: token.access.as_str(),
            status: token.status.label().to_lowercase(),
            created_at: timestamp(token.created_at),
            expires_at: timestamp(token.expires_at),
            last_used_at: token.last_used_at.map(timestamp),
            networks: token.limits.networks.iter().map(ToString::to_string).collect(),
            rate: token.limits.rate.map(|rate| rate.to_string()),
            id: token.id,
            name: token.name,
            holder: token.holder,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenList {
    /// Newest first: every token and key for owners and admins, the
    /// caller's own for everyone else.
    tokens: Vec<TokenJson>,
}

/// The tokens and keys the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/tokens", tag = "tokens",
    params(("slug" = String, Path, description = "The organization's slug")),
    responses(
        (status = 200, body = TokenList),
        (status = 404, description = "No such organization for this token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn tokens(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let viewer = caller.viewer(&state, &path).await?;
    let actor = caller.actor;
    let listed = state
        .read(move |conn| tokens::list(conn, &viewer, &actor))
        .await?;
    Ok(HttpResponse::Ok().json(TokenList {
        tokens: listed.into_iter().map(TokenJson::from).collect(),
    }))
}

/// What a new personal token is to be, for the member whose token calls.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Its name: one line, 1 to 100 characters.
    #[schema(schema_with = super::schemas::label_name)]
    name: String,
    #[schema(inline)]
    access: Access,
    /// How many days it works, 7 to 366; 30 unless given.
    #[schema(minimum = 7, maximum = 366)]
    expires_in_days: Option<u16>,
    /// Only these of the caller's role's permissions, and never more;
    /// left out, everything the caller's role allows, as it changes.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::schemas::permission_names)]
    permissions: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::schemas::networks)]
    networks: Option<Vec<String>>,
}

/// `operations` (the platform's operations and this API) or `inference`.
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Access {
    Operations,
    Inference,
}

impl From<Access> for AccessLevel {
    fn from(access: Access) -> Self {
        match access {
            Access::Operations => AccessLevel::Operations,
            Access::Inference => AccessLevel::Inference,
        }
    }
}

/// A token just made, with its secret: shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    token: TokenJson,
    /// The secret, to send as `Authorization: Bearer …`. It is not shown again.
    secret: String,
}

impl NewToken {
    fn request(self) -> Result<TokenRequest, Error> {
        let networks = self.networks.unwrap_or_default();
        let days = self.expires_in_days.unwrap_or(Lifetime::DEFAULT.days());
        let scope = match self.permissions {
            None => TokenScope::Role,
            Some(names) if names.is_empty() => {
                return Err(Error::Invalid(
                    "Name at least one permission, or leave permissions out for everything your role allows."
                        .to_owned(),
                ));
            }
            Some(names) => TokenScope::named(names.iter().map(String::as_str))?,
        };
        Ok(TokenRequest {
            name: LabelName::parse(&self.name).map_err(|e| Error::Invalid(format!("Name: {e}.")))?,
            access: self.access.into(),
            lifetime: Lifetime::parse(&days.to_string())?,
            scope,
            limits: TokenLimits {
                networks: ClientNetworks::parse_each(networks.iter().map(String::as_str))?,
                rate: None,
            },
        })
    }
}

/// Makes a personal token for the member whose token calls, under their
/// role now: nobody makes a token that may do more than they may, and a
/// narrowed one never gains more. The secret is in this answer only.
#[utoipa::path(post, path = "/api/v1/orgs/{slug}/tokens", tag = "tokens",
    params(("slug" = String, Path, description = "The organization's slug")),
    request_body = NewToken,
    responses(
        (status = 201, body = CreatedToken),
        (status = 404, description = "No such organization for this token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let (_, asked) = json_body::<NewToken>(body).await?;
    let request = asked.request()?;
    caller.carries(match request.access {
        AccessLevel::Operations => Permission::CreateOperationsTokens,
        AccessLevel::Inference => Permission::CreateInferenceTokens,
    })?;
    request.scope.made_through(caller.grant.scope)?;
    if !request.limits.networks.within(&caller.grant.limits.networks) {
        return Err(Error::Forbidden(Denied::BeyondMakersNetworks));
    }
    let viewer = caller.viewer(&state, &path).await?;
    let actor = caller.actor;
    let (issued, listed) = state
        .db(move |conn| {
            let issued = tokens::create_personal(conn, &actor, &viewer.org, None, &request)?;
            let listed = tokens::list(conn, &viewer, &actor)?
                .into_iter()
                .find(|token| token.id == issued.id)
                .ok_or_else(|| Error::NotFound("The token just made is not listed.".to_owned()))?;
            Ok((issued, listed))
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedToken {
        token: TokenJson::from(listed),
        secret: issued.secret.expose().to_owned(),
    }))
}

/// A change of a token's limits: a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenLimitsChange {
    /// The networks it works from, each in CIDR form or a single address;
    /// an empty list: anywhere.
    #[serde(default, deserialize_with = "present")]
    #[schema(schema_with = super::schemas::networks)]
    networks: Option<Vec<String>>,
    /// A service account key's rate (`600/min`, `10/s`, `5000/h`); `null`
    /// for none. A person's token has none.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "600/min",
        pattern = r"^[1-9][0-9]{0,6} ?/ ?(s|sec|second|m|min|minute|h|hr|hour)$")]
    rate: Option<Option<String>>,
}

/// A field that is present, `null` or not: `Some`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// Sets where a token works from and (a key's) rate: a member their own
/// token's networks, owners and admins any token's and key's. Every server
/// answers by the new limits within a second.
#[utoipa::path(patch, path = "/api/v1/orgs/{slug}/tokens/{id}", tag = "tokens",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = String, Path, description = "The token's id"),
    ),
    request_body = TokenLimitsChange,
    responses(
        (status = 200, body = TokenJson),
        (status = 404, description = "No such organization for this token, or no such live token in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The token making the call names itself", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn change_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    let (segment, token_id) = path.into_inner();
    let (_, asked) = json_body::<TokenLimitsChange>(body).await?;
    // A token made to carry only some permissions changes limits only if it
    // carries the managing of others' tokens, its holder's own included.
    caller.carries(Permission::ManageServiceAccounts)?;
    if caller.grant.token_id.is(&token_id) {
        return Err(Error::Conflict(
            "A token cannot change its own limits, which could lock it out: use another token, the console or the command line."
                .to_owned(),
        ));
    }
    let change = LimitsChange {
        networks: asked
            .networks
            .map(|networks| ClientNetworks::parse_each(networks.iter().map(String::as_str)))
            .transpose()?,
        rate: asked
            .rate
            .map(|rate| rate.as_deref().map(KeyRate::parse).transpose())
            .transpose()?,
    };
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    let changed = state
        .db(move |conn| {
            // A token the caller may not see is not there, as in the list.
            let visible = |conn: &mut _| -> Result<TokenView, Error> {
                tokens::list(conn, &viewer, &actor)?
                    .into_iter()
                    .find(|token| token.id == token_id && token.revocable())
                    .ok_or_else(|| {
                        Error::NotFound("There is no such live token in this organization.".to_owned())
                    })
            };
            visible(conn)?;
            tokens::restrict(conn, &actor, &viewer.org, &token_id, &change)?;
            visible(conn)
        })
        .await?;
    Ok(HttpResponse::Ok().json(TokenJson::from(changed)))
}
