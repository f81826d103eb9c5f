//! Attaching the recorder to a tokio runtime: poll and terminate hooks, and the run context
//! of the runtime's threads.
//!
//! Only runtimes built through `instrument` are observed: the hooks are per runtime, so a
//! process's other runtimes (the dashboard's own server) produce no poll records, and their
//! threads, which never enter a run context, are not attributed to any run.

use std::hash::{Hash, Hasher};

use tokio::runtime::Builder;

use crate::capture;

/// Adds the recorder's hooks to `builder`; every thread the runtime starts records for `run`.
pub fn instrument(builder: &mut Builder, run: u16) -> &mut Builder {
    builder
        .on_thread_start(move || {
            capture::set_run(run);
            capture::set_thread_role(crate::buffer::ROLE_RUNTIME);
        })
        .on_thread_stop(|| {
            capture::set_run(0);
        })
        .on_before_task_poll(|meta| {
            let task = task_id_u64(meta.id());
            // Step mode's gate first: a poll held there has not begun.
            crate::step::before_poll(task);
            capture::poll_hook_start(task);
        })
        .on_after_task_poll(|meta| {
            let task = task_id_u64(meta.id());
            capture::poll_hook_end(task);
            crate::step::after_poll(task);
        })
        .on_task_terminate(|meta| capture::task_terminated(task_id_u64(meta.id())))
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
