'use strict';
// Splits a byte stream into lines, with a length cap, as src/line_reader.rs.
//
// Input: socket `data` chunks (Buffers; a chunk is not a line: it may hold
// half a line or many) pushed in with `push`, and `end()` at end of file.
// Output: events, in order, returned as arrays:
//   {type: 'line', line}  a complete line without its LF or CR LF; a last
//                         line without a newline before EOF is a line too
//   {type: 'tooLong', head}  the line passed the cap; holds its first 1 KiB;
//                         the framer yields nothing more after it.
// It works on bytes, never strings: a line that is not UTF-8 is still a
// line (answered `? ` + its bytes), and the cap counts bytes.

/** How much of an over-long line is echoed back (PROTOCOL §5). */
const TOO_LONG_ECHO = 1024;

class LineFramer {
  /** `maxLine`: longest line in bytes, line ending excluded. */
  constructor(maxLine) {
    this.maxLine = maxLine;
    /** Pieces of the line being read (no newline in them), and their length.
     * Kept as a list so that a line trickling in byte by byte costs linear,
     * not quadratic, copying. */
    this.pending = [];
    this.pendingLength = 0;
    this.finished = false;
  }

  /** Bytes held that are not yet part of a returned line. */
  get buffered() {
    return this.pendingLength;
  }

  /** Adds a chunk; returns the events it completes. */
  push(chunk) {
    if (this.finished) return [];
    const events = [];
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline < 0) break;
      let line = chunk.subarray(start, newline);
      if (this.pendingLength) {
        line = Buffer.concat([...this.pending, line]);
        this.pending = [];
        this.pendingLength = 0;
      }
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      start = newline + 1;
      if (line.length > this.maxLine) {
        events.push(this.tooLong(line));
        return events;
      }
      events.push({ type: 'line', line });
    }
    if (start < chunk.length) {
      // A copy, so a small rest does not keep a whole 64 KiB chunk alive.
      const rest = Buffer.from(chunk.subarray(start));
      this.pending.push(rest);
      this.pendingLength += rest.length;
      // One byte of slack: the cap may be followed by the CR of CR LF.
      if (this.pendingLength > this.maxLine + 1) events.push(this.tooLong(Buffer.concat(this.pending)));
    }
    return events;
  }

  /** End of file: a last partial line is a line (its CR, if any, kept). */
  end() {
    if (this.finished) return [];
    this.finished = true;
    const rest = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLength = 0;
    if (rest.length === 0) return [];
    if (rest.length > this.maxLine) return [this.tooLong(rest)];
    return [{ type: 'line', line: rest }];
  }

  tooLong(bytes) {
    this.finished = true;
    const head = Buffer.from(bytes.subarray(0, Math.min(bytes.length, TOO_LONG_ECHO)));
    this.pending = [];
    this.pendingLength = 0;
    return { type: 'tooLong', head };
  }
}

module.exports = { LineFramer, TOO_LONG_ECHO };
