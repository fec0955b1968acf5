//! The API tokens tab (`/orgs/{slug}/tokens`): make tokens (the secret shown
//! once, in the answer to the form), list them and revoke them, tokens and
//! service accounts' keys alike. Everything works as plain forms; htmx
//! boosts them. The service accounts tab is `service_accounts.rs`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{OrgContext, layout};
use crate::domain::Slug;
use crate::domain::policy;
use crate::domain::policy::TokenScope;
use crate::domain::{AccessLevel, ClientNetworks, LabelName, Lifetime, TokenLimits};
use crate::error::Error;
use crate::services::submissions::{self, OnceValue, Purpose, Submission, Submitted};
use crate::services::tokens::{self, IssuedToken, TokenRequest};
use crate::services::users::User;
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{
    ConfirmPage, CreatedSecret, DayTime, OrgView, PermissionChoice, SecretShownBefore, Tabs, TokenForm,
    TokenRowView, TokensPage, render,
};

/// The lifetimes the forms offer, in days; the command line takes any that
/// [`Lifetime::parse`] does.
pub(super) const LIFETIMES: &[u16] = &[7, 30, 90, 180, 366];

/// What the token form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenForm {
    name: Typed<LabelName>,
    access: Typed<AccessLevel>,
    days: Typed<Lifetime>,
    /// `role` (everything the role allows, the default) or `chosen` (only
    /// the permissions ticked).
    scope: Option<String>,
    #[serde(default)]
    permission: Vec<String>,
    /// Where it works from: empty, anywhere.
    networks: Option<String>,
}

impl NewTokenForm {
    /// The form as it is shown again beside a refusal.
    fn typed(&self) -> TokenForm {
        TokenForm {
            name: self.name.text.clone(),
            access: self.access.text.clone(),
            days: self
                .days
                .parsed
                .as_ref()
                .map_or(Lifetime::DEFAULT.days(), |days| days.days()),
            narrowed: self.scope.as_deref() == Some("chosen"),
            ticked: self.permission.clone(),
            networks: self.networks.clone().unwrap_or_default(),
        }
    }

    fn request(self) -> Result<TokenRequest, Error> {
        let (access, lifetime) = (self.access.value()?, self.days.value()?);
        let scope = match self.scope.as_deref() {
            None | Some("role") => TokenScope::Role,
            Some("chosen") => match TokenScope::named(self.permission.iter().map(String::as_str))? {
                TokenScope::Role => {
                    return Err(Error::Invalid(
                        "Tick at least one permission, or let the token carry everything your role allows."
                            .to_owned(),
                    ));
                }
                only => only,
            },
            Some(_) => {
                return Err(Error::Invalid(
                    "Choose whether the token carries everything your role allows or only what you tick."
                        .to_owned(),
                ));
            }
        };
        Ok(TokenRequest {
            name: self
                .name
                .parsed
                .map_err(|e| Error::Invalid(format!("Name: {e}.")))?,
            access,
            lifetime,
            scope,
            limits: TokenLimits {
                networks: ClientNetworks::parse(self.networks.as_deref().unwrap_or_default())?,
                rate: None,
            },
        })
    }
}

pub(super) fn created(issued: &IssuedToken) -> CreatedSecret {
    CreatedSecret {
        name: issued.name.clone(),
        secret: issued.secret.expose().to_owned(),
        expires: DayTime(issued.expires_at),
    }
}

/// What a page with a create form answers besides the page itself.
pub(super) enum Answer {
    /// The page as it is, or the form again with what was typed and why it
    /// was refused.
    Form { error: Option<String> },
    /// A token or key was made now: its secret, shown this once.
    Created(CreatedSecret),
    /// The form was sent again: what the first submission made.
    CreatedBefore(SecretShownBefore),
}

impl Answer {
    pub(super) fn parts(self) -> (Option<String>, Option<CreatedSecret>, Option<SecretShownBefore>) {
        match self {
            Answer::Form { error } => (error, None, None),
            Answer::Created(secret) => (None, Some(secret), None),
            Answer::CreatedBefore(made) => (None, None, Some(made)),
        }
    }
}

/// Everything the API tokens page shows, read in one visit.
async fn tokens_page(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    form: TokenForm,
    answer: Answer,
) -> Result<TokensPage, Error> {
    let actor = signed.actor.clone();
    let (user, (context, listed)) = signed
        .read_org(state, slug, move |conn, _, context| {
            let listed = tokens::list(conn, &context.viewer, &actor)?;
            Ok((context, listed))
        })
        .await?;
    let role = context.viewer.role;
    let sees_all = tokens::sees_all(role);
    let rows = listed
        .into_iter()
        .map(|token| TokenRowView {
            created: DayTime(token.created_at),
            expires: DayTime(token.expires_at),
            last_used: token.last_used_at.map(DayTime),
            token,
        })
        .collect();
    let csrf = signed.session.csrf_token();
    let (error, created, made_before) = answer.parts();
    Ok(TokensPage {
        layout: page_layout(state, signed, &user, &context, "API tokens"),
        org: OrgView::from(&context.viewer.org),
        tabs: Tabs::for_role(role),
        csrf,
        sees_all,
        tokens: rows,
        access_levels: policy::creatable_access(role),
        permission_choices: policy::current()
            .held_by(role)
            .map(|def| PermissionChoice {
                name: &def.name,
                description: &def.description,
            })
            .collect(),
        lifetimes: LIFETIMES,
        form,
        error,
        created,
        made_before,
        once: OnceValue::issue().as_str().to_owned(),
    })
}

