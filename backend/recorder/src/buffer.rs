//! Per-thread event buffers: the only thing the hot path writes to.
//!
//! Each thread that records owns a `ThreadBuffer` (thread-local) and writes `RawRecord`s into
//! its current `Chunk` with plain stores and one release-store of the chunk's length. Nothing
//! is shared between threads per event: no lock, no shared queue, no allocation. Once every
//! `CHUNK_LEN` (65,536) records the thread takes its own `ThreadShared::state` lock (uncontended but for
//! the collector) to hand the full chunk over and pick up a recycled one.
//!
//! The collector (`collector.rs`) reads full chunks and, for liveness, the published prefix of
//! each thread's current chunk. Chunks come from a global budget; when it is exhausted and the
//! collector has not returned any, records are dropped and counted in `ThreadShared::dropped`,
//! which the collector turns into `dropped` events. Memory is bounded by
//! `max_chunks * CHUNK_BYTES`.
//!
//! Chunks the collector has read go back to one global pool, which keeps up to a "warm"
//! number of them mapped and already faulted in (the collector pre-faults that many when it
//! starts): the first write to fresh memory costs the kernel a page clear, which on a virtual
//! machine was measured to be most of a busy worker's recording cost, so the hot path should
//! only ever write to memory that has been written before.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::record::{RawRecord, Record, RecordKind};
use crate::sync::LockUnpoisoned;

/// Bytes per chunk: one 2 MiB huge page where the kernel allows it (one page fault per chunk
/// instead of 512: the first write to each page of a fresh chunk happens on the hot path).
pub(crate) const CHUNK_BYTES: usize = 2 << 20;
/// Records per chunk (65,536).
pub(crate) const CHUNK_LEN: usize = CHUNK_BYTES / std::mem::size_of::<RawRecord>();

/// How many chunks may exist at once, over all threads (default 128 = 256 MiB).
static MAX_CHUNKS: AtomicUsize = AtomicUsize::new(128);
static ALLOCATED_CHUNKS: AtomicUsize = AtomicUsize::new(0);
/// How many free chunks the pool keeps instead of unmapping them.
static WARM_CHUNKS: AtomicUsize = AtomicUsize::new(0);
/// Free chunks, faulted in, ready for any thread.
static POOL: Mutex<Vec<Arc<Chunk>>> = Mutex::new(Vec::new());
/// `POOL`'s length, readable without its lock.
static POOLED_CHUNKS: AtomicUsize = AtomicUsize::new(0);

/// How much of the chunk budget holds records not yet read, 0.0 to 1.0: the collector's
/// backlog, roughly.
pub(crate) fn budget_used() -> f64 {
    let in_use = ALLOCATED_CHUNKS.load(Ordering::Relaxed).saturating_sub(POOLED_CHUNKS.load(Ordering::Relaxed));
    in_use as f64 / MAX_CHUNKS.load(Ordering::Relaxed).max(1) as f64
}

/// Sets the global chunk budget and how many free chunks to keep warm; takes effect for chunks
/// allocated or returned afterwards.
pub(crate) fn set_limits(max_chunks: usize, warm_chunks: usize) {
    let max = max_chunks.max(2);
    MAX_CHUNKS.store(max, Ordering::Relaxed);
    WARM_CHUNKS.store(warm_chunks.min(max), Ordering::Relaxed);
}

fn pool() -> MutexGuard<'static, Vec<Arc<Chunk>>> {
    POOL.lock_unpoisoned()
}

/// A chunk for a thread to write into: a warm one from the pool if there is one.
fn take_chunk() -> Option<Arc<Chunk>> {
    let pooled = {
        let mut pool = pool();
        let c = pool.pop();
        POOLED_CHUNKS.store(pool.len(), Ordering::Relaxed);
        c
    };
    pooled.or_else(Chunk::try_new)
}

/// Fills the pool with warm chunks up to the warm count (or the budget). Called by the
/// collector when it starts, at its background priority.
pub(crate) fn prefill_pool() {
    let warm = WARM_CHUNKS.load(Ordering::Relaxed);
    while POOLED_CHUNKS.load(Ordering::Relaxed) < warm {
        let Some(chunk) = Chunk::try_new() else { return };
        chunk.fault_in();
        let mut pool = pool();
        pool.push(chunk);
        POOLED_CHUNKS.store(pool.len(), Ordering::Relaxed);
    }
}

