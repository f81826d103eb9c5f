//! The user stack of a long poll: a signal-based sampler (issue #18).
//!
//! The watcher of open polls (`causes.rs`) asks for a stack of a thread whose poll runs long:
//! it fills one of the preallocated `SLOTS` for that thread (its kernel id, the bounds of its
//! stack captured when it registered, a pointer to its `poll_since`), marks the slot `ASKED`
//! and sends the thread `signal()` with `tgkill`. The handler runs on that thread, finds its
//! slot by its id, and walks the frame-pointer chain from the interrupted registers into the
//! slot: plain loads and stores, no allocation, no lock, no call into libc but `gettid`. Every
//! frame pointer is checked to lie within the interrupted stack pointer and the top of the
//! thread's stack (both mapped), aligned and growing, before it is read, so a frame without a
//! frame pointer ends the walk rather than faulting. The handler notes the `poll_since` it
//! saw, so the watcher keeps the stack only if it was taken during the poll it watches.
//!
//! The watcher collects the stack at its next look and, when the poll has closed, symbolizes
//! the stacks (`symbolize`, with the `backtrace` crate's DWARF reader) on its own thread:
//! never on a recording thread, and never in the handler.
//!
//! Frame pointers: Rust's standard library is built with them; the workspace builds its own
//! code and dependencies with `-C force-frame-pointers=yes` (`.cargo/config.toml`). Code built
//! without them (libc's system call wrappers, the vDSO) keeps the caller's frame pointer in
//! its register, so the chain starts at the innermost frame that has one; the return
//! addresses of the frames in between (`clock_nanosleep` <- `nanosleep` <- `std::thread::sleep`)
//! are found by scanning the words from the stack pointer to that frame for values that point
//! just after a call instruction in a mapped executable range (`TEXT`, read from
//! `/proc/self/maps` when the handler is installed).
//!
//! x86-64 Linux only; elsewhere `install` says no and polls get no stacks.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU8, AtomicU64, AtomicUsize, Ordering};

use crate::buffer::ThreadShared;
use crate::event::{HotFrame, Stack, StackFrame};

/// Return addresses kept per stack (the innermost ones).
pub(crate) const MAX_DEPTH: usize = 96;
/// Threads whose stacks can be asked for at once.
const SLOTS_N: usize = 16;

const FREE: u8 = 0;
/// Held by the watcher, nothing asked.
const IDLE: u8 = 1;
/// A stack was asked for: the handler may take it.
const ASKED: u8 = 2;
/// The handler is writing the stack.
const TAKING: u8 = 3;
/// The stack is written, for the watcher to read.
const TAKEN: u8 = 4;

struct Slot {
    state: AtomicU8,
    tid: AtomicI32,
    /// The thread's stack, lowest and one past the highest address.
    lo: AtomicUsize,
    hi: AtomicUsize,
    /// The thread's `ThreadShared::poll_since` (kept alive by the watcher's `StackSlot`).
    poll_since: AtomicPtr<AtomicU64>,
    /// What the handler read from `poll_since`.
    seen_since: AtomicU64,
    depth: AtomicUsize,
    /// Innermost first: the interrupted instruction, then return addresses.
    frames: [AtomicUsize; MAX_DEPTH],
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(FREE),
            tid: AtomicI32::new(0),
            lo: AtomicUsize::new(0),
            hi: AtomicUsize::new(0),
            poll_since: AtomicPtr::new(std::ptr::null_mut()),
            seen_since: AtomicU64::new(u64::MAX),
            depth: AtomicUsize::new(0),
            frames: [const { AtomicUsize::new(0) }; MAX_DEPTH],
        }
    }
}

