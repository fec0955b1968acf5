//! Errors as pages, as notices for htmx, and as RFC 9457 problem documents
//! for the JSON API.

use std::sync::OnceLock;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::context;
use super::session::SessionState;
use super::views::{ErrorNotice, ErrorPage, Layout, OrgChoice, SignedInErrorPage, UserView, render};
use crate::error::Error;
use crate::services::organizations;
use crate::web::respond::html;
use crate::web::state::AppState;

/// The words shown for an error and its kind, kept on the response so that
/// the adapters can turn a page into a notice or a problem document.
#[derive(Debug, Clone)]
struct ShownMessage {
    message: String,
    kind: &'static str,
    /// For a batch: each row's problem.
    rows: Option<Vec<RowError>>,
    /// The header of the signed-in person the page was shown to, if any.
    header: Option<Layout>,
}

/// An RFC 9457 problem document: how the JSON API answers every error. The
/// API's document describes this very type.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A stable name for the kind of error, such as `/problems/last-owner`,
    /// `/problems/forbidden` or `/problems/invalid-rows`.
    r#type: String,
    title: &'static str,
    status: u16,
    /// What went wrong, in words for a person.
    detail: String,
    /// For `/problems/invalid-rows`: each row's problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<RowError>>,
}

/// One row's problem in a batch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RowError {
    /// The row's position in the request, from 0.
    index: usize,
    /// `/problems/invalid-email`, `/problems/invalid-role`,
    /// `/problems/invalid-name`, `/problems/already-a-member`,
    /// `/problems/already-invited`, `/problems/duplicate`, …
    r#type: String,
    detail: String,
}

fn title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        403 => "Not allowed",
        404 => "Not found",
        409 => "That cannot be done",
        410 => "This link no longer works",
        429 => "Slow down",
        401 => "Not signed in",
        405 => "Method not allowed",
        413 => "Too large",
        422 => "Please check what you entered",
        503 => "Temporarily unavailable",
        _ => "Something went wrong",
    }
}

/// A full error page with `status` and `message`.
pub fn error_page(status: StatusCode, kind: &'static str, message: String) -> HttpResponse {
    page_with_header(status, kind, message, None)
}

/// The error page, under the signed-in person's header when there is one.
fn page_with_header(
    status: StatusCode,
    kind: &'static str,
    message: String,
    header: Option<Layout>,
) -> HttpResponse {
    let title = match kind {
        "organization-deleted" => "This organization was deleted",
        _ => title(status),
    };
    let rendered = match header.clone() {
        Some(layout) => render(
            &SignedInErrorPage {
                layout: Layout {
                    title: title.to_owned(),
                    ..layout
                },
                title,
                message: message.clone(),
            },
            "the error page",
        ),
        None => render(
            &ErrorPage {
                title,
                message: message.clone(),
            },
            "the error page",
        ),
    };
    let mut response = html(status, rendered.unwrap_or_else(|_| message.clone()));
    response.extensions_mut().insert(ShownMessage {
        message,
        kind,
        rows: None,
        header,
    });
    response
}