/// Aligned to 128 bytes (two cache lines, the unit adjacent-line prefetchers pull in), like
/// `ThreadShared`: `len` is written on every record, and two workers' chunk headers sharing a
/// line was measured to make recording half again as costly (the line bouncing between cores).
#[repr(align(128))]
pub(crate) struct Chunk {
    /// `CHUNK_LEN` slots; only those below `len` are initialised.
    slots: std::ptr::NonNull<UnsafeCell<MaybeUninit<RawRecord>>>,
    /// Owns the bytes `slots` points into; unmapped when the chunk is dropped.
    _memory: ChunkMemory,
    /// How many slots the producer has published (release-stored after each write).
    len: AtomicUsize,
}

/// Where a chunk's bytes come from. On Linux a private anonymous mapping, 2 MiB-aligned and
/// marked for huge pages, so nothing is touched until written and the first write maps the
/// whole chunk at once; elsewhere the global allocator.
struct ChunkMemory {
    base: *mut u8,
    len: usize,
}

impl ChunkMemory {
    #[cfg(target_os = "linux")]
    fn new() -> Option<(ChunkMemory, *mut u8)> {
        let len = 2 * CHUNK_BYTES;
        // SAFETY: a fresh private anonymous mapping; no existing memory is affected.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let base = base.cast::<u8>();
        let aligned = base.wrapping_add(base.align_offset(CHUNK_BYTES));
        // SAFETY: advice on part of the mapping made above.
        unsafe { libc::madvise(aligned.cast(), CHUNK_BYTES, libc::MADV_HUGEPAGE) };
        Some((ChunkMemory { base, len }, aligned))
    }

    #[cfg(not(target_os = "linux"))]
    fn new() -> Option<(ChunkMemory, *mut u8)> {
        let layout = std::alloc::Layout::from_size_align(CHUNK_BYTES, 64).expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let base = unsafe { std::alloc::alloc(layout) };
        (!base.is_null()).then_some((ChunkMemory { base, len: CHUNK_BYTES }, base))
    }
}

impl Drop for ChunkMemory {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: unmaps exactly the mapping `new` made, once.
        unsafe {
            libc::munmap(self.base.cast(), self.len);
        }
        #[cfg(not(target_os = "linux"))]
        // SAFETY: frees exactly the allocation `new` made, once.
        unsafe {
            std::alloc::dealloc(self.base, std::alloc::Layout::from_size_align(self.len, 64).expect("a valid layout"));
        }
    }
}

// SAFETY: slots below `len` are written only before `len` is release-stored past them and
// never written again until the chunk is recycled (which happens-after the collector is done
// reading it, through the pool's mutex); slots at or above `len` are touched
// only by the single producer thread that holds the chunk as its current one.
unsafe impl Sync for Chunk {}
unsafe impl Send for Chunk {}

impl Chunk {
    fn try_new() -> Option<Arc<Chunk>> {
        let max = MAX_CHUNKS.load(Ordering::Relaxed);
        let mut n = ALLOCATED_CHUNKS.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match ALLOCATED_CHUNKS.compare_exchange_weak(n, n + 1, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => break,
                Err(seen) => n = seen,
            }
        }
        let Some((memory, slots)) = ChunkMemory::new() else {
            ALLOCATED_CHUNKS.fetch_sub(1, Ordering::Relaxed);
            return None;
        };
        let slots = std::ptr::NonNull::new(slots.cast()).expect("a mapping is never at address 0");
        Some(Arc::new(Chunk { slots, _memory: memory, len: AtomicUsize::new(0) }))
    }

    /// Makes the kernel back the whole chunk with memory now, off the hot path.
    fn fault_in(&self) {
        let base = self.slots.as_ptr().cast::<u8>();
        #[cfg(target_os = "linux")]
        {
            // SAFETY: advice on this chunk's own bytes (2 MiB-aligned, inside its mapping).
            let populated = unsafe { libc::madvise(base.cast(), CHUNK_BYTES, libc::MADV_POPULATE_WRITE) } == 0;
            if populated {
                return;
            }
        }
        for offset in (0..CHUNK_BYTES).step_by(4096) {
            // SAFETY: inside the chunk, which no thread writes yet (it is not handed out); a
            // volatile write so the touch is not optimised away.
            unsafe { base.add(offset).write_volatile(0) };
        }
    }

    #[inline]
    fn slot(&self, i: usize) -> &UnsafeCell<MaybeUninit<RawRecord>> {
        assert!(i < CHUNK_LEN);
        // SAFETY: in bounds of `memory`, which lives as long as `self`.
        unsafe { &*self.slots.as_ptr().add(i) }
    }

    /// The published records from `from` on, decoded as written by thread `thread`. Only the
    /// collector calls this.
    pub(crate) fn published_from(&self, from: usize, thread: u32, out: &mut Vec<Record>) -> usize {
        let len = self.len.load(Ordering::Acquire);
        for i in from.min(len)..len {
            // SAFETY: below `len`: initialised, and not written again (see the `Sync` impl).
            let raw = unsafe { (*self.slot(i).get()).assume_init() };
            if raw.kind == RecordKind::StateParent {
                // Published together with the `State` record before it (`ThreadBuffer::push_n`).
                if let Some(state) = out.last_mut().filter(|r| r.kind == RecordKind::State) {
                    state.c = raw.a;
                }
                continue;
            }
            out.push(Record::decode(raw, thread));
        }
        len
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        ALLOCATED_CHUNKS.fetch_sub(1, Ordering::Relaxed);
    }
}

