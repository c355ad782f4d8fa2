'use strict';
// Inbound neighbour links: AT lines flooded to this node, as src/peer.rs.
//
// connection.js hands a socket here when its first line is `PEER <name>`
// from a configured neighbour, with whatever lines were read after it. Each
// line is parsed (AT -> cache -> flood to every other neighbour); nothing
// is ever answered. Invalid lines are counted and the link closed at
// `peerGarbageLines`. A link has no idle timeout (it lives as long as the
// neighbour), and a second link from the same neighbour replaces the first.

const protocol = require('./protocol');
const { record } = require('./cache');

/** Serves the link from neighbour `name`; `pending` are framer events already read. */
function acceptInbound(node, name, socket, framer, addr, pending, eof) {
  const limits = node.limits;
  let garbage = 0;
  let down = false;
  const link = {
    socket,
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

module.exports = { acceptInbound };
