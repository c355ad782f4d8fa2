'use strict';
// Inbound neighbour links: AT lines flooded to this node, as src/link/inbound.rs.
//
// connection.js hands a socket here when its first line is `PEER <name>`
// from a configured neighbour, with whatever lines were read after it. Each
// line is parsed (AT -> cache -> flood to every other neighbour); nothing
// is ever answered. Invalid lines are counted and the link closed at
// `peerGarbageLines`. A link has no idle timeout (it lives as long as the
// neighbour) but TCP keepalive (10 s idle), so a link whose host vanished is
// found dead. A second link from the same neighbour replaces the first only
// when the first is dead (connection.js refuses it otherwise) or, with a
// secret, once its handshake has proved the name.
// Where the herd has a secret, `handshake` runs the acceptor's side of the
// PROTOCOL §7 challenge-response first.

const protocol = require('./protocol');
const { record } = require('./cache');
const peerAuth = require('./peer_auth');

/**
 * The acceptor's handshake: CHALLENGE, then one PROOF line within
 * handshakeTimeoutMs, then WELCOME and acceptInbound. Any failure answers
 * `? ` + the line (when there is one), logs why, and hands the socket to
 * `close` (connection.js's linger close).
 */
function handshake(node, name, nonceO, socket, framer, addr, pending, eof, close) {
  const nonceA = peerAuth.newNonce();
  let decided = false;
  const send = (line) => {
    node.log.sent(addr, line);
    socket.write(`${line}\n`);
  };
  const stopListening = () => {
    decided = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('end', onEnd);
  };
  const refuse = (why, answer) => {
    stopListening();
    node.log.notice(`link from ${name} (${addr}) refused: ${why}`);
    if (answer) {
      node.log.sent(addr, answer.subarray(0, answer.length - 1));
      socket.write(answer);
    }
    close(socket);
  };
  const handle = (events) => {
    if (decided || events.length === 0) return;
    const event = events.shift();
    if (event.type === 'tooLong') {
      node.log.received(addr, event.head);
      refuse('line too long', protocol.invalidAnswer(event.head));
      return;
    }
    node.log.received(addr, event.line);
    const got = peerAuth.operand(event.line, 'PROOF');
    if (got === null) {
      refuse('expected PROOF', protocol.invalidAnswer(event.line));
      return;
    }
    if (!peerAuth.matches(peerAuth.proof(node.secret, name, node.name, nonceO, nonceA), got)) {
      refuse('wrong proof', protocol.invalidAnswer(event.line));
      return;
    }
    stopListening();
    send(`WELCOME ${peerAuth.welcome(node.secret, node.name, name, nonceA, nonceO)}`);
    node.clients.delete(socket); // a link is not a client
    acceptInbound(node, name, socket, framer, addr, events, eof);
  };
  const onData = (chunk) => handle(framer.push(chunk));
  const onEnd = () => {
    eof = true;
    handle(framer.end());
    if (!decided) refuse('closed during the handshake', null);
  };
  const timer = setTimeout(() => {
    if (!decided) refuse(`no PROOF within ${node.limits.handshakeTimeoutMs} ms`, null);
  }, node.limits.handshakeTimeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
  socket.once('close', () => {
    if (decided) return;
    stopListening();
    if (!node.stopping) node.log.notice(`link from ${name} (${addr}) refused: connection broken during the handshake`);
  });
  send(`CHALLENGE ${nonceA}`);
  handle(pending);
  if (eof && !decided) refuse('closed during the handshake', null);
  socket.resume();
}

/** Serves the link from neighbour `name`; `pending` are framer events already read. */
function acceptInbound(node, name, socket, framer, addr, pending, eof) {
  const limits = node.limits;
  let garbage = 0;
  let down = false;
  const link = {
    socket,
    /** Open, and neither ended, reset nor failed as far as Node has seen. */
    alive() {
      return !down && !socket.destroyed && !socket.readableEnded && !socket.errored;
    },
    close(why) {
      if (down) return;
      down = true;
      node.log.notice(`link from ${name} (${addr}) down: ${why}`);
      if (node.inbound.get(name) === link) node.inbound.delete(name);
      socket.destroy();
    },
  };

  const handle = (events) => {
    for (const event of events) {
      if (down) return;
      if (event.type === 'tooLong') {
        node.log.received(addr, event.head);
        link.close('line too long');
        return;
      }
      node.log.received(addr, event.line);
      const request = protocol.parse(event.line);
      if (request.kind === 'blank') continue;
      if (request.kind === 'at') {
        const rec = node.cache.offer(record(request));
        if (rec) node.flooder.flood(rec, name);
        continue;
      }
      garbage += 1;
      if (garbage >= limits.peerGarbageLines) {
        link.close(`${garbage} invalid lines`);
        return;
      }
    }
  };

  // PROTOCOL "Limits (§5)": 5 s idle, then probes (Node 20 sets only the idle time;
  // libuv sets the interval to 1 s and the count to 10 on Linux).
  socket.setKeepAlive(true, 5000);
  node.log.notice(`link from ${name} (${addr}) up`);
  const old = node.inbound.get(name);
  node.inbound.set(name, link);
  if (old) {
    node.log.notice(`link from ${name}: the new link replaces the old one`);
    old.close('replaced by a new link');
  }
  // The neighbour is up, so our own link to it can stop backing off.
  node.flooder.wake(name);

  socket.on('data', (chunk) => handle(framer.push(chunk)));
  socket.on('end', () => {
    handle(framer.end());
    link.close('closed by the neighbour');
  });
  socket.on('error', (e) => link.close(e.message));
  socket.on('close', () => link.close('closed'));
  handle(pending);
  if (eof && !down) link.close('closed by the neighbour');
  socket.resume();
}

module.exports = { acceptInbound, handshake };
