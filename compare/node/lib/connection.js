'use strict';
// One client connection: per-socket state, commands, answers in order, as
// src/connection.rs + src/cmd/. server.js hands over each admitted socket;
// `data` chunks go through the LineFramer; each line is parsed by
// protocol.js and answered here (IAMAT -> cache -> flood; WHATSAT -> cache
// -> places). Lines are answered in slices (SLICE_LINES or SLICE_MS), each
// slice's answers gathered into one write, and the loop is given back to
// the other connections between slices, so a pipelined burst cannot stall
// them; while write() refuses more (the client does not read) nothing is
// answered or read until `drain`. A WHATSAT waiting for a network provider
// holds the lines behind it (answers stay in order) and pauses the socket. A valid
// `PEER` first line moves the socket to peer.js (through the PROTOCOL §7
// handshake there when the herd has a secret).
//
// Timers, because a Node socket has none that act: `socket.setTimeout`
// only emits an event, and any byte resets it. So the idle deadline is our
// own timer, armed when we start waiting for a line and cleared only by a
// complete line (a trickle of bytes does not push it back); the write
// deadline (write_timeout_ms) is armed when a write is left in the socket's
// buffer and cleared only once the buffer is empty, so it counts from an
// answer's first byte however the client reads. Both destroy the socket.

const protocol = require('./protocol');
const { LineFramer } = require('./line-stream');
const { record } = require('./cache');
const { formatAddr } = require('./logfile');
const { whatsatAnswer: whatsatAnswerAsync, whatsatAnswerSync } = require('./places');
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

/** Lines answered in one slice before the loop is given back to the
 * other connections (and the answers so far are written). */
const SLICE_LINES = 256;
/** ...or this long, whichever comes first. */
const SLICE_MS = 4;
/** Lines read but not yet answered above which reading stops for a while. */
const MAX_WAITING_LINES = 4096;

