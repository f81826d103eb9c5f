//! Why a long poll was long (`poll_cause`, issue #18): the watcher of open polls samples the
//! thread of a poll that runs long, and the `long_poll` lint says what it saw. Linux only
//! (the watcher reads `/proc/self/task/TID/...`).
#![cfg(target_os = "linux")]

use std::time::Duration;

use serde_json::Value;

mod support;

/// Records one task "main" whose only poll runs `body`, on a current-thread runtime on this
/// thread; returns the run's events.
fn one_long_poll(body: impl FnOnce() + Send + 'static) -> Vec<Value> {
    support::install_recorder();
    let builder = tokio::runtime::Builder::new_current_thread();
    support::record_on(builder, async move { body() })
}

fn main_task(ev: &[Value]) -> u64 {
    ev.iter().find(|e| e["k"] == "spawn" && e["name"] == "main").expect("main was spawned")["task"].as_u64().unwrap()
}

/// The main task's one poll (start, end) and its `poll_cause`.
fn the_poll_and_its_cause(ev: &[Value]) -> ((u64, u64), Value) {
    let main = main_task(ev);
    let start = ev.iter().find(|e| e["k"] == "poll_start" && e["task"] == main).expect("polled")["t"].as_u64().unwrap();
    let end = ev.iter().find(|e| e["k"] == "poll_end" && e["task"] == main).expect("poll ended")["t"].as_u64().unwrap();
    let causes: Vec<&Value> = ev.iter().filter(|e| e["k"] == "poll_cause").collect();
    assert_eq!(causes.len(), 1, "one long poll ({} ns), one cause: {causes:?}", end - start);
    let cause = causes[0].clone();
    assert_eq!(cause["task"], main);
    assert_eq!(cause["since"], start, "the cause names its poll by the poll's start");
    assert!(cause["t"].as_u64().unwrap() >= end, "told after the poll's end: {cause}");
    ((start, end), cause)
}

fn ns(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is a number of ns"))
}

/// The frames of a cause's stacks, each as (fn, loc), outermost first.
fn stacks(cause: &Value) -> Vec<(u64, Vec<(String, String)>)> {
    let stacks = cause["stacks"].as_array().unwrap_or_else(|| panic!("stacks: {cause}"));
    stacks
        .iter()
        .map(|s| {
            let frames = s["frames"].as_array().unwrap().iter();
            let frames =
                frames.map(|f| (f["fn"].as_str().unwrap().to_owned(), f["loc"].as_str().unwrap_or("").to_owned()));
            (s["n"].as_u64().unwrap(), frames.collect())
        })
        .collect()
}

/// The stacks in short, for failure messages: "n: fn@loc <- ..." innermost first.
fn stacks_text(cause: &Value) -> String {
    let lines = stacks(cause).into_iter().map(|(n, frames)| {
        let frames: Vec<String> = frames.iter().rev().map(|(f, l)| format!("{f}@{l}")).collect();
        format!("{n}: {}", frames.join(" <- "))
    });
    format!("hot {}; stacks:\n{}", cause["hot"], lines.collect::<Vec<_>>().join("\n"))
}

/// Stack samples with a frame at `file:line` (the loc ends with it).
fn samples_at(cause: &Value, at: &str) -> u64 {
    stacks(cause).iter().filter(|(_, frames)| frames.iter().any(|(_, loc)| loc.ends_with(at))).map(|(n, _)| n).sum()
}

fn long_polls(ev: &[Value], task: u64) -> Vec<&Value> {
    ev.iter().filter(|e| e["k"] == "lint" && e["rule"] == "long_poll" && e["task"] == task).collect()
}

#[test]
fn a_sleeping_poll_is_blocked_in_its_sleep_call() {
    let sleep_line = line!() + 1;
    let ev = one_long_poll(|| std::thread::sleep(Duration::from_millis(200)));
    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 200_000_000);
    assert_eq!(cause["cause"], "blocked", "{cause}");
    assert!(matches!(cause["syscall"].as_str(), Some("clock_nanosleep" | "nanosleep")), "{cause}");
    let observed = ns(&cause["on_cpu"]) + ns(&cause["runnable"]) + ns(&cause["blocked"]);
    assert!(observed <= end - start, "what was observed is part of the poll: {cause}");
    // How much of the poll is observed depends on the watcher getting a CPU (tests run side by
    // side); what it saw was asleep.
    assert!(ns(&cause["blocked"]) > 5 * (ns(&cause["on_cpu"]) + ns(&cause["runnable"])), "asleep: {cause}");
    assert!(cause["samples"].as_u64().unwrap() >= 2, "{cause}");
    let lints = long_polls(&ev, main_task(&ev));
    assert_eq!(lints.len(), 1, "{lints:?}");
    let detail = lints[0]["detail"].as_str().unwrap();
    assert!(detail.contains("blocked in ") && detail.contains("nanosleep"), "{detail}");
    assert_eq!(lints[0]["since"], start);
    // Its user stacks: in std's sleep, called from this file's line, which is the hot frame.
    let at = format!("tests/causes.rs:{sleep_line}");
    let taken: u64 = stacks(&cause).iter().map(|(n, _)| n).sum();
    assert!(taken >= 2, "stacks were taken: {cause}");
    assert!(samples_at(&cause, &at) * 10 >= taken * 9, "most samples are at {at}: {}", stacks_text(&cause));
    assert!(
        stacks(&cause)
            .iter()
            .all(|(_, f)| f.iter().any(|(name, _)| name.starts_with("std::thread::") && name.ends_with("::sleep"))),
        "{}",
        stacks_text(&cause)
    );
    assert!(cause["hot"]["loc"].as_str().unwrap().ends_with(&at), "the hot frame is the sleep's caller: {cause}");
    assert!(detail.contains(&at), "the lint names it: {detail}");
}