static SLOTS: [Slot; SLOTS_N] = [const { Slot::new() }; SLOTS_N];
/// Executable mappings (start, end), read once when the handler is installed.
const TEXT_N: usize = 128;
static TEXT: [(AtomicUsize, AtomicUsize); TEXT_N] = [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; TEXT_N];
static TEXT_LEN: AtomicUsize = AtomicUsize::new(0);
/// At most this many words above the stack pointer, and above each frame, are scanned for
/// return addresses.
const SCAN_WORDS: usize = 64;
/// Marks an address found by scanning (bit 63: user-space addresses never have it): kept by
/// the symbolizer only if the frame below it has no frame pointer (`Symbolizer::stack`).
pub(crate) const SCANNED: usize = 1 << 63;
/// The signal the handler is installed for (0: none).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// The bounds of the calling thread's stack (lowest address, one past the highest), captured
/// when a thread registers; (0, 0) where unknown, and then no stack is taken of it.
pub(crate) fn current_stack_bounds() -> (usize, usize) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `attr` is initialized by `pthread_getattr_np` before it is read and destroyed
    // after; the out-pointers are to live locals.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) != 0 {
            return (0, 0);
        }
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        let ok = libc::pthread_attr_getstack(&attr, &mut addr, &mut size) == 0;
        libc::pthread_attr_destroy(&mut attr);
        if ok { (addr as usize, addr as usize + size) } else { (0, 0) }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    (0, 0)
}

/// Installs the handler (once); whether stacks can be taken. Off when the environment
/// variable `FUTURESCOPE_POLL_STACKS` is `0`, elsewhere than x86-64 Linux, and when the
/// signal already has a handler (the program's own, or a profiler's).
pub(crate) fn install() -> bool {
    if SIGNAL.load(Ordering::Acquire) != 0 {
        return true;
    }
    if std::env::var_os("FUTURESCOPE_POLL_STACKS").is_some_and(|v| v == "0") {
        return false;
    }
    imp::install()
}

/// One thread's slot, held by the watcher while it watches a poll of that thread.
pub(crate) struct StackSlot {
    index: usize,
    /// Keeps `Slot::poll_since` pointing at live memory.
    _thread: Arc<ThreadShared>,
}

impl StackSlot {
    /// A free slot for `thread`, if stacks are taken, the thread's stack is known and a slot
    /// is free.
    pub(crate) fn claim(thread: &Arc<ThreadShared>) -> Option<StackSlot> {
        if SIGNAL.load(Ordering::Acquire) == 0 || thread.tid == 0 || thread.stack.0 >= thread.stack.1 {
            return None;
        }
        let index = SLOTS
            .iter()
            .position(|s| s.state.compare_exchange(FREE, IDLE, Ordering::Acquire, Ordering::Relaxed).is_ok())?;
        let slot = &SLOTS[index];
        slot.tid.store(thread.tid, Ordering::Relaxed);
        slot.lo.store(thread.stack.0, Ordering::Relaxed);
        slot.hi.store(thread.stack.1, Ordering::Relaxed);
        slot.poll_since.store(std::ptr::from_ref(&thread.poll_since).cast_mut(), Ordering::Relaxed);
        slot.depth.store(0, Ordering::Relaxed);
        Some(StackSlot { index, _thread: thread.clone() })
    }

    /// Asks the thread for a stack, unless one asked for has not been taken yet.
    pub(crate) fn ask(&self) {
        let slot = &SLOTS[self.index];
        if slot.state.compare_exchange(IDLE, ASKED, Ordering::AcqRel, Ordering::Relaxed).is_ok()
            && !imp::send(slot.tid.load(Ordering::Relaxed), SIGNAL.load(Ordering::Relaxed))
        {
            slot.state.store(IDLE, Ordering::Release);
        }
    }

    /// A stack the handler took since the last call, if it was taken during the poll that
    /// began at `since_ticks`: its addresses, innermost first, into `out`.
    pub(crate) fn take(&self, since_ticks: u64, out: &mut Vec<usize>) -> bool {
        let slot = &SLOTS[self.index];
        if slot.state.load(Ordering::Acquire) != TAKEN {
            return false;
        }
        out.clear();
        let depth = slot.depth.load(Ordering::Relaxed).min(MAX_DEPTH);
        out.extend(slot.frames[..depth].iter().map(|f| f.load(Ordering::Relaxed)));
        let ours = slot.seen_since.load(Ordering::Relaxed) == since_ticks;
        slot.state.store(IDLE, Ordering::Release);
        ours && !out.is_empty()
    }
}

