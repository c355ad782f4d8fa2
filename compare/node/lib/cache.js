'use strict';
// Client id -> newest AT line, the merge rule (PROTOCOL §3) and the bound
// `max_cached_clients` (§5), as src/cache.rs. Input: records from IAMAT
// (connection.js) and from neighbours' AT lines (peer.js); output: whether a
// record changed the cache (and so must be flooded), the line for WHATSAT,
// and a snapshot for catch-up dumps. One event loop owns it, so it needs no
// lock.
//
// Memory per id is kept small on purpose (an id flood must not reach V8's
// heap limit): the map holds one flat string per id, the canonical AT line,
// keyed by a slice of that same string; the client time and the location
// are parsed back from the line when needed. The eviction order is a binary
// min-heap of those same strings (one pointer and one double per id: the
// client time's nearest double, compared first) with lazy deletion: an
// update leaves the old line in the heap, and a heap entry counts only while
// it is still the line the map holds; the heap is rebuilt from the map when
// stale entries outnumber live ones.

const protocol = require('./protocol');

/**
 * A record: {line (canonical AT text), time (BigInt ns), client}. Built from
 * a parsed AT line; short-lived (the cache keeps only the line).
 */
function record(at) {
  return { line: at.line, time: at.time, client: at.client };
}

/**
 * Code-point order, which is the UTF-8 byte order every build compares in
 * (UTF-16 code units differ from it only where a surrogate meets U+E000 to
 * U+FFFF, fixed up here).
 */
function compareText(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** The fields of a canonical AT line (one space apart). */
const lineFields = (line) => line.split(' ');

/** The client time of a canonical AT line, BigInt ns. */
function timeOf(line) {
  return protocol.parseNanos(line.slice(line.lastIndexOf(' ') + 1));
}

/** Order of two records {time, line}: older first, equal times by line. */
function compareRecords(aTime, aLine, bTime, bLine) {
  if (aTime !== bTime) return aTime < bTime ? -1 : 1;
  return compareText(aLine, bLine);
}

/** A canonical line's client time as the nearest double (the heap's key). */
function keyOf(line) {
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * compareRecords for two canonical lines, fast: a decimal's nearest double
 * rises with it, so different doubles already decide the order, and only
 * equal ones need the exact BigInt comparison.
 */
function compareLines(a, b) {
  const ta = a.slice(a.lastIndexOf(' ') + 1);
  const tb = b.slice(b.lastIndexOf(' ') + 1);
  const fa = Number(ta);
  const fb = Number(tb);
  if (fa !== fb) return fa < fb ? -1 : 1;
  return compareRecords(protocol.parseNanos(ta), a, protocol.parseNanos(tb), b);
}

/**
 * True when `candidate` should replace `kept`: a newer client time, or an
 * equal time and a byte-wise larger canonical line.
 */
function newer(candidate, kept) {
  return compareRecords(candidate.time, candidate.line, kept.time, kept.line) > 0;
}

/** A fresh flat copy of a string, so the cache holds no cons or sliced
 * string that keeps a whole received chunk alive. */
function flat(text) {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** The client id of a canonical AT line, as a slice of it. */
function clientSlice(line) {
  let at = 0;
  for (let k = 0; k < 3; k++) at = line.indexOf(' ', at) + 1;
  return line.slice(at, line.indexOf(' ', at));
}

class Cache {
  /**
   * `max`: max_cached_clients (Infinity: unbounded). `onEvict(n)`: called
   * with the number of clients evicted by one offer (for the notice).
   */
  constructor(max = Infinity, onEvict = () => {}) {
    this.records = new Map();
    this.max = max;
    this.onEvict = onEvict;
    this.heap = []; // lines; heap[0] the oldest (stale entries allowed)
    this.keys = []; // each heap line's client time as the nearest double
    this.evicted = 0;
  }

  /** Keeps `rec` if it is newer than what is kept; returns it if it changed the cache. */
  offer(rec) {
    const keptLine = this.records.get(rec.client);
    if (keptLine !== undefined) {
      if (compareRecords(rec.time, rec.line, timeOf(keptLine), keptLine) <= 0) return null;
      // An update of a kept client never evicts anyone.
      const line = flat(rec.line);
      this.records.set(clientSlice(line), line);
      this.push(line);
      return rec;
    }
    if (this.records.size >= this.max) {
      const oldest = this.oldest();
      if (oldest !== null && compareRecords(rec.time, rec.line, timeOf(oldest), oldest) < 0) return null;
      let evicted = 0;
      while (this.records.size >= this.max) {
        const victim = this.popOldest();
        if (victim === null) break;
        this.records.delete(clientSlice(victim));
        evicted += 1;
      }
      this.evicted += evicted;
      if (evicted) this.onEvict(evicted);
    }
    const line = flat(rec.line);
    this.records.set(clientSlice(line), line);
    this.push(line);
    return rec;
  }

  /** The kept record for `client`: {line, location {lat, lng}}, or null. */
  get(client) {
    const line = this.records.get(client);
    if (line === undefined) return null;
    const f = lineFields(line);
    return { line, location: protocol.parseLocation(f[4]) };
  }

  /** Every kept line, for a catch-up dump. */
  snapshot() {
    return [...this.records.values()];
  }

  get size() {
    return this.records.size;
  }

  // The heap (lazy deletion). An entry is live while the map holds it.

  live(line) {
    return this.records.get(clientSlice(line)) === line;
  }

  /** Heap order: the doubles first (a decimal's nearest double rises with
   * it), the exact comparison only when they are equal. */
  less(i, j) {
    const a = this.keys[i];
    const b = this.keys[j];
    if (a !== b) return a < b;
    return compareLines(this.heap[i], this.heap[j]) < 0;
  }

  swap(i, j) {
    const heap = this.heap;
    const keys = this.keys;
    const line = heap[i];
    heap[i] = heap[j];
    heap[j] = line;
    const key = keys[i];
    keys[i] = keys[j];
    keys[j] = key;
  }

  push(line) {
    this.heap.push(line);
    this.keys.push(keyOf(line));
    let i = this.heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
    if (this.heap.length > 2 * this.records.size + 1024) this.compact();
  }

  siftDown(i) {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  popTop() {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    const lastKey = this.keys.pop();
    if (heap.length) {
      heap[0] = last;
      this.keys[0] = lastKey;
      this.siftDown(0);
    }
    return top;
  }

  /** The oldest kept line (dropping stale heap entries), or null. */
  oldest() {
    while (this.heap.length && !this.live(this.heap[0])) this.popTop();
    return this.heap.length ? this.heap[0] : null;
  }

  popOldest() {
    const line = this.oldest();
    if (line !== null) this.popTop();
    return line;
  }

  /** Rebuilds the heap from the live lines only. */
  compact() {
    this.heap = [...this.records.values()];
    this.keys = this.heap.map(keyOf);
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}

module.exports = { Cache, record, newer, compareText, timeOf };
