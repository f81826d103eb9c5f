//! The recorder's clock: nanoseconds since a process-wide epoch.
//!
//! Reads the CPU's timestamp counter through `quanta` (a few ns, no system call; quanta
//! checks that the counter is invariant and falls back to the monotonic clock where it is
//! not), calibrated once against the monotonic clock. Runs subtract their own start, so wire
//! times are "ns since the run started".
//!
//! On x86-64, once `init` has seen that quanta reads the timestamp counter, the hot path reads
//! it itself with a bare `rdtsc`: quanta fences the instruction on both sides, which made the
//! clock read the largest single cost of recording a poll. A few cycles of reordering around
//! the read do not matter at the nanosecond resolution of the timeline.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

struct Epoch {
    clock: quanta::Clock,
    start: u64,
}

static EPOCH: OnceLock<Epoch> = OnceLock::new();
/// Set by `init` when quanta's raw reading is the timestamp counter.
static BARE_TSC: AtomicBool = AtomicBool::new(false);

fn epoch() -> &'static Epoch {
    EPOCH.get_or_init(|| {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        Epoch { clock, start }
    })
}

/// Fixes the epoch and calibrates the clock; called when the recorder starts so `now` never
/// pays for it.
pub(crate) fn init() {
    let e = epoch();
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `rdtsc` is available on every x86-64 CPU.
        let before = unsafe { std::arch::x86_64::_rdtsc() };
        let q = e.clock.raw();
        // SAFETY: as above.
        let after = unsafe { std::arch::x86_64::_rdtsc() };
        if (before..=after).contains(&q) {
            BARE_TSC.store(true, Ordering::Relaxed);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = e;
}

#[inline]
pub fn now() -> u64 {
    ticks_to_ns(ticks())
}

/// The raw counter: what the hot path stores (the collector converts, off the hot path).
#[inline]
pub(crate) fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if BARE_TSC.load(Ordering::Relaxed) {
        // SAFETY: `rdtsc` is available on every x86-64 CPU.
        return unsafe { std::arch::x86_64::_rdtsc() };
    }
    epoch().clock.raw()
}

/// Nanoseconds since the epoch for a `ticks()` reading.
#[inline]
pub(crate) fn ticks_to_ns(ticks: u64) -> u64 {
    let e = epoch();
    e.clock.delta_as_nanos(e.start, ticks)
}
