//! The recorder's clock: nanoseconds since a process-wide epoch, from the monotonic clock.
//!
//! Runs subtract their own start, so wire times are "ns since the run started".

use std::sync::OnceLock;
use std::time::Instant;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Fixes the epoch; called when the recorder starts so `now` never pays for initialisation.
pub(crate) fn init() {
    EPOCH.get_or_init(Instant::now);
}

#[inline]
pub fn now() -> u64 {
    let epoch = *EPOCH.get_or_init(Instant::now);
    Instant::now().saturating_duration_since(epoch).as_nanos() as u64
}
