'use strict';
// Flooding: one outgoing link and one bounded queue per neighbour, as
// src/link/outbound.rs. connection.js (IAMAT) and peer.js (AT) call `flood` with
// each record that changed the cache; it goes on every other neighbour's
// queue and never waits. Each Sender keeps one persistent link: it connects
// (retrying with backoff from reconnectMinMs doubling to reconnectMaxMs
// while the neighbour is down), says `PEER <name>` (or, where the herd has
// a secret, runs the opener's side of the PROTOCOL §7 challenge-response; a
// refused handshake counts as a failed attempt), sends a catch-up dump
// of the whole cache, then writes queued AT lines as they come. A full
// queue drops the update and marks the link for a new catch-up dump, which
// carries everything the dropped updates did. The acceptor never writes on
// a link, so `end` on our socket means the neighbour closed it. A link whose
// output stops moving for writeTimeoutMs is closed and opened again
// (stall-watch.js, which says what Node can and cannot see of a stall).

const net = require('node:net');
const { splitAddr } = require('./config');
const { formatAddr } = require('./logfile');
const { LineFramer } = require('./line-stream');
const peerAuth = require('./peer_auth');
const { StallWatch, checkEveryMs } = require('./stall-watch');

/** How long one connection attempt may take. */
const CONNECT_TIMEOUT_MS = 1000;
/** Queued updates written in one write. */
const BATCH = 1024;

/** io::Error's Display for the usual connect failures, so logs read alike. */
const OS_ERRORS = {
  ECONNREFUSED: 'Connection refused (os error 111)',
  ECONNRESET: 'Connection reset by peer (os error 104)',
  EHOSTUNREACH: 'No route to host (os error 113)',
  ENETUNREACH: 'Network is unreachable (os error 101)',
  EPIPE: 'Broken pipe (os error 32)',
  ETIMEDOUT: 'connection timed out',
};

function describe(error) {
  return OS_ERRORS[error.code] || error.message;
}

class Sender {
  constructor(node, name, addr) {
    this.node = node;
    this.name = name;
    this.addr = addr;
    this.queue = [];
    this.resync = false;
    this.socket = null;
    this.up = false;
    this.blocked = false;
    this.stopped = false;
    this.backoff = node.limits.reconnectMinMs;
    this.reportedDown = false;
    this.timer = null;
    this.woken = false;
    this.stallTimer = null;
  }

  start() {
    this.connect();
  }

