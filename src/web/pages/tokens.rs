//! The API tokens tab (`/orgs/{slug}/tokens`) and the service accounts tab
//! (`/orgs/{slug}/service-accounts`): make tokens and keys (the secret shown
//! once, in the answer to the form), list them, revoke them, and manage
//! service accounts. Everything works as plain forms; htmx boosts them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use super::{OrgContext, layout};
use crate::domain::policy;
use crate::domain::{AccessLevel, LabelName, Lifetime};
use crate::error::Error;
use crate::services::Actor;
use crate::services::service_accounts::{self, AccountRequest, KeyRequest};
use crate::services::tokens::{self, IssuedToken, TokenRequest};
use crate::services::users::User;
use crate::web::context::SignedIn;
use crate::web::form::Form;
use crate::web::session::Flash;
use crate::web::views::{
    AccountRowView, ConfirmPage, CreatedSecret, DayTime, OrgView, ServiceAccountsPage, Tabs, TokenForm,
    TokenRowView, TokensPage, render,
};
use crate::web::{AppState, html, see_other};

/// The lifetimes the forms offer, in days; the command line takes any from 1 to 366.
const LIFETIMES: &[u16] = &[7, 30, 90, 180, 366];

/// Reads the access level and lifetime the token and key forms send.
fn access_and_lifetime(form: &Form) -> Result<(AccessLevel, Lifetime), Error> {
    Ok((
        form.text("access")
            .parse::<AccessLevel>()
            .map_err(|e| Error::Invalid(format!("{e}.")))?,
        Lifetime::parse(form.text("days")).map_err(|e| Error::Invalid(format!("{e}.")))?,
    ))
}

/// Reads what the token form sends: a name, an access level, a lifetime.
fn token_request(form: &Form, name: &str) -> Result<TokenRequest, Error> {
    let (access, lifetime) = access_and_lifetime(form)?;
    Ok(TokenRequest {
        name: LabelName::parse(name).map_err(|e| Error::Invalid(format!("Name: {e}.")))?,
        access,
        lifetime,
    })
}

fn created(issued: &IssuedToken) -> CreatedSecret {
    CreatedSecret {
        name: issued.name.clone(),
        secret: issued.secret.expose().to_owned(),
        expires: DayTime(issued.expires_at),
    }
}

/// Everything the API tokens page shows, read in one visit.
async fn tokens_page(
    state: &AppState,
    signed: &SignedIn,
    slug: String,
    form: TokenForm,
    error: Option<String>,
    secret: Option<CreatedSecret>,
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
    Ok(TokensPage {
        layout: page_layout(state, signed, &user, &context, "API tokens"),
        org: OrgView::from(&context.viewer.org),
        tabs: Tabs::for_role(role),
        csrf,
        sees_all,
        tokens: rows,
        access_levels: policy::creatable_access(role),
        lifetimes: LIFETIMES,
        form,
        error,
        created: secret,
    })
}

fn page_layout(
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
    }
}

/// The API tokens tab.
pub async fn list(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let page = tokens_page(&state, &signed, path.into_inner(), default_form(), None, None).await?;
    Ok(html(StatusCode::OK, render(&page, "the API tokens page")?))
}

/// Create a token: the answer is the page with the secret, shown this once.
pub async fn create(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, Error> {
    let slug = path.into_inner();
    let typed = TokenForm {
        name: form.text("name").to_owned(),
        access: form.text("access").to_owned(),
        days: form.text("days").parse().unwrap_or(Lifetime::DEFAULT.days()),
    };
    let made = match token_request(&form, &typed.name) {
        Ok(request) => {
            let actor = signed.actor.clone();
            let lookup = slug.clone();
            signed
                .write(&state, move |conn, _| {
                    let org = crate::web::find_org(conn, &lookup)?;
                    tokens::create_personal(conn, &actor, &org, None, &request)
                })
                .await
                .map(|(_, issued)| issued)
        }
        Err(error) => Err(error),
    };
    match made {
        Ok(issued) => {
            let page = tokens_page(
                &state,
                &signed,
                slug,
                default_form(),
                None,
                Some(created(&issued)),
            )
            .await?;
            Ok(html(StatusCode::OK, render(&page, "the API tokens page")?))
        }
        Err(error @ (Error::Invalid(_) | Error::Forbidden(_))) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = tokens_page(&state, &signed, slug, typed, Some(error.to_string()), None).await?;
            Ok(html(status, render(&page, "the API tokens page")?))
        }
        Err(other) => Err(other),
    }
}

