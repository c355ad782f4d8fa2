'use strict';
// Test support: herds of nodes in this process on ports the kernel picks
// (listen on port 0 first, then build the config from the real ports), and
// a line client with deadlines.
const net = require('node:net');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { parseConfig } = require('../lib/config');
const { listen, startNode } = require('../lib/server');
const { Offline } = require('../lib/places/offline');

let offline = null;

/** names: {Name: [peers]}; limits: TOML lines for [limits]; options:
 * {places, clock, secrets: {Name: Buffer}}. */
async function startHerd(topology, limits = '', options = {}) {
  const names = Object.keys(topology);
  const servers = {};
  for (const name of names) servers[name] = await listen('127.0.0.1:0');
  let text = '';
  for (const name of names) {
    text += `[[server]]\nname = "${name}"\naddr = "127.0.0.1:${servers[name].address().port}"\n`;
    text += `peers = [${topology[name].map((p) => `"${p}"`).join(', ')}]\n`;
  }
  text += `[limits]\nreconnect_min_ms = 20\nreconnect_max_ms = 200\n${limits}\n`;
  const config = parseConfig(text);
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'herd-node-test-'));
  offline = offline || new Offline();
  const herd = { config, logDir, nodes: {}, servers };
  herd.start = async (name) => {
    if (!herd.servers[name]) herd.servers[name] = await listen(config.servers.find((s) => s.name === name).addr);
    herd.nodes[name] = startNode(config, { name, server: herd.servers[name], places: options.places || offline, logDir, clock: options.clock,
      secret: options.secrets ? options.secrets[name] : undefined });
  };
  herd.kill = async (name) => {
    await herd.nodes[name].stop();
    delete herd.nodes[name];
    delete herd.servers[name];
  };
  herd.logText = (name) => {
    try {
      return fs.readFileSync(path.join(logDir, `${name}.log`), 'utf8');
    } catch {
      return '';
    }
  };
  herd.port = (name) => Number(config.servers.find((s) => s.name === name).addr.split(':')[1]);
  herd.stop = async () => {
    for (const name of Object.keys(herd.nodes)) await herd.nodes[name].stop();
  };
  herd.kept = (name, client) => {
    const rec = herd.nodes[name] && herd.nodes[name].node.cache.get(client);
    return rec ? rec.line : null;
  };
  herd.linked = () =>
    Object.entries(herd.nodes).every(([name, h]) =>
      config.servers.find((s) => s.name === name).peers.every((p) => !herd.nodes[p] || h.node.inbound.has(p)));
  for (const name of names) await herd.start(name);
  return herd;
}

async function eventually(cond, ms = 5000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

/** A client: send(text), and read lines or wait for close with deadlines. */
function connect(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let buf = Buffer.alloc(0);
    let closed = false;
    const waiters = [];
    const poke = () => waiters.splice(0).forEach((w) => w());
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      poke();
    });
    // The server closing its side is what the tests wait for.
    const onClosed = () => {
      closed = true;
      poke();
    };
    socket.on('end', onClosed);
    socket.on('close', onClosed);
    socket.on('error', () => {});
    const wait = (ms) => new Promise((r) => {
      const t = setTimeout(r, ms);
      waiters.push(() => {
        clearTimeout(t);
        r();
      });
    });
    const client = {
      socket,
      send: (text) => socket.write(text),
      async line(ms = 3000) {
        const until = Date.now() + ms;
        for (;;) {
          const i = buf.indexOf(0x0a);
          if (i >= 0) {
            const line = buf.subarray(0, i).toString('latin1');
            buf = buf.subarray(i + 1);
            return line;
          }
          if (closed || Date.now() >= until) return null;
          await wait(until - Date.now());
        }
      },
      async answerUntilBlank(ms = 3000) {
        const lines = [];
        for (;;) {
          const l = await client.line(ms);
          if (l === null || l === '') return lines;
          lines.push(l);
        }
      },
      async closedWithin(ms) {
        const until = Date.now() + ms;
        while (!closed && Date.now() < until) await wait(until - Date.now());
        return closed;
      },
      close: () => socket.destroy(),
    };
    socket.once('connect', () => resolve(client));
    socket.once('error', reject);
  });
}

module.exports = { startHerd, connect, eventually };