/// Gives an error page shown to someone signed in the header every page
/// has: their organizations, their name and "Sign out", so that a 403, a
/// 404 or a 410 ("deleted", "this link no longer works") is not a dead end.
/// Not for htmx (a notice) or the API (a problem document), and not for a
/// 429 or a 503, which answer without asking the database: the header
/// would, and the database is what is failing or being spared.
pub async fn signed_in_header(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wanted = !context::is_htmx(req.request()) && !req.path().starts_with("/api/");
    let session = SessionState::from_http(req.request());
    let org_in_path = req
        .path()
        .strip_prefix("/orgs/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned);
    let response = next.call(req).await?.map_into_boxed_body();
    let status = response.status();
    if !wanted || matches!(status.as_u16(), 429 | 503) {
        return Ok(response);
    }
    let Some(shown) = response.response().extensions().get::<ShownMessage>().cloned() else {
        return Ok(response);
    };
    let Some(session_user) = session.signed_in() else {
        return Ok(response);
    };
    let Some(state) = response
        .request()
        .app_data::<actix_web::web::Data<AppState>>()
        .cloned()
    else {
        return Ok(response);
    };
    // The header is a courtesy: an error page does not wait long for it.
    let found = state
        .read_within(HEADER_WITHIN, move |conn| {
            organizations::user_and_memberships(conn, &session_user)
        })
        .await;
    let Ok(Some((user, memberships))) = found else {
        return Ok(response);
    };
    let current_org = org_in_path.filter(|slug| memberships.iter().any(|m| &m.org.slug == slug));
    let header = Layout {
        // The page's own title, which the page sets.
        title: String::new(),
        csrf: session.csrf_token(),
        user: Some(UserView::from(&user)),
        orgs: memberships
            .into_iter()
            .map(|membership| OrgChoice {
                name: membership.org.name,
                slug: membership.org.slug,
            })
            .collect(),
        current_org,
        dev_banner: state.dev_login,
        // Kept for the next page the person chooses.
        flashes: Vec::new(),
    };
    let mut page = page_with_header(status, shown.kind, shown.message, Some(header));
    if let Some(kept) = page.extensions_mut().get_mut::<ShownMessage>() {
        kept.rows = shown.rows;
    }
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    Ok(response.into_response(page))
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Error::SignInRequired { next } = self {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("next", next)
                .finish();
            return crate::web::respond::see_other(&format!("/login?{query}"));
        }
        if let Error::Moved { slug } = self {
            // Where to exactly depends on the path asked, which
            // `follow_renames` knows.
            let mut response = HttpResponse::MovedPermanently().finish();
            response.extensions_mut().insert(MovedTo(slug.clone()));
            return response;
        }
        let message = if self.is_refusal() {
            self.to_string()
        } else if let Error::DatabaseUnavailable(cause) = self {
            tracing::warn!(%cause, "the database is unavailable");
            "The database is not answering right now, so nothing was changed. Please try again in a few seconds."
                .to_owned()
        } else {
            tracing::error!(error = %self, cause = ?self, "request failed");
            "Something went wrong on our side and nothing was changed. Please try again in a moment."
                .to_owned()
        };
        let mut response = error_page(self.status_code(), self.kind(), message);
        if let Error::Rows(problems) = self {
            let rows = problems
                .iter()
                .map(|problem| RowError {
                    index: problem.index,
                    r#type: format!("/problems/{}", problem.kind),
                    detail: problem.detail.clone(),
                })
                .collect();
            if let Some(shown) = response.extensions_mut().get_mut::<ShownMessage>() {
                shown.rows = Some(rows);
            }
        }
        if let Error::RateLimited { retry_after } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, (*retry_after).into());
        }
        if let Error::DatabaseUnavailable(_) = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, DATABASE_RETRY_SECONDS.into());
        }
        response
    }
}

/// The slug a renamed organization answers at now.
#[derive(Debug, Clone)]
struct MovedTo(String);

/// Sends a request for a renamed organization's old slug to the same path
/// under its new one, query included: 301 for reads, 308 (which keeps the
/// method and body) for changes, so an old link, bookmark or API client
/// keeps working.
pub async fn follow_renames(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let reads = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    );
    let path = req.path().to_owned();
    let query = req.query_string().to_owned();
    let response = next.call(req).await?.map_into_boxed_body();
    let Some(MovedTo(slug)) = response.response().extensions().get::<MovedTo>().cloned() else {
        return Ok(response);
    };
    let Some(location) = renamed_path(&path, &slug) else {
        return Ok(response);
    };
    let location = if query.is_empty() {
        location
    } else {
        format!("{location}?{query}")
    };
    let status = if reads {
        StatusCode::MOVED_PERMANENTLY
    } else {
        StatusCode::PERMANENT_REDIRECT
    };
    Ok(response.into_response(
        HttpResponse::build(status)
            .insert_header((header::LOCATION, location))
            .finish(),
    ))
}

/// `path` with the segment after `/orgs/` replaced by `slug`.
fn renamed_path(path: &str, slug: &str) -> Option<String> {
    let start = path.find("/orgs/")? + "/orgs/".len();
    let rest = &path[start..];
    let end = rest.find('/').map_or(path.len(), |at| start + at);
    Some(format!("{}{slug}{}", &path[..start], &path[end..]))
}

/// A failure's page again, with the request's id for the person to quote.
pub fn with_reference(response: ServiceResponse<BoxBody>, request_id: &str) -> ServiceResponse<BoxBody> {
    let Some(shown) = response.response().extensions().get::<ShownMessage>().cloned() else {
        return response;
    };
    let message = format!("{} Reference: {request_id}.", shown.message);
    let mut page = page_with_header(response.status(), shown.kind, message, shown.header);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    response.into_response(page)
}

/// How long an error page waits for the signed-in person's header.
const HEADER_WITHIN: std::time::Duration = std::time::Duration::from_millis(250);

/// How long a client is asked to wait while the database is unavailable.
pub(super) const DATABASE_RETRY_SECONDS: u64 = 5;

/// Unknown routes; and a route of the JSON API asked with a method it does
/// not answer: 405, with the methods it does answer in `Allow`, so that a
/// client learns that the address is right and the method wrong.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    let path = req.path().chars().take(200).collect::<String>();
    if let Some(allowed) = api_methods_at(req.path()) {
        let mut refusal = error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            format!("{path} answers {allowed}, not {}.", req.method()),
        );
        if let Ok(value) = HeaderValue::from_str(&allowed) {
            refusal.headers_mut().insert(header::ALLOW, value);
        }
        return refusal;
    }
    error_page(
        StatusCode::NOT_FOUND,
        "not-found",
        format!("There is nothing at {path}. Check the address, or start from your organizations."),
    )
}