impl Drop for StackSlot {
    fn drop(&mut self) {
        let slot = &SLOTS[self.index];
        // A stack still asked for is called off; one being written is waited for (the handler
        // takes microseconds once it runs).
        loop {
            match slot.state.compare_exchange(ASKED, IDLE, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => break,
                Err(TAKING) => std::thread::yield_now(),
                Err(_) => break,
            }
        }
        slot.tid.store(0, Ordering::Relaxed);
        slot.poll_since.store(std::ptr::null_mut(), Ordering::Relaxed);
        slot.state.store(FREE, Ordering::Release);
    }
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
mod imp {
    use super::*;

    /// A real-time signal of the program's range (glibc keeps the first two for itself).
    fn signal() -> i32 {
        libc::SIGRTMIN() + 5
    }

    /// The executable mappings of the process, from `/proc/self/maps`, into `TEXT`.
    fn read_text_ranges() {
        let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return };
        let mut n = 0;
        for line in maps.lines() {
            let mut cols = line.split_whitespace();
            let (Some(range), Some(perms)) = (cols.next(), cols.next()) else { continue };
            if !perms.starts_with("r-x") || n == TEXT_N {
                continue;
            }
            let Some((a, b)) = range.split_once('-') else { continue };
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { continue };
            TEXT[n].0.store(a, Ordering::Relaxed);
            TEXT[n].1.store(b, Ordering::Relaxed);
            n += 1;
        }
        TEXT_LEN.store(n, Ordering::Release);
    }

    /// Whether `ret` could be a return address: the 7 bytes before it are in a readable,
    /// executable mapping and end with a call instruction (`call rel32`, or `call` through a
    /// register or memory operand).
    fn after_call(ret: usize) -> bool {
        let n = TEXT_LEN.load(Ordering::Acquire);
        let Some(from) = ret.checked_sub(7) else { return false };
        if !TEXT[..n].iter().any(|(a, b)| a.load(Ordering::Relaxed) <= from && ret <= b.load(Ordering::Relaxed)) {
            return false;
        }
        // SAFETY: `ret - 7 .. ret` lies within a mapping the kernel listed as readable.
        let byte = |back: usize| unsafe { *((ret - back) as *const u8) };
        let modrm = |m: u8| (m >> 6, (m >> 3) & 7, m & 7);
        let call_via = |back: usize| -> bool {
            // `FF /2` with its ModRM `back - 1` bytes before `ret`; the operand's length must
            // end exactly at `ret`.
            if byte(back) != 0xff {
                return false;
            }
            let (m, r, x) = modrm(byte(back - 1));
            if r != 2 {
                return false;
            }
            let len = match (m, x) {
                (3, _) => 2,
                (0, 5) => 6,
                (0, 4) => 3,
                (0, _) => 2,
                (1, 4) => 4,
                (1, _) => 3,
                (2, 4) => 7,
                (2, _) => 6,
                _ => return false,
            };
            len == back
        };
        byte(5) == 0xe8 || (2..=7).any(call_via)
    }

