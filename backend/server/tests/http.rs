//! The HTTP API through `tower::ServiceExt::oneshot`: answers, errors and refusals.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futurescope::runs::RunManagerConfig;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const HOST: &str = "127.0.0.1:6680";

fn state() -> futurescope::AppState {
    support::install(false);
    support::state_for(HOST.parse().unwrap(), RunManagerConfig::default(), None)
}

async fn send(app: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).header(header::HOST, HOST).body(Body::empty()).unwrap()
}

fn post_json(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn wait_finished(app: &axum::Router, id: u64) -> Value {
    for _ in 0..1000 {
        let (_, body) = send(app, get(&format!("/api/runs/{id}"))).await;
        let v: Value = serde_json::from_str(&body).unwrap();
        if v["status"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("run {id} did not finish");
}

#[tokio::test]
async fn scenarios_are_listed_with_their_params() {
    let app = futurescope::app(state());
    let (status, body) = send(&app, get("/api/scenarios")).await;
    assert_eq!(status, StatusCode::OK);
    let list: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(list.len() >= 16, "{} scenarios", list.len());
    let lazy = list.iter().find(|s| s["name"] == "lazy-future").unwrap();
    assert_eq!(lazy["params"][0]["name"], "delay_ms");
    assert_eq!(lazy["params"][0]["type"], "int");
    assert!(lazy["params"][0]["min"].is_i64() && lazy["params"][0]["max"].is_i64());
    for s in &list {
        assert!(s["description"].as_str().unwrap().len() >= 200, "{} explanation too short", s["name"]);
        assert!(!s["source"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn a_run_is_created_recorded_and_served_as_json_lines() {
    let app = futurescope::app(state());
    let (status, body) =
        send(&app, post_json("/api/runs", json!({"scenario": "lazy-future", "params": {"delay_ms": 20}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["run"].as_u64().unwrap();
    let status_v = wait_finished(&app, id).await;
    assert_eq!(status_v["status"], "finished", "{status_v}");
    let polls = status_v["counts"]["polls"].as_u64().unwrap();
    assert!(polls >= 4);

    let (status, body) = send(&app, get(&format!("/api/runs/{id}/events"))).await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = body.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(header["format"], "futurescope-events");
    assert_eq!(header["v"], 1);
    assert_eq!(header["scenario"], "lazy-future");
    let events: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len() as u64, status_v["counts"]["events"].as_u64().unwrap());
    assert_eq!(events.iter().filter(|e| e["k"] == "poll_start").count() as u64, polls);

    let (status, body) = send(&app, get(&format!("/api/runs/{id}/export?format=chrome"))).await;
    assert_eq!(status, StatusCode::OK);
    let trace: Value = serde_json::from_str(&body).unwrap();
    assert!(trace["traceEvents"].as_array().unwrap().iter().any(|e| e["ph"] == "X"));

    let (_, body) = send(&app, get("/api/runs")).await;
    let runs: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert!(runs.iter().any(|r| r["id"] == id));
}

#[tokio::test]
async fn bad_input_gets_a_clear_json_error() {
    let app = futurescope::app(state());
    let cases = [
        (post_json("/api/runs", json!({"scenario": "no-such"})), StatusCode::NOT_FOUND, "unknown scenario `no-such`"),
        (
            post_json("/api/runs", json!({"scenario": "lazy-future", "params": {"delay_ms": 99999}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "parameter `delay_ms` must be an integer from 10 to 2000, got 99999",
        ),
        (
            post_json("/api/runs", json!({"scenario": "lazy-future", "params": {"nope": 1}})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown parameter `nope`",
        ),
        (post_json("/api/runs", json!({"scenarioo": "x"})), StatusCode::BAD_REQUEST, "expected a JSON body"),
        (get("/api/runs/999999"), StatusCode::NOT_FOUND, "no run 999999"),
        (get("/api/runs/abc"), StatusCode::BAD_REQUEST, "run id must be a positive integer"),
        (get("/api/runs/abc/events"), StatusCode::BAD_REQUEST, "run id must be a positive integer"),
    ];
    for (req, want_status, want_text) in cases {
        let uri = req.uri().to_string();
        let (status, body) = send(&app, req).await;
        assert_eq!(status, want_status, "{uri}: {body}");
        let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{uri}: not JSON: {body}"));
        assert!(v["error"].as_str().unwrap().contains(want_text), "{uri}: {body}");
    }
    // Not JSON at all.
    let req = Request::post("/api/runs")
        .header(header::HOST, HOST)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{nope"))
        .unwrap();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // Too large a body.
    let big = json!({"scenario": "lazy-future", "params": {"x": "a".repeat(200_000)}});
    let (status, _) = send(&app, post_json("/api/runs", big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn foreign_hosts_and_origins_are_refused() {
    let app = futurescope::app(state());
    let req = Request::get("/api/scenarios").header(header::HOST, "evil.example:6680").body(Body::empty()).unwrap();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
    assert!(body.contains("DNS rebinding"), "{body}");

    let req = Request::get("/").body(Body::empty()).unwrap();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "a request without Host is refused");

    let mut req = post_json("/api/runs", json!({"scenario": "lazy-future"}));
    req.headers_mut().insert(header::ORIGIN, "http://evil.example".parse().unwrap());
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("origin `http://evil.example`"), "{body}");

    // The dashboard's own origin is fine.
    let mut req = post_json("/api/runs", json!({"scenario": "no-such"}));
    req.headers_mut().insert(header::ORIGIN, format!("http://{HOST}").parse().unwrap());
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_page_and_assets_are_served() {
    let app = futurescope::app(state());
    let (status, body) = send(&app, get("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("/assets/app.js"), "{body}");
    let (status, _) = send(&app, get("/assets/app.js")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, get("/static/style.css")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = send(&app, get("/assets/../Cargo.toml")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn other_origins_cannot_frame_or_share_a_context_with_the_page() {
    let app = futurescope::app(state());
    for path in ["/", "/assets/app.js", "/api/scenarios"] {
        let resp = app.clone().oneshot(get(path)).await.unwrap();
        let h = resp.headers();
        assert_eq!(h["content-security-policy"], "frame-ancestors 'none'", "{path}");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{path}");
        assert_eq!(h["cross-origin-embedder-policy"], "require-corp", "{path}");
    }
}

#[tokio::test]
async fn a_run_can_be_cancelled() {
    let app = futurescope::app(state());
    let (status, body) =
        send(&app, post_json("/api/runs", json!({"scenario": "lazy-future", "params": {"delay_ms": 2000}}))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["run"].as_u64().unwrap();
    let req = Request::post(format!("/api/runs/{id}/cancel")).header(header::HOST, HOST).body(Body::empty()).unwrap();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = wait_finished(&app, id).await;
    assert_eq!(v["status"], "cancelled", "{v}");
}
