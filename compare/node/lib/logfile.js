'use strict';
// The per-node log file, <log-dir>/<NAME>.log (PROTOCOL §4), as
// src/logfile.rs: every line received (`<`) and sent (`>`) with the other
// end's address, and notices (`*`). Entries are gathered in memory and
// appended with one write per turn of the event loop (the loop's version of
// Rust's writer thread); `close()` flushes. Bytes other than printable ASCII
// are escaped so that a client can never forge an entry; entries are cut at
// 4 KiB. No API key or secret is ever passed here.

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
  /** Opens (creating the directory, appending to the file) node `name`'s log. */
  constructor(dir, name) {
    fs.mkdirSync(dir, { recursive: true });
    this.path = path.join(dir, `${name}.log`);
    this.fd = fs.openSync(this.path, 'a');
    this.pending = [];
    this.scheduled = false;
    this.failed = false;
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

  /** Writes everything gathered so far (one write call). */
  flush() {
    this.scheduled = false;
    if (this.fd === null || this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    // The log is a local file: a synchronous append once per loop turn
    // keeps entries in order and costs less than a stream's bookkeeping.
    try {
      fs.writeSync(this.fd, text);
    } catch (e) {
      if (!this.failed) {
        this.failed = true;
        process.stderr.write(`herd: cannot write the node log: ${e.message}\n`);
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