pub(crate) const ROLE_UNKNOWN: u8 = 0;
/// A thread of an observed runtime (a worker, or a blocking-pool thread).
pub(crate) const ROLE_RUNTIME: u8 = 1;
/// A plain thread a scenario started.
pub(crate) const ROLE_PLAIN: u8 = 2;

/// The part of a thread's buffer the collector can see. Written by its thread on every poll
/// (`pending_since`), so aligned to keep it off other threads' cache lines (see `Chunk`).
#[repr(align(128))]
pub(crate) struct ThreadShared {
    /// Global index of the thread, in registration order; poll records name threads by it.
    pub index: u32,
    /// The lane name: the thread's name, or a label a run gave it (`capture::set_thread_label`).
    pub name: Mutex<String>,
    /// What kind of thread this is (`ROLE_*`), for the kind of lane the collector gives it.
    pub role: std::sync::atomic::AtomicU8,
    pub state: Mutex<HandOff>,
    /// Records this thread could not store, not yet reported.
    pub dropped: AtomicU64,
    /// The run the thread last recorded for; the collector charges drops to it.
    pub last_run: AtomicU16,
    /// Set when the thread exits; the collector drains it one last time and forgets it.
    pub closed: AtomicBool,
    /// The time of a record this thread has taken but not yet published (a poll's end is
    /// known at the span's exit but published at the poll hook's end, after tokio has dropped
    /// a finished future, which can take a while); `u64::MAX` when none. The collector does
    /// not emit anything later than this, so the stream stays in time order.
    pub pending_since: AtomicU64,
    /// The time of the record waiting while this thread hands a full chunk over (the hand-off
    /// lock is shared with the collector, which runs at low priority); `u64::MAX` otherwise.
    pub handing_off_since: AtomicU64,
    /// The kernel's id of the thread (`gettid`; 0 where unknown), for the watcher of open polls
    /// (`causes.rs`), which reads `/proc/self/task/TID/...`.
    pub tid: i32,
    /// The task of the poll open on this thread (valid while `poll_since` is not `u64::MAX`).
    pub poll_task: AtomicU64,
    /// When the poll open on this thread began (raw clock ticks), `u64::MAX` when none: what
    /// the watcher of open polls reads. The thread's only cost for it is two stores per poll
    /// into this line, which it owns.
    pub poll_since: AtomicU64,
    /// The thread's stack (lowest address, one past the highest; (0, 0) where unknown),
    /// captured when it registers: the bounds the stack sampler's handler checks frame
    /// pointers against (`stacks.rs`).
    pub stack: (usize, usize),
    /// Variable-size data a record points at by sequence number (`RawRecord::b`): spawn
    /// metadata and marks. Rare next to polls and wakes, so a per-thread lock is fine here.
    pub side: Mutex<Vec<(u32, SideEntry)>>,
}

/// The strings of a spawn or a mark, which do not fit in a `RawRecord`.
#[derive(Debug, Clone)]
pub(crate) enum SideEntry {
    Spawn(SpawnInfo),
    Mark(String),
}

/// What tokio's `runtime.spawn` span says about a task.
#[derive(Debug, Clone, Default)]
pub struct SpawnInfo {
    /// The task's tracing span id when a registry assigned it (the layer's waker records
    /// name tasks by span id; the collector maps them back).
    pub span: Option<u64>,
    pub name: String,
    pub kind: String,
    pub loc: String,
    pub size: Option<u64>,
}

pub(crate) struct HandOff {
    pub full: VecDeque<Arc<Chunk>>,
    pub current: Option<Arc<Chunk>>,
}

