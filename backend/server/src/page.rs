//! The dashboard page (askama) and the frontend's files, embedded in the binary at build time
//! so it runs from any directory.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

use crate::AppState;

static FRONTEND_JS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../frontend/js");
static STATIC_FILES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../../static");

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
pub struct IndexPage {
    pub version: &'static str,
    pub console: Option<String>,
    /// The recorder's `long_poll` threshold, e.g. `10ms`: the stall box starts at it, so the
    /// stalls drawn are the polls the lint flags.
    pub long_poll: String,
}

pub async fn index(State(state): State<AppState>) -> IndexPage {
    let ns = state.runs.lint_thresholds().long_poll_ns;
    let long_poll = if ns % 1_000_000 == 0 { format!("{}ms", ns / 1_000_000) } else { format!("{}us", ns / 1_000) };
    IndexPage { version: env!("CARGO_PKG_VERSION"), console: state.console.clone(), long_poll }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "woff2" => "font/woff2",
        "json" => "application/json",
        "html" => "text/html; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(dir: &'static Dir<'static>, path: &str) -> Response {
    if path.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    }
    match dir.get_file(path) {
        Some(file) => {
            ([(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, "no-cache")], file.contents())
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

pub async fn asset(Path(path): Path<String>) -> Response {
    serve(&FRONTEND_JS, &path)
}

pub async fn static_file(Path(path): Path<String>) -> Response {
    serve(&STATIC_FILES, &path)
}
