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
    assert_eq!(causes.len(), 1, "one long poll, one cause: {causes:?}");
    let cause = causes[0].clone();
    assert_eq!(cause["task"], main);
    assert_eq!(cause["since"], start, "the cause names its poll by the poll's start");
    assert!(cause["t"].as_u64().unwrap() >= end, "told after the poll's end: {cause}");
    ((start, end), cause)
}

fn ns(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is a number of ns"))
}

fn long_polls(ev: &[Value], task: u64) -> Vec<&Value> {
    ev.iter().filter(|e| e["k"] == "lint" && e["rule"] == "long_poll" && e["task"] == task).collect()
}

#[test]
fn a_sleeping_poll_is_blocked_in_its_sleep_call() {
    let ev = one_long_poll(|| std::thread::sleep(Duration::from_millis(200)));
    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 200_000_000);
    assert_eq!(cause["cause"], "blocked", "{cause}");
    assert!(matches!(cause["syscall"].as_str(), Some("clock_nanosleep" | "nanosleep")), "{cause}");
    let observed = ns(&cause["on_cpu"]) + ns(&cause["runnable"]) + ns(&cause["blocked"]);
    assert!(observed <= end - start, "what was observed is part of the poll: {cause}");
    assert!(ns(&cause["blocked"]) >= 100_000_000, "most of the 200 ms asleep: {cause}");
    assert!(cause["samples"].as_u64().unwrap() >= 2, "{cause}");
    let lints = long_polls(&ev, main_task(&ev));
    assert_eq!(lints.len(), 1, "{lints:?}");
    let detail = lints[0]["detail"].as_str().unwrap();
    assert!(detail.contains("blocked in ") && detail.contains("nanosleep"), "{detail}");
    assert_eq!(lints[0]["since"], start);
}

#[test]
fn a_spinning_poll_is_on_cpu() {
    // 200 ms of CPU time, however long that takes on a busy machine: a poll that ran for the
    // threshold on a CPU is the code's doing even if it also waited for one.
    let ev = one_long_poll(|| {
        let until = thread_cpu() + Duration::from_millis(200);
        let mut x = 1u64;
        while thread_cpu() < until {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    });
    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 200_000_000, "{} ns: {ev:?}", end - start);
    assert!(ns(&cause["on_cpu"]) >= 100_000_000, "most of the 200 ms on a CPU was seen: {cause}");
    assert_eq!(ns(&cause["blocked"]), 0, "never seen asleep: {cause}");
    assert_eq!(cause["cause"], "on_cpu", "{cause}");
    assert!(cause["syscall"].is_null(), "never asleep in a system call: {cause}");
    let lints = long_polls(&ev, main_task(&ev));
    assert_eq!(lints.len(), 1, "{lints:?}");
    assert!(lints[0]["detail"].as_str().unwrap().contains("on CPU"), "{}", lints[0]["detail"]);
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

/// A CPU this process may run on.
fn some_allowed_cpu() -> usize {
    // SAFETY: as in `pin_to`.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        assert_eq!(libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set), 0);
        (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set)).expect("some CPU is allowed")
    }
}

#[test]
fn a_poll_that_waits_for_a_cpu_is_the_machines_doing_and_raises_no_long_poll() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let cpu = some_allowed_cpu();
    let stop = Arc::new(AtomicBool::new(false));
    // A busy thread at normal priority on the same CPU as the runtime's thread, which runs at
    // the lowest (nice 19): while both are runnable, the kernel gives the busy one nearly all
    // of that CPU, so the poll below spends most of its time waiting for it.
    let busy = std::thread::spawn({
        let stop = stop.clone();
        move || {
            pin_to(cpu);
            while !stop.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        }
    });
    let ev = std::thread::spawn(move || {
        pin_to(cpu);
        // SAFETY: changes only the calling thread's nice value (raising it needs no privilege).
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
        assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 19) }, 0);
        one_long_poll(|| {
            // A little work of its own: 2 ms of CPU time, however long that takes.
            let until = thread_cpu() + Duration::from_millis(2);
            while thread_cpu() < until {
                std::hint::spin_loop();
            }
        })
    })
    .join()
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();

    let ((start, end), cause) = the_poll_and_its_cause(&ev);
    assert!(end - start >= 10_000_000, "the poll waited: {} ns", end - start);
    assert_eq!(cause["cause"], "runnable", "{cause}");
    assert!(ns(&cause["runnable"]) > ns(&cause["on_cpu"]), "{cause}");
    assert!(long_polls(&ev, main_task(&ev)).is_empty(), "no long_poll against the task: {ev:?}");
}
