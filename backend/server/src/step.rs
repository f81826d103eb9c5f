//! Step mode on the server: who drives a stepped run, the `/api/runs/{id}/step*` handlers, and
//! the step state the API and the WebSocket report (protocol in docs/protocol.md).
//!
//! The driver. `POST /api/runs` with `"step": true` answers with a step token. Every command
//! must carry it (`{"token": T}` in the body), so only the client that started the run, or
//! one its user handed the token to, drives it; anyone may watch (`GET .../step` and the
//! WebSocket's `step` messages). A WebSocket connection that sends `{"type":"drive","run":ID,
//! "token":T}` is the driver's presence: while none is connected and no command came for
//! `RunManagerConfig::driver_grace`, the run is let go (it continues freely), so a closed page
//! never leaves a run paused for ever. The run's time limit (`step_time_limit`) still holds,
//! and cancelling releases the gate at once.
//!
//! The gate itself (what "paused" means to a worker thread) is `futurescope_recorder::step`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use futurescope_recorder::LockUnpoisoned;
use futurescope_recorder::StepGate;
use futurescope_recorder::step::{Arrival, GateState, StepError};
use futurescope_scenarios::StepTime;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::{ApiError, find_run};
use crate::runs::Run;

/// How long `POST .../step` waits for the poll it allowed to end before answering anyway.
const STEP_ANSWER_WAIT: Duration = Duration::from_secs(2);
/// After that poll, how long it waits for the next poll to arrive at the gate (so the answer
/// can name it); with nothing runnable it answers without.
const NEXT_ARRIVAL_WAIT: Duration = Duration::from_millis(300);

/// A stepped run's gate and its driver.
pub struct StepControl {
    pub gate: Arc<StepGate>,
    pub time: StepTime,
    token: String,
    driver: Mutex<Driver>,
}

struct Driver {
    /// WebSocket connections that said they drive the run, open now.
    connections: usize,
    /// The last command, or when the last driving connection closed.
    last_seen: Instant,
    /// The driver was gone too long and the run was let go.
    let_go: bool,
}

impl StepControl {
    pub fn new(gate: Arc<StepGate>, time: StepTime) -> StepControl {
        StepControl {
            gate,
            time,
            token: crate::cli::random_token(),
            driver: Mutex::new(Driver { connections: 0, last_seen: Instant::now(), let_go: false }),
        }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn token_ok(&self, token: &str) -> bool {
        crate::guard::constant_time_eq(token, &self.token)
    }

    fn lock_driver(&self) -> std::sync::MutexGuard<'_, Driver> {
        self.driver.lock_unpoisoned()
    }

    fn touch(&self) {
        let mut d = self.lock_driver();
        d.last_seen = Instant::now();
        d.let_go = false;
    }

    /// A driving WebSocket connection opened.
    pub fn attach(&self) {
        let mut d = self.lock_driver();
        d.connections += 1;
        d.last_seen = Instant::now();
        d.let_go = false;
    }

    /// A driving WebSocket connection closed.
    pub fn detach(&self) {
        let mut d = self.lock_driver();
        d.connections = d.connections.saturating_sub(1);
        d.last_seen = Instant::now();
    }

    /// Lets the run go on freely when its driver has been gone for `grace` (the watchdog calls
    /// this while the run lasts).
    pub fn continue_if_driver_gone(&self, grace: Duration) {
        let mut d = self.lock_driver();
        if d.connections > 0 || d.let_go || d.last_seen.elapsed() < grace {
            return;
        }
        d.let_go = true;
        drop(d);
        let _ = self.gate.resume();
    }

    /// The step state as the API and the WebSocket report it.
    pub fn state_json(&self, run: &Run) -> Value {
        let st: GateState = self.gate.state();
        let lane = |thread: u32| run.log.lane_of(thread);
        let arrival = |a: &Arrival| {
            let mut v = serde_json::to_value(a).expect("an arrival serializes");
            v["worker"] = json!(lane(a.thread));
            v
        };
        let mut v = serde_json::to_value(&st).expect("the gate state serializes");
        v["waiting"] = st.waiting.iter().map(arrival).collect();
        v["polling"] = st.polling.iter().map(arrival).collect();
        if let Some(last) = &st.last_step {
            v["last_step"]["worker"] = json!(lane(last.thread));
        }
        let d = self.lock_driver();
        v["run"] = json!(run.id);
        v["status"] = json!(run.state());
        v["clock"] = json!(if self.time.paused_clock() { "paused" } else { "real" });
        v["note"] = json!(self.time.note());
        v["driver"] = json!({
            "connected": d.connections,
            "absent_ms": (d.connections == 0).then(|| d.last_seen.elapsed().as_millis() as u64),
            "let_go": d.let_go,
        });
        v
    }
}

