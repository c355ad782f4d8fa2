'use strict';
// The limits issue 13 added (PROTOCOL §5): max_clock_ahead_ms,
// max_cached_clients with its eviction order and notice, the whole-answer
// write deadline; and §3's rule that a live inbound link is not replaced by
// a second PEER. Whole nodes in this process, on ports the kernel picks.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { startHerd, connect, eventually } = require('./helpers');
const { parseConfig } = require('../lib/config');

const CLOCK = 1000000000000000000n; // the servers' fixed clock: 10^9 s

test('max_clock_ahead_ms: exactly at the limit accepted, one nanosecond more refused', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, 'max_clock_ahead_ms = 60000', { clock: () => CLOCK });
  try {
    const c = await connect(herd.port('A'));
    c.send('IAMAT ok +1+1 1000000060\n');
    assert.equal(await c.line(), 'AT A -60.000000000 ok +1+1 1000000060');
    c.send('IAMAT ok +1+1 1000000060.000000001\nIAMAT new +1+1 1000000060.000000001\n');
    assert.equal(await c.line(), '? IAMAT ok +1+1 1000000060.000000001');
    assert.equal(await c.line(), '? IAMAT new +1+1 1000000060.000000001');
    assert.equal(herd.kept('A', 'ok'), 'AT A -60.000000000 ok +1+1 1000000060');
    assert.equal(herd.kept('A', 'new'), null);
    c.close();
    // AT lines from a neighbour are not checked: it checked them.
    await herd.kill('A');
    assert.ok(await eventually(() => !herd.nodes.B.node.inbound.has('A')));
    const fake = await connect(herd.port('B'));
    fake.send('PEER A\nAT A -3600.000000000 far +1+1 1000003600\n');
    assert.ok(await eventually(() => herd.kept('B', 'far') === 'AT A -3600.000000000 far +1+1 1000003600'));
    fake.close();
  } finally {
    await herd.stop();
  }
});

test('max_cached_clients: the oldest is evicted, an older newcomer dropped, an update evicts no one', async () => {
  const herd = await startHerd({ A: ['B'], B: [] }, 'max_cached_clients = 3', { clock: () => CLOCK });
  try {
    const c = await connect(herd.port('A'));
    const iamat = async (id, time) => {
      c.send(`IAMAT ${id} +1+1 ${time}\n`);
      const line = await c.line();
      assert.match(line, new RegExp(`^AT A [+-][0-9.]+ ${id} \\+1\\+1 ${time}$`));
      return line;
    };
    const a = await iamat('a', 10);
    await iamat('b', 12);
    const c11 = await iamat('c', 11);
    // Older than every kept one: answered, not kept, not flooded.
    await iamat('old', 9);
    assert.equal(herd.kept('A', 'old'), null);
    // Equal time to the oldest and a byte-wise smaller line: also older.
    await iamat('0', 10);
    assert.equal(herd.kept('A', '0'), null);
    assert.equal(herd.kept('A', 'a'), a);
    // A newer newcomer evicts the oldest (a, at 10).
    await iamat('d', 13);
    assert.equal(herd.kept('A', 'a'), null);
    assert.ok(herd.kept('A', 'd'));
    // An update of a kept client evicts no one.
    await iamat('c', 20);
    assert.equal(herd.nodes.A.node.cache.size, 3);
    for (const id of ['b', 'c', 'd']) assert.ok(herd.kept('A', id), id);
    assert.notEqual(herd.kept('A', 'c'), c11);
    // The neighbour got what was kept, never the dropped lines.
    assert.ok(await eventually(() => herd.kept('B', 'd') !== null));
    assert.equal(herd.kept('B', 'old'), null);
    // Four more evictions inside the same second: one notice at its end.
    for (const [id, time] of [['e', 30], ['f', 31], ['g', 32], ['h', 33]]) await iamat(id, time);
    const notices = () => herd.logText('A').match(/\* cache full at 3 clients: evicted \d+ since the last notice/g) || [];
    assert.ok(await eventually(() => notices().length === 2, 3000), notices().join('; '));
    assert.deepEqual(notices(), [
      '* cache full at 3 clients: evicted 1 since the last notice',
      '* cache full at 3 clients: evicted 4 since the last notice',
    ]);
    c.close();
  } finally {
    await herd.stop();
  }
});

test('the cache heap stays within twice the kept ids under many updates', () => {
  const { Cache, record } = require('../lib/cache');
  const cache = new Cache(100);
  for (let i = 0; i < 20000; i++) {
    const id = `id${i % 150}`;
    const time = BigInt(i) * 1000000000n;
    cache.offer(record({ line: `AT A +0.000000000 ${id} +1+1 ${i}`, time, client: id }));
  }
  assert.equal(cache.size, 100);
  assert.ok(cache.heap.length <= 2 * 100 + 1024, `heap ${cache.heap.length}`);
  // The newest 100 ids by time are the ones kept.
  for (let i = 19900; i < 20000; i++) assert.ok(cache.get(`id${i % 150}`), `id${i % 150}`);
});

