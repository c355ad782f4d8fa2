'use strict';
// The herd's line protocol as pure code: no sockets, no clocks, no state.
//
// Input is one line as a Buffer (the framer has already stripped its LF or
// CR LF); output is a request object holding validated operands, or text
// such as an AT line or a time difference. Everything is exact, rule for
// rule as src/protocol.rs: times are BigInt nanoseconds (a float cannot hold
// a 2020s POSIX time to the nanosecond), degrees and radii are compared on
// their decimal digits, and operands are copied byte for byte.

/** Strict UTF-8: a line that is not UTF-8 is a bad line, echoed as bytes. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The six separator bytes of PROTOCOL §2: space, TAB, LF, VT, FF, CR.
 * Not `/\s+/`, which also splits on NBSP, BOM and other Unicode spaces.
 */
const SEPARATORS = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

function isSeparatorCode(code) {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

/** The fields of a line (string): maximal runs of non-separator characters. */
function fields(text) {
  const out = [];
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    if (isSeparatorCode(text.charCodeAt(i))) {
      if (start >= 0) {
        out.push(text.slice(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(text.slice(start));
  return out;
}

/** The fields of a line given as a Buffer, as Buffers (the same split). */
function fieldsOfBuffer(buf) {
  const out = [];
  let start = -1;
  for (let i = 0; i < buf.length; i++) {
    if (SEPARATORS.has(buf[i])) {
      if (start >= 0) {
        out.push(buf.subarray(start, i));
        start = -1;
      }
    } else if (start < 0) {
      start = i;
    }
  }
  if (start >= 0) out.push(buf.subarray(start));
  return out;
}

/** True for an empty or all-white-space line, which gets no answer. */
function isBlank(buf) {
  for (const b of buf) if (!SEPARATORS.has(b)) return false;
  return true;
}

/** Decodes a line as strict UTF-8, or null when it is not UTF-8. */
function decode(buf) {
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

/**
 * Times with more integer digits than this are refused: 10^20 s keeps every
 * difference exact in 128-bit integers, so all builds share this bound.
 */
const MAX_TIME_INTEGER_DIGITS = 20;

function isDigits(text) {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

function trimLeadingZeros(text) {
  let i = 0;
  while (i < text.length && text[i] === '0') i++;
  return text.slice(i);
}

function splitSign(text) {
  if (text[0] === '-') return [true, text.slice(1)];
  if (text[0] === '+') return [false, text.slice(1)];
  return [false, text];
}

/** `split_once('.')`: [before, after] at the first point, or [text, null]. */
function splitPoint(text) {
  const i = text.indexOf('.');
  return i < 0 ? [text, null] : [text.slice(0, i), text.slice(i + 1)];
}

/**
 * A client time to BigInt nanoseconds: an optional sign, digits, and
 * optionally a point and one to nine digits; null when invalid.
 */
function parseNanos(text) {
  const [negative, unsigned] = splitSign(text);
  const [intPart, fracPart] = splitPoint(unsigned);
  if (!isDigits(intPart)) return null;
  const significant = trimLeadingZeros(intPart);
  if (significant.length > MAX_TIME_INTEGER_DIGITS) return null;
  let nanos = BigInt(significant || '0') * 1000000000n;
  if (fracPart !== null) {
    if (fracPart.length === 0 || fracPart.length > 9 || !isDigits(fracPart)) return null;
    nanos += BigInt(fracPart.padEnd(9, '0'));
  }
  return negative ? -nanos : nanos;
}

/** BigInt nanoseconds as `+0.263873386`: always a sign, nine decimals. */
function formatNanos(nanos) {
  const sign = nanos < 0n ? '-' : '+';
  const magnitude = nanos < 0n ? -nanos : nanos;
  const whole = magnitude / 1000000000n;
  const frac = (magnitude % 1000000000n).toString().padStart(9, '0');
  return `${sign}${whole}.${frac}`;
}

/**
 * True when `text` (`[+-]D+[.D+]`) is a well-formed decimal whose magnitude
 * is at most `limit`, decided on the digits, not on a float.
 */
function decimalWithin(text, limit) {
  const [, unsigned] = splitSign(text);
  const [intPart, fracPart] = splitPoint(unsigned);
  if (!isDigits(intPart) || (fracPart !== null && !isDigits(fracPart))) return false;
  const significant = trimLeadingZeros(intPart);
  if (significant.length > 3) return false;
  const whole = significant.length ? Number(significant) : 0;
  const fracIsZero = fracPart === null || /^0*$/.test(fracPart);
  return whole < limit || (whole === limit && fracIsZero);
}

/**
 * An ISO 6709 location `[+-]D+[.D+][+-]D+[.D+]` to {lat, lng} (floats, for
 * Places), with the ranges [-90, 90] and [-180, 180] checked on the digits.
 */
function parseLocation(text) {
  if (text[0] !== '+' && text[0] !== '-') return null;
  let second = -1;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === '+' || text[i] === '-') {
      second = i;
      break;
    }
  }
  if (second < 0) return null;
  const latText = text.slice(0, second);
  const lngText = text.slice(second);
  if (!decimalWithin(latText, 90) || !decimalWithin(lngText, 180)) return null;
  return { lat: Number(latText), lng: Number(lngText) };
}

/** The largest WHATSAT radius in kilometres, and the largest bound. */
const MAX_RADIUS_KM = 50;
const MAX_BOUND = 20;

/**
 * A WHATSAT radius `D+[.D+]` km, more than 0 and at most 50, to
 * {metresText, metres}: metres as exact text (`1.2345` -> `1234.5`).
 */
function parseRadius(text) {
  const [intPart, fracRaw] = splitPoint(text);
  const fracPart = fracRaw === null ? '' : fracRaw;
  if (!isDigits(intPart) || (fracRaw !== null && !isDigits(fracPart))) return null;
  if (!decimalWithin(text, MAX_RADIUS_KM) || /^[0.]*$/.test(text)) return null;
  // Kilometres to metres: move the point three places to the right.
  const padded = fracPart.padEnd(3, '0');
  const whole = trimLeadingZeros(intPart + padded.slice(0, 3)) || '0';
  const tail = padded.slice(3).replace(/0+$/, '');
  const metresText = tail ? `${whole}.${tail}` : whole;
  return { metresText, metres: Number(metresText) };
}

/** A WHATSAT bound: digits only, 1 to 20 (`05` is 5); null otherwise. */
function parseBound(text) {
  if (!isDigits(text)) return null;
  const significant = trimLeadingZeros(text);
  if (significant.length > 2) return null;
  const bound = significant.length ? Number(significant) : 0;
  return bound >= 1 && bound <= MAX_BOUND ? bound : null;
}

/** A time difference as servers write it: sign, digits, point, 9 digits. */
function isDiff(text) {
  if (text[0] !== '+' && text[0] !== '-') return false;
  const [intPart, frac] = splitPoint(text.slice(1));
  return frac !== null && isDigits(intPart) && frac.length === 9 && isDigits(frac);
}

/** `AT <server> <diff> <client> <location> <time>`, one space apart. */
function formatAt(server, diff, client, location, time) {
  return `AT ${server} ${diff} ${client} ${location} ${time}`;
}

/**
 * Parses one line (a Buffer, line ending stripped) into one of:
 * {kind:'blank'} | {kind:'iamat', client, locationText, location, timeText, time}
 * | {kind:'whatsat', client, radius, bound} | {kind:'at', server, diff, client,
 * locationText, location, timeText, time, line (canonical)} | {kind:'peer', name}
 * | {kind:'invalid'}. Invalid includes lines that are not UTF-8.
 */
function parse(buf) {
  const text = decode(buf);
  if (text === null) return { kind: 'invalid' };
  return parseText(text);
}

function parseText(text) {
  const words = fields(text);
  if (words.length === 0) return { kind: 'blank' };
  const [command, ...operands] = words;
  let parsed = null;
  if (command === 'IAMAT' && operands.length === 3) {
    parsed = parseIamat(...operands);
  } else if (command === 'WHATSAT' && operands.length === 3) {
    parsed = parseWhatsat(...operands);
  } else if (command === 'AT' && operands.length === 5) {
    parsed = parseAtFields(...operands);
  } else if (command === 'PEER' && operands.length === 1) {
    parsed = { kind: 'peer', name: operands[0] };
  }
  return parsed || { kind: 'invalid' };
}

function parseIamat(client, locationText, timeText) {
  const location = parseLocation(locationText);
  if (!location) return null;
  const time = parseNanos(timeText);
  if (time === null) return null;
  return { kind: 'iamat', client, locationText, location, timeText, time };
}

function parseWhatsat(client, radiusText, boundText) {
  const radius = parseRadius(radiusText);
  if (!radius) return null;
  const bound = parseBound(boundText);
  if (bound === null) return null;
  return { kind: 'whatsat', client, radius, bound };
}

function parseAtFields(server, diff, client, locationText, timeText) {
  if (!isDiff(diff)) return null;
  const location = parseLocation(locationText);
  if (!location) return null;
  const time = parseNanos(timeText);
  if (time === null) return null;
  return {
    kind: 'at',
    server,
    diff,
    client,
    locationText,
    location,
    timeText,
    time,
    line: formatAt(server, diff, client, locationText, timeText),
  };
}

/** The first field of a line, if it is UTF-8 and has one. */
function firstField(buf) {
  const text = decode(buf);
  if (text === null) return null;
  const words = fields(text);
  return words.length ? words[0] : null;
}

/** `? ` + the line as received + LF, as a Buffer. */
function invalidAnswer(buf) {
  return Buffer.concat([Buffer.from('? '), buf, Buffer.from('\n')]);
}

module.exports = {
  SEPARATORS,
  MAX_TIME_INTEGER_DIGITS,
  MAX_RADIUS_KM,
  MAX_BOUND,
  fields,
  fieldsOfBuffer,
  isBlank,
  decode,
  parseNanos,
  formatNanos,
  parseLocation,
  parseRadius,
  parseBound,
  isDiff,
  formatAt,
  parse,
  parseText,
  firstField,
  invalidAnswer,
};
