//! Why a long poll was long: the watcher of open polls.
//!
//! The hot path only publishes, per thread, which task's poll is open and since when
//! (`ThreadShared::poll_task` / `poll_since`, two stores into a cache line the thread owns).
//! A thread of its own, the watcher, looks at every recording thread every `TICK`. When a poll
//! has been open for `ARM_NS` it starts sampling that thread, from then on every tick (less
//! often as the poll goes on, at most `MAX_SAMPLES` times a poll), through Linux's per-thread
//! files:
//! - `/proc/self/task/TID/schedstat`: the thread's total time on a CPU, so the difference
//!   between the first and last samples is its time on a CPU during the poll;
//! - `stat`: its state, `R` (running or runnable) or `S`/`D` (asleep in the kernel), which
//!   tells the rest apart: asleep, or waiting for a CPU (see `split`);
//! - while it is asleep, `syscall` (the number of the system call it is in) and `wchan` (the
//!   kernel function it waits in), so that time asleep is charged to a named system call.
//!
//! When the poll has closed (the thread's `poll_since` changed), the watcher hands what it saw
//! to the collector (`take_found`), which stores it as a `poll_cause` event of the poll's run,
//! if the poll was long (the `long_poll` rule keeps the long poll waiting for it, and does not
//! raise `long_poll` when the thread was mostly waiting for a CPU). What it saw covers the poll
//! from its first sample to its last: up to `ARM_NS + TICK` at the start and one sampling
//! interval at the end are not seen.
//!
//! With each sample, the watcher also asks for the thread's user stack (`stacks.rs`: a signal
//! and a frame-pointer walk in its handler, into a preallocated slot), at most `MAX_STACKS`
//! times a poll; when the poll has closed a thread of its own, `futurescope-symbols`,
//! symbolizes them (never a recording thread) before the cause is handed over, and the
//! `poll_cause` carries them grouped, with the program's own frame most of them were in.
//!
//! Elsewhere than Linux the watcher does not run, and `long_poll` fires as before, without a
//! cause.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::buffer::{self, ThreadShared};
use crate::clock;
use crate::event::{Cause, PollCause};
use crate::stacks::{StackSlot, Symbolizer};
use crate::sync::LockUnpoisoned;

/// How often the watcher looks at the threads' open polls.
const TICK: Duration = Duration::from_millis(2);
/// How long the watcher sleeps between looks while no run is being recorded.
const IDLE: Duration = Duration::from_millis(50);
/// A poll open this long is sampled (at most the long-poll threshold: see `Watcher::arm_ns`).
const ARM_NS: u64 = 1_000_000;
/// At most this many samples per poll.
const MAX_SAMPLES: u32 = 128;
/// Samples are taken every tick for the first `SPACING_AFTER`, then every 2 ticks for as many,
/// every 4, and so on: a long poll is covered to its end with a bounded number of samples.
const SPACING_AFTER: u32 = 32;
/// At most this many user stacks per poll (one with each sample, while there are fewer).
const MAX_STACKS: usize = 64;
/// The collector's stream is held back for a cause being symbolized at most this long; a
/// cause symbolized later is told when it is done (too late for its `long_poll`, which then
/// fired without it, so it is not kept: see `collector.rs`).
const HOLD_MAX_NS: u64 = 1_000_000_000;

/// A long poll's cause, found by the watcher, before the collector stores it.
pub(crate) struct Found {
    /// When the watcher saw the poll had closed (`clock::now()`).
    pub t: u64,
    /// The global index of the poll's thread.
    pub thread: u32,
    pub task: u64,
    /// When the poll began (`clock::now()` scale, not yet relative to a run).
    pub since: u64,
    /// With `since` left 0 (the collector makes it relative to the run).
    pub cause: PollCause,
}