/// The methods the JSON API's routes answer at `path` (as `Allow` lists
/// them), or None if no route of the API is there. Read from the route
/// table, so a new route or method is allowed here without more code.
fn api_methods_at(path: &str) -> Option<String> {
    static API_ROUTES: OnceLock<Vec<(&'static str, ResourceDef)>> = OnceLock::new();
    let routes = API_ROUTES.get_or_init(|| {
        super::ROUTES
            .iter()
            .filter(|(_, template)| template.starts_with("/api/"))
            .map(|(method, template)| (*method, ResourceDef::new(*template)))
            .collect()
    });
    let mut allowed: Vec<String> = routes
        .iter()
        .filter(|(_, route)| route.is_match(path))
        .map(|(method, _)| method.to_ascii_uppercase())
        .collect();
    allowed.dedup();
    (!allowed.is_empty()).then(|| allowed.join(", "))
}

/// Adapts answers for htmx: an error page becomes a notice at the top of the
/// page (and closes any open dialog); a redirect becomes a client-side one.
pub async fn htmx_adapter(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let htmx = context::is_htmx(req.request());
    let response = next.call(req).await?.map_into_boxed_body();
    if !htmx {
        return Ok(response);
    }
    let status = response.status();
    if status == StatusCode::SEE_OTHER {
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("/")
            .to_owned();
        return Ok(response.into_response(
            HttpResponse::Ok()
                .insert_header(("HX-Redirect", location))
                .finish(),
        ));
    }
    let shown = response.response().extensions().get::<ShownMessage>().cloned();
    if let Some(ShownMessage { message, .. }) = shown {
        let body = render(
            &ErrorNotice {
                message: message.clone(),
            },
            "the error notice",
        )
        .unwrap_or(message);
        let notice = HttpResponse::build(status)
            .insert_header(header::ContentType::html())
            .insert_header(("HX-Retarget", "#notices"))
            .insert_header(("HX-Reswap", "innerHTML"))
            .insert_header(("HX-Trigger", "closeDialog"))
            .body(body);
        return Ok(response.into_response(notice));
    }
    Ok(response)
}

/// The JSON API answers errors as RFC 9457 problem documents: the same
/// words as the pages, and a `type` per kind of error (`/problems/last-owner`,
/// `/problems/forbidden`, …) that callers can switch on.
pub async fn problem_adapter(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/");
    let response = next.call(req).await?.map_into_boxed_body();
    if !api {
        return Ok(response);
    }
    let status = response.status();
    let shown = response.response().extensions().get::<ShownMessage>().cloned();
    let Some(ShownMessage {
        message, kind, rows, ..
    }) = shown.or_else(|| framework_error(&response))
    else {
        return Ok(response);
    };
    let mut problem = HttpResponse::build(status);
    problem.insert_header((header::CONTENT_TYPE, "application/problem+json"));
    if status == StatusCode::UNAUTHORIZED {
        problem.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"rollcall\""));
    }
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.append_header((name.clone(), value.clone()));
        }
    }
    let document = Problem {
        r#type: format!("/problems/{kind}"),
        title: title(status),
        status: status.as_u16(),
        detail: message,
        errors: rows,
    };
    let body = serde_json::to_string(&document).unwrap_or_default();
    Ok(response.into_response(problem.body(body)))
}

/// An error that actix-web answered itself, before or around a handler (a
/// body past the extractor's limit, a path it could not read), in plain
/// text: under `/api/` it is a problem document too. A JSON answer (the
/// token check's OAuth error) is left as it is.
fn framework_error(response: &ServiceResponse<BoxBody>) -> Option<ShownMessage> {
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return None;
    }
    let (kind, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ("too-large", "The body is larger than this call takes."),
        StatusCode::NOT_FOUND => ("not-found", "There is nothing at this address."),
        status if status.is_server_error() => (
            "internal",
            "Something went wrong on our side and nothing was changed. Please try again in a moment.",
        ),
        _ => ("invalid", "The request could not be read."),
    };
    Some(ShownMessage {
        message: message.to_owned(),
        kind,
        rows: None,
        header: None,
    })
}

#[cfg(test)]
mod tests {
    use super::renamed_path;

    #[test]
    fn a_renamed_organization_keeps_the_rest_of_the_path() {
        assert_eq!(
            renamed_path("/orgs/old/members", "new").as_deref(),
            Some("/orgs/new/members")
        );
        assert_eq!(renamed_path("/orgs/old", "new").as_deref(), Some("/orgs/new"));
        assert_eq!(
            renamed_path("/api/v1/orgs/old/members/7", "new").as_deref(),
            Some("/api/v1/orgs/new/members/7")
        );
        assert_eq!(renamed_path("/profile", "new"), None);
    }
}