  /** Queues `rec`; over capacity, drops it and marks the link for catch-up. */
  offer(rec) {
    if (this.queue.length >= this.node.limits.peerQueue) this.resync = true;
    else this.queue.push(rec);
    if (this.up && !this.blocked && !this.scheduled) {
      // Gather whatever else this turn of the loop floods into one write.
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.send();
      });
    }
  }

  /** The neighbour connected to us: retry now instead of after the backoff. */
  wake() {
    this.backoff = this.node.limits.reconnectMinMs;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.connect();
    } else if (!this.up) {
      this.woken = true;
    }
  }

  connect() {
    if (this.stopped) return;
    const { host, port } = splitAddr(this.addr);
    const socket = net.connect({ host, port });
    this.socket = socket;
    let peerAddr = this.addr;
    let why = null;
    let handshaking = false;
    let refused = null;
    const connectTimer = setTimeout(() => {
      why = 'connection timed out';
      socket.destroy();
    }, CONNECT_TIMEOUT_MS);
    const goUp = (hello) => {
      this.up = true;
      this.backoff = this.node.limits.reconnectMinMs;
      this.reportedDown = false;
      this.node.log.notice(`link to ${this.name} (${peerAddr}) up`);
      this.watchStalls(socket);
      if (hello) this.write([hello]);
      this.catchUp();
      this.send();
    };
    // The opener's handshake (PROTOCOL §7): each answer line within
    // handshakeTimeoutMs, else the attempt is refused and retried later.
    const limits = this.node.limits;
    const framer = new LineFramer(limits.maxLineBytes);
    const nonceO = peerAuth.newNonce();
    let nonceA = null;
    let handshakeTimer = null;
    const refuse = (text) => {
      refused = text;
      socket.destroy();
    };
    const awaitLine = (word) => {
      clearTimeout(handshakeTimer);
      handshakeTimer = setTimeout(() => refuse(`no ${word} within ${limits.handshakeTimeoutMs} ms`), limits.handshakeTimeoutMs);
    };
    const unexpected = (word, line) => {
      const text = line.toString('utf8');
      return `expected ${word}, got ${JSON.stringify(text.length > 200 ? `${text.slice(0, 200)}...` : text)}`;
    };
    const handshakeLine = (event) => {
      if (event.type === 'tooLong') {
        this.node.log.received(peerAddr, event.head);
        refuse('line too long');
        return;
      }
      this.node.log.received(peerAddr, event.line);
      const secret = this.node.secret;
      if (nonceA === null) {
        const got = peerAuth.operand(event.line, 'CHALLENGE');
        if (got === null || !peerAuth.validNonce(got)) {
          refuse(unexpected('CHALLENGE', event.line));
          return;
        }
        nonceA = got;
        awaitLine('WELCOME');
        this.write([`PROOF ${peerAuth.proof(secret, this.node.name, this.name, nonceO, nonceA)}`]);
        return;
      }
      const got = peerAuth.operand(event.line, 'WELCOME');
      if (got === null) {
        refuse(unexpected('WELCOME', event.line));
        return;
      }
      if (!peerAuth.matches(peerAuth.welcome(secret, this.name, this.node.name, nonceA, nonceO), got)) {
        refuse('wrong WELCOME');
        return;
      }
      clearTimeout(handshakeTimer);
      handshaking = false;
      goUp();
    };
    socket.on('connect', () => {
      clearTimeout(connectTimer);
      socket.setNoDelay(true);
      peerAddr = formatAddr(socket.remoteAddress, socket.remotePort);
      this.peerAddr = peerAddr;
      if (!this.node.secret) {
        goUp(`PEER ${this.node.name}`);
        return;
      }
      handshaking = true;
      awaitLine('CHALLENGE');
      this.write([`PEER ${this.node.name} ${nonceO}`]);
    });
    socket.on('data', (chunk) => {
      // After the handshake the acceptor never writes; stray bytes are ignored.
      if (!handshaking) return;
      for (const event of framer.push(chunk)) {
        if (!handshaking || refused !== null) return;
        handshakeLine(event);
      }
    });
    socket.on('end', () => {
      if (handshaking && refused === null) refused = 'closed during the handshake';
      why = why || 'closed by the neighbour';
      socket.destroy();
    });
    socket.on('error', (e) => {
      why = why || describe(e);
    });
    socket.on('close', () => {
      clearTimeout(connectTimer);
      clearTimeout(handshakeTimer);
      if (this.writeTimer) clearTimeout(this.writeTimer);
      this.writeTimer = null;
      if (this.stallTimer) clearInterval(this.stallTimer);
      this.stallTimer = null;
      this.socket = null;
      this.blocked = false;
      if (this.up) {
        this.up = false;
        this.node.log.notice(`link to ${this.name} (${peerAddr}) down: ${this.stopped ? 'node stopping' : why || 'closed'}`);
      } else if (handshaking && !this.stopped) {
        this.node.log.notice(`link to ${this.name} (${peerAddr}) refused: ${refused || why || 'closed during the handshake'}`);
      } else if (!this.reportedDown && !this.stopped) {
        this.reportedDown = true;
        this.node.log.notice(
          `cannot reach ${this.name} (${this.addr}): ${why || 'closed'}; retrying with backoff`,
        );
      }
      this.retryLater();
    });
  }

  /** Closes `socket` once its output has not moved for writeTimeoutMs. */
  watchStalls(socket) {
    const limitMs = this.node.limits.writeTimeoutMs;
    const watch = new StallWatch(limitMs);
    this.stallTimer = setInterval(() => {
      if (watch.stalledSocket(socket, performance.now())) {
        socket.destroy(new Error(`output stalled for ${limitMs} ms`));
      }
    }, checkEveryMs(limitMs));
    this.stallTimer.unref();
  }

  retryLater() {
    if (this.stopped) return;
    if (this.woken) {
      this.woken = false;
      this.backoff = this.node.limits.reconnectMinMs;
      setImmediate(() => this.connect());
      return;
    }
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.node.limits.reconnectMaxMs);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }

  /** Sends the AT line of every client the node knows (PROTOCOL §3). */
  catchUp() {
    this.resync = false;
    this.queue = [];
    const snapshot = this.node.cache.snapshot();
    if (snapshot.length) this.write(snapshot);
    this.node.log.notice(`catch-up to ${this.name}: ${snapshot.length} clients sent`);
  }

  /** Writes queued updates while the socket takes them. */
  send() {
    while (this.up && !this.blocked) {
      if (this.resync) {
        this.catchUp();
        continue;
      }
      if (this.queue.length === 0) return;
      const batch = this.queue.splice(0, BATCH);
      this.write(batch.map((r) => r.line));
    }
  }

  write(lines) {
    const socket = this.socket;
    if (!socket || socket.destroyed) return;
    for (const line of lines) this.node.log.sent(this.peerAddr, line);
    const ok = socket.write(lines.join('\n') + '\n');
    if (!ok) {
      // The neighbour is not reading: hold further updates in the bounded
      // queue, and give up on the link after the write timeout.
      this.blocked = true;
      this.writeTimer = setTimeout(() => {
        socket.destroy(new Error('write timed out'));
      }, this.node.limits.writeTimeoutMs);
      socket.once('drain', () => {
        clearTimeout(this.writeTimer);
        this.writeTimer = null;
        this.blocked = false;
        this.send();
      });
    }
  }

  stop() {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.socket) this.socket.destroy();
  }
}

class Flooder {
  /** `neighbours`: [{name, addr}]. */
  constructor(node, neighbours) {
    this.links = new Map(neighbours.map((n) => [n.name, new Sender(node, n.name, n.addr)]));
  }

  start() {
    for (const link of this.links.values()) link.start();
  }

  /** Queues `rec` for every neighbour except `except` (where it came from). */
  flood(rec, except) {
    for (const [name, link] of this.links) if (name !== except) link.offer(rec);
  }

  wake(name) {
    const link = this.links.get(name);
    if (link) link.wake();
  }

  /** Updates waiting in a neighbour's queue (tests). */
  queued(name) {
    const link = this.links.get(name);
    return link ? link.queue.length : null;
  }

  stop() {
    for (const link of this.links.values()) link.stop();
  }
}

module.exports = { Flooder, Sender };
