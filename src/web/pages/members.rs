//! The Members page, the Roles page, and the change-role, remove and leave dialogs.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{OrgContext, PENDING_ON_MEMBERS_PAGE, dialog, layout, page_number, query_pairs};
use crate::domain::Slug;
use crate::domain::policy::{self, Action};
use crate::domain::{MembershipEnd, Role, SearchText};
use crate::error::Error;
use crate::services::members::{
    self, Direction, MemberChange, MemberCursor, MemberQuery, MemberRef, SortKey, Step,
};
use crate::services::users::User;
use crate::services::{invitations, now};
use crate::web::context::{OrgSlug, SignedIn, htmx_target};
use crate::web::form::{Form, Typed};
use crate::web::fragments::Rendered;
use crate::web::respond::{html, see_other};
use crate::web::session::Flash;
use crate::web::state::AppState;
use crate::web::views::{
    ChangeRoleDialog, Filters, LeaveDialog, MemberRowFragment, MemberRowView, MembersPage, MembersTable,
    MembersTableFragment, NoticesOob, OrgView, PendingFragment, PendingList, RolesPage, Tabs, render,
};

/// Reads the member list's query string. Unknown sort keys fall back to the
/// default; a role or page that cannot be understood is refused.
fn member_query(req: &HttpRequest) -> Result<MemberQuery, Error> {
    let mut query = MemberQuery::default();
    let (mut after, mut before) = (None, None);
    for (key, value) in query_pairs(req.query_string()) {
        let value = value.trim();
        match key.as_str() {
            "q" => {
                query.search = SearchText::parse(value)
                    .map_err(|e| Error::Invalid(format!("The search is not usable: {e}.")))?
            }
            "role" if !value.is_empty() => query.role = Some(value.parse().map_err(Error::from)?),
            // Links are lenient: an order they do not know is the default.
            "sort" => query.sort = SortKey::named(value).unwrap_or_default(),
            "dir" => query.direction = Direction::named(value).unwrap_or_default(),
            "page" if !value.is_empty() => query.page = page_number(value)?,
            "after" if !value.is_empty() => after = Some(value.to_owned()),
            "before" if !value.is_empty() => before = Some(value.to_owned()),
            _ => {}
        }
    }
    // Read last: a cursor belongs to the order the other parameters say.
    query.step = match (after, before) {
        (None, None) => None,
        (Some(after), None) => Some(Step::After(MemberCursor::parse(
            &after,
            query.sort,
            query.direction,
        )?)),
        (None, Some(before)) => Some(Step::Before(MemberCursor::parse(
            &before,
            query.sort,
            query.direction.reversed(),
        )?)),
        (Some(_), Some(_)) => {
            return Err(Error::Invalid(
                "Ask for the page after or the page before, not both.".to_owned(),
            ));
        }
    };
    Ok(query)
}

/// `/orgs/{slug}`: the organization's home is its member list.
pub async fn org_home(path: web::Path<String>) -> HttpResponse {
    see_other(&format!("/orgs/{}/members", urlencode(&path)))
}

fn urlencode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// What the Members page read: the member table, and for a whole page the rest.
struct MembersView {
    table: Arc<str>,
    page: Option<PageParts>,
}

struct PageParts {
    context: OrgContext,
    filters: Filters,
    pending: Arc<str>,
}

