'use strict';
// The pure half of authenticated peer links (PROTOCOL §7): nonces, the
// proof and welcome HMACs, their constant-time check, and the handshake
// lines. No sockets here: peer.js (acceptor) and flood.js (opener) do the
// I/O. The secret is a Buffer and leaves this module only inside an HMAC.

const crypto = require('node:crypto');
const { decode, fields } = require('./protocol');

const NONCE = /^[0-9a-fA-F]{32}$/;
const MAC = /^[0-9a-f]{64}$/;

/** 16 bytes from the OS CSPRNG as 32 lowercase hex digits. */
function newNonce() {
  return crypto.randomBytes(16).toString('hex');
}

function validNonce(text) {
  return NONCE.test(text);
}

function mac(secret, parts) {
  return crypto.createHmac('sha256', secret).update(parts.join('|'), 'utf8').digest('hex');
}

/** What the opener sends after CHALLENGE. */
function proof(secret, opener, acceptor, nonceO, nonceA) {
  return mac(secret, ['herd-peer', opener, acceptor, nonceO, nonceA]);
}

/** What the acceptor sends back for a good proof. */
function welcome(secret, acceptor, opener, nonceA, nonceO) {
  return mac(secret, ['herd-welcome', acceptor, opener, nonceA, nonceO]);
}

/** Constant-time check; only exactly 64 lowercase hex digits can match. */
function matches(expected, received) {
  if (typeof received !== 'string' || !MAC.test(received)) return false;
  const a = Buffer.from(expected, 'ascii');
  const b = Buffer.from(received, 'ascii');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

/** `PEER <name> <nonce>` (a Buffer line) -> {name, nonce}, the nonce not
 * yet checked; anything else -> null. */
function hello(buf) {
  const text = decode(buf);
  const words = text === null ? [] : fields(text);
  return words.length === 3 && words[0] === 'PEER' ? { name: words[1], nonce: words[2] } : null;
}

/** The one operand of `<word> <operand>` (CHALLENGE, PROOF, WELCOME) in a
 * Buffer line, or null when the line is anything else. */
function operand(buf, word) {
  const text = decode(buf);
  const words = text === null ? [] : fields(text);
  return words.length === 2 && words[0] === word ? words[1] : null;
}

module.exports = { newNonce, validNonce, proof, welcome, matches, hello, operand };