static FOUND: Mutex<Vec<Found>> = Mutex::new(Vec::new());
/// Runs being recorded (begun, not finished): the watcher idles while there are none.
static LIVE_RUNS: AtomicUsize = AtomicUsize::new(0);
/// Causes handed to the symbolizer and not yet back (for `settle`).
static SYMBOLIZING: AtomicUsize = AtomicUsize::new(0);
/// Their `t`s, in the order they were handed over (the symbolizer keeps that order).
static IN_HAND: Mutex<std::collections::VecDeque<u64>> = Mutex::new(std::collections::VecDeque::new());
/// How many looks the watcher has finished (for `settle`).
static LOOKS: AtomicU64 = AtomicU64::new(0);
static RUNNING: AtomicBool = AtomicBool::new(false);
/// Whether the watcher's start-up work is over: the symbolizer has read the binary's debug info
/// (hundreds of milliseconds of one core's time, decompressing it), or there is no symbolizer.
static STARTED: AtomicBool = AtomicBool::new(false);

/// Whether the watcher is up and its symbolizer has read the debug info (or never will: no
/// watcher on this platform, or stacks off). A benchmark waits for it, as for the warm pool.
pub(crate) fn started() -> bool {
    STARTED.load(Ordering::Acquire)
}

/// The watcher's start-up work is over, or there is none (the recorder runs without a watcher,
/// or without a symbolizer).
pub(crate) fn mark_started() {
    STARTED.store(true, Ordering::Release);
}

/// Starts the watcher thread (once; only on Linux, where the per-thread figures exist).
/// `threshold_ns` is the long-poll threshold.
pub(crate) fn start(threshold_ns: u64) {
    if !cfg!(target_os = "linux") || !std::path::Path::new("/proc/self/task").exists() {
        mark_started();
        return;
    }
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("futurescope-poll-watcher".into())
        .spawn(move || Watcher::new(threshold_ns).run());
    if spawned.is_err() {
        RUNNING.store(false, Ordering::Release);
        mark_started();
    }
}

/// Whether the watcher runs, so long polls get a `poll_cause`.
pub(crate) fn watching() -> bool {
    RUNNING.load(Ordering::Acquire)
}