/// The Members page; for htmx searches, sorts and pages, just the table.
pub async fn page(
    state: web::Data<AppState>,
    signed: SignedIn,
    req: HttpRequest,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let query = member_query(&req)?;
    let table_only = signed.htmx && htmx_target(&req) == Some("members-table");
    let csrf = signed.session.csrf_token();
    let kept = state.clone();
    let (user, view) = signed
        .read_org(&state, slug, move |conn, user, context| {
            let viewer = &context.viewer;
            let table = kept.fragments.member_table(viewer, &user.id, &query, || {
                let listed = members::list(conn, viewer, &query)?;
                let fragment = MembersTableFragment {
                    org: OrgView::from(&viewer.org),
                    table: MembersTable::new(&viewer.org, &query, listed, &user.id, viewer.role),
                };
                render(&fragment, "the member table")
            })?;
            if table_only {
                return Ok(MembersView { table, page: None });
            }
            let now = now();
            let pending = kept.fragments.newest_pending(viewer, &csrf, now, || {
                let newest = invitations::pending_for_org(conn, viewer, 1, PENDING_ON_MEMBERS_PAGE)?;
                let fragment = PendingFragment {
                    org: OrgView::from(&viewer.org),
                    csrf: csrf.clone(),
                    pending: PendingList::new(&newest, viewer.role, now, false),
                };
                Ok(Rendered {
                    html: render(&fragment, "the pending invitations")?,
                    until: newest.next_expiry(now),
                })
            })?;
            let filters = Filters::new(&viewer.org.slug, &query);
            Ok(MembersView {
                table,
                page: Some(PageParts {
                    context,
                    filters,
                    pending,
                }),
            })
        })
        .await?;
    let MembersView { table, page } = view;
    match page {
        None => Ok(html(StatusCode::OK, table.to_string())),
        Some(PageParts {
            context,
            filters,
            pending,
        }) => {
            let page = MembersPage {
                layout: layout(
                    &state,
                    &signed.session,
                    format!("Members of {}", context.viewer.org.name),
                    Some(&user),
                    context.orgs,
                    Some(&context.viewer.org.slug),
                ),
                can_invite: !policy::invitable_roles(context.viewer.role).is_empty(),
                tabs: Tabs::for_role(context.viewer.role),
                roles: Role::all(),
                org: OrgView::from(&context.viewer.org),
                filters,
                table,
                pending,
            };
            Ok(html(StatusCode::OK, render(&page, "the Members page")?))
        }
    }
}

/// The Roles page: the permission table, rendered from the policy.
pub async fn roles(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (user, context) = signed.read_org(&state, slug, |_, _, context| Ok(context)).await?;
    let page = RolesPage {
        layout: layout(
            &state,
            &signed.session,
            format!("Roles in {}", context.viewer.org.name),
            Some(&user),
            context.orgs,
            Some(&context.viewer.org.slug),
        ),
        org: OrgView::from(&context.viewer.org),
        tabs: Tabs::for_role(context.viewer.role),
        roles: Role::all(),
        rows: RolesPage::rows(),
    };
    Ok(html(StatusCode::OK, render(&page, "the Roles page")?))
}

/// Loads the organization and the member a dialog is about.
async fn member_in_org(
    state: &AppState,
    signed: &SignedIn,
    slug: Slug,
    member_id: String,
) -> Result<(User, (OrgContext, members::Member)), Error> {
    signed
        .read_org(state, slug, move |conn, _, context| {
            let member = members::find(conn, &context.viewer.org, &MemberRef::Id(member_id))?;
            Ok((context, member))
        })
        .await
}

/// The Change role dialog, offering only the roles the viewer may grant.
pub async fn role_dialog(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, member_id) = path.into_inner();
    let (user, (context, member)) = member_in_org(&state, &signed, slug, member_id).await?;
    let own = member.user_id == user.id;
    let policy::MemberChanges { roles, can_set_end } =
        policy::member_changes(context.viewer.role, member.role, own)?;
    let csrf = signed.session.csrf_token();
    let org = OrgView::from(&context.viewer.org);
    let ends = member
        .ends
        .map(|ends| ends.last_day().to_string())
        .unwrap_or_default();
    dialog(&state, &signed, &user, context, "Change role", |standalone| {
        render(
            &ChangeRoleDialog {
                standalone,
                csrf,
                org,
                member,
                roles,
                can_set_end,
                ends,
            },
            "the Change role dialog",
        )
    })
}

/// What the Change role dialog sends. It sends `ends` only to whoever may
/// set it; absent, the end stays as it is. A date is read against the
/// clock, so it stays text here.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRoleForm {
    role: Typed<Role>,
    ends: Option<String>,
}

