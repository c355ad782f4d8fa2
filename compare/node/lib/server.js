'use strict';
// A running node: its shared state, the listening socket, admission, and
// the ordered stop, as src/node.rs + src/accept.rs. `startNode` takes an
// already-listening net.Server (so tests listen on port 0 and build the
// herd's config from the real ports), builds the node handle every part
// shares (cache, flooder, places, log, limits: nothing global, so one
// process can run a whole herd), counts client connections against
// maxClients (over it: closed at once, unanswered, and logged), and hands
// each admitted socket to connection.js. `stop()` closes everything within
// a deadline and flushes the log.

const net = require('node:net');
const { Cache } = require('./cache');
const { Flooder } = require('./flood');
const { NodeLog, nowNanos, formatAddr } = require('./logfile');
const { serveClient } = require('./connection');
const { serverOf, splitAddr } = require('./config');

/** How long stopping may take before the rest is abandoned. */
const STOP_DEADLINE_MS = 1500;

/**
 * Listens on `addr` (`host:port`; port 0 picks one). allowHalfOpen: a
 * client that half-closes still gets its answers.
 */
function listen(addr) {
  const server = net.createServer({ allowHalfOpen: true, noDelay: true });
  const { host, port } = splitAddr(addr);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 1024 }, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}

function serverAddr(server) {
  const a = server.address();
  return formatAddr(a.address, a.port);
}

/**
 * Starts node `options.name` of `config` on `options.server` (listening).
 * options: {name, server, places, logDir, clock?, secret?} (secret: the herd
 * secret as a Buffer, PROTOCOL §7; none means bare `PEER <name>` links).
 */
function startNode(config, options) {
  const me = serverOf(config, options.name);
  const neighbours = me.peers.map((p) => config.servers.find((s) => s.name === p));
  const node = {
    name: me.name,
    limits: config.limits,
    neighbours: new Set(me.peers),
    cache: null,
    places: options.places,
    log: new NodeLog(options.logDir, me.name, config.log),
    logAnswers: config.log.answers,
    clock: options.clock || nowNanos,
    clients: new Set(),
    inbound: new Map(),
    flooder: null,
    server: options.server,
    stopping: false,
    secret: options.secret || null,
  };
  node.flooder = new Flooder(node, neighbours);
  const maxCached = options.maxCachedClients || config.limits.maxCachedClients;
  node.evictions = evictionNotices(node, maxCached);
  node.cache = new Cache(maxCached, node.evictions.count);
  const addr = serverAddr(options.server);
  node.log.notice(
    `${me.name} listening on ${addr}, one event loop (--threads ${config.limits.threads} accepted, unused), ` +
      `neighbours: ${me.peers.join(', ')}`,
  );
  options.server.on('connection', (socket) => admit(node, socket));
  options.server.on('error', (e) => node.log.notice(`accept failed: ${e.message}`));
  node.flooder.start();
  return {
    node,
    addr,
    stop: () => stopNode(node),
  };
}

function admit(node, socket) {
  if (node.stopping || !socket.remoteAddress) {
    // Stopping, or the client is already gone.
    socket.on('error', () => {});
    socket.destroy();
    return;
  }
  const max = node.limits.maxClients;
  if (node.clients.size >= max) {
    node.log.notice(`refused ${formatAddr(socket.remoteAddress, socket.remotePort)}: ${max} client connections already open`);
    socket.on('error', () => {});
    socket.destroy();
    return;
  }
  node.clients.add(socket);
  serveClient(node, socket);
}

/** How often at most the eviction notice is logged. */
const EVICTION_NOTICE_MS = 1000;

/**
 * Counts evictions and logs `cache full at N clients: evicted K since the
 * last notice` at most once a second (PROTOCOL §5): at once when the last
 * notice is a second old, else by a timer at the end of that second.
 */
function evictionNotices(node, max) {
  let pending = 0;
  let last = -Infinity;
  let timer = null;
  const emit = () => {
    timer = null;
    if (pending === 0) return;
    node.log.notice(`cache full at ${max} clients: evicted ${pending} since the last notice`);
    pending = 0;
    last = performance.now();
  };
  return {
    count(n) {
      pending += n;
      const since = performance.now() - last;
      if (since >= EVICTION_NOTICE_MS) emit();
      else if (!timer) timer = setTimeout(emit, EVICTION_NOTICE_MS - since);
    },
    stop() {
      if (timer) clearTimeout(timer);
      emit();
    },
  };
}

/** The ordered stop: no new connections; clients, links and senders closed; log flushed. */
async function stopNode(node) {
  if (node.stopping) return;
  node.stopping = true;
  const started = process.hrtime.bigint();
  const closed = new Promise((resolve) => node.server.close(() => resolve()));
  for (const socket of node.clients) socket.destroy();
  node.clients.clear();
  for (const link of [...node.inbound.values()]) link.close('node stopping');
  node.flooder.stop();
  node.evictions.stop();
  let timer;
  await Promise.race([closed, new Promise((resolve) => (timer = setTimeout(resolve, STOP_DEADLINE_MS)))]);
  clearTimeout(timer);
  const took = Number((process.hrtime.bigint() - started) / 1000000n);
  node.log.notice(`${node.name} stopped in ${took} ms`);
  node.log.close();
}

module.exports = { listen, startNode, serverAddr, STOP_DEADLINE_MS };
