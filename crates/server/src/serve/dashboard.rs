//! The web dashboard at `/`: one page, a script and a style sheet, compiled into the
//! binary (no build step, nothing fetched from elsewhere). The page reads only the public
//! API: it redraws the elections and deployments when `/v1/events` or `/v1/timeline`
//! says something changed (no polling), draws the timeline from `/v1/timeline`, reads
//! `/metrics`, runs the checker through `/v1/history/check`, and deploys, swaps, kills and
//! undeploys with the token the user types into it (kept in the tab's session storage).

use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;

const PAGE: &str = include_str!("dashboard/index.html");
const SCRIPT: &str = include_str!("dashboard/app.js");
const STYLE: &str = include_str!("dashboard/style.css");

/// `GET /`: the page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

/// `GET /dashboard/{asset}`: the page's script and style sheet.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return ApiError::not_found(format!("no dashboard asset {name:?}")).into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // The assets change only with the binary; a short cache spares reloads.
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        body,
    )
        .into_response()
}
