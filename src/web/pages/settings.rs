//! The Settings tab (`/orgs/{slug}/settings`): rename, allowed email
//! domains, transfer of ownership and deletion, as plain forms; and
//! restoring a deleted organization (from the profile). Every member may
//! read the tab; the policy decides which forms they get.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::layout;
use crate::domain::policy::{self, Action};
use crate::domain::{DomainList, OrganizationName, Role, Slug};
use crate::error::{Error, day_and_time};
use crate::services::members::MemberRef;
use crate::services::organizations::{self, Afterwards, Rename};
use crate::web::context::find_org;
use crate::web::context::{OrgSlug, SignedIn};
use crate::web::form::{Form, Typed};
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{
    DayTime, OrgView, SettingsFields, SettingsForm, SettingsPage, Tabs, TransferView, render,
};

/// The tab as it is in force; after a refusal, with the error beside the
/// form that was refused and what was typed into that form alone.
async fn settings_page(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    refused: Option<(SettingsForm, String)>,
) -> Result<SettingsPage, Error> {
    let (user, (context, overview)) = signed
        .read_org(state, slug, |conn, _, context| {
            let overview = organizations::overview(conn, &context.viewer)?;
            Ok((context, overview))
        })
        .await?;
    let role = context.viewer.role;
    let org = &context.viewer.org;
    let domains: Vec<String> = overview.domains.iter().map(ToString::to_string).collect();
    let in_force = SettingsFields::in_force(org, &domains);
    let (fields, error) = match refused {
        Some((form, message)) => {
            let section = form.section();
            (in_force.with_typed(form), Some((section, message)))
        }
        None => (in_force, None),
    };
    let transfer = overview.transfer.map(|transfer| TransferView {
        afterwards: match transfer.then_role {
            Some(role) => format!("{} stays as {}", transfer.from.name, role.label()),
            None => format!("{} leaves the organization", transfer.from.name),
        },
        for_viewer: transfer.to.user_id == signed.user_id(),
        from: transfer.from.name,
        to: transfer.to.name,
        to_email: transfer.to.email,
        requested: DayTime(transfer.requested_at),
    });
    Ok(SettingsPage {
        layout: layout(
            state,
            &signed.session,
            format!("Settings of {}", org.name),
            Some(&user),
            context.orgs.clone(),
            Some(&org.slug),
        ),
        org: OrgView::from(org),
        tabs: Tabs::for_role(role),
        csrf: signed.session.csrf_token(),
        manage: policy::authorize(role, Action::ManageOrganization).is_ok(),
        manage_domains: policy::authorize(role, Action::ChangeAllowedDomains).is_ok(),
        transfer_ownership: policy::authorize(role, Action::TransferOwnership).is_ok(),
        domains,
        transfer,
        stay_roles: Role::all(),
        fields,
        error,
    })
}

/// The Settings tab.
pub async fn page(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let page = settings_page(&state, &signed, slug, None).await?;
    Ok(html(StatusCode::OK, render(&page, "the settings page")?))
}

/// A refusal the person can act on is shown beside the form that caused it
/// (with what they typed into it); anything else is the error page.
async fn or_the_form_again(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    form: SettingsForm,
    error: Error,
) -> Result<HttpResponse, Error> {
    match error {
        Error::Invalid(_)
        | Error::Forbidden(_)
        | Error::Conflict(_)
        | Error::LastOwner { .. }
        | Error::NotFound(_) => {
            let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let page = settings_page(state, signed, slug, Some((form, error.to_string()))).await?;
            Ok(html(status, render(&page, "the settings page")?))
        }
        other => Err(other),
    }
}

/// After a change: its notice, and on to where `done` says (the tab,
/// mostly); or, when it was refused, the form again with the words.
async fn after_change<T>(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    form: SettingsForm,
    done: Result<T, Error>,
    then: impl FnOnce(T) -> (String, String),
) -> Result<HttpResponse, Error> {
    match done {
        Ok(done) => {
            let (notice, location) = then(done);
            signed.session.push_flash(Flash::ok(notice));
            Ok(see_other(&location))
        }
        Err(error) => or_the_form_again(state, signed, slug, form, error).await,
    }
}

/// What the rename form sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenameForm {
    name: Typed<OrganizationName>,
    slug: Typed<Slug>,
}

