//! Recording a small future in a test: a task named "main" on an instrumented runtime, with
//! the process's subscriber installed once (each test binary picks which).

#![allow(dead_code)]

use std::future::Future;
use std::sync::Once;

use futurescope_recorder::{Recorder, RunContextGuard, instrument};
use serde_json::Value;

/// Installs `make()` as the global subscriber, once per test binary.
pub fn install_once<S>(make: impl FnOnce() -> S)
where
    S: tracing::Subscriber + Send + Sync + 'static,
{
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(make()).expect("the only global subscriber of this test binary")
    });
}

/// The lean `RecorderSubscriber`.
pub fn install_recorder() {
    install_once(futurescope_recorder::RecorderSubscriber::new);
}

/// Runs `main` as a task named "main" on the runtime `builder` makes, returns the run's events.
pub fn record_on<F>(mut builder: tokio::runtime::Builder, main: F) -> Vec<Value>
where
    F: Future<Output = ()> + Send + 'static,
{
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    builder.enable_all();
    instrument(&mut builder, log.id);
    let rt = builder.build().unwrap();
    {
        let _ctx = RunContextGuard::enter(log.id);
        rt.block_on(async { tokio::task::Builder::new().name("main").spawn(main).unwrap().await.unwrap() });
    }
    drop(rt);
    recorder.finish_run(&log);
    log.to_json_values()
}
