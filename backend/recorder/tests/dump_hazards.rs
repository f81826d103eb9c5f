//! Two ways tokio's multi-thread task dump (1.54.1) harms the runtime it dumps, and what
//! `dump::take` does about them (README, "Task dumps": "Two tokio bugs").
//!
//! - A worker that does not reach the dump's start barrier within tokio's 250 ms leaves the
//!   barrier's count one too high (`Barrier::wait_timeout` does not take its arrival back): the
//!   next arrival completes it alone, traces every task while the late worker runs on, and then
//!   waits at the end barrier for a worker that never comes, holding the deferred wakes of every
//!   task it traced. Tasks that were queued (woken) when traced are never polled again.
//! - The leader moves every worker's run queue into one local queue (`Shared::steal_all`), whose
//!   `steal_into` refuses to steal once that queue holds more than half of its 256 slots; the
//!   loop retries for ever. With more than about 130 tasks queued, the runtime hangs for good.
#![cfg(feature = "taskdump")]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use futurescope_recorder::Recorder;
use futurescope_recorder::dump::{self, DumpError, Reason};

mod support;

/// Ends the test process if it is still running after `secs`: a runtime hung by a dump never
/// ends, and neither would the test (it bounds the failure only; the tests judge progress).
fn watchdog(secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        eprintln!("still running after {secs} s: a runtime hung");
        std::process::exit(101);
    });
}

fn recorded_runtime(run: u16) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2).enable_all();
    futurescope_recorder::instrument(&mut b, run);
    b.build().unwrap()
}

/// One worker is blocked (a poll that sleeps the thread) for a second when the snapshot is
/// requested, while 64 tasks wait for a 200 ms timer, then nap 5 ms at a time: their first
/// timers fire while the other worker waits at tokio's barrier, so they are queued when it
/// traces them alone. Every one of them must go on napping afterwards. The bound is progress, not time: a control task started when
/// the block ends naps 4 times as often as each napper still has to.
#[test]
fn a_worker_blocked_past_tokios_barrier_timeout_strands_no_queued_task() {
    support::install_recorder();
    watchdog(120);
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let rt = recorded_runtime(log.id);
    let registration = dump::register_runtime(log.id, rt.handle());
    // The snapshot thread reads the binary's debug info as it starts, which can take most of a
    // second: a first snapshot, of the idle runtime, waits for that, so that the one below
    // starts while the nappers' first timers are still pending.
    dump::take_blocking(log.clone(), Reason::Manual).expect("a snapshot of the idle runtime");

    const NAPPERS: usize = 64;
    const NAPS: usize = 100;
    let naps: Arc<Vec<AtomicUsize>> = Arc::new((0..NAPPERS).map(|_| AtomicUsize::new(0)).collect());
    let (go, block) = tokio::sync::oneshot::channel::<()>();
    let (blocking_tx, blocking) = std::sync::mpsc::channel::<()>();
    let (unblocked_tx, unblocked) = tokio::sync::oneshot::channel::<()>();
    rt.block_on(async {
        for i in 0..NAPPERS {
            let naps = naps.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                for _ in 0..NAPS {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    naps[i].fetch_add(1, Ordering::SeqCst);
                }
            });
        }
        tokio::spawn(async move {
            let _ = block.await;
            let _ = blocking_tx.send(());
            // Blocks this worker, as a blocking call in async code does.
            std::thread::sleep(Duration::from_millis(1000));
            let _ = unblocked_tx.send(());
        });
    });
    go.send(()).unwrap();
    blocking.recv().unwrap();

    let snap = dump::take_blocking(log.clone(), Reason::Manual);

    let control_naps = NAPS * 4;
    let stranded = rt.block_on(async {
        let _ = unblocked.await;
        for _ in 0..control_naps {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if naps.iter().all(|n| n.load(Ordering::SeqCst) == NAPS) {
                return 0;
            }
        }
        naps.iter().filter(|n| n.load(Ordering::SeqCst) < NAPS).count()
    });
    drop(registration);
    // (Not waiting for its workers: one may be stuck in tokio's dump.)
    rt.shutdown_background();
    recorder.finish_run(&log);
    // (Tasks in a worker's LIFO slot are not traced: tokio's dump skips them.)
    let traced = snap.expect("the snapshot completes").tasks.len();
    assert!(traced >= NAPPERS - 2, "the nappers are in the snapshot ({traced} tasks)");
    assert_eq!(
        stranded, 0,
        "{stranded} of {NAPPERS} nappers stopped napping after the snapshot while a control task napped {control_naps} times"
    );
}

/// Tasks that wake themselves in every poll keep about 300 tasks in the workers' run queues:
/// tokio's dump would spin for ever in `steal_all`. The snapshot is refused instead, saying
/// how many tasks are queued, and the runtime keeps running.
#[test]
fn a_dump_with_hundreds_of_tasks_queued_is_refused_and_the_runtime_keeps_running() {
    support::install_recorder();
    watchdog(120);
    let recorder = Recorder::global();
    let log = recorder.begin_run();
    let rt = recorded_runtime(log.id);
    let registration = dump::register_runtime(log.id, rt.handle());

    let stop = Arc::new(AtomicBool::new(false));
    let polls = Arc::new(AtomicUsize::new(0));
    for _ in 0..300 {
        let (stop, polls) = (stop.clone(), polls.clone());
        rt.spawn(std::future::poll_fn(move |cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            if stop.load(Ordering::Relaxed) {
                return Poll::Ready(());
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        }));
    }
    // Until the queues are full of them.
    while polls.load(Ordering::Relaxed) < 30_000 {
        std::thread::yield_now();
    }

    let answer = dump::take_blocking(log.clone(), Reason::Manual);
    let before = polls.load(Ordering::Relaxed);
    // The runtime still polls (a hung one never would: 10 s only bounds the test's failure).
    let (tx, rx) = std::sync::mpsc::channel();
    let progress = polls.clone();
    rt.spawn(async move {
        while progress.load(Ordering::Relaxed) < before + 10_000 {
            tokio::task::yield_now().await;
        }
        let _ = tx.send(());
    });
    let running = rx.recv_timeout(Duration::from_secs(10)).is_ok();
    stop.store(true, Ordering::Relaxed);
    drop(registration);
    rt.shutdown_background();
    recorder.finish_run(&log);
    assert!(running, "the runtime kept polling after the snapshot request (answer: {answer:?})");
    match answer {
        Err(DumpError::Queued(n)) => assert!(n > 64, "{n} tasks queued"),
        other => panic!("refused because of the queued tasks, not {other:?}"),
    }
}
