'use strict';
// Per-connection state must go when the connection goes. The soak saw the
// Node build's RSS swing by ~25 MB; that turned out to be V8's heap sizing
// (compare/runs/soak-node-*/NOTES.md), and these tests pin down the other
// possible cause for good: after many connections have come and gone, by
// every way a connection ends, the node tracks no sockets and holds no
// timers beyond what it held before they came.

const test = require('node:test');
const assert = require('node:assert/strict');
const { startHerd, connect, eventually } = require('./helpers');

/** Active handles of the kinds a connection owns (sockets, timers). */
function resources() {
  const counts = { TCPSocketWrap: 0, Timeout: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind]++;
  return counts;
}

const backToBaseline = (herd, before) => () => {
  const now = resources();
  return herd.nodes.Clark.node.clients.size === 0 && now.TCPSocketWrap <= before.TCPSocketWrap && now.Timeout <= before.Timeout;
};

test('connections closed by the client leave no sockets or timers behind', async () => {
  const herd = await startHerd({ Clark: [] }, 'idle_timeout_ms = 30000');
  try {
    const before = resources();
    for (let round = 0; round < 5; round++) {
      const clients = [];
      for (let i = 0; i < 20; i++) clients.push(await connect(herd.port('Clark')));
      assert.ok(await eventually(() => herd.nodes.Clark.node.clients.size === 20), 'all 20 admitted');
      clients.forEach((c, i) => {
        // A third send a full line, the rest leave a line unfinished.
        if (i % 3 === 0) c.send(`IAMAT mem${round}-${i} +34.068930-118.445127 1621464827.959498503\n`);
        else c.send('IAMAT half a li');
      });
      for (let i = 0; i < 20; i += 3) assert.match(await clients[i].line(), /^AT Clark /);
      // Then a FIN (the server sees `end` first), or a reset (only `close`).
      clients.forEach((c, i) => (i % 3 === 2 ? c.socket.resetAndDestroy() : c.close()));
    }
    // Well inside the 30 s idle limit: nothing may wait for a timer to fire.
    assert.ok(await eventually(backToBaseline(herd, before), 3000), `left behind: ${JSON.stringify(resources())}`);
  } finally {
    await herd.stop();
  }
});

test('connections closed by the idle limit leave no sockets or timers behind', async () => {
  const herd = await startHerd({ Clark: [] }, 'idle_timeout_ms = 300');
  try {
    const before = resources();
    const clients = [];
    for (let i = 0; i < 40; i++) clients.push(await connect(herd.port('Clark')));
    for (const c of clients) assert.ok(await c.closedWithin(3000), 'closed at the idle limit');
    clients.forEach((c) => c.close()); // our own ends count as sockets too
    assert.ok(await eventually(backToBaseline(herd, before), 3000), `left behind: ${JSON.stringify(resources())}`);
  } finally {
    await herd.stop();
  }
});
