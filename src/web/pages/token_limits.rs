//! A token's limits (`/orgs/{slug}/tokens/{id}/limits`): where it works
//! from and, for a service account's key, how often. A member sets their
//! own token's networks; owners and admins set any token's and key's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::tokens::page_layout;
use crate::domain::{ClientNetworks, KeyRate, SecretKind, Slug, TokenLimits};
use crate::error::Error;
use crate::services::tokens::{self, TokenView};
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::Form;
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{OrgView, TokenLimitsPage, render};

/// What the limits form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsForm {
    networks: Option<String>,
    /// A key's only.
    rate: Option<String>,
}

impl LimitsForm {
    fn limits(&self) -> Result<TokenLimits, Error> {
        Ok(TokenLimits {
            networks: ClientNetworks::parse(self.networks.as_deref().unwrap_or_default())?,
            rate: KeyRate::parse_optional(self.rate.as_deref().unwrap_or_default())?,
        })
    }
}

/// The page, with the form as typed (`typed`) or as the token's limits are.
async fn limits_page(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    token_id: String,
    typed: Option<LimitsForm>,
    error: Option<String>,
) -> Result<TokenLimitsPage, Error> {
    let actor = signed.actor.clone();
    let (user, (context, token)) = signed
        .read_org(state, slug, move |conn, _, context| {
            let token = live_token(tokens::list(conn, &context.viewer, &actor)?, &token_id)?;
            Ok((context, token))
        })
        .await?;
    let (networks, rate) = match typed {
        Some(form) => (form.networks.unwrap_or_default(), form.rate.unwrap_or_default()),
        None => (
            token
                .limits
                .networks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            token.limits.rate.map(|rate| rate.to_string()).unwrap_or_default(),
        ),
    };
    Ok(TokenLimitsPage {
        layout: page_layout(state, signed, &user, &context, "Token limits"),
        org: OrgView::from(&context.viewer.org),
        csrf: signed.session.csrf_token(),
        rated: token.kind == SecretKind::ServiceAccount,
        token,
        networks,
        rate,
        error,
    })
}

/// The token the viewer may see with this id, if it still works.
fn live_token(listed: Vec<TokenView>, token_id: &str) -> Result<TokenView, Error> {
    listed
        .into_iter()
        .find(|token| token.id == token_id && token.revocable())
        .ok_or_else(|| Error::NotFound("There is no such live token in this organization.".to_owned()))
}

/// The form.
pub async fn page(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, token_id) = path.into_inner();
    let page = limits_page(&state, &signed, slug, token_id, None, None).await?;
    Ok(html(StatusCode::OK, render(&page, "the token limits page")?))
}

/// Sets the limits; a refused form is shown again with what was typed.
pub async fn set(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, token_id) = path.into_inner();
    let fields: LimitsForm = form.parse()?;
    let saved = match fields.limits() {
        Ok(limits) => {
            let (actor, lookup, id) = (signed.actor.clone(), slug.clone(), token_id.clone());
            signed
                .write(&state, move |conn, _| {
                    let org = crate::web::context::find_org(conn, &actor, &lookup)?;
                    tokens::restrict(conn, &actor, &org, &id, &limits.into())
                })
                .await
                .map(|(_, saved)| saved)
        }
        Err(error) => Err(error),
    };
    match saved {
        Ok((name, limits)) => {
            let words = match limits.describe() {
                Some(limits) => format!("“{name}” now works {limits}."),
                None => format!("“{name}” now works from anywhere, at any rate."),
            };
            signed.session.push_flash(Flash::ok(words));
            Ok(see_other(&format!("/orgs/{slug}/tokens")))
        }
        Err(error @ (Error::Invalid(_) | Error::Forbidden(_))) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = limits_page(
                &state,
                &signed,
                slug,
                token_id,
                Some(fields),
                Some(error.to_string()),
            )
            .await?;
            Ok(html(status, render(&page, "the token limits page")?))
        }
        Err(other) => Err(other),
    }
}