pub(crate) fn run_begun() {
    LIVE_RUNS.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn run_finished() {
    LIVE_RUNS.fetch_sub(1, Ordering::Relaxed);
}

/// Waits until the watcher has looked at every thread twice more (at most 100 ms) and the
/// symbolizer is done with what it has (at most 2 s more: the first lookups read the debug
/// info), so the causes of polls that have closed by now are handed over: called before a
/// run's final flush.
pub(crate) fn settle() {
    if !watching() {
        return;
    }
    let want = LOOKS.load(Ordering::Acquire) + 2;
    for _ in 0..100 {
        if LOOKS.load(Ordering::Acquire) >= want {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..2000 {
        if SYMBOLIZING.load(Ordering::Acquire) == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The earliest `t` of the causes the symbolizer has in hand (`u64::MAX`: none), for at most
/// `HOLD_MAX_NS`. The collector emits nothing later than this until they are handed over, so
/// a cause keeps its place in the stream's time order (right after its poll's end) and the
/// `long_poll` rule, which waits for it, sees it in time. The collector asks before it takes
/// the causes found (`take_found`): the symbolizer hands a cause over before it lets go of its
/// `t` here, so one or the other sees it.
pub(crate) fn held_since() -> u64 {
    let t = IN_HAND.lock_unpoisoned().front().copied().unwrap_or(u64::MAX);
    if clock::now().saturating_sub(t) >= HOLD_MAX_NS { u64::MAX } else { t }
}

/// The causes found since the last call (the collector's side).
pub(crate) fn take_found() -> Vec<Found> {
    std::mem::take(&mut *FOUND.lock_unpoisoned())
}

/// One reading of a thread's figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Sample {
    /// `clock::now()` when read.
    t: u64,
    /// Total ns on a CPU (`schedstat`).
    on_cpu: u64,
    /// Asleep in the kernel (`stat`'s state `S` or `D`).
    asleep: bool,
    /// The system call it is in, while asleep (`syscall`); `None` when not in one.
    syscall: Option<i64>,
}

/// The poll one thread has open, as the watcher follows it.
struct Watch {
    since_ticks: u64,
    since: u64,
    task: u64,
    /// The first and latest samples (`None` until the poll has been open for `ARM_NS`).
    first: Option<Sample>,
    last: Option<Sample>,
    samples: u32,
    /// Looks until the next sample.
    wait: u32,
    /// ns seen asleep (an estimate from the samples' states).
    asleep: u64,
    /// ns asleep, per system call number (-1: asleep outside any system call).
    asleep_in: Vec<(i64, u64, Option<String>)>,
    files: Option<ThreadFiles>,
    /// Where the thread's stack is asked for (`None`: stacks are not taken of it).
    slot: Option<StackSlot>,
    /// The stacks taken during the poll, addresses innermost first.
    stacks: Vec<Vec<usize>>,
    /// The thread's time on a CPU when the last stack was taken, if it was asleep then: while
    /// it is still asleep with the same figure it has not run since, so its stack is the same
    /// and is counted again without a signal (which would wake it).
    stack_cpu: Option<u64>,
}

/// The thread's `/proc` files, opened once per watched poll and re-read in place.
struct ThreadFiles {
    schedstat: std::fs::File,
    stat: std::fs::File,
    syscall: Option<std::fs::File>,
    wchan: Option<std::fs::File>,
}

impl ThreadFiles {
    fn open(tid: i32) -> Option<ThreadFiles> {
        let dir = format!("/proc/self/task/{tid}");
        let open = |name: &str| std::fs::File::open(format!("{dir}/{name}")).ok();
        Some(ThreadFiles {
            schedstat: open("schedstat")?,
            stat: open("stat")?,
            syscall: open("syscall"),
            wchan: open("wchan"),
        })
    }
}

/// Reads a whole `/proc` file from its start into `buf`; the text read.
fn read_at_start<'a>(file: &std::fs::File, buf: &'a mut [u8]) -> Option<&'a str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        let n = file.read_at(buf, 0).ok()?;
        std::str::from_utf8(&buf[..n]).ok()
    }
    #[cfg(not(unix))]
    {
        let _ = (file, buf);
        None
    }
}

/// `schedstat`: "on-cpu-ns runqueue-wait-ns timeslices"; the first.
fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// `stat`'s state letter: after the command name, which is in parentheses and may hold any
/// character, so it is found from the last `)`.
fn parse_stat_state(text: &str) -> Option<u8> {
    let rest = &text[text.rfind(')')? + 1..];
    rest.split_whitespace().next()?.bytes().next()
}

/// `syscall`: "NR args... sp pc" while in a system call, "-1 sp pc" while blocked outside one,
/// "running" while running.
fn parse_syscall(text: &str) -> Option<i64> {
    text.split_whitespace().next()?.parse().ok()
}

struct Watcher {
    threshold_ns: u64,
    threads: Vec<Arc<ThreadShared>>,
    watches: HashMap<u32, Watch>,
    buf: Vec<u8>,
    /// Whether the stack sampler's handler is installed.
    stacks: bool,
    /// To the symbolizer thread: a cause and its poll's stacks (addresses).
    symbolize: Option<std::sync::mpsc::Sender<(Found, Vec<Vec<usize>>)>>,
    addrs: Vec<usize>,
}

impl Watcher {
    fn new(threshold_ns: u64) -> Watcher {
        Watcher {
            threshold_ns,
            threads: Vec::new(),
            watches: HashMap::new(),
            buf: vec![0; 512],
            stacks: false,
            symbolize: None,
            addrs: Vec::with_capacity(crate::stacks::MAX_DEPTH),
        }
    }

    /// How long a poll is open before it is sampled: `ARM_NS`, or less for a lower threshold.
    fn arm_ns(&self) -> u64 {
        ARM_NS.min(self.threshold_ns / 4)
    }

    /// Runs for the life of the process, as the collector does.
    fn run(mut self) {
        if crate::stacks::install() {
            let (tx, rx) = std::sync::mpsc::channel();
            let spawned = std::thread::Builder::new().name("futurescope-symbols".into()).spawn(move || symbolizer(rx));
            self.stacks = spawned.is_ok();
            self.symbolize = spawned.is_ok().then_some(tx);
            if spawned.is_err() {
                mark_started();
            }
        } else {
            mark_started();
        }
        loop {
            if LIVE_RUNS.load(Ordering::Relaxed) == 0 && self.watches.is_empty() {
                LOOKS.fetch_add(1, Ordering::Release);
                std::thread::sleep(IDLE);
                continue;
            }
            self.look();
            LOOKS.fetch_add(1, Ordering::Release);
            std::thread::sleep(TICK);
        }
    }

    /// Looks at every thread's open poll once.
    fn look(&mut self) {
        buffer::registered_threads(&mut self.threads);
        let now_ticks = clock::ticks();
        let now = clock::ticks_to_ns(now_ticks);
        let arm = self.arm_ns();
        let threads = std::mem::take(&mut self.threads);
        for thread in &threads {
            let since_ticks = thread.poll_since.load(Ordering::Acquire);
            let task = thread.poll_task.load(Ordering::Acquire);
            // A poll that was open at the last look and is not (or another one is) has closed.
            if self.watches.get(&thread.index).is_some_and(|w| w.since_ticks != since_ticks) {
                let w = self.watches.remove(&thread.index).expect("just seen");
                self.closed(thread.index, w);
            }
            if since_ticks == u64::MAX || thread.tid == 0 {
                continue;
            }
            // Read again: the task is the open poll's only if `poll_since` did not change meanwhile.
            if thread.poll_since.load(Ordering::Acquire) != since_ticks {
                continue;
            }
            let since = clock::ticks_to_ns(since_ticks);
            if now.saturating_sub(since) < arm {
                continue;
            }
            let w = self.watches.entry(thread.index).or_insert_with(|| Watch {
                since_ticks,
                since,
                task,
                first: None,
                last: None,
                samples: 0,
                wait: 0,
                asleep: 0,
                asleep_in: Vec::new(),
                files: ThreadFiles::open(thread.tid),
                slot: if self.stacks { StackSlot::claim(thread) } else { None },
                stacks: Vec::new(),
                stack_cpu: None,
            });
            if w.wait > 0 {
                w.wait -= 1;
                continue;
            }
            if w.samples >= MAX_SAMPLES {
                continue;
            }
            let Some(files) = &w.files else { continue };
            // The stack asked for with the last sample, if the handler has taken it.
            let taken = w.slot.as_ref().is_some_and(|slot| slot.take(since_ticks, &mut self.addrs));
            if taken {
                w.stacks.push(self.addrs.clone());
            }
            let Some(s) = sample(files, &mut self.buf) else { continue };
            // The poll may have closed while the files were read: then the sample is not its.
            if thread.poll_since.load(Ordering::Acquire) != since_ticks {
                continue;
            }
            if taken {
                w.stack_cpu = s.asleep.then_some(s.on_cpu);
            }
            // After the figures are read, since the signal wakes a sleeping thread for a moment.
            if let Some(slot) = &w.slot
                && w.stacks.len() < MAX_STACKS
                && !taken
            {
                if s.asleep && w.stack_cpu == Some(s.on_cpu) {
                    let same = w.stacks.last().expect("a stack was taken").clone();
                    w.stacks.push(same);
                } else {
                    slot.ask();
                }
            }
            w.samples += 1;
            w.wait = (1u32 << (w.samples / SPACING_AFTER).min(8)) - 1;
            if let Some(prev) = w.last {
                // Time asleep: the interval's share of the two samples that saw it asleep.
                let dt = s.t.saturating_sub(prev.t);
                let blocked = dt * (u64::from(prev.asleep) + u64::from(s.asleep)) / 2;
                w.asleep += blocked;
                if blocked > 0 {
                    // Charged to the system call it was seen in, now or at the sample before.
                    let call =
                        if s.asleep { s.syscall } else { None }.or(if prev.asleep { prev.syscall } else { None });
                    let nr = call.unwrap_or(-1);
                    match w.asleep_in.iter_mut().find(|(n, _, _)| *n == nr) {
                        Some(entry) => entry.1 += blocked,
                        None => w.asleep_in.push((nr, blocked, None)),
                    }
                }
            }
            if s.asleep {
                // Where in the kernel it sleeps, once per system call.
                let nr = s.syscall.unwrap_or(-1);
                let known = w.asleep_in.iter().any(|(n, _, wchan)| *n == nr && wchan.is_some());
                let wchan =
                    if known { None } else { files.wchan.as_ref().and_then(|f| read_at_start(f, &mut self.buf)) };
                let wchan = wchan.map(str::trim).filter(|w| !w.is_empty() && *w != "0");
                if let Some(wchan) = wchan {
                    match w.asleep_in.iter_mut().find(|(n, _, _)| *n == nr) {
                        Some(entry) => entry.2 = Some(wchan.to_owned()),
                        None => w.asleep_in.push((nr, 0, Some(wchan.to_owned()))),
                    }
                }
            }
            w.first.get_or_insert(s);
            w.last = Some(s);
        }
        self.threads = threads;
        // Threads that are gone: their polls closed with them.
        let live: Vec<u32> = self.threads.iter().map(|t| t.index).collect();
        let gone: Vec<u32> = self.watches.keys().copied().filter(|i| !live.contains(i)).collect();
        for index in gone {
            let w = self.watches.remove(&index).expect("listed");
            self.closed(index, w);
        }
    }

    /// The poll `w` on thread `thread` has closed: hands its cause over, if it was watched
    /// for long enough to say something (two samples or more).
    fn closed(&mut self, thread: u32, mut w: Watch) {
        // The last stack asked for, if it was taken before the poll closed.
        if let Some(slot) = w.slot.take()
            && slot.take(w.since_ticks, &mut self.addrs)
        {
            w.stacks.push(self.addrs.clone());
        }
        let (Some(first), Some(last)) = (w.first, w.last) else { return };
        if w.samples < 2 {
            return;
        }

        let (on_cpu, runnable, blocked) = split(first, last, w.asleep);
        let cause = PollCause {
            since: 0,
            cause: classify(on_cpu, runnable, blocked, self.threshold_ns),
            on_cpu,
            runnable,
            blocked,
            syscall: None,
            wchan: None,
            samples: w.samples,
            stacks: Vec::new(),
            hot: None,
        };
        let top = w.asleep_in.iter().max_by_key(|(_, ns, _)| *ns);
        let cause = match top {
            Some((nr, ns, wchan)) if *ns > 0 => {
                PollCause { syscall: (*nr >= 0).then(|| syscall_name(*nr)), wchan: wchan.clone(), ..cause }
            }
            _ => cause,
        };
        let found = Found { t: clock::now(), thread, task: w.task, since: w.since, cause };
        match &self.symbolize {
            Some(tx) if !w.stacks.is_empty() => {
                SYMBOLIZING.fetch_add(1, Ordering::AcqRel);
                IN_HAND.lock_unpoisoned().push_back(found.t);
                if let Err(std::sync::mpsc::SendError((found, _))) = tx.send((found, w.stacks)) {
                    FOUND.lock_unpoisoned().push(found);
                    IN_HAND.lock_unpoisoned().pop_back();
                    SYMBOLIZING.fetch_sub(1, Ordering::AcqRel);
                }
            }
            _ => FOUND.lock_unpoisoned().push(found),
        }
    }
}

/// The symbolizer thread: resolves each cause's stacks, groups them, and hands it over.
fn symbolizer(rx: std::sync::mpsc::Receiver<(Found, Vec<Vec<usize>>)>) {
    let mut symbols = Symbolizer::default();
    // The first lookup reads the binary's debug info: now, not after the first long poll.
    symbols.warm();
    mark_started();
    for (mut found, addrs) in rx {
        let stacks = addrs.iter().map(|a| symbols.stack(a)).collect();
        (found.cause.stacks, found.cause.hot) = crate::stacks::group(stacks);
        // No longer held for (`held_since`): the stream may have moved past it.
        if clock::now().saturating_sub(found.t) >= HOLD_MAX_NS {
            found.t = clock::now();
        }
        FOUND.lock_unpoisoned().push(found);
        IN_HAND.lock_unpoisoned().pop_front();
        SYMBOLIZING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Reads one sample; `None` if the thread is gone or the files are unreadable.
fn sample(files: &ThreadFiles, buf: &mut [u8]) -> Option<Sample> {
    let t = clock::now();
    let on_cpu = parse_schedstat(read_at_start(&files.schedstat, buf)?)?;
    let state = parse_stat_state(read_at_start(&files.stat, buf)?)?;
    let asleep = matches!(state, b'S' | b'D');
    let syscall =
        if asleep { files.syscall.as_ref().and_then(|f| parse_syscall(read_at_start(f, buf)?)) } else { None };
    Some(Sample { t, on_cpu, asleep, syscall: syscall.filter(|&n| n >= 0) })
}

/// How the time from sample `first` to `last` split into (on CPU, runnable, asleep), given
/// the time the samples saw the thread asleep.
///
/// The kernel's total of time on a CPU is exact up to a scheduler tick, so it is taken as it
/// is. Its total of time waiting for a CPU is not used: it grows only when a waiting thread
/// gets the CPU, so a thread still waiting shows none. The rest is asleep or waiting for a
/// CPU; the samples' states (`S`/`D` asleep, `R` running or runnable) tell which.
fn split(first: Sample, last: Sample, asleep: u64) -> (u64, u64, u64) {
    let observed = last.t.saturating_sub(first.t);
    let on_cpu = last.on_cpu.saturating_sub(first.on_cpu).min(observed);
    let blocked = asleep.min(observed - on_cpu);
    (on_cpu, observed - on_cpu - blocked, blocked)
}

/// The cause of a poll whose observed time split as given, for long-poll threshold
/// `threshold_ns`: waiting for a CPU when that was the largest part and the poll's own time (on
/// a CPU or asleep) was below the threshold, so it would not have been long had the thread
/// got a CPU (the machine's doing, not the code's); otherwise the larger of on CPU and asleep.
/// A CPU-bound poll on a machine so busy that it waited longer than it ran is still the code's
/// doing once it ran for the threshold.
pub(crate) fn classify(on_cpu: u64, runnable: u64, blocked: u64, threshold_ns: u64) -> Cause {
    if runnable > on_cpu && runnable > blocked && on_cpu + blocked < threshold_ns {
        Cause::Runnable
    } else if blocked > on_cpu {
        Cause::Blocked
    } else {
        Cause::OnCpu
    }
}

/// A system call's name, from its number on this architecture (the common blocking ones;
/// others are `syscall N`).
fn syscall_name(nr: i64) -> String {
    #[cfg(target_arch = "x86_64")]
    const NAMES: &[(i64, &str)] = &[
        (0, "read"),
        (1, "write"),
        (7, "poll"),
        (9, "mmap"),
        (10, "mprotect"),
        (11, "munmap"),
        (12, "brk"),
        (17, "pread64"),
        (18, "pwrite64"),
        (19, "readv"),
        (20, "writev"),
        (23, "select"),
        (24, "sched_yield"),
        (34, "pause"),
        (35, "nanosleep"),
        (42, "connect"),
        (43, "accept"),
        (44, "sendto"),
        (45, "recvfrom"),
        (46, "sendmsg"),
        (47, "recvmsg"),
        (61, "wait4"),
        (72, "fcntl"),
        (73, "flock"),
        (74, "fsync"),
        (75, "fdatasync"),
        (202, "futex"),
        (230, "clock_nanosleep"),
        (232, "epoll_wait"),
        (257, "openat"),
        (270, "pselect6"),
        (271, "ppoll"),
        (281, "epoll_pwait"),
        (288, "accept4"),
        (299, "recvmmsg"),
        (307, "sendmmsg"),
        (318, "getrandom"),
        (426, "io_uring_enter"),
        (441, "epoll_pwait2"),
    ];
    #[cfg(target_arch = "aarch64")]
    const NAMES: &[(i64, &str)] = &[
        (20, "epoll_create1"),
        (22, "epoll_pwait"),
        (25, "fcntl"),
        (32, "flock"),
        (56, "openat"),
        (63, "read"),
        (64, "write"),
        (65, "readv"),
        (66, "writev"),
        (67, "pread64"),
        (68, "pwrite64"),
        (72, "pselect6"),
        (73, "ppoll"),
        (82, "fsync"),
        (83, "fdatasync"),
        (98, "futex"),
        (101, "nanosleep"),
        (115, "clock_nanosleep"),
        (124, "sched_yield"),
        (202, "accept"),
        (214, "brk"),
        (215, "munmap"),
        (222, "mmap"),
        (226, "mprotect"),
        (203, "connect"),
        (206, "sendto"),
        (207, "recvfrom"),
        (211, "sendmsg"),
        (212, "recvmsg"),
        (242, "accept4"),
        (260, "wait4"),
        (278, "getrandom"),
        (426, "io_uring_enter"),
    ];
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    const NAMES: &[(i64, &str)] = &[];
    NAMES.iter().find(|(n, _)| *n == nr).map_or_else(|| format!("syscall {nr}"), |(_, name)| (*name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_parse() {
        assert_eq!(parse_schedstat("34796291 36739695 122\n"), Some(34796291));
        assert_eq!(parse_stat_state("12866 (a) b) S 12865 12860"), Some(b'S'));
        assert_eq!(parse_syscall("230 0x0 0x0 0x7ffc5578c3d0"), Some(230));
        assert_eq!(parse_syscall("running\n"), None);
        assert_eq!(parse_syscall("-1 0x7ffc 0x7fd6"), Some(-1));
    }

    #[test]
    fn time_not_on_a_cpu_is_asleep_or_waiting_by_the_samples_states() {
        let at = |t: u64, on_cpu: u64| Sample { t, on_cpu, ..Sample::default() };
        assert_eq!(split(at(0, 0), at(100, 10), 80), (10, 10, 80));
        assert_eq!(split(at(0, 0), at(100, 10), 0), (10, 90, 0), "never seen asleep: waiting for a CPU");
        assert_eq!(split(at(0, 0), at(100, 150), 50), (100, 0, 0), "a tick's lag is clamped");
    }

    #[test]
    fn the_largest_part_is_the_cause() {
        assert_eq!(classify(90, 5, 5, 50), Cause::OnCpu);
        assert_eq!(classify(5, 5, 90, 50), Cause::Blocked);
        assert_eq!(classify(20, 60, 20, 50), Cause::Runnable);
        assert_eq!(classify(40, 40, 20, 50), Cause::OnCpu, "a tie with on CPU is the code's");
        assert_eq!(classify(30, 60, 10, 30), Cause::OnCpu, "long even without the wait: the code's");
        assert_eq!(classify(10, 60, 30, 30), Cause::Blocked, "long even without the wait: the code's");
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    #[test]
    fn a_sleeping_thread_is_seen_asleep_in_its_system_call() {
        let (tx, rx) = std::sync::mpsc::channel();
        let sleeper = std::thread::spawn(move || {
            tx.send(buffer::current_tid()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
        });
        let tid = rx.recv().unwrap();
        let files = ThreadFiles::open(tid).expect("a thread of this process has its /proc files");
        let mut buf = vec![0; 512];
        // Until it is seen asleep (it may still be starting its sleep).
        let mut seen = None;
        for _ in 0..200 {
            let s = sample(&files, &mut buf).expect("readable");
            if s.asleep {
                seen = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let s = seen.expect("the thread is seen asleep");
        let name = s.syscall.map(syscall_name);
        assert!(matches!(name.as_deref(), Some("clock_nanosleep" | "nanosleep")), "{s:?}: {name:?}");
        sleeper.join().unwrap();
    }
}
