//! The stylesheet and scripts, compiled into the binary: nothing is fetched
//! at run time and a deployment is one file.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, Scope, web};

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");
const HTMX_JS: &str = include_str!("../../static/vendor/htmx.min.js");

/// A fingerprint of the assets, put in their URLs by the pages (`?v=…`), so
/// that a browser fetches them again after an upgrade rather than styling a
/// new page with an old stylesheet from its cache.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = DefaultHasher::new();
        (APP_CSS, APP_JS, HTMX_JS).hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    })
}

fn asset(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

pub fn scope() -> Scope {
    web::scope("/static")
        .route(
            "/app.css",
            web::get().to(|| async { asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route(
            "/app.js",
            web::get().to(|| async { asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/vendor/htmx.min.js",
            web::get().to(|| async { asset(HTMX_JS, "text/javascript; charset=utf-8") }),
        )
}