/// Rename: a new name, a new slug, or both.
pub async fn rename(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let RenameForm { name, slug: new_slug } = form.parse()?;
    let parsed = name
        .parsed
        .map_err(|e| Error::Invalid(format!("Name: {e}.")))
        .and_then(|name| {
            Ok(Rename {
                name: Some(name),
                slug: Some(new_slug.parsed?),
            })
        });
    let done = match parsed {
        Ok(change) => {
            let (actor, lookup) = (signed.actor.clone(), slug.clone());
            signed
                .write(&state, move |conn, _| {
                    let org = find_org(conn, &actor, &lookup)?;
                    organizations::rename(conn, &actor, &org, &change)
                })
                .await
                .map(|(_, renamed)| renamed)
        }
        Err(error) => Err(error),
    };
    after_change(
        &state,
        &signed,
        slug.clone(),
        SettingsForm::Rename {
            name: name.text,
            slug: new_slug.text,
        },
        done,
        |renamed| {
            let moved = if renamed.slug == slug.as_str() {
                String::new()
            } else {
                format!(
                    " Its address is now /orgs/{}; the old one leads here for 90 days.",
                    renamed.slug
                )
            };
            (
                format!("Saved: the organization is “{}”.{moved}", renamed.name),
                format!("/orgs/{}/settings", renamed.slug),
            )
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DomainsForm {
    domains: Typed<DomainList>,
}

/// The allowed email domains: the whole list, replaced.
pub async fn domains(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let DomainsForm { domains } = form.parse()?;
    let done = match domains.parsed.map_err(Error::from) {
        Ok(DomainList(domains)) => {
            let (actor, lookup) = (signed.actor.clone(), slug.clone());
            signed
                .write(&state, move |conn, _| {
                    let org = find_org(conn, &actor, &lookup)?;
                    organizations::set_allowed_domains(conn, &actor, &org, &domains)
                })
                .await
                .map(|(_, domains)| domains)
        }
        Err(error) => Err(error),
    };
    let back = format!("/orgs/{slug}/settings");
    after_change(
        &state,
        &signed,
        slug,
        SettingsForm::Domains {
            domains: domains.text,
        },
        done,
        |domains| {
            let notice = if domains.is_empty() {
                "Saved: invitations may go to addresses at any domain.".to_owned()
            } else {
                let listed: Vec<String> = domains.iter().map(ToString::to_string).collect();
                format!(
                    "Saved: invitations may go only to addresses at {}.",
                    listed.join(", ")
                )
            };
            (notice, back)
        },
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferForm {
    to: Typed<MemberRef>,
    afterwards: Typed<Afterwards>,
}

/// Step one of a transfer: an owner names the member to take over.
pub async fn transfer(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let TransferForm { to, afterwards } = form.parse()?;
    let parsed = afterwards
        .parsed
        .map_err(Error::from)
        .and_then(|afterwards| Ok((to.parsed?, afterwards)));
    let done = match parsed {
        Ok((to, afterwards)) => {
            let (actor, lookup, settings) = (signed.actor.clone(), slug.clone(), state.settings.clone());
            signed
                .write(&state, move |conn, _| {
                    let org = find_org(conn, &actor, &lookup)?;
                    organizations::request_transfer(conn, &settings, &actor, &org, &to, afterwards)
                })
                .await
                .map(|(_, transfer)| transfer)
        }
        Err(error) => Err(error),
    };
    let back = format!("/orgs/{slug}/settings");
    after_change(
        &state,
        &signed,
        slug,
        SettingsForm::Transfer {
            to: to.text,
            afterwards: afterwards.text,
        },
        done,
        |transfer| {
            (
                format!(
                    "Asked {} to take over ownership; they have an email, and accept on this page.",
                    transfer.to.name
                ),
                back,
            )
        },
    )
    .await
}

/// Step two: the member named accepts, and is an owner from now on.
pub async fn confirm_transfer(
    state: web::Data<AppState>,
    signed: SignedIn,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (actor, lookup, settings) = (signed.actor.clone(), slug.clone(), state.settings.clone());
    let done = signed
        .write(&state, move |conn, _| {
            let org = find_org(conn, &actor, &lookup)?;
            let transfer = organizations::confirm_transfer(conn, &settings, &actor, &org)?;
            Ok((org, transfer))
        })
        .await;
    let back = format!("/orgs/{slug}/settings");
    after_change(
        &state,
        &signed,
        slug,
        SettingsForm::TransferAnswer,
        done,
        |(_, (org, transfer))| {
            (
                format!(
                    "You are now an owner of {}, taking over from {}.",
                    org.name, transfer.from.name
                ),
                back,
            )
        },
    )
    .await
}

/// The member named declines, or an owner cancels, a waiting transfer.
pub async fn cancel_transfer(
    state: web::Data<AppState>,
    signed: SignedIn,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (actor, lookup) = (signed.actor.clone(), slug.clone());
    let done = signed
        .write(&state, move |conn, _| {
            let org = find_org(conn, &actor, &lookup)?;
            organizations::cancel_transfer(conn, &actor, &org)
        })
        .await;
    let back = format!("/orgs/{slug}/settings");
    after_change(&state, &signed, slug, SettingsForm::TransferAnswer, done, |_| {
        (
            "The transfer of ownership is cancelled; nothing changed.".to_owned(),
            back,
        )
    })
    .await
}

/// The slug, typed again: compared as typed, by the service.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteForm {
    confirm: String,
}

/// Delete, with the slug typed to confirm; lands on the profile.
pub async fn delete(
    state: web::Data<AppState>,
    signed: SignedIn,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let DeleteForm {
        confirm: confirmation,
    } = form.parse()?;
    let (actor, lookup, settings) = (signed.actor.clone(), slug.clone(), state.settings.clone());
    let done = signed
        .write(&state, move |conn, _| {
            let org = find_org(conn, &actor, &lookup)?;
            organizations::delete(conn, &settings, &actor, &org, &confirmation)
        })
        .await;
    if done.is_ok() {
        state.tokens.forget_all();
    }
    after_change(
        &state,
        &signed,
        slug,
        SettingsForm::Delete,
        done,
        |(_, deleted)| {
            (
                format!(
                    "Deleted {}. Its owners can restore it from this page until {}.",
                    deleted.name,
                    day_and_time(deleted.purge_after.unwrap_or_default())
                ),
                "/profile".to_owned(),
            )
        },
    )
    .await
}

/// Restore a deleted organization (the button on the profile).
pub async fn restore(
    state: web::Data<AppState>,
    signed: SignedIn,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (actor, settings) = (signed.actor.clone(), state.settings.clone());
    let (_, restored) = signed
        .write(&state, move |conn, _| {
            organizations::restore(conn, &settings, &actor, &slug)
        })
        .await?;
    signed.session.push_flash(Flash::ok(format!(
        "Restored {}; its members can use it again.",
        restored.name
    )));
    Ok(see_other(&format!("/orgs/{}/members", restored.slug)))
}