test('write_timeout_ms counts from the first byte: a reader taking a little now and then is closed', async () => {
  const herd = await startHerd({ Clark: [] }, 'write_timeout_ms = 600');
  try {
    const c = await connect(herd.port('Clark'));
    c.send(`IAMAT g +34.068930-118.445127 ${(Date.now() / 1000).toFixed(3)}\n`);
    assert.match(await c.line(), /^AT Clark /);
    c.socket.removeAllListeners('data');
    c.socket.pause();
    c.send('WHATSAT g 50 20\n'.repeat(2000));
    const started = Date.now();
    // Take 2 KiB every 50 ms: the answers keep moving, slowly.
    const trickle = setInterval(() => c.socket.read(2048), 50);
    try {
      assert.ok(await eventually(() => herd.nodes.Clark.node.clients.size === 0, 5000), 'closed');
    } finally {
      clearInterval(trickle);
    }
    const took = Date.now() - started;
    assert.ok(took >= 500 && took < 3000, `closed after ${took} ms`);
    c.close();
  } finally {
    await herd.stop();
  }
  assert.match(fs.readFileSync(`${herd.logDir}/Clark.log`, 'utf8'), /answer not taken within 600ms, closed/);
});

test('a second PEER is refused while the neighbour\'s link is alive; a dead link is replaced', async () => {
  const herd = await startHerd({ A: ['B'], B: [] });
  try {
    assert.ok(await eventually(herd.linked));
    const fake = await connect(herd.port('B'));
    fake.send('PEER A\n');
    assert.equal(await fake.line(), '? PEER A');
    assert.ok(await fake.closedWithin(2000));
    assert.match(herd.logText('B'), /link from A \(127\.0\.0\.1:\d+\) refused: a link from A is open/);
    // The real neighbour's updates keep arriving.
    const c = await connect(herd.port('A'));
    c.send('IAMAT live +1+1 5\n');
    const at = await c.line();
    assert.ok(await eventually(() => herd.kept('B', 'live') === at));
    c.close();
    // Once A is gone its old link is dead, and a new PEER A takes its place.
    await herd.kill('A');
    const again = await connect(herd.port('B'));
    again.send('PEER A\nAT A +0.000000000 replaced +1+1 6\n');
    assert.ok(await eventually(() => herd.kept('B', 'replaced') !== null));
    again.close();
  } finally {
    await herd.stop();
  }
});

test('the new limits and [log] keys: defaults, values, 0 refused', () => {
  const server = '[[server]]\nname = "A"\naddr = "127.0.0.1:1"\n';
  const d = parseConfig(server);
  assert.equal(d.limits.writeTimeoutMs, 10000);
  assert.equal(d.limits.maxClockAheadMs, 60000);
  assert.equal(d.limits.maxCachedClients, 1000000);
  assert.deepEqual(d.log, { maxBytes: 0, keep: 5, answers: false });
  const set = parseConfig(`[limits]\nmax_clock_ahead_ms = 5\nmax_cached_clients = 7\n[log]\nmax_bytes = 100\nkeep = 2\nanswers = true\n${server}`);
  assert.equal(set.limits.maxClockAheadMs, 5);
  assert.equal(set.limits.maxCachedClients, 7);
  assert.deepEqual(set.log, { maxBytes: 100, keep: 2, answers: true });
  // A flag beats the file.
  const flags = parseConfig(`[log]\nkeep = 2\n${server}`, { logKeep: 3, logMaxBytes: 9, logAnswers: true, maxCachedClients: 4 });
  assert.deepEqual(flags.log, { maxBytes: 9, keep: 3, answers: true });
  assert.equal(flags.limits.maxCachedClients, 4);
  for (const [text, message] of [
    ['[limits]\nwrite_timeout_ms = 0', '[limits] write_timeout_ms must be more than 0'],
    ['[limits]\nmax_clock_ahead_ms = 0', '[limits] max_clock_ahead_ms must be more than 0'],
    ['[limits]\nmax_cached_clients = 0', '[limits] max_cached_clients must be more than 0'],
    ['[log]\nkeep = 0', '[log] keep must be more than 0'],
    ['[log]\nanswers = 1', '[log] answers: invalid type: integer `1`, expected a boolean'],
    ['[log]\nsize = 1', '[log]: unknown field `size`, expected `max_bytes`, `keep`, `answers`'],
  ]) {
    assert.throws(() => parseConfig(`${text}\n${server}`), { message }, text);
  }
  // max_bytes = 0 is "no size rotation", not an error.
  assert.equal(parseConfig(`[log]\nmax_bytes = 0\n${server}`).log.maxBytes, 0);
});