    pub(super) fn install() -> bool {
        read_text_ranges();
        let sig = signal();
        // SAFETY: `sigaction` reads and writes live, zero-initialized `sigaction` structs; the
        // handler only does what a signal handler may (see `on_signal`).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0 || old.sa_sigaction != libc::SIG_DFL {
                return false;
            }
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = on_signal as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            if libc::sigaction(sig, &act, std::ptr::null_mut()) != 0 {
                return false;
            }
        }
        SIGNAL.store(sig, Ordering::Release);
        true
    }

    /// Whether the exported function of a shared library that `addr` is in sets up a frame
    /// pointer; `None` when `addr` is not in one.
    pub(super) fn frame_pointer_at(addr: usize) -> Option<bool> {
        // SAFETY: `dladdr` fills `info` (zeroed, live) for an address of a loaded object; the
        // start of a function it names is mapped code, of which 8 bytes are read.
        unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            if libc::dladdr(addr as *const libc::c_void, &mut info) == 0 || info.dli_saddr.is_null() {
                return None;
            }
            // A shared library's, not the program's (whose exported symbols may be far apart).
            let file = std::ffi::CStr::from_ptr(info.dli_fname).to_string_lossy();
            if !file.contains(".so") {
                return None;
            }
            let code = std::slice::from_raw_parts(info.dli_saddr as *const u8, 8);
            let code = if code[..4] == [0xf3, 0x0f, 0x1e, 0xfa] { &code[4..] } else { code };
            Some(code[0] == 0x55 && code[1..4] == [0x48, 0x89, 0xe5])
        }
    }

    pub(super) fn send(tid: i32, sig: i32) -> bool {
        // SAFETY: `tgkill` takes plain integers; a thread that is gone makes it fail (ESRCH).
        unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, sig) == 0 }
    }

    /// The handler: on the thread whose stack was asked for. Async-signal-safe: atomics, reads
    /// of memory checked to be within the thread's live stack, and the `gettid` system call.
    extern "C" fn on_signal(_sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: `gettid` has no arguments and cannot fail (and leaves `errno` alone).
        let tid = unsafe { libc::syscall(libc::SYS_gettid) } as i32;
        for slot in &SLOTS {
            if slot.tid.load(Ordering::Acquire) != tid
                || slot.state.compare_exchange(ASKED, TAKING, Ordering::AcqRel, Ordering::Relaxed).is_err()
            {
                continue;
            }
            let since = slot.poll_since.load(Ordering::Relaxed);
            // SAFETY: the watcher's `StackSlot` keeps the `ThreadShared` alive while the slot
            // is not free, and it waits for `TAKING` to end before freeing it.
            let since = if since.is_null() { u64::MAX } else { unsafe { (*since).load(Ordering::Acquire) } };
            // SAFETY: the kernel passes the interrupted context to an `SA_SIGINFO` handler.
            let depth = unsafe { walk(ctx.cast(), slot) };
            slot.seen_since.store(since, Ordering::Relaxed);
            slot.depth.store(depth, Ordering::Relaxed);
            slot.state.store(TAKEN, Ordering::Release);
            return;
        }
    }

    /// Walks the frame-pointer chain from the interrupted context into `slot.frames`; the
    /// number of addresses written.
    ///
    /// # Safety
    /// `ctx` is the `ucontext_t` the kernel passed to the handler running on this thread, and
    /// `slot` holds this thread's stack bounds.
    unsafe fn walk(ctx: *const libc::ucontext_t, slot: &Slot) -> usize {
        // SAFETY: per the contract, `ctx` is valid.
        let regs = unsafe { &(*ctx).uc_mcontext.gregs };
        let pc = regs[libc::REG_RIP as usize] as usize;
        let sp = regs[libc::REG_RSP as usize] as usize;
        let mut fp = regs[libc::REG_RBP as usize] as usize;
        let hi = slot.hi.load(Ordering::Relaxed);
        // From the interrupted stack pointer to the top of the stack, all of it is mapped.
        let lo = slot.lo.load(Ordering::Relaxed).max(sp);
        if sp < slot.lo.load(Ordering::Relaxed) || sp >= hi {
            // Not on the stack it registered with (a signal stack, say): the instruction only.
            slot.frames[0].store(pc, Ordering::Relaxed);
            return 1;
        }
        slot.frames[0].store(pc, Ordering::Relaxed);
        let mut n = 1;
        // Frames without a frame pointer between the interrupted instruction and the first
        // frame that has one: their return addresses, found by scanning.
        let scan_end = if fp > sp && fp < hi { fp } else { hi };
        n = scan(slot, n, sp, scan_end, hi);
        while n < MAX_DEPTH && fp >= lo && fp.checked_add(16).is_some_and(|end| end <= hi) && fp.is_multiple_of(8) {
            // SAFETY: `fp..fp + 16` lies within `[sp, hi)`, the live part of this thread's
            // stack, so both words are mapped and readable.
            let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
            if ret == 0 {
                break;
            }
            slot.frames[n].store(ret, Ordering::Relaxed);
            n += 1;
            // The caller's frame is above this one; anything else is not a frame chain.
            if next <= fp {
                break;
            }
            // If the caller has no frame pointer, its caller's return address is in between.
            n = scan(slot, n, fp + 16, next.min(hi), hi);
            fp = next;
        }
        n
    }

    /// Scans the words of `[from, to)` (within `[sp, hi)`) for return addresses, stored with
    /// `SCANNED` from `slot.frames[n]` on; the new count.
    fn scan(slot: &Slot, mut n: usize, from: usize, to: usize, hi: usize) -> usize {
        let to = to.min(from.saturating_add(8 * SCAN_WORDS)).min(hi);
        let mut at = from.next_multiple_of(8);
        while at + 8 <= to && n < MAX_DEPTH - 1 {
            // SAFETY: `at .. at + 8` lies within `[from, to)`, inside the live part of this
            // thread's stack (the callers check `from >= sp` and `to <= hi`).
            let word = unsafe { *(at as *const usize) };
            if word & SCANNED == 0 && after_call(word) {
                slot.frames[n].store(word | SCANNED, Ordering::Relaxed);
                n += 1;
            }
            at += 8;
        }
        n
    }
}

