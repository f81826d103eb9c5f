//! Attaching the recorder to a tokio runtime: poll and terminate hooks, and the run context
//! of the runtime's threads.
//!
//! Only runtimes built through `instrument` are observed: the hooks are per runtime, so a
//! process's other runtimes (the dashboard's own server) produce no poll records, and their
//! threads, which never enter a run context, are not attributed to any run.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use tokio::runtime::{Builder, TaskMeta};

use crate::capture;
use crate::log::RunLog;

/// Adds the recorder's hooks to `builder`; every thread the runtime starts records for `run`.
/// It sets tokio's hook callbacks, replacing any set before; to keep hooks of your own, pass
/// them through `Hooks` instead.
pub fn instrument(builder: &mut Builder, run: u16) -> &mut Builder {
    Hooks::new(run).install(builder)
}

type ThreadHook = Arc<dyn Fn() + Send + Sync>;
type TaskHook = Arc<dyn Fn(&TaskMeta<'_>) + Send + Sync>;

/// The recorder's runtime hooks chained with a program's own. tokio keeps one callback per
/// hook (setting one replaces the last, and none can be read back), so hooks of your own go
/// through here and `install` sets each once, calling yours and the recorder's:
///
/// ```ignore
/// let mut builder = tokio::runtime::Builder::new_multi_thread();
/// futurescope_recorder::Hooks::new(0)
///     .on_thread_start(|| eprintln!("worker up"))
///     .on_after_task_poll(|meta| metrics::poll_done(meta.id()))
///     .install(builder.enable_all());
/// ```
///
/// Before a poll, your hook runs first (so a gate that holds the poll back is not counted in
/// it); after a poll, the recorder's runs first. A hook set directly on the builder after
/// `install` replaces the recorder's; when that is the after-poll hook, recording falls back
/// to tokio's tracing on that thread (as without hooks) and stays complete.
#[derive(Clone, Default)]
pub struct Hooks {
    run: u16,
    thread_start: Option<ThreadHook>,
    thread_stop: Option<ThreadHook>,
    before_poll: Option<TaskHook>,
    after_poll: Option<TaskHook>,
    spawn: Option<TaskHook>,
    terminate: Option<TaskHook>,
}

impl Hooks {
    /// Hooks recording for `run` (0: the process's default run, see `Recorder::set_default_run`).
    pub fn new(run: u16) -> Hooks {
        Hooks { run, ..Hooks::default() }
    }

    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Hooks {
        self.thread_start = Some(Arc::new(f));
        self
    }

    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Hooks {
        self.thread_stop = Some(Arc::new(f));
        self
    }

    pub fn on_before_task_poll(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Hooks {
        self.before_poll = Some(Arc::new(f));
        self
    }

    pub fn on_after_task_poll(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Hooks {
        self.after_poll = Some(Arc::new(f));
        self
    }

    pub fn on_task_spawn(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Hooks {
        self.spawn = Some(Arc::new(f));
        self
    }

    pub fn on_task_terminate(mut self, f: impl Fn(&TaskMeta<'_>) + Send + Sync + 'static) -> Hooks {
        self.terminate = Some(Arc::new(f));
        self
    }

    /// Sets the chained hooks on `builder`.
    pub fn install(self, builder: &mut Builder) -> &mut Builder {
        let Hooks { run, thread_start, thread_stop, before_poll, after_poll, spawn, terminate } = self;
        if let Some(f) = spawn {
            builder.on_task_spawn(move |meta| f(meta));
        }
        builder
            .on_thread_start(move || {
                capture::set_run(run);
                capture::set_thread_role(crate::buffer::ROLE_RUNTIME);
                if let Some(f) = &thread_start {
                    f();
                }
            })
            .on_thread_stop(move || {
                if let Some(f) = &thread_stop {
                    f();
                }
                capture::thread_stopping();
                capture::set_run(0);
            })
            .on_before_task_poll(move |meta| {
                let task = task_id_u64(meta.id());
                // Step mode's gate first: a poll held there has not begun for anyone.
                crate::step::before_poll(task);
                if let Some(f) = &before_poll {
                    f(meta);
                }
                capture::poll_hook_start(task);
            })
            .on_after_task_poll(move |meta| {
                let task = task_id_u64(meta.id());
                capture::poll_hook_end(task);
                if let Some(f) = &after_poll {
                    f(meta);
                }
                crate::step::after_poll(task);
            })
            .on_task_terminate(move |meta| {
                capture::task_terminated(task_id_u64(meta.id()));
                if let Some(f) = &terminate {
                    f(meta);
                }
            })
    }
}

/// Runs `future` to completion on a runtime built from `builder` (with the recorder's hooks,
/// see `Hooks`), recorded as a run of its own, and returns its output and the finished log.
///
/// The order is what keeps the end of the recording: the runtime is dropped, which waits for
/// its worker threads to stop, before the run is finished. (Finishing while the runtime is
/// still up loses whatever its workers publish after `block_on` returns, such as the last
/// task's `poll_end` and `done`.)
pub fn record<F: Future>(builder: &mut Builder, future: F) -> std::io::Result<(F::Output, Arc<RunLog>)> {
    let recorder = crate::Recorder::global();
    let log = recorder.begin_run();
    let rt = instrument(builder, log.id).build()?;
    let output = {
        let _ctx = RunContextGuard::enter(log.id);
        let output = rt.block_on(future);
        drop(rt);
        output
    };
    recorder.finish_run(&log);
    Ok((output, log))
}

/// The number inside a `tokio::task::Id`, as `tokio::task::id()` displays it and tokio's
/// tracing spans record it as `task.id`.
///
/// `Id` has no public accessor, but it derives `Hash` over its one `NonZeroU64`, which hashes
/// as a single `write_u64`; this hasher keeps that value. (Formatting with `Display` would
/// give the same number at the price of an allocation on every poll.)
pub fn task_id_u64(id: tokio::task::Id) -> u64 {
    #[derive(Default)]
    struct KeepU64(u64);
    impl Hasher for KeepU64 {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            // Not expected; fold so a change in tokio shows as wrong ids in tests, not a panic.
            for b in bytes {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(*b));
            }
        }
        fn write_u64(&mut self, n: u64) {
            self.0 = n;
        }
    }
    let mut h = KeepU64::default();
    id.hash(&mut h);
    h.finish()
}

/// Marks the current thread as working for `run` until the guard is dropped (for a thread
/// that is not a runtime thread: the one calling `block_on`, or a plain thread).
#[must_use = "the run context ends when the guard is dropped"]
pub struct RunContextGuard {
    previous: u16,
}

impl RunContextGuard {
    pub fn enter(run: u16) -> RunContextGuard {
        RunContextGuard { previous: capture::set_run(run) }
    }
}

impl Drop for RunContextGuard {
    fn drop(&mut self) {
        capture::set_run(self.previous);
    }
}

/// Treats the calling thread as a runtime thread of `run`, named `label` on the timeline (for
/// the thread that drives a current-thread runtime with `block_on`).
pub fn enter_as_runtime_thread(run: u16, label: &str) -> RunContextGuard {
    let guard = RunContextGuard::enter(run);
    capture::set_thread_role(crate::buffer::ROLE_RUNTIME);
    capture::set_thread_label(label);
    guard
}

/// Spawns a plain OS thread that records for the same run as the calling thread (so its
/// wakes of the run's tasks are attributed).
pub fn spawn_thread<F, T>(name: &str, f: F) -> std::io::Result<std::thread::JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let run = capture::current_run();
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        let _ctx = RunContextGuard::enter(run);
        capture::set_thread_role(crate::buffer::ROLE_PLAIN);
        tracing::dispatcher::with_default(&dispatch, f)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_id_matches_display() {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let h = tokio::spawn(async { tokio::task::id() });
            let id = h.await.unwrap();
            assert_eq!(task_id_u64(id).to_string(), id.to_string());
        });
    }
}