impl ThreadShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HandOff> {
        // A poisoned hand-off only means a thread panicked between two plain field updates.
        self.state.lock_unpoisoned()
    }
}

/// Every thread that ever recorded and has not been forgotten by the collector.
static THREADS: Mutex<Vec<Arc<ThreadShared>>> = Mutex::new(Vec::new());
static NEXT_THREAD_INDEX: AtomicUsize = AtomicUsize::new(1);

pub(crate) fn registered_threads(out: &mut Vec<Arc<ThreadShared>>) {
    out.clear();
    out.extend(THREADS.lock_unpoisoned().iter().cloned());
}

pub(crate) fn forget_thread(index: u32) {
    THREADS.lock_unpoisoned().retain(|t| t.index != index);
}

/// The calling thread's kernel id.
pub(crate) fn current_tid() -> i32 {
    #[cfg(target_os = "linux")]
    // SAFETY: `gettid` has no arguments and cannot fail.
    unsafe {
        libc::syscall(libc::SYS_gettid) as i32
    }
    #[cfg(not(target_os = "linux"))]
    0
}

/// The producer side, owned by one thread.
pub(crate) struct ThreadBuffer {
    pub shared: Arc<ThreadShared>,
    current: Option<Arc<Chunk>>,
    len: usize,
    /// While no chunk is available, retry the hand-off only every so many records.
    starved_for: u32,
    next_side_seq: u32,
}

impl ThreadBuffer {
    /// A poll of `task` began at `ticks` on this thread (see `ThreadShared::poll_since`).
    #[inline]
    pub(crate) fn poll_opened(&self, task: u64, ticks: u64) {
        self.shared.poll_task.store(task, Ordering::Release);
        self.shared.poll_since.store(ticks, Ordering::Release);
    }

    /// The poll open on this thread returned.
    #[inline]
    pub(crate) fn poll_closed(&self) {
        self.shared.poll_since.store(u64::MAX, Ordering::Release);
    }

    pub(crate) fn register() -> ThreadBuffer {
        let index = NEXT_THREAD_INDEX.fetch_add(1, Ordering::Relaxed) as u32;
        let name = std::thread::current().name().unwrap_or("unnamed").to_owned();
        let current = take_chunk();
        let shared = Arc::new(ThreadShared {
            index,
            name: Mutex::new(name),
            role: std::sync::atomic::AtomicU8::new(ROLE_UNKNOWN),
            state: Mutex::new(HandOff { full: VecDeque::new(), current: current.clone() }),
            dropped: AtomicU64::new(0),
            last_run: AtomicU16::new(0),
            closed: AtomicBool::new(false),
            pending_since: AtomicU64::new(u64::MAX),
            handing_off_since: AtomicU64::new(u64::MAX),
            tid: current_tid(),
            poll_task: AtomicU64::new(0),
            poll_since: AtomicU64::new(u64::MAX),
            stack: crate::stacks::current_stack_bounds(),
            side: Mutex::new(Vec::new()),
        });
        THREADS.lock_unpoisoned().push(shared.clone());
        ThreadBuffer { shared, current, len: 0, starved_for: 0, next_side_seq: 1 }
    }

    #[inline]
    pub(crate) fn push(&mut self, rec: RawRecord) {
        self.push_n([rec]);
    }

    /// Writes `recs` into one chunk and publishes them at once, so the collector never sees
    /// a part of them.
    #[inline]
    pub(crate) fn push_n<const N: usize>(&mut self, recs: [RawRecord; N]) {
        if self.len + N > CHUNK_LEN || self.current.is_none() {
            self.shared.handing_off_since.store(recs[0].t, Ordering::Release);
            let rotated = self.rotate();
            if !rotated {
                self.shared.handing_off_since.store(u64::MAX, Ordering::Release);
                self.shared.dropped.fetch_add(N as u64, Ordering::Relaxed);
                self.shared.last_run.store(recs[0].run, Ordering::Relaxed);
                return;
            }
        }
        let chunk = self.current.as_ref().expect("rotate() leaves a current chunk on success");
        for rec in recs {
            // SAFETY: this thread is the only producer of `chunk`, and `len` is not yet published.
            unsafe { (*chunk.slot(self.len).get()).write(rec) };
            self.len += 1;
        }
        chunk.len.store(self.len, Ordering::Release);
        if self.len == N {
            // Published: the hand-off (if these records waited for one) is over.
            self.shared.handing_off_since.store(u64::MAX, Ordering::Release);
        }
    }

