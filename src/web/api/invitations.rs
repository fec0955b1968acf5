//! `/api/v1/orgs/{slug}/invitations`: list, invite (one or many, all or
//! nothing, retry-safe with an `Idempotency-Key`), resend, revoke.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::{IntoParams, PartialSchema, ToSchema};

use super::caller::caller;
use super::json::{Object, json_body, query, timestamp};
use super::schemas;
use crate::domain::{EmailAddress, InvalidRole, Permission, PersonName, Role};
use crate::error::{Error, RowProblem};
use crate::services::idempotency::{self, Answer, Answered, IdempotencyKey, KeyedRequest};
use crate::services::invitations::{self, Invitee, IssuedInvitation, PendingInvitation};
use crate::web::errors::Problem;
use crate::web::state::AppState;

/// A pending invitation as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct InvitationJson {
    /// How the resend and revoke routes name it.
    id: String,
    email: String,
    name: Option<String>,
    /// The role the invitee gets on accepting.
    #[schema(value_type = Role)]
    role: &'static str,
    invited_by: String,
    created_at: String,
    last_sent_at: String,
    /// How many times the email was sent.
    send_count: i32,
    /// When the link stops working.
    expires_at: String,
    /// The email's delivery: `queued`, `sent`, `retrying` or `failed`.
    delivery: String,
}

