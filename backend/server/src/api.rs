//! HTTP handlers for `/api/*` (see docs/protocol.md) and the error type they answer with.
//!
//! Every error is a JSON `{"error": "..."}` with a message a user can act on; internals
//! (thread names, lock poisoning, file paths) never leak into it.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::runs::{Run, StartError};

/// What a handler can answer instead of success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, Json(json!({ "error": self.to_string() }))).into_response()
    }
}

impl From<StartError> for ApiError {
    fn from(e: StartError) -> Self {
        match e {
            StartError::UnknownScenario(_) => ApiError::NotFound(e.to_string()),
            StartError::BadParams(_) => ApiError::Unprocessable(e.to_string()),
            StartError::Busy(_) => ApiError::Busy(e.to_string()),
            StartError::Thread(_) => ApiError::Internal("could not start the run".into()),
        }
    }
}

/// A run id from the path: a clear error for junk instead of axum's plain-text rejection.
fn parse_run_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| {
        ApiError::BadRequest(format!(
            "run id must be a positive integer, got `{}`",
            raw.chars().take(40).collect::<String>()
        ))
    })
}

pub(crate) fn find_run(state: &AppState, raw: &str) -> Result<std::sync::Arc<Run>, ApiError> {
    let id = parse_run_id(raw)?;
    state.runs.get(id).ok_or_else(|| ApiError::NotFound(format!("no run {id} (it never existed or was evicted)")))
}

pub async fn health() -> Json<serde_json::Value> {
    Json(json!({"ok": true, "server": concat!("futurescope ", env!("CARGO_PKG_VERSION"))}))
}

/// Whether console-subscriber is served, where, and how many tokio-console clients are attached.
pub async fn console(State(state): State<AppState>) -> Json<serde_json::Value> {
    let clients = state.console_clients.as_ref().map(|c| c.load(std::sync::atomic::Ordering::Relaxed));
    Json(match &state.console {
        Some(addr) => {
            json!({"enabled": true, "addr": addr, "command": format!("tokio-console http://{addr}"), "clients": clients})
        }
        None => json!({"enabled": false, "addr": null, "command": null, "clients": null}),
    })
}

/// The run given to `futurescope open FILE`, as the JSON lines it was saved as.
pub async fn opened(State(state): State<AppState>) -> Result<Response, ApiError> {
    let opened =
        state.opened.as_ref().ok_or_else(|| ApiError::NotFound("no file was opened (futurescope open FILE)".into()))?;
    let name = format!("inline; filename=\"{}\"", opened.file_name.replace('"', ""));
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson".to_owned()), (header::CONTENT_DISPOSITION, name)],
        opened.body.clone(),
    )
        .into_response())
}

pub async fn scenarios() -> Json<serde_json::Value> {
    Json(scenarios_json())
}

/// The scenario catalogue as the API and `futurescope list --json` show it.
pub fn scenarios_json() -> serde_json::Value {
    let list: Vec<_> = futurescope_scenarios::catalogue()
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "title": s.title,
                "topic": s.topic,
                "summary": s.summary,
                "description": s.description,
                "source": s.source,
                "file": s.file,
                "params": s.params,
                "step": {
                    "clock": if s.step_time.paused_clock() { "paused" } else { "real" },
                    "note": s.step_time.note(),
                },
            })
        })
        .collect();
    serde_json::Value::Array(list)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRun {
    scenario: String,
    #[serde(default)]
    params: serde_json::Value,
    /// Start paused before the first poll, in step mode (see `step`).
    #[serde(default)]
    step: bool,
}

pub async fn create_run(
    State(state): State<AppState>,
    body: Result<Json<CreateRun>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(req) = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge("the request body is larger than 64 KiB".into());
        }
        ApiError::BadRequest(format!(
            "expected a JSON body {{\"scenario\": NAME, \"params\": {{..}}}} with content-type application/json: {}",
            e.body_text()
        ))
    })?;
    let run = state.runs.start_named(&req.scenario, &req.params, req.step)?;
    let body = match &run.step {
        Some(step) => json!({
            "run": run.id,
            "step": {
                "token": step.token(),
                "clock": if step.time.paused_clock() { "paused" } else { "real" },
                "note": step.time.note(),
            },
        }),
        None => json!({ "run": run.id }),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

pub async fn list_runs(State(state): State<AppState>) -> Json<serde_json::Value> {
    let runs: Vec<_> = state.runs.list().iter().map(|r| r.summary()).collect();
    Json(serde_json::to_value(runs).expect("summaries serialize"))
}

pub async fn run_status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, &id)?;
    Ok(Json(status_json(&run)))
}

fn status_json(run: &Run) -> serde_json::Value {
    let mut v = serde_json::to_value(run.summary()).expect("summary serializes");
    v["lints"] = serde_json::Value::Array(run.log.lints_json());
    v
}

pub async fn cancel_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, &id)?;
    state.runs.cancel(run.id);
    // Give the run a moment to stop so the answer usually shows the final state.
    for _ in 0..50 {
        if run.is_over() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(Json(status_json(&run)))
}

/// The header line of a saved run (`/events` and `futurescope run --out`).
pub fn events_header(run: &Run) -> String {
    json!({
        "format": "futurescope-events",
        "v": 1,
        "run": run.id,
        "scenario": run.scenario.name,
        "params": run.params.to_json(),
    })
    .to_string()
}

/// Events per chunk of a streamed `/events` body.
const EVENTS_PER_CHUNK: usize = 20_000;

pub async fn run_events(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let run = find_run(&state, &id)?;
    let header_line = events_header(&run) + "\n";
    let log = run.log.clone();
    let end = log.len();
    let chunks = futures::stream::unfold((0usize, Some(header_line)), move |(from, header)| {
        let log = log.clone();
        async move {
            if let Some(h) = header {
                return Some((Ok::<_, std::io::Error>(h), (from, None)));
            }
            if from >= end {
                return None;
            }
            let mut out = String::with_capacity(EVENTS_PER_CHUNK * 64);
            let next = log.encode_range(from, EVENTS_PER_CHUNK.min(end - from), "\n", &mut out);
            out.push('\n');
            Some((Ok(out), (next, None)))
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(chunks)).into_response())
}

#[derive(Deserialize)]
pub struct ExportQuery {
    format: Option<String>,
}

pub async fn run_export(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    let run = find_run(&state, &id)?;
    match q.format.as_deref() {
        Some("chrome") | None => {
            let body = crate::export::chrome_trace(&run.log, run.scenario.name);
            let disposition = format!("attachment; filename=\"futurescope-run-{}.json\"", run.id);
            Ok((
                [(header::CONTENT_TYPE, "application/json".to_owned()), (header::CONTENT_DISPOSITION, disposition)],
                body,
            )
                .into_response())
        }
        Some(other) => Err(ApiError::BadRequest(format!(
            "unknown export format `{}`; supported: chrome",
            other.chars().take(40).collect::<String>()
        ))),
    }
}
