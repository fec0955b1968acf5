//! The stylesheet and scripts, compiled into the binary: nothing is fetched
//! at run time and a deployment is one file.

use actix_web::http::header;
use actix_web::{HttpResponse, Scope, web};

const APP_CSS: &str = include_str!("../../static/app.css");
const APP_JS: &str = include_str!("../../static/app.js");
const HTMX_JS: &str = include_str!("../../static/vendor/htmx.min.js");

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
