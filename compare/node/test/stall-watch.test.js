'use strict';
// The stall watch of outgoing links (lib/stall-watch.js): its rule on given
// numbers, then on a real socket whose reader never reads.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { StallWatch, checkEveryMs } = require('../lib/stall-watch');

test('a stall is output held with no progress for the whole limit', () => {
  const watch = new StallWatch(1000);
  assert.equal(watch.stalled(0, 0, 0), false);
  assert.equal(watch.stalled(10, 0, 100), false); // held from t=100
  assert.equal(watch.stalled(10, 0, 1099), false);
  assert.equal(watch.stalled(10, 0, 1100), true);
  // Progress (the kernel took bytes) restarts the clock, more held or not.
  assert.equal(watch.stalled(50, 5, 1200), false);
  assert.equal(watch.stalled(50, 5, 2199), false);
  assert.equal(watch.stalled(50, 5, 2200), true);
  // An empty buffer is never a stall, however long.
  assert.equal(watch.stalled(0, 60, 9000), false);
  assert.equal(watch.stalled(1, 60, 9500), false);
  assert.equal(checkEveryMs(10000), 1000);
  assert.equal(checkEveryMs(200), 50);
  assert.equal(checkEveryMs(1), 10);
});

test('a socket whose reader stops reading is reported stalled within the limit', async (t) => {
  const held = [];
  const server = net.createServer((s) => {
    s.pause();
    held.push(s);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = net.connect(server.address().port, '127.0.0.1');
  t.after(() => {
    socket.destroy();
    for (const s of held) s.destroy();
    server.close();
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const watch = new StallWatch(200);
  assert.equal(watch.stalledSocket(socket, performance.now()), false, 'nothing written yet');
  // Fill the kernel's buffers on both ends, then Node's own.
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < 256 && socket.write(chunk); i += 1);
  assert.ok(socket.writableLength > 0, 'the write buffer never filled');
  const start = performance.now();
  const deadline = start + 5000;
  let stalledAt = null;
  while (stalledAt === null && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (watch.stalledSocket(socket, performance.now())) stalledAt = performance.now();
  }
  assert.ok(stalledAt !== null, 'no stall seen within 5 s');
  assert.ok(stalledAt - start >= 150, `stall reported after only ${stalledAt - start} ms`);
});
