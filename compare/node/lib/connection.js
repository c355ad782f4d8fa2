'use strict';
// One client connection: per-socket state, commands, answers in order, as
// src/connection.rs + src/cmd/. server.js hands over each admitted socket;
// `data` chunks go through the LineFramer; each line is parsed by
// protocol.js and answered here (IAMAT -> cache -> flood; WHATSAT -> cache
// -> places). Answers to lines that arrived together are gathered and
// written in one write; a WHATSAT waiting for a network provider holds the
// lines behind it (answers stay in order) and pauses the socket. A valid
// `PEER` first line moves the socket to peer.js (through the PROTOCOL §7
// handshake there when the herd has a secret).
//
// Timers, because a Node socket has none that act: `socket.setTimeout`
// only emits an event, and any byte resets it. So the idle deadline is our
// own timer, armed when we start waiting for a line and cleared only by a
// complete line (a trickle of bytes does not push it back); the write
// deadline is armed when a write is left in the socket's buffer and
// cleared by `drain`. Both destroy the socket themselves.

const protocol = require('./protocol');
const { LineFramer } = require('./line-stream');
const { record } = require('./cache');
const { formatAddr } = require('./logfile');
const { whatsatJson, whatsatJsonSync } = require('./places');
const peer = require('./peer');
const peerAuth = require('./peer_auth');

/** After refusing a line, what the client still sends is read and dropped
 * for up to this long (and this much) so the close does not turn into a
 * reset that destroys our answer in flight. */
const LINGER_MS = 1000;
const LINGER_BYTES = 8 * 1024 * 1024;

/** Duration as Rust's `{:?}` writes it: `60s`, `500ms`, `1.5s`. */
function debugDuration(ms) {
  if (ms === 0) return '0ns';
  if (ms < 1000) return `${ms}ms`;
  return `${ms / 1000}s`;
}