pub(super) fn page_layout(
    state: &AppState,
    signed: &SignedIn,
    user: &User,
    context: &OrgContext,
    what: &str,
) -> crate::web::views::Layout {
    layout(
        state,
        &signed.session,
        format!("{what} of {}", context.viewer.org.name),
        Some(user),
        context.orgs.clone(),
        Some(&context.viewer.org.slug),
    )
}

fn default_form() -> TokenForm {
    TokenForm {
        name: String::new(),
        access: AccessLevel::Inference.as_str().to_owned(),
        days: Lifetime::DEFAULT.days(),
        narrowed: false,
        ticked: Vec::new(),
        networks: String::new(),
    }
}

/// The API tokens tab.
pub async fn list(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let page = tokens_page(
        &state,
        &signed,
        slug,
        default_form(),
        Answer::Form { error: None },
    )
    .await?;
    Ok(html(StatusCode::OK, render(&page, "the API tokens page")?))
}

/// Create a token: the answer is the page with the secret, shown this once.
/// The same form sent again (a reload) makes nothing and says so.
pub async fn create(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let fields: NewTokenForm = form.parse()?;
    let typed = fields.typed();
    let parsed = fields
        .request()
        .and_then(|request| Ok((request, form.once_value()?)));
    let made = match parsed {
        Ok((request, once)) => {
            let (actor, lookup, user_id) = (signed.actor.clone(), slug.clone(), signed.user_id().to_owned());
            signed
                .write(&state, move |conn, _| {
                    let org = crate::web::context::find_org(conn, &actor, &lookup)?;
                    let submission = Submission {
                        user_id: &user_id,
                        once: once.as_ref(),
                        purpose: Purpose::PersonalToken { org_id: &org.id },
                    };
                    submissions::once(conn, &submission, |conn| {
                        let issued = tokens::create_personal(conn, &actor, &org, None, &request)?;
                        let kept = SecretShownBefore {
                            name: issued.name.clone(),
                        };
                        Ok((issued, kept))
                    })
                })
                .await
                .map(|(_, made)| made)
        }
        Err(error) => Err(error),
    };
    let (status, form, answer) = match made {
        Ok(Submitted::Now(issued)) => (StatusCode::OK, default_form(), Answer::Created(created(&issued))),
        Ok(Submitted::Before(made)) => (StatusCode::OK, default_form(), Answer::CreatedBefore(made)),
        Err(error @ (Error::Invalid(_) | Error::Forbidden(_) | Error::Conflict(_))) => (
            StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY),
            typed,
            Answer::Form {
                error: Some(error.to_string()),
            },
        ),
        Err(other) => return Err(other),
    };
    let page = tokens_page(&state, &signed, slug, form, answer).await?;
    Ok(html(status, render(&page, "the API tokens page")?))
}

/// "Revoke NAME?": the confirmation, as a page.
pub async fn revoke_confirm(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, token_id) = path.into_inner();
    let actor = signed.actor.clone();
    let wanted = token_id.clone();
    let (user, (context, token)) = signed
        .read_org(&state, slug, move |conn, _, context| {
            let token = tokens::list(conn, &context.viewer, &actor)?
                .into_iter()
                .find(|token| token.id == wanted)
                .ok_or_else(|| Error::NotFound("There is no such token in this organization.".to_owned()))?;
            Ok((context, token))
        })
        .await?;
    let org = OrgView::from(&context.viewer.org);
    let page = ConfirmPage {
        layout: page_layout(&state, &signed, &user, &context, "Revoke a token"),
        heading: format!("Revoke “{}”?", token.name),
        message: format!(
            "{}…{} stops working at once, everywhere it is used. This cannot be undone.",
            token.prefix(),
            token.last_four
        ),
        action: format!("/orgs/{}/tokens/{token_id}/revoke", org.slug),
        button: "Yes, revoke".to_owned(),
        back: format!("/orgs/{}/tokens", org.slug),
        csrf: signed.session.csrf_token(),
    };
    Ok(html(StatusCode::OK, render(&page, "the confirmation")?))
}

/// Revoke a token or key.
pub async fn revoke(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, token_id) = path.into_inner();
    let actor = signed.actor.clone();
    let (_, (org, name)) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
            let name = tokens::revoke(conn, &actor, &org, &token_id)?;
            Ok((org, name))
        })
        .await?;
    signed
        .session
        .push_flash(Flash::ok(format!("Revoked “{name}”; it no longer works.")));
    Ok(see_other(&format!("/orgs/{}/tokens", org.slug)))
}
