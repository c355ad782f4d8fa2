'use strict';
// Client id -> newest AT record, and the merge rule (PROTOCOL §3), as
// src/cache.rs. Input: records from IAMAT (connection.js) and from
// neighbours' AT lines (peer.js); output: whether a record changed the
// cache (and so must be flooded), the record for WHATSAT, and a snapshot
// for catch-up dumps. One event loop owns it, so it needs no lock.

/**
 * A record: {line (canonical AT text), lineBytes, time (BigInt ns), location,
 * client}. Built from a parsed AT line.
 */
function record(at) {
  return {
    line: at.line,
    lineBytes: Buffer.from(at.line, 'utf8'),
    time: at.time,
    location: at.location,
    client: at.client,
  };
}

/**
 * True when `candidate` should replace `kept`: a newer client time, or an
 * equal time and a byte-wise larger canonical line (UTF-8 bytes, not UTF-16
 * code units, so every build compares the same way).
 */
function newer(candidate, kept) {
  if (candidate.time !== kept.time) return candidate.time > kept.time;
  return Buffer.compare(candidate.lineBytes, kept.lineBytes) > 0;
}

class Cache {
  constructor() {
    this.records = new Map();
  }

  /** Keeps `rec` if it is newer than what is kept; returns it if it changed the cache. */
  offer(rec) {
    const kept = this.records.get(rec.client);
    if (kept && !newer(rec, kept)) return null;
    this.records.set(rec.client, rec);
    return rec;
  }

  get(client) {
    return this.records.get(client) || null;
  }

  /** Every record, for a catch-up dump. */
  snapshot() {
    return [...this.records.values()];
  }

  get size() {
    return this.records.size;
  }
}

module.exports = { Cache, record, newer };
