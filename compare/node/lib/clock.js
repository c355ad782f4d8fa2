'use strict';
// The real-time clock as exact BigInt nanoseconds since the epoch, read per
// request (PROTOCOL §2: the receipt time is read when the line is handled).
//
// Node gives the real-time clock only as Date.now(), whole milliseconds.
// process.hrtime.bigint() is finer but monotonic: it does not follow clock
// steps. So each reading takes Date.now() and adds sub-millisecond digits
// from hrtime only while they stay inside the millisecond Date.now()
// reports: the anchor (a millisecond and the hrtime at which it was first
// seen) is renewed whenever Date.now() shows another millisecond, and the
// added part is capped below one millisecond. A step of the clock is
// therefore followed at the next reading, and the time never lags the
// real-time clock by a whole millisecond (it is never below Date.now()).

/**
 * A clock over the given time sources (injectable for tests):
 * `dateNow()` -> milliseconds (Number), `hrtime()` -> nanoseconds (BigInt).
 */
function makeClock(dateNow = Date.now, hrtime = process.hrtime.bigint) {
  let anchorMs = NaN;
  let anchorHr = 0n;
  let anchorNs = 0n;
  return function now() {
    const ms = dateNow();
    const hr = hrtime();
    if (ms !== anchorMs) {
      anchorMs = ms;
      anchorHr = hr;
      anchorNs = BigInt(ms) * 1000000n;
      return anchorNs;
    }
    let sub = hr - anchorHr;
    if (sub < 0n) sub = 0n;
    else if (sub > 999999n) sub = 999999n;
    return anchorNs + sub;
  };
}

/** The process's clock. */
const nowNanos = makeClock();

module.exports = { makeClock, nowNanos };
