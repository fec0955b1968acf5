//! The API tokens tab (`/orgs/{slug}/tokens`) and the service accounts tab
//! (`/orgs/{slug}/service-accounts`): make tokens and keys (the secret shown
//! once, in the answer to the form), list them, revoke them, and manage
//! service accounts. Everything works as plain forms; htmx boosts them.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{OrgContext, layout};
use crate::domain::Slug;
use crate::domain::policy;
use crate::domain::{AccessLevel, Description, LabelName, Lifetime, Role};
use crate::error::Error;
use crate::services::Actor;
use crate::services::service_accounts::{self, AccountRequest, KeyRequest};
use crate::services::submissions::{self, OnceValue, Purpose, Submission, Submitted};
use crate::services::tokens::{self, IssuedToken, TokenRequest};
use crate::services::users::User;
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{
    AccountForm, AccountRowView, ConfirmPage, CreatedSecret, DayTime, OrgView, SecretShownBefore,
    ServiceAccountsPage, Tabs, TokenForm, TokenRowView, TokensPage, render,
};

/// The lifetimes the forms offer, in days; the command line takes any that
/// [`Lifetime::parse`] does.
const LIFETIMES: &[u16] = &[7, 30, 90, 180, 366];

/// What the token form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenForm {
    name: Typed<LabelName>,
    access: Typed<AccessLevel>,
    days: Typed<Lifetime>,
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
        }
    }

    fn request(self) -> Result<TokenRequest, Error> {
        let (access, lifetime) = (self.access.value()?, self.days.value()?);
        Ok(TokenRequest {
            name: self
                .name
                .parsed
                .map_err(|e| Error::Invalid(format!("Name: {e}.")))?,
            access,
            lifetime,
        })
    }
}

/// What a service account's key form sends: its name is the account's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyForm {
    access: Typed<AccessLevel>,
    days: Typed<Lifetime>,
}

/// What the service account form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountForm {
    name: Typed<LabelName>,
    description: Typed<Description>,
    role: Typed<Role>,
}

fn created(issued: &IssuedToken) -> CreatedSecret {
    CreatedSecret {
        name: issued.name.clone(),
        secret: issued.secret.expose().to_owned(),
        expires: DayTime(issued.expires_at),
    }
}

/// What a page with a create form answers besides the page itself.
enum Answer {
    /// The page as it is, or the form again with what was typed and why it
    /// was refused.
    Form { error: Option<String> },
    /// A token or key was made now: its secret, shown this once.
    Created(CreatedSecret),
    /// The form was sent again: what the first submission made.
    CreatedBefore(SecretShownBefore),
}

impl Answer {
    fn parts(self) -> (Option<String>, Option<CreatedSecret>, Option<SecretShownBefore>) {
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
        lifetimes: LIFETIMES,
        form,
        error,
        created,
        made_before,
        once: OnceValue::issue().as_str().to_owned(),
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

fn empty_account_form() -> AccountForm {
    AccountForm {
        name: String::new(),
        description: String::new(),
        role: String::new(),
    }
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

async fn accounts_page(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    form: AccountForm,
    answer: Answer,
) -> Result<ServiceAccountsPage, Error> {
    let (user, (context, listed)) = signed
        .read_org(state, slug, move |conn, _, context| {
            let listed = service_accounts::list(conn, &context.viewer)?;
            Ok((context, listed))
        })
        .await?;
    let role = context.viewer.role;
    let (error, created, made_before) = answer.parts();
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
        form,
        error,
        created,
        made_before,
        once: OnceValue::issue().as_str().to_owned(),
    })
}

/// The service accounts tab.
pub async fn accounts(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let page = accounts_page(
        &state,
        &signed,
        slug,
        empty_account_form(),
        Answer::Form { error: None },
    )
    .await?;
    Ok(html(StatusCode::OK, render(&page, "the service accounts page")?))
}

/// Create a service account.
pub async fn create_account(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let NewAccountForm {
        name,
        description,
        role,
    } = form.parse()?;
    let typed = AccountForm {
        name: name.text,
        description: description.text,
        role: role.text,
    };
    let parsed = name
        .parsed
        .map_err(|e| Error::Invalid(format!("Name: {e}.")))
        .and_then(|name| {
            Ok(AccountRequest {
                name,
                description: description
                    .parsed
                    .map_err(|e| Error::Invalid(format!("Description: {e}.")))?,
                role: role.parsed?,
            })
        });
    let made = match parsed {
        Ok(request) => {
            let actor = signed.actor.clone();
            let lookup = slug.clone();
            signed
                .write(&state, move |conn, _| {
                    let org = crate::web::context::find_org(conn, &actor, &lookup)?;
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
            let answer = Answer::Form {
                error: Some(error.to_string()),
            };
            let page = accounts_page(&state, &signed, slug, typed, answer).await?;
            Ok(html(status, render(&page, "the service accounts page")?))
        }
        Err(other) => Err(other),
    }
}

/// Create a key for a service account: the answer shows it this once. The
/// same form sent again (a reload) makes nothing and says so.
pub async fn create_key(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, account_id) = path.into_inner();
    let NewKeyForm { access, days } = form.parse()?;
    let (access, lifetime) = (access.value()?, days.value()?);
    let once = form.once_value()?;
    let key = KeyRequest {
        name: None,
        access,
        lifetime,
    };
    let (actor, lookup, user_id) = (signed.actor.clone(), slug.clone(), signed.user_id().to_owned());
    let (_, made) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &lookup)?;
            let submission = Submission {
                user_id: &user_id,
                once: once.as_ref(),
                purpose: Purpose::ServiceAccountKey {
                    org_id: &org.id,
                    account: &account_id,
                },
            };
            submissions::once(conn, &submission, |conn| {
                let issued = service_accounts::create_key(conn, &actor, &org, &account_id, &key)?;
                let kept = SecretShownBefore {
                    name: issued.name.clone(),
                };
                Ok((issued, kept))
            })
        })
        .await?;
    let answer = match made {
        Submitted::Now(issued) => Answer::Created(created(&issued)),
        Submitted::Before(made) => Answer::CreatedBefore(made),
    };
    let page = accounts_page(&state, &signed, slug, empty_account_form(), answer).await?;
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
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, account_id, change) = path.into_inner();
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
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, account_id, change) = path.into_inner();
    let change = AccountChange::parse(&change).ok_or_else(|| Error::NotFound("No such page.".to_owned()))?;
    let actor: Actor = signed.actor.clone();
    let (_, message) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
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