fn step_error(run: &Run, e: StepError) -> ApiError {
    match e {
        StepError::Released => ApiError::Conflict(format!(
            "run {} is {}: there is nothing left to step",
            run.id,
            if run.is_over() { format!("{:?}", run.state()).to_lowercase() } else { "ending".into() }
        )),
        StepError::NotPaused | StepError::StepUnderWay => ApiError::Conflict(format!("run {}: {e}", run.id)),
    }
}

/// The body of a step command.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepCommand {
    #[serde(default)]
    token: Option<String>,
    /// For `run-until`: the task whose poll to stop before.
    #[serde(default)]
    task: Option<u64>,
}

/// The stepped run `raw` names, after checking that the caller drives it.
fn driven_run(
    state: &AppState,
    raw: &str,
    body: &Result<Json<StepCommand>, JsonRejection>,
) -> Result<Arc<Run>, ApiError> {
    let run = find_run(state, raw, None)?;
    let step = stepped(&run)?;
    let token = match body {
        Ok(Json(c)) => c.token.as_deref(),
        Err(_) => None,
    };
    if !token.is_some_and(|t| step.token_ok(t)) {
        return Err(ApiError::Forbidden(format!(
            "only the client driving run {} may step it: send {{\"token\": T}} with the step token that \
             POST /api/runs returned (or that its driver handed you)",
            run.id
        )));
    }
    if run.is_over() || step.gate.is_released() {
        return Err(step_error(&run, StepError::Released));
    }
    step.touch();
    Ok(run)
}

fn stepped(run: &Run) -> Result<&StepControl, ApiError> {
    run.step.as_ref().ok_or_else(|| {
        ApiError::Conflict(format!(
            "run {} is not in step mode: start a run with \"step\": true in POST /api/runs to step it",
            run.id
        ))
    })
}

/// Waits (bounded) until `done` holds for the gate's state or the run is over.
async fn wait_until(run: &Run, limit: Duration, done: impl Fn(&GateState) -> bool) {
    let step = run.step.as_ref().expect("only called for stepped runs");
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let changed = step.gate.notified();
        if run.is_over() || done(&step.gate.state()) {
            return;
        }
        // Notify's waiters also miss nothing here: `changed` was created before the check.
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return;
        }
    }
}

/// `GET /api/runs/{id}/step`: the step state (anyone may watch).
pub async fn state(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let run = find_run(&state, &id, None)?;
    Ok(Json(stepped(&run)?.state_json(&run)))
}

/// `POST /api/runs/{id}/step`: exactly one poll; answers once it has ended.
pub async fn step(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StepCommand>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let run = driven_run(&state, &id, &body)?;
    let control = run.step.as_ref().expect("driven runs are stepped");
    let before = control.gate.state().steps;
    control.gate.step().map_err(|e| step_error(&run, e))?;
    wait_until(&run, STEP_ANSWER_WAIT, |s| s.steps > before).await;
    wait_until(&run, NEXT_ARRIVAL_WAIT, |s| !s.waiting.is_empty() || s.stepping).await;
    Ok(Json(control.state_json(&run)))
}

/// `POST /api/runs/{id}/step-to-wake`: runs until a task is woken, then stops before the next poll.
pub async fn to_wake(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StepCommand>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let run = driven_run(&state, &id, &body)?;
    let control = run.step.as_ref().expect("driven runs are stepped");
    control.gate.until_wake().map_err(|e| step_error(&run, e))?;
    Ok(Json(control.state_json(&run)))
}

/// `POST /api/runs/{id}/run-until` with `{"token", "task"}`: runs until `task` is about to be polled.
pub async fn until_task(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StepCommand>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let run = driven_run(&state, &id, &body)?;
    let control = run.step.as_ref().expect("driven runs are stepped");
    let task = body.ok().and_then(|Json(c)| c.task).ok_or_else(|| {
        ApiError::Unprocessable("run-until needs the task to stop before: {\"token\": T, \"task\": ID}".into())
    })?;
    control.gate.until_task(task).map_err(|e| step_error(&run, e))?;
    Ok(Json(control.state_json(&run)))
}

/// `POST /api/runs/{id}/continue`: runs freely until paused.
pub async fn resume(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StepCommand>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let run = driven_run(&state, &id, &body)?;
    let control = run.step.as_ref().expect("driven runs are stepped");
    control.gate.resume().map_err(|e| step_error(&run, e))?;
    Ok(Json(control.state_json(&run)))
}

/// `POST /api/runs/{id}/pause`: stops before the next poll; answers once the polls under way
/// have ended (bounded).
pub async fn pause(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<StepCommand>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let run = driven_run(&state, &id, &body)?;
    let control = run.step.as_ref().expect("driven runs are stepped");
    control.gate.pause().map_err(|e| step_error(&run, e))?;
    wait_until(&run, STEP_ANSWER_WAIT, |s| s.polling.is_empty()).await;
    Ok(Json(control.state_json(&run)))
}
