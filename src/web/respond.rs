//! Answers every handler gives: an HTML page, and "see other".

use actix_web::HttpResponse;
use actix_web::http::header::{self, ContentType};

/// An HTML answer.
pub fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(ContentType::html())
        .body(body)
}

/// "See other": where a form post goes next. For htmx, the adapter turns it
/// into a client-side redirect.
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}
