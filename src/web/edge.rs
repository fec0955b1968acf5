//! What every request must satisfy before a handler runs.
//!
//! A path segment becomes a slug, an id or a token, none of which holds a
//! control character or runs long, so a path that does cannot name anything:
//! it is not found, before its text reaches a query (Postgres refuses NUL in
//! text and would answer with an error) or a header.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;

use super::errors::error_page;
use crate::domain::text::has_control;

/// The longest path that can name anything here, with room to spare.
const MAX_PATH_BYTES: usize = 1024;

pub async fn refuse_unusable_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path();
    let usable =
        path.len() <= MAX_PATH_BYTES && percent_decoded(path).is_some_and(|decoded| !has_control(&decoded));
    if usable {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let page = error_page(
        StatusCode::NOT_FOUND,
        "not-found",
        "There is nothing at this address. Check the address, or start from your organizations.".to_owned(),
    );
    Ok(req.into_response(page))
}

/// The path as the handlers will see it, or None if it is not UTF-8.
fn percent_decoded(path: &str) -> Option<std::borrow::Cow<'_, str>> {
    percent_encoding::percent_decode_str(path).decode_utf8().ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decoded;

    #[test]
    fn decodes_paths_as_handlers_see_them() {
        assert_eq!(percent_decoded("/orgs/a%20b").as_deref(), Some("/orgs/a b"));
        assert_eq!(percent_decoded("/a+b").as_deref(), Some("/a+b"));
        assert_eq!(percent_decoded("/x%00").as_deref(), Some("/x\0"));
        assert_eq!(percent_decoded("/x%FF"), None);
        assert_eq!(percent_decoded("/x%C0%80"), None);
    }
}
