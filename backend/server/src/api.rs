//! HTTP handlers for `/api/*` (see docs/protocol.md) and the error type they answer with.
//!
//! Every error is a JSON `{"error": "..."}` with a message a user can act on; internals
//! (thread names, lock poisoning, file paths) never leak into it.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, RawQuery, State};
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
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Unavailable(String),
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
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            StartError::Busy(_) | StartError::ConsoleMemory { .. } => ApiError::Busy(e.to_string()),
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

/// The run `raw` names. With `?instance=X` (the server instance the client saw the run on), a
/// run of an earlier server process is 410 Gone rather than whatever run has its number now.
pub(crate) fn find_run(state: &AppState, raw: &str, query: Option<&str>) -> Result<std::sync::Arc<Run>, ApiError> {
    let id = parse_run_id(raw)?;
    if let Some(instance) = query_param(query, "instance") {
        check_instance(state, id, &instance)?;
    }
    state.runs.get(id).ok_or_else(|| ApiError::NotFound(format!("no run {id} (it never existed or was evicted)")))
}

/// Refuses a run reference made against another server instance.
pub fn check_instance(state: &AppState, run: u64, instance: &str) -> Result<(), ApiError> {
    let current = state.runs.instance();
    if instance == current {
        return Ok(());
    }
    Err(ApiError::Gone(format!(
        "run {run} belongs to an earlier server (instance {}); this server (instance {current}) was started since, \
         and its run {run}, if any, is a different run",
        instance.chars().take(40).collect::<String>()
    )))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| v.to_owned())
    })
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
                "open_futures": s.open_futures,
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
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, &id, query.as_deref())?;
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
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, &id, query.as_deref())?;
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

/// `POST /api/runs/{id}/snapshot`: a task dump of the running run, taken now: every task's
/// await tree, frames outermost first (the same snapshot is a `snapshot` event in the run).
pub async fn snapshot_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    use futurescope_recorder::dump::{self, DumpError, Reason};
    let run = find_run(&state, &id, query.as_deref())?;
    if run.is_over() {
        return Err(ApiError::Unprocessable(format!("run {} is over: snapshots are of a running run's tasks", run.id)));
    }
    let answer = dump::request(run.log.clone(), Reason::Manual).await.unwrap_or(Err(DumpError::Gone));
    match answer {
        Ok(snapshot) => Ok(Json(serde_json::to_value(&*snapshot).expect("snapshots serialize"))),
        Err(e @ (DumpError::NoRuntime | DumpError::NotBuilt)) => Err(ApiError::Unprocessable(e.to_string())),
        Err(e @ (DumpError::Busy | DumpError::Timeout(_) | DumpError::Queued(_))) => Err(ApiError::Busy(e.to_string())),
        Err(DumpError::Gone) => Err(ApiError::Internal("the snapshot thread is gone".into())),
    }
}

/// The header line of a saved run (`/events` and `futurescope run --out`).
pub fn events_header(run: &Run) -> String {
    let mut header = json!({
        "format": "futurescope-events",
        "v": 1,
        "run": run.id,
        "instance": &*run.instance,
        "scenario": run.scenario().map(|s| s.name),
        "params": run.params.to_json(),
    });
    if let Some(program) = run.program() {
        header["program"] = json!(program);
    }
    header.to_string()
}

/// Writes `run` in the saved-run format: the header line, then one event per line.
pub fn write_saved_run(run: &Run, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(out, "{}", events_header(run))?;
    let mut from = 0;
    loop {
        let mut chunk = String::new();
        let next = run.log.encode_range(from, EVENTS_PER_CHUNK, "\n", &mut chunk);
        if next == from {
            return Ok(());
        }
        writeln!(out, "{chunk}")?;
        from = next;
    }
}

/// Events per chunk of a streamed `/events` body.
const EVENTS_PER_CHUNK: usize = 20_000;

pub async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let run = find_run(&state, &id, query.as_deref())?;
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
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let run = find_run(&state, &id, query.as_deref())?;
    match q.format.as_deref() {
        Some("chrome") | None => {
            let body = crate::export::chrome_trace(&run.log, run.name());
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

#[derive(Deserialize)]
pub struct SourceQuery {
    file: String,
}

/// The program's own source file at a task's spawn location (program runs only), so the page
/// can show it. Only files named by a spawn location in the run are served, and only `.rs`
/// files: `{"file", "path", "text"}`, or `{"file", "error"}` saying why not.
pub async fn run_source(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<SourceQuery>,
    RawQuery(query): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let run = find_run(&state, &id, query.as_deref())?;
    let Some(program) = run.program() else {
        return Err(ApiError::NotFound(format!("run {} is a scenario: its source comes with /api/scenarios", run.id)));
    };
    let named = {
        let inner = run.log.lock();
        inner.spawn_locations().any(|loc| loc.rsplitn(3, ':').nth(2) == Some(q.file.as_str()))
    };
    if !named || !q.file.ends_with(".rs") {
        return Err(ApiError::NotFound(format!(
            "`{}` is not the file of a spawn location in run {}",
            q.file.chars().take(200).collect::<String>(),
            run.id
        )));
    }
    let path = program_file(&q.file, program.path.as_deref());
    Ok(Json(match path.as_ref().map(|p| (p, std::fs::read_to_string(p))) {
        Some((p, Ok(text))) => json!({"file": q.file, "path": p.display().to_string(), "text": text}),
        Some((p, Err(e))) => json!({"file": q.file, "error": format!("cannot read {}: {e}", p.display())}),
        None => json!({
            "file": q.file,
            "error": "not found on disk: the path is relative to the workspace the program was built in, \
                      and neither the program's working directory nor a directory above its executable holds it"
        }),
    }))
}

/// Where a spawn location's file is on disk: absolute paths as they are; relative ones (to
/// the workspace the program was built in) under the working directory or a directory above
/// the executable (`target/debug/..`).
fn program_file(file: &str, exe: Option<&str>) -> Option<std::path::PathBuf> {
    let file = std::path::Path::new(file);
    if file.is_absolute() {
        return Some(file.to_owned());
    }
    let mut bases: Vec<std::path::PathBuf> = std::env::current_dir().into_iter().collect();
    if let Some(exe) = exe {
        bases.extend(std::path::Path::new(exe).ancestors().skip(1).map(|p| p.to_owned()));
    }
    bases.into_iter().map(|b| b.join(file)).find(|p| p.is_file())
}
