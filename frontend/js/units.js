// units.js — formatting of nanosecond durations, timestamps and counts for display.
//
// Pure functions only. Every figure the dashboard prints goes through here so that the
// same quantity reads the same everywhere (tooltip, task panel, summary bar). Choosing
// which figure to show is left to the views; computing it is left to model.js.

const UNITS = [
  { ns: 1e9, suffix: 's' },
  { ns: 1e6, suffix: 'ms' },
  { ns: 1e3, suffix: 'µs' },
  { ns: 1, suffix: 'ns' },
];

/** A duration in ns as a short human string: 12.3 ms, 845 µs, 3.00 s, 17 ns. */
export function formatDuration(ns) {
  if (ns == null || Number.isNaN(ns)) return '–';
  const abs = Math.abs(ns);
  if (abs === 0) return '0';
  for (const unit of UNITS) {
    if (abs >= unit.ns || unit.ns === 1) {
      const v = ns / unit.ns;
      const digits = unit.ns === 1 ? 0 : Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
      return `${v.toFixed(digits)} ${unit.suffix}`;
    }
  }
  return `${ns} ns`;
}

/**
 * A timestamp (ns since run start) as an axis label. The unit follows the size of the
 * largest time on the axis (`scaleNs`, default `t`) so every tick uses the same unit; the
 * decimals follow the tick step so that neighbouring ticks never print the same text.
 */
export function formatTick(t, stepNs, scaleNs = t) {
  const scale = Math.max(Math.abs(scaleNs), stepNs);
  let unit = UNITS[UNITS.length - 1];
  for (const u of UNITS) {
    if (scale >= u.ns || u.ns === 1) {
      unit = u;
      break;
    }
  }
  const ratio = stepNs / unit.ns;
  const decimals = ratio >= 1 ? 0 : Math.min(9, Math.ceil(-Math.log10(ratio) - 1e-9));
  return `${(t / unit.ns).toFixed(decimals)} ${unit.suffix}`;
}

/** A count with thin thousands separators: 1 234 567. */
export function formatCount(n) {
  if (n == null || Number.isNaN(n)) return '–';
  return Math.round(n).toLocaleString('en-US').replace(/,/g, '\u2009');
}

/** A share 0..1 as a percentage. */
export function formatShare(x) {
  if (!Number.isFinite(x)) return '–';
  const pct = x * 100;
  return `${pct >= 10 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** Bytes as B / KiB / MiB. */
export function formatBytes(n) {
  if (n == null) return 'unknown';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * Parses a duration typed by a user ("10ms", "250 µs", "1.5s", "2000us", "800") into ns;
 * a bare number is milliseconds. Returns null when it cannot be read.
 */
export function parseDuration(text) {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s)?\s*$/i.exec(String(text));
  if (!m) return null;
  const v = parseFloat(m[1]);
  const unit = (m[2] || 'ms').toLowerCase();
  const scale = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9 }[unit];
  return v * scale;
}

/** A moment (ns since run start) with enough digits to tell nearby events apart: 37.297 ms. */
export function formatTime(t) {
  if (t == null || Number.isNaN(t)) return '–';
  if (t < 1e3) return `${Math.round(t)} ns`;
  if (t < 1e6) return `${(t / 1e3).toFixed(2)} µs`;
  if (t < 1e9) return `${(t / 1e6).toFixed(3)} ms`;
  return `${(t / 1e9).toFixed(4)} s`;
}