impl From<PendingInvitation> for InvitationJson {
    fn from(invitation: PendingInvitation) -> Self {
        Self {
            id: invitation.id,
            email: invitation.email,
            name: invitation.name,
            role: invitation.role.as_str(),
            invited_by: invitation.inviter_name,
            created_at: timestamp(invitation.created_at),
            last_sent_at: timestamp(invitation.last_sent_at),
            send_count: invitation.send_count,
            expires_at: timestamp(invitation.expires_at),
            delivery: invitation.delivery,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct InvitationList {
    invitations: Vec<InvitationJson>,
    /// How many invitations are pending, in all.
    total: i64,
    page: u32,
    per_page: u32,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InvitationListParams {
    /// The first page unless asked.
    #[param(minimum = 1, maximum = 4294967295_u64, format = Int64)]
    page: Option<u32>,
    /// Invitations per page, 50 unless asked.
    // The maximum is `MAX_PER_PAGE`; `tests/api/api_document.rs` probes the
    // server at and past the bounds the document states.
    #[param(minimum = 1, maximum = 200)]
    per_page: Option<u32>,
}

/// The most invitations a page of the list holds.
const MAX_PER_PAGE: u32 = 200;

/// The organization's pending invitations, newest first.
#[utoipa::path(get, path = "/api/v1/orgs/{slug}/invitations", tag = "invitations",
    params(("slug" = String, Path, description = "The organization's slug"), InvitationListParams),
    responses(
        (status = 200, body = InvitationList),
    ),
    security(("bearer" = [])))]
pub async fn invitations(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::ViewMembers)?;
    let params = query::<InvitationListParams>(&req)?;
    let page = params.page.unwrap_or(1);
    let per_page = params.per_page.unwrap_or(50);
    if page == 0 || !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(Error::Invalid(format!(
            "Pages count from 1, with 1 to {MAX_PER_PAGE} invitations each."
        )));
    }
    let viewer = caller.viewer(&state, &path).await?;
    let listed = state
        .read(move |conn| invitations::pending_for_org(conn, &viewer, page, per_page))
        .await?;
    Ok(HttpResponse::Ok().json(InvitationList {
        invitations: listed.invitations.into_iter().map(InvitationJson::from).collect(),
        total: listed.total,
        page: listed.page,
        per_page: listed.per_page,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationRequest {
    #[schema(format = Email)]
    email: String,
    /// No higher than the caller's own.
    #[schema(value_type = Role, inline)]
    role: String,
    /// How the invitation greets them, until they sign in with their own.
    #[schema(schema_with = schemas::person_name)]
    name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationBatch {
    /// The people to invite, all or none.
    #[schema(schema_with = invitation_rows)]
    invitations: Vec<Object<InvitationRequest>>,
}

/// A freshly sent invitation. Its link is only in the email.
#[derive(Serialize, ToSchema)]
pub struct SentInvitation {
    id: String,
    email: String,
    name: Option<String>,
    #[schema(value_type = Role)]
    role: &'static str,
    expires_at: String,
}

impl SentInvitation {
    fn new(invitation: IssuedInvitation) -> Self {
        Self {
            id: invitation.invitation_id,
            email: invitation.email.to_string(),
            name: invitation.name,
            role: invitation.role.as_str(),
            expires_at: timestamp(invitation.expires_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SentInvitations {
    invitations: Vec<SentInvitation>,
}

/// Each row as an invitee, or every row's problem by its position.
fn invitees(batch: InvitationBatch) -> Result<Vec<Invitee>, Error> {
    if batch.invitations.is_empty() {
        return Err(Error::Invalid("List at least one invitation.".to_owned()));
    }
    invitations::fits_one_batch(batch.invitations.len())?;
    let mut invitees = Vec::with_capacity(batch.invitations.len());
    let mut problems = Vec::new();
    for (index, Object(row)) in batch.invitations.into_iter().enumerate() {
        let email = EmailAddress::parse(&row.email).map_err(|error| RowProblem {
            index,
            kind: "invalid-email",
            detail: format!("{}.", capitalized(&error.to_string())),
        });
        let role = role_named(&row.role).map_err(|error| RowProblem {
            index,
            kind: "invalid-role",
            detail: error.to_string(),
        });
        let name =
            PersonName::parse_optional(row.name.as_deref().unwrap_or_default()).map_err(|error| RowProblem {
                index,
                kind: "invalid-name",
                detail: format!("{}.", capitalized(&error.to_string())),
            });
        match (email, role, name) {
            (Ok(email), Ok(role), Ok(name)) => invitees.push(Invitee {
                email,
                name,
                role,
                ends: None,
            }),
            (email, role, name) => {
                problems.extend([email.err(), role.err(), name.err()].into_iter().flatten())
            }
        }
    }
    if problems.is_empty() {
        Ok(invitees)
    } else {
        Err(Error::Rows(problems))
    }
}

/// A role by its API name, exactly as written (`Role` reads the same names
/// from JSON); the console and the command line are more forgiving.
fn role_named(text: &str) -> Result<Role, InvalidRole> {
    Role::all()
        .into_iter()
        .find(|role| role.as_str() == text)
        .ok_or_else(|| InvalidRole(text.to_owned()))
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Invites one person or many, all or nothing: if any row cannot be invited
/// (a bad address, already a member, already invited, listed twice), the
/// answer is 422 with each row's problem by its position, and nobody is
/// invited. With an `Idempotency-Key`, a retry gets the first answer back and
/// invites nobody twice.
#[utoipa::path(post, path = "/api/v1/orgs/{slug}/invitations", tag = "invitations",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255, pattern = "^[!-~]+$",
            description = "A retry with the same key and body gets the first answer"),
    ),
    request_body = InvitationBatch,
    responses(
        (status = 201, body = SentInvitations,
            headers(("Idempotent-Replayed" = String, description = "`true` on a retry's answer"))),
        (status = 409, description = "A request with this key is still being answered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Each row's problem by its position (`errors`), or the key was used for another request; nothing was done", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn create_invitations(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::InviteMembers)?;
    let mut keys = req.headers().get_all("Idempotency-Key");
    let key = match (keys.next(), keys.next()) {
        (None, _) => None,
        (Some(value), None) => Some(IdempotencyKey::parse(value.to_str().unwrap_or("\u{0}"))?),
        (Some(_), Some(_)) => {
            return Err(Error::Invalid(
                "Send one Idempotency-Key, not several.".to_owned(),
            ));
        }
    };
    let (bytes, batch) = json_body::<InvitationBatch>(body).await?;
    let invitees = invitees(batch)?;
    let viewer = caller.viewer(&state, &path).await?;
    let keyed = key.map(|key| {
        KeyedRequest::new(
            &caller.grant.token_id.to_string(),
            key,
            "invitations.create",
            &viewer.org.id,
            &bytes,
        )
    });
    let actor = caller.actor;
    let settings = state.settings.clone();
    let answered = state
        .db(move |conn| {
            idempotency::once(conn, keyed.as_ref(), |conn| {
                let sent = invitations::invite_all(conn, &settings, &actor, &viewer.org, &invitees)?;
                let invitations = sent.into_iter().map(SentInvitation::new).collect();
                let body = serde_json::to_string(&SentInvitations { invitations })
                    .map_err(|error| Error::Invalid(error.to_string()))?;
                Ok(Answer { status: 201, body })
            })
        })
        .await?;
    let (answer, replayed) = match answered {
        Answered::Now(answer) => (answer, false),
        Answered::Before(answer) => (answer, true),
    };
    let mut response =
        HttpResponse::build(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::CREATED));
    response.content_type("application/json");
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.body(answer.body))
}

/// Sends an invitation again, with a new link and a new expiry; the old link
/// stops working.
#[utoipa::path(post, path = "/api/v1/orgs/{slug}/invitations/{id}/resend", tag = "invitations",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 200, body = SentInvitation),
        (status = 404, description = "No such organization for this token, or no such invitation in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered or revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn resend_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::InviteMembers)?;
    let (segment, invitation_id) = path.into_inner();
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    let settings = state.settings.clone();
    let sent = state
        .db(move |conn| invitations::resend(conn, &settings, &actor, &viewer.org, &invitation_id))
        .await?;
    Ok(HttpResponse::Ok().json(SentInvitation::new(sent)))
}

/// Revokes a pending invitation: its link stops working at once.
#[utoipa::path(delete, path = "/api/v1/orgs/{slug}/invitations/{id}", tag = "invitations",
    params(
        ("slug" = String, Path, description = "The organization's slug"),
        ("id" = String, Path, description = "The invitation's id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such organization for this token, or no such invitation in it", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered or revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = [])))]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Error> {
    let caller = caller(&state, &req).await?;
    caller.carries(Permission::InviteMembers)?;
    let (segment, invitation_id) = path.into_inner();
    let viewer = caller.viewer(&state, &segment).await?;
    let actor = caller.actor;
    state
        .db(move |conn| invitations::revoke(conn, &actor, &viewer.org, &invitation_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A batch's rows: one to [`invitations::MAX_BATCH`].
fn invitation_rows() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(InvitationRequest::schema())
        .min_items(Some(1))
        .max_items(Some(invitations::MAX_BATCH))
        .build()
}