#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
mod imp {
    pub(super) fn install() -> bool {
        false
    }

    pub(super) fn send(_tid: i32, _sig: i32) -> bool {
        false
    }

    pub(super) fn frame_pointer_at(_addr: usize) -> Option<bool> {
        None
    }
}

// ---- symbols (the watcher's thread) --------------------------------------------------------

/// Resolves addresses to frames, keeping what it resolved: a poll's samples share most of
/// their addresses, and so do the long polls of one program.
#[derive(Default)]
pub(crate) struct Symbolizer {
    /// Address -> its frames, innermost (inlined) first.
    cache: HashMap<usize, Vec<StackFrame>>,
    /// Address -> whether the function it is in keeps a frame pointer.
    framed: HashMap<usize, bool>,
}

impl Symbolizer {
    /// Reads the binary's debug info now (the first lookup is the slow one).
    pub(crate) fn warm(&mut self) {
        let here = Symbolizer::warm as *const () as usize;
        let _ = self.frames_of(here, false);
    }

    /// The frames at `addr`, innermost first; `ret`: a return address (the call is the
    /// instruction before it).
    fn frames_of(&mut self, addr: usize, ret: bool) -> &[StackFrame] {
        debug_assert!(addr & SCANNED == 0);
        let key = if ret { addr.saturating_sub(1) } else { addr };
        self.cache.entry(key).or_insert_with(|| {
            let mut frames = Vec::new();
            backtrace::resolve(key as *mut std::ffi::c_void, |sym| {
                let function = sym.name().map_or_else(|| "?".to_owned(), |n| format!("{n:#}"));
                let loc = sym.filename().map(|file| match sym.lineno() {
                    Some(line) => format!("{}:{line}", crate::dump::short_path(Path::new(file))),
                    None => crate::dump::short_path(Path::new(file)),
                });
                frames.push(StackFrame { function, loc });
            });
            if frames.is_empty() {
                frames.push(StackFrame { function: format!("{key:#x}"), loc: None });
            }
            frames
        })
    }

    /// One sampled stack (addresses innermost first) as frames, outermost first, from the
    /// frame the runtime polled the task's future in (the runtime's and the thread's start
    /// frames above it are left out; all of them when the stack does not reach a runtime).
    ///
    /// The addresses found by scanning (`SCANNED`) after an address are kept only when the
    /// function of that address has no frame pointer: then they are the return addresses the
    /// chain skipped; otherwise they are stale words of a frame's locals.
    pub(crate) fn stack(&mut self, addrs: &[usize]) -> Vec<StackFrame> {
        let mut inner_first: Vec<StackFrame> = Vec::new();
        let mut keep_scanned = false;
        for (i, &addr) in addrs.iter().enumerate() {
            if addr & SCANNED != 0 {
                if !keep_scanned {
                    continue;
                }
            } else {
                keep_scanned = !self.has_frame_pointer(if i > 0 { addr - 1 } else { addr });
            }
            inner_first.extend(self.frames_of(addr & !SCANNED, i > 0).iter().cloned());
            // Where the stack is cut is known (below): the frames further out are not looked up.
            if let Some(own) = inner_first.iter().position(is_own)
                && inner_first[own..].iter().any(is_runtime)
            {
                break;
            }
        }
        let mut frames = inner_first;
        frames.reverse();
        // After the runtime's innermost frame that still has the program's own code inside it
        // (a sample inside a call from the program into the runtime, `tokio::spawn` say,
        // keeps that call's frames; the program's frames around its `block_on` go).
        let last_own = frames.iter().rposition(is_own).unwrap_or(frames.len());
        let cut = frames[..last_own].iter().rposition(is_runtime).map_or(0, |i| i + 1);
        let mut frames = frames.split_off(cut);
        let machinery = frames.iter().take_while(|f| is_machinery(&f.function)).count();
        frames.drain(..machinery);
        frames
    }
}

