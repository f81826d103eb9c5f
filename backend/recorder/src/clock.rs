//! The recorder's clock: nanoseconds since a process-wide epoch.
//!
//! Reads the CPU's timestamp counter through `quanta` (a few ns, no system call; quanta
//! checks that the counter is invariant and falls back to the monotonic clock where it is
//! not), calibrated once against the monotonic clock. Runs subtract their own start, so wire
//! times are "ns since the run started".

use std::sync::OnceLock;

struct Epoch {
    clock: quanta::Clock,
    start: u64,
}

static EPOCH: OnceLock<Epoch> = OnceLock::new();

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
    epoch();
}

#[inline]
pub fn now() -> u64 {
    ticks_to_ns(ticks())
}

/// The raw counter: what the hot path stores (the collector converts, off the hot path).
#[inline]
pub(crate) fn ticks() -> u64 {
    epoch().clock.raw()
}

/// Nanoseconds since the epoch for a `ticks()` reading.
#[inline]
pub(crate) fn ticks_to_ns(ticks: u64) -> u64 {
    let e = epoch();
    e.clock.delta_as_nanos(e.start, ticks)
}