/// "Revoke NAME?": the confirmation, as a page.
pub async fn revoke_confirm(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let (slug, token_id) = path.into_inner();
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
) -> Result<HttpResponse, Error> {
    let (slug, token_id) = path.into_inner();
    let actor = signed.actor.clone();
    let (_, (org, name)) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::find_org(conn, &slug)?;
            let name = tokens::revoke(conn, &actor, &org, &token_id)?;
            Ok((org, name))
        })
        .await?;
    signed
        .session
        .push_flash(Flash::ok(format!("Revoked “{name}”; it no longer works.")));
    Ok(see_other(&format!("/orgs/{}/tokens", org.slug)))
}

async fn accounts_page(
    state: &AppState,
    signed: &SignedIn,
    slug: String,
    typed: (String, String),
    error: Option<String>,
    secret: Option<CreatedSecret>,
) -> Result<ServiceAccountsPage, Error> {
    let (user, (context, listed)) = signed
        .read_org(state, slug, move |conn, _, context| {
            let listed = service_accounts::list(conn, &context.viewer)?;
            Ok((context, listed))
        })
        .await?;
    let role = context.viewer.role;
    Ok(ServiceAccountsPage {
        layout: page_layout(state, signed, &user, &context, "Service accounts"),
        org: OrgView::from(&context.viewer.org),
        tabs: Tabs::for_role(role),
        csrf: signed.session.csrf_token(),
        accounts: listed
            .into_iter()
            .map(|account| AccountRowView {
                created: DayTime(account.created_at),
                account,
            })
            .collect(),
        roles: policy::service_account_roles(role),
        access_levels: AccessLevel::ALL.to_vec(),
        lifetimes: LIFETIMES,
        form_name: typed.0,
        form_description: typed.1,
        error,
        created: secret,
    })
}

/// The service accounts tab.
pub async fn accounts(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let page = accounts_page(&state, &signed, path.into_inner(), Default::default(), None, None).await?;
    Ok(html(StatusCode::OK, render(&page, "the service accounts page")?))
}

/// Create a service account.
pub async fn create_account(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<String>,
    form: Form,
) -> Result<HttpResponse, Error> {
    let slug = path.into_inner();
    let typed = (form.text("name").to_owned(), form.text("description").to_owned());
    let parsed = LabelName::parse(&typed.0)
        .map_err(|e| Error::Invalid(format!("Name: {e}.")))
        .and_then(|name| {
            Ok(AccountRequest {
                name,
                description: service_accounts::parse_description(&typed.1)?,
                role: form
                    .text("role")
                    .parse()
                    .map_err(|e: crate::domain::InvalidRole| Error::Invalid(e.to_string()))?,
            })
        });
    let made = match parsed {
        Ok(request) => {
            let actor = signed.actor.clone();
            let lookup = slug.clone();
            signed
                .write(&state, move |conn, _| {
                    let org = crate::web::find_org(conn, &lookup)?;
                    service_accounts::create(conn, &actor, &org, &request)
                })
                .await
                .map(|(_, account)| account)
        }
        Err(error) => Err(error),
    };
    match made {
        Ok(account) => {
            signed.session.push_flash(Flash::ok(format!(
                "Created the service account “{}” ({}). Create a key for it below.",
                account.name,
                account.role.label()
            )));
            Ok(see_other(&format!("/orgs/{slug}/service-accounts")))
        }
        Err(error @ (Error::Invalid(_) | Error::Conflict(_))) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = accounts_page(&state, &signed, slug, typed, Some(error.to_string()), None).await?;
            Ok(html(status, render(&page, "the service accounts page")?))
        }
        Err(other) => Err(other),
    }
}