impl Symbolizer {
    /// Whether the function `addr` is in starts by setting up a frame pointer (`push %rbp;
    /// mov %rsp,%rbp`, after an `endbr64`). Only a shared library's exported functions are
    /// looked at (`dladdr`); the program's own code is built with frame pointers, and what
    /// cannot be told is taken to have one (nothing scanned is kept for it).
    fn has_frame_pointer(&mut self, addr: usize) -> bool {
        *self.framed.entry(addr).or_insert_with(|| imp::frame_pointer_at(addr).unwrap_or(true))
    }
}

/// A frame of tokio's scheduler polling a task (or a `block_on` polling its future): the
/// stack is cut there. By its source file too: a tokio function inlined into a crate built
/// with line tables only has a bare name (`block_on<...>`).
fn is_runtime(frame: &StackFrame) -> bool {
    if let Some(loc) = &frame.loc
        && let Some((krate, path)) = loc.split_once('/')
        && krate.starts_with("tokio-")
    {
        return [
            "src/runtime/task/",
            "src/runtime/scheduler/",
            "src/runtime/park",
            "src/runtime/context",
            "src/runtime/coop",
        ]
        .iter()
        .any(|p| path.starts_with(p))
            || path.starts_with("src/runtime/runtime.rs")
            || path.starts_with("src/runtime/blocking/");
    }
    let function = frame.function.as_str();
    function.starts_with("tokio::runtime::task::")
        || function.starts_with("tokio::runtime::park::CachedParkThread::block_on")
        || function.starts_with("tokio::runtime::scheduler::")
        || function.starts_with("tokio::runtime::coop::")
        || function.starts_with("tokio::runtime::context::")
        || function.starts_with("<tokio::runtime::task::")
        || function.starts_with("<tokio::runtime::blocking::task::BlockingTask")
}

/// A wrapper between the runtime and the task's own future (instrumentation, probes, the
/// unwind guard): left out at the outer end of a stack.
fn is_machinery(function: &str) -> bool {
    let f = function.trim_start_matches('<');
    f.starts_with("tracing::instrument::")
        || f.starts_with("futurescope_recorder::")
        || f.starts_with("core::panic::unwind_safe::")
        || f.starts_with("std::panicking::")
        || f.starts_with("std::panic::")
        || f.starts_with("core::ops::function::")
        || f.starts_with("tokio::task::")
}

/// Whether a frame is the program's own code: not the standard library, tokio, futurescope
/// or a system library (which have no source line, or a library path).
pub(crate) fn is_own(frame: &StackFrame) -> bool {
    let Some(loc) = &frame.loc else { return false };
    // The standard library's sources, a system library's (glibc's are `./time/...`), ours, a
    // registry crate's (`tokio-1.54.1/src/...`).
    let registry = loc.split_once('/').is_some_and(|(krate, _)| {
        krate
            .rsplit_once('-')
            .is_some_and(|(_, version)| version.starts_with(|c: char| c.is_ascii_digit()) && version.contains('.'))
    });
    if registry
        || loc.starts_with("library/")
        || loc.starts_with("/rustc/")
        || loc.starts_with("./")
        || loc.starts_with("/usr/")
        || loc.starts_with("backend/recorder/src/")
        || frame.function.starts_with("__")
    {
        return false;
    }
    let f = frame.function.trim_start_matches('<');
    const NOT_OWN: &[&str] = &[
        "std::",
        "core::",
        "alloc::",
        "tokio::",
        "tracing::",
        "tracing_core::",
        "futurescope_recorder::",
        "futures_util::",
        "futures_core::",
        "futures_executor::",
        "backtrace::",
        "quanta::",
        "mio::",
        "parking_lot",
    ];
    !NOT_OWN.iter().any(|p| f.starts_with(p))
}