#[test]
fn a_spinning_poll_is_on_cpu() {
    // 200 ms of CPU time, however long that takes on a busy machine: a poll that ran for the
    // threshold on a CPU is the code's doing even if it also waited for one.
    let ev = one_long_poll(|| spin(Duration::from_millis(200)));
    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 200_000_000, "{} ns: {ev:?}", end - start);
    assert!(ns(&cause["on_cpu"]) >= 10_000_000, "at least the threshold on a CPU was seen: {cause}");
    assert_eq!(ns(&cause["blocked"]), 0, "never seen asleep: {cause}");
    assert_eq!(cause["cause"], "on_cpu", "{cause}");
    assert!(cause["syscall"].is_null(), "never asleep in a system call: {cause}");
    let lints = long_polls(&ev, main_task(&ev));
    assert_eq!(lints.len(), 1, "{lints:?}");
    assert!(lints[0]["detail"].as_str().unwrap().contains("on CPU"), "{}", lints[0]["detail"]);
    // Its user stacks are in the spinning function (a test crate's inlined functions have
    // bare names), and so is the hot frame, or in a function it inlined.
    let is_spin = |name: &str| name == "spin" || name.ends_with("causes::spin");
    let taken: u64 = stacks(&cause).iter().map(|(n, _)| n).sum();
    let in_spin: u64 =
        stacks(&cause).iter().filter(|(_, f)| f.iter().any(|(name, _)| is_spin(name))).map(|(n, _)| n).sum();
    assert!(taken >= 2 && in_spin * 10 >= taken * 9, "the samples are in spin: {}", stacks_text(&cause));
    let hot = cause["hot"]["fn"].as_str().unwrap();
    assert!(is_spin(hot) || hot == "thread_cpu", "{}", stacks_text(&cause));
    assert!(cause["hot"]["loc"].as_str().unwrap().starts_with("backend/recorder/tests/causes.rs:"), "{cause}");
}

/// Spins for `cpu` of this thread's CPU time.
#[inline(never)]
fn spin(cpu: Duration) {
    let until = thread_cpu() + cpu;
    let mut x = 1u64;
    while thread_cpu() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

/// The thread's own CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    assert_eq!(unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) }, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is an empty set; the calls only read and write it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set), 0, "pinning");
    }
}

/// The CPUs this thread may run on.
fn allowed_cpus() -> libc::cpu_set_t {
    // SAFETY: as in `pin_to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        set
    }
}

fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: a pointer to a live cpu_set_t of the size passed.
    assert_eq!(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) }, 0, "pinning");
}

#[test]
fn a_poll_that_waits_for_a_cpu_is_the_machines_doing_and_raises_no_long_poll() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// Busy threads sharing the poll's CPU: with this many runnable beside it, the polling
    /// thread gets about a thirteenth of that CPU.
    const BUSY: usize = 12;
    let allowed = allowed_cpus();
    // SAFETY: reads a cpu_set_t.
    let cpu = (0..libc::CPU_SETSIZE as usize).find(|&c| unsafe { libc::CPU_ISSET(c, &allowed) }).expect("a CPU");
    // Started before the poll (starting a thread takes memory-map calls, which may block),
    // idle until the poll lets them go.
    let go = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicUsize::new(0));
    let busy: Vec<_> = (0..BUSY)
        .map(|_| {
            let (go, stop, started) = (go.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                while !go.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                pin_to(cpu);
                started.fetch_add(1, Ordering::Relaxed);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let ev = one_long_poll(move || {
        // Only for the poll: the thread and the busy ones share one CPU.
        pin_to(cpu);
        go.store(true, Ordering::Relaxed);
        while started.load(Ordering::Relaxed) < BUSY {
            std::thread::yield_now();
        }
        // A little work of its own, 4 ms of CPU time, which takes far longer than the
        // long-poll threshold to get.
        let until = thread_cpu() + Duration::from_millis(4);
        while thread_cpu() < until {
            std::hint::spin_loop();
        }
        stop.store(true, Ordering::Relaxed);
        set_affinity(&allowed);
    });
    for b in busy {
        b.join().unwrap();
    }

    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 10_000_000, "the poll waited: {} ns", end - start);
    assert_eq!(cause["cause"], "runnable", "{cause}");
    assert!(ns(&cause["runnable"]) > ns(&cause["on_cpu"]), "{cause}");
    assert!(long_polls(&ev, main_task(&ev)).is_empty(), "no long_poll against the task: {ev:?}");
}