/** Serves one admitted client socket until it closes, idles out or breaks. */
function serveClient(node, socket) {
  const limits = node.limits;
  const addr = formatAddr(socket.remoteAddress, socket.remotePort);
  const framer = new LineFramer(limits.maxLineBytes);
  const events = [];
  let first = true;
  let busy = false; // a WHATSAT is waiting for Places
  let blocked = false; // our answers are waiting for the client to read
  let scheduled = false; // the next slice is waiting for its turn of the loop
  let paused = false;
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

  /** Reads only while answers can be written and few lines wait. */
  const updateReading = () => {
    if (done) return;
    const stop = busy || blocked || events.length >= MAX_WAITING_LINES;
    if (stop && !paused) {
      paused = true;
      socket.pause();
    } else if (!stop && paused) {
      paused = false;
      socket.resume();
    }
  };

  const onData = (chunk) => {
    if (done) return;
    const got = framer.push(chunk);
    if (got.length) {
      clearIdle();
      for (const event of got) events.push(event);
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

  /** Everything written so far reached the kernel: the deadline is met. */
  const onWritten = () => {
    if (writeTimer && socket.writableLength === 0) {
      clearTimeout(writeTimer);
      writeTimer = null;
    }
  };

  /**
   * Writes the gathered answers in one write. What the kernel does not take
   * at once starts the write deadline (PROTOCOL §5 write_timeout_ms: one
   * deadline from the first byte, until all of it is taken, however the
   * client reads); write() refusing more stops answering and reading until
   * `drain`.
   */
  const flush = () => {
    if (out.length === 0 || socket.destroyed) {
      out = [];
      return;
    }
    const data = out.length === 1 ? out[0] : Buffer.concat(out);
    out = [];
    const ok = socket.write(data, onWritten);
    if (socket.writableLength > 0 && !writeTimer && !done) {
      writeTimer = setTimeout(() => {
        writeTimer = null;
        if (done) return;
        node.log.notice(`${addr}: answer not taken within ${debugDuration(limits.writeTimeoutMs)}, closed`);
        finish();
        socket.destroy();
      }, limits.writeTimeoutMs);
    }
    if (!ok) {
      blocked = true;
      updateReading();
      socket.once('drain', () => {
        blocked = false;
        if (done) return;
        updateReading();
        pump();
      });
    }
  };

  const answer = (text, logged) => {
    const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
    out.push(buf);
    // The log shows the answer without its final newline.
    node.log.sent(addr, logged === undefined ? buf.subarray(0, buf.length - 1) : logged);
  };

  /** A WHATSAT answer, logged whole (--log-answers) or as its summary entry. */
  const whatsatAnswer = (atLine, got) => {
    const text = `${atLine}\n${got.json}\n\n`;
    const buf = Buffer.from(text, 'utf8');
    const logged = node.logAnswers
      ? buf.subarray(0, buf.length - 1)
      : `${atLine} [answer: ${got.status}, ${got.results} results, ${buf.length} bytes]`;
    answer(buf, logged);
  };

  /** Runs the next slice on a later turn of the loop. */
  const later = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      pump();
    });
  };

  /**
   * Answers buffered lines in order, a slice at a time (SLICE_LINES or
   * SLICE_MS), writing each slice's answers before the loop serves anyone
   * else, until a line must wait (Places, or a client that does not read).
   */
  const pump = () => {
    if (scheduled) return;
    const started = performance.now();
    let handled = 0;
    while (!done && !busy && !blocked && events.length) {
      if (handled >= SLICE_LINES || (handled > 0 && performance.now() - started >= SLICE_MS)) {
        flush();
        updateReading();
        if (!done && !blocked) later();
        return;
      }
      handled += 1;
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
        case 'iamat': {
          const at = iamat(node, request);
          answer(at === null ? protocol.invalidAnswer(line) : at + '\n');
          break;
        }
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
            whatsatAnswer(rec.line, whatsatAnswerSync(node.places, query));
            break;
          }
          // A network provider: hold later lines (answers stay in order),
          // stop reading, and carry on when Places has answered.
          busy = true;
          flush();
          updateReading();
          whatsatAnswerAsync(node.places, query).then((got) => {
            busy = false;
            if (done || socket.destroyed) return;
            whatsatAnswer(rec.line, got);
            updateReading();
            pump();
          });
          return;
        }
        case 'peer':
          if (wasFirst && node.neighbours.has(request.name)) {
            becomePeer(request.name, line);
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
    if (done) return;
    flush();
    updateReading();
    if (busy || blocked) return;
    if (eof && events.length === 0) {
      // The client half-closed and every line is answered.
      finish();
      socket.end();
    } else if (events.length === 0) {
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
    if (paused) socket.resume();
    // Until WELCOME the connection still counts as a client.
    peer.handshake(node, parsed.name, parsed.nonce, socket, framer, addr, events.splice(0), eof, lingerClose);
  };

  /**
   * `PEER <neighbour>` without a secret (PROTOCOL §3): a neighbour holds one
   * inbound link at a time. Pending I/O runs first (two turns of the loop,
   * so an EOF or reset already on its way to the old link is seen); if the
   * old link is still open and alive the new one is refused (`? ` + the
   * line, closed, logged); else the socket, with the lines already read,
   * goes to peer.js.
   */
  const becomePeer = (name, line) => {
    flush();
    finish();
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
    socket.pause();
    const decide = () => {
      if (socket.destroyed) return;
      const old = node.inbound.get(name);
      if (old && old.alive()) {
        node.log.notice(`link from ${name} (${addr}) refused: a link from ${name} is open`);
        const refusal = protocol.invalidAnswer(line);
        node.log.sent(addr, refusal.subarray(0, refusal.length - 1));
        socket.write(refusal);
        lingerClose(socket);
        return;
      }
      node.clients.delete(socket); // a link is not a client
      peer.acceptInbound(node, name, socket, framer, addr, events.splice(0), eof);
    };
    if (node.inbound.has(name)) setImmediate(() => setImmediate(decide));
    else decide();
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

/**
 * IAMAT: stamp the receipt time, keep and flood if newer, answer AT; null
 * (a bad line) when the client's time is more than max_clock_ahead_ms ahead
 * of ours (PROTOCOL §5; exactly that far is accepted; exact in BigInt ns).
 */
function iamat(node, request) {
  const now = node.clock();
  if (request.time - now > BigInt(node.limits.maxClockAheadMs) * 1000000n) return null;
  const diff = protocol.formatNanos(now - request.time);
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