    /// Stores variable-size data for a record about to be pushed; returns its sequence number
    /// (which wraps: an entry is taken long before 2^32 more are made).
    pub(crate) fn push_side(&mut self, entry: SideEntry) -> u32 {
        let seq = self.next_side_seq;
        self.next_side_seq = self.next_side_seq.wrapping_add(1);
        self.shared.side.lock_unpoisoned().push((seq, entry));
        seq
    }

    /// Hands the full chunk to the collector and takes a fresh one; false if none is free.
    #[cold]
    fn rotate(&mut self) -> bool {
        if self.current.is_none() && self.starved_for > 0 {
            self.starved_for -= 1;
            return false;
        }
        let mut hand_off = self.shared.lock();
        if let Some(full) = self.current.take() {
            hand_off.full.push_back(full);
        }
        let next = take_chunk();
        hand_off.current = next.clone();
        drop(hand_off);
        self.len = 0;
        self.current = next;
        if self.current.is_none() {
            self.starved_for = 256;
            return false;
        }
        true
    }
}

impl Drop for ThreadBuffer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

/// Returns a chunk the collector has read (or a closed thread's last one) to the pool, or
/// unmaps it if the pool already holds its warm count.
pub(crate) fn recycle(chunk: Arc<Chunk>) {
    chunk.len.store(0, Ordering::Relaxed);
    let mut pool = pool();
    if pool.len() < WARM_CHUNKS.load(Ordering::Relaxed) {
        pool.push(chunk);
        POOLED_CHUNKS.store(pool.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget is process-wide: these tests take turns (`cargo test` runs them on threads
    /// of one process).
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn records_beyond_the_budget_are_dropped_counted_and_recording_resumes() {
        let _turn = SERIAL.lock_unpoisoned();
        // Relative to what other tests in this process may hold.
        let before = ALLOCATED_CHUNKS.load(Ordering::Relaxed);
        set_limits(before + 2, 0);
        let mut buffer = ThreadBuffer::register();
        let rec = RawRecord { t: 1, kind: RecordKind::PollStart, ..RawRecord::default() };
        for _ in 0..3 * CHUNK_LEN {
            buffer.push(rec);
        }
        assert_eq!(buffer.shared.dropped.load(Ordering::Relaxed), CHUNK_LEN as u64, "one chunk's worth dropped");
        let full: Vec<_> = buffer.shared.lock().full.drain(..).collect();
        assert_eq!(full.len(), 2);
        let mut read = Vec::new();
        for chunk in &full {
            chunk.published_from(0, 7, &mut read);
        }
        assert_eq!(read.len(), 2 * CHUNK_LEN);
        assert!(read.iter().all(|r| r.b == 7 && r.kind == RecordKind::PollStart), "decoded with the thread");

        // The collector hands the chunks back (none kept warm: unmapped, budget freed).
        for chunk in full {
            recycle(chunk);
        }
        for _ in 0..1000 {
            buffer.push(rec);
        }
        let dropped = buffer.shared.dropped.load(Ordering::Relaxed) - CHUNK_LEN as u64;
        assert!(dropped < 1000, "recording resumed after at most the starved back-off ({dropped} more dropped)");
        assert_eq!(buffer.current.as_ref().unwrap().len.load(Ordering::Relaxed), 1000 - dropped as usize);
        set_limits(128, 0);
    }

    #[test]
    fn the_warm_pool_is_filled_used_and_not_counted_as_backlog() {
        let _turn = SERIAL.lock_unpoisoned();
        let before = ALLOCATED_CHUNKS.load(Ordering::Relaxed);
        set_limits(before + 8, 3);
        prefill_pool();
        assert_eq!(POOLED_CHUNKS.load(Ordering::Relaxed), 3);
        assert_eq!(ALLOCATED_CHUNKS.load(Ordering::Relaxed), before + 3);
        let used = budget_used();
        let buffer = ThreadBuffer::register();
        assert_eq!(POOLED_CHUNKS.load(Ordering::Relaxed), 2, "a new thread's first chunk comes from the pool");
        assert_eq!(ALLOCATED_CHUNKS.load(Ordering::Relaxed), before + 3, "nothing new mapped");
        assert!(budget_used() > used, "a chunk in use is backlog, a pooled one is not");
        let chunk = buffer.shared.lock().current.take().unwrap();
        drop(buffer);
        recycle(chunk);
        assert_eq!(POOLED_CHUNKS.load(Ordering::Relaxed), 3, "returned to the pool");
        set_limits(128, 0);
        pool().clear();
        POOLED_CHUNKS.store(0, Ordering::Relaxed);
    }
}
