//! The service accounts tab (`/orgs/{slug}/service-accounts`): make, disable
//! and delete service accounts, and make their keys (the secret shown once,
//! in the answer to the form, as a token's is on the API tokens tab).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::tokens::{Answer, LIFETIMES, created, page_layout};
use crate::domain::policy;
use crate::domain::{
    AccessLevel, ClientNetworks, Description, KeyRate, LabelName, Lifetime, Role, Slug, TokenLimits,
};
use crate::error::Error;
use crate::services::Actor;
use crate::services::service_accounts::{self, AccountRequest, KeyRequest};
use crate::services::submissions::{self, OnceValue, Purpose, Submission, Submitted};
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{
    AccountForm, AccountRowView, ConfirmPage, DayTime, OrgView, SecretShownBefore, ServiceAccountsPage, Tabs,
    render,
};

/// What a service account's key form sends: its name is the account's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyForm {
    access: Typed<AccessLevel>,
    days: Typed<Lifetime>,
    /// Where it works from: empty, anywhere.
    networks: Option<String>,
    /// How often: empty, as often as the servers answer.
    rate: Option<String>,
}

/// What the service account form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccountForm {
    name: Typed<LabelName>,
    description: Typed<Description>,
    role: Typed<Role>,
}

fn empty_account_form() -> AccountForm {
    AccountForm {
        name: String::new(),
        description: String::new(),
        role: String::new(),
    }
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
    let NewKeyForm {
        access,
        days,
        networks,
        rate,
    } = form.parse()?;
    let (access, lifetime) = (access.value()?, days.value()?);
    let limits = TokenLimits {
        networks: ClientNetworks::parse(networks.as_deref().unwrap_or_default())?,
        rate: KeyRate::parse_optional(rate.as_deref().unwrap_or_default())?,
    };
    let once = form.once_value()?;
    let key = KeyRequest {
        name: None,
        access,
        lifetime,
        limits,
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