/// Create a key for a service account: the answer shows it this once.
pub async fn create_key(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    form: Form,
) -> Result<HttpResponse, Error> {
    let (slug, account_id) = path.into_inner();
    let actor = signed.actor.clone();
    let lookup = slug.clone();
    let (access, lifetime) = access_and_lifetime(&form)?;
    let key = KeyRequest {
        name: None,
        access,
        lifetime,
    };
    let (_, issued) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::find_org(conn, &lookup)?;
            service_accounts::create_key(conn, &actor, &org, &account_id, &key)
        })
        .await?;
    let page = accounts_page(
        &state,
        &signed,
        slug,
        Default::default(),
        None,
        Some(created(&issued)),
    )
    .await?;
    Ok(html(StatusCode::OK, render(&page, "the service accounts page")?))
}

/// What a confirmed change to a service account does.
#[derive(Clone, Copy)]
enum AccountChange {
    Disable,
    Delete,
}

impl AccountChange {
    fn parse(segment: &str) -> Option<Self> {
        match segment {
            "disable" => Some(Self::Disable),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// "Disable NAME?" / "Delete NAME?": the confirmation, as a page.
pub async fn account_confirm(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, Error> {
    let (slug, account_id, change) = path.into_inner();
    let change = AccountChange::parse(&change).ok_or_else(|| Error::NotFound("No such page.".to_owned()))?;
    let wanted = account_id.clone();
    let (user, (context, name)) = signed
        .read_org(&state, slug, move |conn, _, context| {
            let name = service_accounts::name_of(conn, &context.viewer, &wanted)?;
            Ok((context, name))
        })
        .await?;
    let org = OrgView::from(&context.viewer.org);
    let (heading, message, button, verb) = match change {
        AccountChange::Disable => (
            format!("Disable “{name}”?"),
            "Every key of this service account stops working at once.".to_owned(),
            "Yes, disable",
            "disable",
        ),
        AccountChange::Delete => (
            format!("Delete “{name}”?"),
            "The service account and all its keys are deleted; its keys stop working at once. This cannot be undone."
                .to_owned(),
            "Yes, delete",
            "delete",
        ),
    };
    let page = ConfirmPage {
        layout: page_layout(&state, &signed, &user, &context, "Service accounts"),
        heading,
        message,
        action: format!("/orgs/{}/service-accounts/{account_id}/{verb}", org.slug),
        button: button.to_owned(),
        back: format!("/orgs/{}/service-accounts", org.slug),
        csrf: signed.session.csrf_token(),
    };
    Ok(html(StatusCode::OK, render(&page, "the confirmation")?))
}

/// Disable or delete a service account.
pub async fn change_account(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String, String)>,
    _form: Form,
) -> Result<HttpResponse, Error> {
    let (slug, account_id, change) = path.into_inner();
    let change = AccountChange::parse(&change).ok_or_else(|| Error::NotFound("No such page.".to_owned()))?;
    let actor: Actor = signed.actor.clone();
    let (_, message) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::find_org(conn, &slug)?;
            Ok(match change {
                AccountChange::Disable => {
                    let name = service_accounts::disable(conn, &actor, &org, &account_id)?;
                    (org.slug, format!("Disabled “{name}”; its keys no longer work."))
                }
                AccountChange::Delete => {
                    let name = service_accounts::delete(conn, &actor, &org, &account_id)?;
                    (org.slug, format!("Deleted “{name}” and its keys."))
                }
            })
        })
        .await?;
    let (slug, message) = message;
    signed.session.push_flash(Flash::ok(message));
    Ok(see_other(&format!("/orgs/{slug}/service-accounts")))
}
