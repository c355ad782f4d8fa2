'use strict';
// lib/clock.js over injected time sources: the real-time clock's
// millisecond, sub-millisecond digits from the monotonic clock only inside
// it, and a clock step followed at the next reading.
const test = require('node:test');
const assert = require('node:assert/strict');
const { makeClock, nowNanos } = require('../lib/clock');

function sources() {
  const s = { ms: 1700000000000, hr: 5000000000n };
  s.clock = makeClock(() => s.ms, () => s.hr);
  return s;
}

test('sub-millisecond digits stay inside the millisecond Date.now() reports', () => {
  const s = sources();
  assert.equal(s.clock(), 1700000000000000000n);
  s.hr += 250000n;
  assert.equal(s.clock(), 1700000000000250000n);
  // The monotonic clock runs on past the millisecond while Date.now() has
  // not moved yet: capped just below the next millisecond.
  s.hr += 5000000n;
  assert.equal(s.clock(), 1700000000000999999n);
  // Date.now() moves on: re-anchored on the new millisecond.
  s.ms += 1;
  assert.equal(s.clock(), 1700000000001000000n);
  s.hr += 10n;
  assert.equal(s.clock(), 1700000000001000010n);
});

test('a step of the real-time clock is followed at the next reading, both ways', () => {
  const s = sources();
  s.clock();
  s.ms += 3600000; // an hour ahead
  s.hr += 1000n;
  assert.equal(s.clock(), 1700003600000000000n);
  s.ms -= 7200000; // two hours back
  s.hr += 1000n;
  assert.equal(s.clock(), 1699996400000000000n);
  // A monotonic clock that went backwards (never, but) adds nothing.
  s.hr -= 1000000n;
  assert.equal(s.clock(), 1699996400000000000n);
});

test('the process clock is never behind Date.now() nor a millisecond ahead of it', () => {
  for (let i = 0; i < 10000; i++) {
    const before = BigInt(Date.now()) * 1000000n;
    const t = nowNanos();
    const after = BigInt(Date.now()) * 1000000n;
    assert.ok(t >= before && t < after + 1000000n, `${before} <= ${t} < ${after} + 1 ms`);
  }
});