/// Changes a member's role; htmx gets the updated row.
pub async fn change_role(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, member_id) = path.into_inner();
    let ChangeRoleForm { role, ends } = form.parse()?;
    let role = role.value()?;
    let ends = ends
        .map(|typed| MembershipEnd::parse_date_field(&typed, now()))
        .transpose()
        .map_err(Error::from)?;
    let change = MemberChange {
        role: Some(role),
        ends,
    };
    let actor = signed.actor.clone();
    let (_, updated) = signed
        .write(&state, move |conn, user| {
            let actor = actor.read_as(user.into());
            members::updated(conn, &actor, &slug, &MemberRef::Id(member_id), &change)
        })
        .await?;
    let members::Updated {
        member,
        org,
        actor_role: viewer_role,
    } = updated;
    let until = member
        .ends
        .map(|ends| format!(" until {}", crate::mail::format_day(ends.last_day())))
        .unwrap_or_default();
    let flash = Flash::ok(format!(
        "{} is now {} of {}{until}.",
        member.name,
        member.role.label(),
        org.name
    ));
    if !signed.htmx {
        signed.session.push_flash(flash);
        return Ok(see_other(&format!("/orgs/{}/members", org.slug)));
    }
    let row = MemberRowFragment {
        org: OrgView::from(&org),
        row: MemberRowView::new(member, signed.user_id(), viewer_role),
    };
    let body = render(&row, "the member row")? + &render(&NoticesOob { flashes: vec![flash] }, "the notice")?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("HX-Trigger", "closeDialog"))
        .body(body))
}

/// The Remove access confirmation.
pub async fn remove_dialog(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, member_id) = path.into_inner();
    let (user, (context, member)) = member_in_org(&state, &signed, slug, member_id).await?;
    let own = member.user_id == user.id;
    policy::authorize(
        context.viewer.role,
        Action::Remove {
            role: member.role,
            own,
        },
    )?;
    let csrf = signed.session.csrf_token();
    let org = OrgView::from(&context.viewer.org);
    dialog(&state, &signed, &user, context, "Remove access", |standalone| {
        render(
            &crate::web::views::RemoveDialog {
                standalone,
                csrf,
                org,
                member,
            },
            "the Remove access dialog",
        )
    })
}

/// Removes a member; htmx swaps their row for nothing.
pub async fn remove(
    state: web::Data<AppState>,
    signed: SignedIn,
    path: web::Path<(String, String)>,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let (_, member_id) = path.into_inner();
    let actor = signed.actor.clone();
    let (_, (org, member)) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
            let member = members::remove(conn, &actor, &org, &MemberRef::Id(member_id))?;
            Ok((org, member))
        })
        .await?;
    let flash = Flash::ok(format!("{} no longer has access to {}.", member.name, org.name));
    if !signed.htmx {
        signed.session.push_flash(flash);
        return Ok(see_other(&format!("/orgs/{}/members", org.slug)));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("HX-Trigger", "closeDialog"))
        .body(render(&NoticesOob { flashes: vec![flash] }, "the notice")?))
}

/// The Leave organization confirmation; for the last owner, the reason they
/// cannot leave and what to do instead.
pub async fn leave_dialog(
    state: web::Data<AppState>,
    signed: SignedIn,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let actor = signed.actor.clone();
    let (user, (context, refusal)) = signed
        .read_org(&state, slug, move |conn, _, context| {
            let refusal = match members::check_leave(conn, &actor, &context.viewer.org) {
                Ok(()) => None,
                Err(error @ Error::LastOwner { .. }) => Some(error.to_string()),
                Err(other) => return Err(other),
            };
            Ok((context, refusal))
        })
        .await?;
    let csrf = signed.session.csrf_token();
    let org = OrgView::from(&context.viewer.org);
    dialog(
        &state,
        &signed,
        &user,
        context,
        "Leave organization",
        |standalone| {
            render(
                &LeaveDialog {
                    standalone,
                    csrf,
                    org,
                    refusal,
                },
                "the Leave organization dialog",
            )
        },
    )
}

/// Leaves the organization and lands on the profile.
pub async fn leave(
    state: web::Data<AppState>,
    signed: SignedIn,
    _form: Form,
    OrgSlug(slug): OrgSlug,
) -> Result<HttpResponse, Error> {
    let actor = signed.actor.clone();
    let (_, org) = signed
        .write(&state, move |conn, _| {
            let org = crate::web::context::find_org(conn, &actor, &slug)?;
            members::leave(conn, &actor, &org)?;
            Ok(org)
        })
        .await?;
    signed
        .session
        .push_flash(Flash::ok(format!("You left {}.", org.name)));
    Ok(see_other("/profile"))
}
