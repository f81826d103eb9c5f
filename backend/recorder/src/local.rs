//! Polls of tasks that tokio runs without its task hooks.
//!
//! tokio 1.54 calls no task hooks for tasks on a `LocalSet` (`spawn_local`), so the recorder
//! cannot see their polls from the scheduler. `PollRecorded` sees them from the inside: it
//! wraps the task's future and records each poll as it happens, with the `ready` the future
//! returned, and the task's end. Wrap the future you pass to `spawn_local` with
//! `poll_recorded` (the scenarios' `spawn_local_named` does).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::capture;
use crate::runtime::task_id_u64;

pin_project_lite::pin_project! {
    /// A future whose polls are recorded as its task's polls.
    pub struct PollRecorded<F> {
        #[pin]
        inner: F,
        task: u64,
        finished: bool,
    }

    impl<F> PinnedDrop for PollRecorded<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if !*this.finished && *this.task != 0 {
                capture::inner_cancelled(*this.task);
            }
        }
    }
}

/// Records the polls of the task that runs `inner` (use it as the whole future of a
/// `spawn_local`ed task).
pub fn poll_recorded<F: Future>(inner: F) -> PollRecorded<F> {
    PollRecorded { inner, task: 0, finished: false }
}

impl<F: Future> Future for PollRecorded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        if *this.task == 0 {
            *this.task = tokio::task::try_id().map(task_id_u64).unwrap_or(0);
        }
        let task = *this.task;
        if task == 0 {
            return this.inner.poll(cx);
        }
        struct EndOnUnwind {
            task: u64,
            previous: u64,
            armed: bool,
        }
        impl Drop for EndOnUnwind {
            fn drop(&mut self) {
                if self.armed {
                    capture::inner_poll_end(self.task, false, true, self.previous);
                    crate::step::after_poll(self.task);
                }
            }
        }
        // Step mode stops here: tokio runs LocalSet tasks without the poll hooks.
        crate::step::before_poll(task);
        let mut guard = EndOnUnwind { task, previous: capture::inner_poll_start(task), armed: true };
        let poll = this.inner.poll(cx);
        guard.armed = false;
        capture::inner_poll_end(task, poll.is_ready(), false, guard.previous);
        crate::step::after_poll(task);
        if poll.is_ready() {
            *this.finished = true;
        }
        poll
    }
}
