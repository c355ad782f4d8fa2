'use strict';
// The HTTP plumbing both Google providers share (google, google-new), as
// src/places/http.rs: one way to make a request (built-in fetch, one
// AbortSignal timeout over the whole exchange, no redirects followed), to
// read a body of at most 4 MiB, and to put a transport failure into words
// that are safe to show a client. fetch's errors can carry the request URL
// (the legacy API puts the key in it), so their text is never formatted
// into a message or a log line: only their codes are looked at.

/** The largest answer body read from Places. */
const BODY_LIMIT = 4 * 1024 * 1024;

class TransportError extends Error {}

/** Walks an error and its causes for a Node/undici error code. */
function codeOf(error) {
  for (let e = error, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e.code) return e.code;
  }
  return null;
}

function isTimeout(error) {
  for (let e = error, depth = 0; e && depth < 5; e = e.cause, depth++) {
    if (e.name === 'TimeoutError' || e.code === 'ETIMEDOUT' || e.code === 'UND_ERR_CONNECT_TIMEOUT') return true;
  }
  return false;
}

const IO_WORDS = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'broken pipe',
  ENOTCONN: 'not connected',
  EADDRNOTAVAIL: 'address not available',
  ENETUNREACH: 'network unreachable',
  EHOSTUNREACH: 'host unreachable',
  ENETDOWN: 'network down',
};

/** A failure in our own words; `phase` is 'connect' or 'body'. */
function describe(error, phase, timeoutMs) {
  if (error instanceof TransportError) return error.message;
  if (isTimeout(error)) return `Places did not answer within ${timeoutMs} ms`;
  const code = codeOf(error);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_NONAME') {
    return 'Places could not be reached (host not found)';
  }
  if (code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return phase === 'connect'
      ? 'Places closed the connection without answering'
      : 'Places closed the connection mid-answer';
  }
  if (code && code.startsWith('HPE_')) return 'Places answered with malformed HTTP';
  if (code === 'UND_ERR_HEADERS_OVERFLOW') return 'Places answered with an oversized HTTP header';
  if (code === 'ERR_INVALID_URL' || code === 'ERR_INVALID_ARG_VALUE') {
    return 'the configured Places URL is not usable';
  }
  if (code && code.startsWith('ERR_TLS') || code === 'CERT_HAS_EXPIRED' || code === 'DEPTH_ZERO_SELF_SIGNED_CERT' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') {
    return 'Places could not be reached (TLS failure)';
  }
  if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
    return 'Places answered with a body that could not be unzipped';
  }
  const why = IO_WORDS[code];
  if (why) {
    return phase === 'connect'
      ? `Places could not be reached (${why})`
      : `the connection to Places failed mid-answer (${why})`;
  }
  if (phase === 'connect' && error instanceof TypeError && !code) {
    // fetch's own URL and argument checks.
    if (/URL|url/.test(error.message) && !error.cause) return 'the configured Places URL is not usable';
  }
  return phase === 'connect' ? 'the request to Places failed' : 'reading the answer from Places failed';
}

/**
 * One exchange: resolves to {status, body} where body is a Buffer or an
 * error message (an error body that cannot be read still leaves the status);
 * rejects with a message string for a failure before the status arrived.
 */
async function exchange(url, init, timeoutMs) {
  const signal = AbortSignal.timeout(timeoutMs);
  let response;
  try {
    response = await fetch(url, { ...init, signal, redirect: 'manual' });
  } catch (error) {
    throw new TransportError(describe(error, 'connect', timeoutMs));
  }
  let body;
  try {
    body = await readBody(response);
  } catch (error) {
    body = { error: describe(error, 'body', timeoutMs) };
  }
  return { status: response.status, body };
}

async function readBody(response) {
  if (!response.body) return Buffer.alloc(0);
  const chunks = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.length;
    if (size > BODY_LIMIT) {
      response.body.cancel().catch(() => {});
      throw new TransportError('Places answered with more than 4 MiB');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Letters, digits and `_` only, at most 40: a status word safe to log. */
function safeWord(word) {
  return [...word].filter((c) => /^[A-Za-z0-9_]$/.test(c)).slice(0, 40).join('');
}

/**
 * A float as Rust's `f64` Display writes it: shortest round-trip digits,
 * never an exponent, `-0` for negative zero.
 */
function rustFloat(x) {
  if (Object.is(x, -0)) return '-0';
  const s = String(x);
  if (!/e/.test(s)) return s;
  const [mant, expText] = s.split('e');
  const exp = Number(expText);
  const negative = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  const pointAt = (mant.replace('-', '').indexOf('.') === -1 ? mant.replace('-', '').length : mant.replace('-', '').indexOf('.')) + exp;
  let out;
  if (pointAt <= 0) out = '0.' + '0'.repeat(-pointAt) + digits;
  else if (pointAt >= digits.length) out = digits + '0'.repeat(pointAt - digits.length);
  else out = digits.slice(0, pointAt) + '.' + digits.slice(pointAt);
  return (negative ? '-' : '') + out;
}

module.exports = { BODY_LIMIT, TransportError, describe, exchange, safeWord, rustFloat };
