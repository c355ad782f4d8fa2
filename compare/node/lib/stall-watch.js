'use strict';
// Notices an outgoing peer link whose output has stopped moving. A partition
// stalls a TCP link rather than closing it, and after the heal the kernel
// resends only on its retransmission backoff (up to two minutes). The other
// builds set TCP_USER_TIMEOUT on the socket so the kernel closes a link whose
// sent data stays unacknowledged for write_timeout_ms; Node 20's net module
// has no way to set it (nor any other setsockopt beyond no-delay and
// keep-alive) and cannot see how many bytes the kernel holds unacknowledged.
// What it can see is its own write buffer: bytes written to the socket that
// the kernel has not taken yet (`writableLength`), which fill once the
// kernel's send buffer is full. This watch reports a stall when that buffer
// has held bytes for `limitMs` while none of them moved into the kernel.
// A quiet link whose few bytes all fit in the kernel's buffer is not seen.

class StallWatch {
  constructor(limitMs) {
    this.limitMs = limitMs;
    this.since = null;
    this.taken = 0;
  }

  /**
   * `pending`: bytes Node still holds for the socket; `taken`: bytes the
   * kernel has taken so far; `now`: milliseconds. True once `pending` has
   * been non-zero for `limitMs` with `taken` unchanged.
   */
  stalled(pending, taken, now) {
    if (pending === 0) this.since = null;
    else if (this.since === null || taken > this.taken) this.since = now;
    this.taken = taken;
    return this.since !== null && now - this.since >= this.limitMs;
  }

  /** The same, read from a net.Socket. */
  stalledSocket(socket, now) {
    const pending = socket.writableLength;
    return this.stalled(pending, socket.bytesWritten - pending, now);
  }
}

/** How often a link of write timeout `limitMs` is checked. */
function checkEveryMs(limitMs) {
  return Math.max(10, Math.min(1000, Math.floor(limitMs / 4)));
}

module.exports = { StallWatch, checkEveryMs };
