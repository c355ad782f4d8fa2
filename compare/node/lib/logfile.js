'use strict';
// The per-node log file, <log-dir>/<NAME>.log (PROTOCOL §4), as
// src/logfile.rs: every line received (`<`) and sent (`>`) with the other
// end's address, and notices (`*`). Entries are gathered in memory and
// appended with one write per turn of the event loop (the loop's version of
// Rust's writer thread); `close()` flushes. Bytes other than printable ASCII
// are escaped so that a client can never forge an entry; entries are cut at
// 4 KiB. No API key or secret is ever passed here.
//
// Size rotation (PROTOCOL §4, `[log] max_bytes`, `keep`): before an entry
// would take the file past max_bytes, NAME.log becomes NAME.log.1, older
// files move up to NAME.log.K and the oldest is deleted; an entry is never
// split, and one larger than the limit goes alone into a fresh file. The
// size counts what the file held when it was opened. `reopen()` (SIGHUP)
// reopens NAME.log, creating it if it was moved away, with the notice
// `log reopened` as its first entry.

const fs = require('node:fs');
const path = require('node:path');

/** Entries longer than this are cut, with a note of the bytes left out. */
const MAX_LOGGED_BYTES = 4096;

const { nowNanos } = require('./clock');

/** RFC 3339 UTC with microseconds: `2026-11-26T08:36:20.141163Z`. */
function timestamp(ns = nowNanos()) {
  const ms = ns / 1000000n;
  const iso = new Date(Number(ms)).toISOString(); // ...T08:36:20.141Z
  const micros = ((ns / 1000n) % 1000000n).toString().padStart(6, '0');
  return `${iso.slice(0, 19)}.${micros}Z`;
}

/**
 * Printable ASCII as is; `\` doubled; LF, CR, TAB as `\n`, `\r`, `\t`; every
 * other byte as `\xNN`. Cut at MAX_LOGGED_BYTES.
 */
function escape(bytes) {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(String(bytes), 'utf8');
  const shown = Math.min(buf.length, MAX_LOGGED_BYTES);
  let out = '';
  for (let i = 0; i < shown; i++) {
    const b = buf[i];
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else out += '\\x' + b.toString(16).padStart(2, '0');
  }
  if (buf.length > shown) out += `... (+${buf.length - shown} bytes)`;
  return out;
}

/** An address as Rust's SocketAddr writes it: `1.2.3.4:5`, `[::1]:5`. */
function formatAddr(host, port) {
  if (host && host.startsWith('::ffff:') && host.includes('.')) host = host.slice(7);
  return host && host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

class NodeLog {
  /**
   * Opens (creating the directory, appending to the file) node `name`'s
   * log. options: {maxBytes (0: no size rotation), keep (rotated files)}.
   */
  constructor(dir, name, options = {}) {
    fs.mkdirSync(dir, { recursive: true });
    this.path = path.join(dir, `${name}.log`);
    this.maxBytes = options.maxBytes || 0;
    this.keep = options.keep || 5;
    this.fd = null;
    this.size = 0;
    this.open();
    this.pending = [];
    this.scheduled = false;
    this.failed = false;
  }

  /** Opens NAME.log for appending; its size so far counts. */
  open() {
    this.fd = fs.openSync(this.path, 'a');
    this.size = fs.fstatSync(this.fd).size;
  }

  /** SIGHUP: what is gathered goes to the old file, then NAME.log is opened
   * again (created if it was moved away) and `log reopened` begins it. */
  reopen() {
    if (this.fd === null) return;
    this.flush();
    try {
      fs.closeSync(this.fd);
      this.fd = null;
      this.open();
    } catch (e) {
      this.fail(e);
      if (this.fd === null) return;
    }
    this.notice('log reopened');
    this.flush();
  }

  /** NAME.log -> NAME.log.1 -> ... -> NAME.log.K (the oldest deleted), then a fresh NAME.log. */
  rotate() {
    fs.closeSync(this.fd);
    this.fd = null;
    for (let i = this.keep - 1; i >= 1; i--) {
      try {
        fs.renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      } catch (e) {
        if (e.code !== 'ENOENT') throw e;
      }
    }
    fs.renameSync(this.path, `${this.path}.1`);
    this.open();
  }

  fail(e) {
    if (!this.failed) {
      this.failed = true;
      process.stderr.write(`herd: cannot write the node log: ${e.message}\n`);
    }
  }

  received(from, line) {
    this.entry('<', from, line);
  }

  sent(to, text) {
    this.entry('>', to, text);
  }

  notice(text) {
    this.push(`${timestamp()} * ${text}\n`);
  }

  entry(direction, otherEnd, bytes) {
    this.push(`${timestamp()} ${direction} ${otherEnd} ${escape(bytes)}\n`);
  }

  push(text) {
    if (this.fd === null) return;
    this.pending.push(text);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes everything gathered so far (one write call, or one per file
   * when size rotation cuts the batch). */
  flush() {
    this.scheduled = false;
    if (this.fd === null || this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    // The log is a local file: a synchronous append once per loop turn
    // keeps entries in order and costs less than a stream's bookkeeping.
    try {
      if (this.maxBytes === 0) {
        fs.writeSync(this.fd, entries.join(''));
        return;
      }
      let batch = [];
      let batchBytes = 0;
      for (const entry of entries) {
        const bytes = Buffer.byteLength(entry);
        if (this.size + batchBytes > 0 && this.size + batchBytes + bytes > this.maxBytes) {
          if (batch.length) fs.writeSync(this.fd, batch.join(''));
          batch = [];
          batchBytes = 0;
          this.rotate();
        }
        batch.push(entry);
        batchBytes += bytes;
      }
      if (batch.length) fs.writeSync(this.fd, batch.join(''));
      this.size += batchBytes;
    } catch (e) {
      this.fail(e);
      if (this.fd === null) {
        try {
          this.open();
        } catch {
          /* the notice above says the log cannot be written */
        }
      }
    }
  }

  close() {
    this.flush();
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = null;
    }
  }
}

module.exports = { MAX_LOGGED_BYTES, NodeLog, escape, timestamp, nowNanos, formatAddr };