/** Serves one admitted client socket until it closes, idles out or breaks. */
function serveClient(node, socket) {
  const limits = node.limits;
  const addr = formatAddr(socket.remoteAddress, socket.remotePort);
  const framer = new LineFramer(limits.maxLineBytes);
  const events = [];
  let first = true;
  let busy = false; // a WHATSAT is waiting for Places
  let blocked = false; // our answers are waiting for the client to read
  let eof = false;
  let done = false; // refused, became a peer, or closed
  let out = [];
  let idleTimer = null;
  let writeTimer = null;

  socket.setNoDelay(true);

  const clearIdle = () => {
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = null;
  };
  const armIdle = () => {
    if (idleTimer || done || eof) return;
    idleTimer = setTimeout(() => {
      idleTimer = null;
      if (done) return;
      node.log.notice(`${addr}: idle for ${debugDuration(limits.idleTimeoutMs)}, closed`);
      finish();
      socket.destroy();
    }, limits.idleTimeoutMs);
  };

  const finish = () => {
    done = true;
    clearIdle();
    if (writeTimer) clearTimeout(writeTimer);
    writeTimer = null;
  };

  const onData = (chunk) => {
    if (done) return;
    const got = framer.push(chunk);
    if (got.length) {
      clearIdle();
      events.push(...got);
    }
    pump();
  };
  const onEnd = () => {
    if (done) return;
    eof = true;
    clearIdle();
    events.push(...framer.end());
    pump();
  };
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.on('error', () => {}); // a broken connection ends in `close`
  socket.on('close', () => {
    finish();
    node.clients.delete(socket);
  });

  /** Writes the gathered answers in one write, minding backpressure. */
  const flush = () => {
    if (out.length === 0 || socket.destroyed) {
      out = [];
      return;
    }
    const data = out.length === 1 ? out[0] : Buffer.concat(out);
    out = [];
    if (!socket.write(data)) {
      blocked = true;
      socket.pause();
      writeTimer = setTimeout(() => {
        writeTimer = null;
        finish();
        socket.destroy();
      }, limits.writeTimeoutMs);
      socket.once('drain', () => {
        if (writeTimer) clearTimeout(writeTimer);
        writeTimer = null;
        blocked = false;
        if (!done) {
          socket.resume();
          pump();
        }
      });
    }
  };

  const answer = (text) => {
    const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
    out.push(buf);
    // The log shows the answer without its final newline.
    node.log.sent(addr, buf.subarray(0, buf.length - 1));
  };

  /** Answers buffered lines in order until one must wait. */
  const pump = () => {
    while (!done && !busy && !blocked && events.length) {
      const event = events.shift();
      if (event.type === 'tooLong') {
        node.log.received(addr, event.head);
        node.log.notice(`${addr}: line over ${limits.maxLineBytes} bytes`);
        answer(protocol.invalidAnswer(event.head));
        refuse();
        return;
      }
      const line = event.line;
      node.log.received(addr, line);
      const wasFirst = first;
      first = false;
      if (wasFirst && node.secret && protocol.firstField(line) === 'PEER') {
        authenticatedHello(line);
        return;
      }
      const request = protocol.parse(line);
      switch (request.kind) {
        case 'blank':
          break;
        case 'iamat':
          answer(iamat(node, request) + '\n');
          break;
        case 'whatsat': {
          const rec = node.cache.get(request.client);
          if (!rec) {
            answer(protocol.invalidAnswer(line));
            break;
          }
          const query = {
            lat: rec.location.lat,
            lng: rec.location.lng,
            radiusMText: request.radius.metresText,
            radiusM: request.radius.metres,
            bound: request.bound,
          };
          if (typeof node.places.nearbySync === 'function') {
            answer(`${rec.line}\n${whatsatJsonSync(node.places, query)}\n\n`);
            break;
          }
          // A network provider: hold later lines (answers stay in order),
          // stop reading, and carry on when Places has answered.
          busy = true;
          socket.pause();
          whatsatJson(node.places, query).then((json) => {
            busy = false;
            if (done || socket.destroyed) return;
            answer(`${rec.line}\n${json}\n\n`);
            if (!blocked) socket.resume();
            pump();
          });
          return;
        }
        case 'peer':
          if (wasFirst && node.neighbours.has(request.name)) {
            becomePeer(request.name);
            return;
          }
        // falls through: PEER from a stranger, or later on
        default:
          answer(protocol.invalidAnswer(line));
          if (wasFirst && protocol.firstField(line) === 'PEER') {
            refuse();
            return;
          }
      }
    }
    if (done || busy || blocked) return;
    flush();
    if (eof && events.length === 0) {
      // The client half-closed and every line is answered.
      finish();
      socket.end();
    } else {
      armIdle();
    }
  };

  /** Answers what is gathered, half-closes, drains for a while, closes. */
  const refuse = () => {
    flush();
    finish();
    socket.removeListener('data', onData);
    lingerClose(socket);
  };

  /** Where a secret is set the only good hello is `PEER <neighbour>
   * <nonce>`: on to peer.js's handshake; else `? ` + the line and close. */
  const authenticatedHello = (line) => {
    const words = protocol.fields(protocol.decode(line) || '');
    const parsed = peerAuth.hello(line);
    let why = null;
    if (!parsed) why = words.length === 2 ? 'no nonce (a bare PEER)' : 'malformed PEER line';
    else if (!node.neighbours.has(parsed.name)) why = 'not a neighbour';
    else if (!peerAuth.validNonce(parsed.nonce)) why = 'bad nonce';
    if (why !== null) {
      node.log.notice(`link from ${words.length > 1 ? words[1] : '?'} (${addr}) refused: ${why}`);
      answer(protocol.invalidAnswer(line));
      refuse();
      return;
    }
    flush();
    finish();
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    // Until WELCOME the connection still counts as a client.
    peer.handshake(node, parsed.name, parsed.nonce, socket, framer, addr, events.splice(0), eof, lingerClose);
  };

  /** Hands the socket, and any lines already read, to peer.js. */
  const becomePeer = (name) => {
    flush();
    finish();
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    node.clients.delete(socket); // a link is not a client
    peer.acceptInbound(node, name, socket, framer, addr, events.splice(0), eof);
  };

  armIdle();
}

/** Half-closes, drains what the other end still sends for a while, closes. */
function lingerClose(socket) {
  socket.end();
  let drained = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  socket.on('data', (chunk) => {
    drained += chunk.length;
    if (drained >= LINGER_BYTES) socket.destroy();
  });
  socket.on('end', () => socket.destroy());
  socket.on('close', () => clearTimeout(timer));
  socket.resume();
}

/** IAMAT: stamp the receipt time, keep and flood if newer, answer AT. */
function iamat(node, request) {
  const diff = protocol.formatNanos(node.clock() - request.time);
  const at = {
    server: node.name,
    diff,
    client: request.client,
    locationText: request.locationText,
    location: request.location,
    timeText: request.timeText,
    time: request.time,
    line: protocol.formatAt(node.name, diff, request.client, request.locationText, request.timeText),
  };
  const rec = record(at);
  if (node.cache.offer(rec)) node.flooder.flood(rec, null);
  return at.line;
}

module.exports = { serveClient, debugDuration };