/// A poll's stacks, grouped: distinct stacks with their sample counts (most first, each with
/// its innermost own frame), and the hottest own frame (the one most samples were in).
pub(crate) fn group(stacks: Vec<Vec<StackFrame>>) -> (Vec<Stack>, Option<HotFrame>) {
    let mut counts: HashMap<Vec<StackFrame>, u32> = HashMap::new();
    for s in stacks {
        *counts.entry(s).or_default() += 1;
    }
    let mut grouped: Vec<Stack> = counts
        .into_iter()
        .map(|(frames, n)| {
            let own = frames.iter().rposition(is_own).map(|i| i as u32);
            Stack { n, own, frames }
        })
        .collect();
    grouped.sort_by(|a, b| b.n.cmp(&a.n).then_with(|| a.frames.cmp(&b.frames)));
    let mut by_frame: HashMap<&StackFrame, u32> = HashMap::new();
    for s in &grouped {
        if let Some(own) = s.own {
            *by_frame.entry(&s.frames[own as usize]).or_default() += s.n;
        }
    }
    let hot = by_frame.into_iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0))).map(|(f, n)| HotFrame {
        function: f.function.clone(),
        loc: f.loc.clone(),
        n,
    });
    (grouped, hot)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, loc: Option<&str>) -> StackFrame {
        StackFrame { function: function.to_owned(), loc: loc.map(str::to_owned) }
    }

    #[test]
    fn own_frames_are_the_programs() {
        assert!(is_own(&frame("futurescope_scenarios::blocking_in_async::stall", Some("scenarios/src/x.rs:9"))));
        assert!(is_own(&frame("my_app::handler::{{closure}}", Some("src/main.rs:3"))));
        assert!(!is_own(&frame("std::thread::sleep", Some("library/std/src/thread/mod.rs:1"))));
        assert!(!is_own(&frame("<tokio::time::Sleep as core::future::Future>::poll", Some("tokio-1/src/a.rs:2"))));
        assert!(!is_own(&frame("clock_nanosleep", None)));
        assert!(!is_own(&frame("futurescope_recorder::probe::x", Some("backend/recorder/src/probe.rs:1"))));
    }

    #[test]
    fn stacks_group_and_the_hottest_own_frame_wins() {
        let a = vec![frame("app::run", Some("src/a.rs:1")), frame("app::spin", Some("src/a.rs:5"))];
        let b = vec![frame("app::run", Some("src/a.rs:1")), frame("app::spin", Some("src/a.rs:6"))];
        let c = vec![
            frame("app::run", Some("src/a.rs:1")),
            frame("app::spin", Some("src/a.rs:6")),
            frame("std::time::Instant::now", Some("library/std/src/time.rs:1")),
        ];
        let (stacks, hot) = group(vec![a.clone(), b.clone(), b.clone(), c.clone(), c.clone(), c]);
        assert_eq!(stacks.iter().map(|s| s.n).collect::<Vec<_>>(), [3, 2, 1]);
        assert_eq!(stacks[0].own, Some(1), "the innermost own frame, below std's");
        let hot = hot.expect("a hot frame");
        assert_eq!((hot.function.as_str(), hot.loc.as_deref(), hot.n), ("app::spin", Some("src/a.rs:6"), 5));
        assert_eq!(group(vec![vec![frame("nanosleep", None)]]).1, None, "no own frame, no hot frame");
    }

    #[test]
    fn unresolved_addresses_stand_for_themselves() {
        let mut s = Symbolizer::default();
        // Unresolvable addresses stand for themselves; a return address for its call.
        let frames = s.stack(&[0x11, 0x22]);
        let names: Vec<&str> = frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(names, ["0x21", "0x11"], "outermost first, the interrupted instruction last");
    }
}
